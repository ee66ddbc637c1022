"""The one way catalog and config files are read.

Safe loading only (no Python tags), the libyaml C parser when present, a size limit, an
alias-expansion limit (a "billion laughs" file is refused), duplicate keys refused, and
timestamps kept as the strings people wrote. JSON files go through the json module.

Only regular files are read (a FIFO or a device such as /dev/zero is refused, symlinks are
followed), and the size limit (MAX_FILE_BYTES, 64 MiB) holds while reading: see `read_text`.

Line numbers are not collected while loading (that would cost time on every run); when a
message needs one, `line_of` composes the file again and walks to the JSON path.

With a `ParseCache` (parse_cache.py, opt-in), a file whose exact bytes were loaded before by
this same loader is read back from its JSON copy instead of parsed (and checked) again.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import re
import stat
import threading
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import CatalogError

if TYPE_CHECKING:
    from .parse_cache import ParseCache

try:  # the C parser is 5-10x faster on large catalogs; fall back quietly where libyaml is absent
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_EXPANDED_NODES = 5_000_000  # what the document may grow to through aliases
MAX_DEPTH = 64  # nesting depth; real catalogs stay under 10

PathItem = str | int
JsonPath = Sequence[PathItem]


class _Loader(_BaseLoader):
    """SafeLoader that refuses duplicate keys, counts alias reuse and keeps timestamps as text."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_uses = 0
        self.odd_numbers = False  # set when a number a setting cannot hold was read

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:
            self.alias_uses += 1
        return super().construct_object(node, deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Keys are compared as constructed, the way the dict will hold them: `1:` and `'1':`
        # are two keys, while `1:` and `0x1:` (or `1.0:`) are one key written twice, which the
        # dict would otherwise collapse silently into the last value. The built mapping proves
        # there is none when it holds one entry per key written, so only a mapping that came
        # out smaller is scanned again, to find the repeated key and its line. A merge key
        # (`<<`) breaks the proof (merged keys may be overridden): flatten_mapping then deletes
        # it from `pairs` in place and gives the node a new list, and `pairs` is left holding
        # the keys written explicitly, which are scanned as before.
        pairs = node.value
        written = len(pairs)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        if len(mapping) != written or node.value is not pairs or len(pairs) != written:
            self._refuse_duplicates(pairs)
        return mapping

    def _refuse_duplicates(self, pairs: list[tuple[yaml.Node, yaml.Node]]) -> None:
        """Raise on the first key written twice among `pairs` (merge keys aside), with both
        lines."""
        seen: dict[Hashable, int] = {}
        for key_node, _ in pairs:
            if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value if key_node.tag == _STR else self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
# Integers a setting, an SQLite column or a JSON reader elsewhere can hold.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class OversizedInt:
    """Stands in for an integer too long for Python to convert (over 4300 digits), so the
    document can be walked and the number reported where it is, without echoing it."""

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("+-").replace("_", ""))

    def __repr__(self) -> str:
        return f"<integer of {self.digits} digits>"


def _checked_scalar(tag: str) -> Any:
    """The safe constructor for `tag`, turning a value the tag cannot hold (`!!int "high"`,
    `!!bool "yes please"`, an empty `!!float`) into a marked YAML error instead of the
    ValueError or KeyError PyYAML lets out, and noting numbers no setting can hold."""
    base = _BaseLoader.yaml_constructors[tag]
    short = "!!" + tag.rsplit(":", 1)[-1]

    def construct(loader: _Loader, node: yaml.ScalarNode) -> Any:
        try:
            value = base(loader, node)
        except (ValueError, KeyError, IndexError, TypeError, OverflowError):
            text = str(node.value)
            if tag.endswith(":int") and text.lstrip("+-").replace("_", "").isdigit():
                loader.odd_numbers = True  # a valid integer, only too long to convert
                return OversizedInt(text)
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise yaml.constructor.ConstructorError(
                None, None, f"{shown!r} cannot be read as {short}", node.start_mark
            ) from None
        if _odd_number(value):
            loader.odd_numbers = True
        return value

    return construct


# "2025-10-07T19:48:27Z" stays a string: schemas and messages speak of what people wrote.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)  # type: ignore[type-var]
for _tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"):
    _Loader.add_constructor(_tag, _checked_scalar(_tag))


def _odd_number(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return not INT_MIN <= value <= INT_MAX
    return isinstance(value, OversizedInt)


def _number_problem(value: Any) -> str:
    if isinstance(value, float):
        what = "not a number (NaN)" if math.isnan(value) else "infinite (or overflows)"
        return f"{what}: only finite numbers are accepted"
    digits = value.digits if isinstance(value, OversizedInt) else len(str(abs(value)))
    return f"an integer of {digits} digits is out of range ({INT_MIN} to {INT_MAX})"


def _first_odd_number(data: Any) -> tuple[list[PathItem], Any] | None:
    """Where the first number no setting can hold sits (document order), and the number."""
    stack: list[tuple[Any, list[PathItem]]] = [(data, [])]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, [*where, k]) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((v, [*where, i]) for i, v in reversed(list(enumerate(node))))
        elif _odd_number(node):
            return where, node
    return None


def _refuse_odd_numbers(path: Path, data: Any) -> None:
    found = _first_odd_number(data)
    if found is None:
        return
    where, value = found
    line = line_of(path, where)
    at = f"{path}:{line}" if line else str(path)
    raise CatalogError(f"{at}: {json_path(where)}: {_number_problem(value)}")


def json_path(parts: Iterable[PathItem]) -> str:
    """$.trains[0].gates[2] style, the form people paste into jq."""
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


class _Fallback(Exception):
    """The direct builder met something it does not build exactly as the generic one does."""


_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
# Scalar tags the direct builder hands to the loader's own constructor for the tag (the same
# function the generic path calls); any other tag goes the generic way.
_SCALAR_TAGS = frozenset(
    "tag:yaml.org,2002:" + t for t in ("null", "bool", "int", "float", "timestamp")
)


class _NoAliasLoader(_Loader):
    """_Loader for a text without a `*`: it holds no alias (an alias is written `*name`), so
    `alias_uses` stays 0 without a Python call per node to count it (10 % of a large load),
    and every node is built once, so the tree can be built directly (`_build`)."""

    construct_object = _BaseLoader.construct_object

    def construct_document(self, node: yaml.Node) -> Any:
        """The document built directly from the composed nodes; for anything unusual (a
        merge key, another tag, an unhashable key, a duplicate key, a value its tag cannot
        hold, very deep nesting) the generic constructor builds it from scratch instead, so
        what is refused is refused with the very message (and the first problem in the very
        order) it always was."""
        try:
            return self._build(node)
        except (_Fallback, yaml.YAMLError, RecursionError):
            pass
        self.odd_numbers = False  # the generic pass notes them again
        return super().construct_document(node)

    def _build(self, node: yaml.Node) -> Any:
        # PyYAML's generic constructor spends half a large load in per-node bookkeeping
        # (generators for every collection, a memo of constructed nodes for aliases, a
        # recursion guard). Without aliases none of it is needed: strings, the commonest
        # node, are taken inline, other scalars go through the loader's own constructor.
        scalar, sequence, mapping = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode
        constructors = self.yaml_constructors
        build = self._build
        kind = type(node)
        tag = node.tag
        if kind is scalar:
            if tag == _STR:
                return node.value
            if tag not in _SCALAR_TAGS:
                raise _Fallback
            return constructors[tag](self, node)
        if kind is sequence:
            if tag != _SEQ:
                raise _Fallback
            return [
                v.value if type(v) is scalar and v.tag == _STR else build(v) for v in node.value
            ]
        if kind is mapping:
            if tag != _MAP:
                raise _Fallback
            out: dict[Any, Any] = {}
            for k, v in node.value:
                if type(k) is not scalar:
                    raise _Fallback  # a collection as a key: unhashable, the generic refuses it
                if k.tag == _STR:
                    key = k.value
                elif k.tag in _SCALAR_TAGS:
                    key = constructors[k.tag](self, k)
                else:
                    raise _Fallback  # a merge key (`<<`) and any other tag
                out[key] = v.value if type(v) is scalar and v.tag == _STR else build(v)
            if len(out) != len(node.value):
                raise _Fallback  # a key written twice: the generic path names it and its line
            return out
        raise _Fallback


def read_text(path: Path) -> str:
    """The file's text, or a CatalogError naming the file and what is wrong with it (see
    `read_bytes`); UTF-8, a byte order mark dropped."""
    return _decode(path, read_bytes(path))


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a CatalogError naming the file and what is wrong with it.

    Only a regular file is read (symlinks followed): a FIFO would block the reader, and a
    device such as /dev/zero never ends. The check is made on the path and again on the opened
    descriptor, which is opened non-blocking so that opening a FIFO cannot hang (a file swapped
    in between is caught by the second check). At most MAX_FILE_BYTES + 1 bytes are read
    whatever the file's size claims to be, so a file that grows while it is read, or a
    file system that reports no size, cannot get past the limit.
    """
    try:
        info = os.stat(path)
        _regular(path, info.st_mode)
        _within_limit(path, info.st_size)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            _regular(path, os.fstat(fd).st_mode)
            data = read_at_most(fd, MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise CatalogError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CatalogError(f"{path}: is a directory, expected a file") from None
    except PermissionError:
        raise CatalogError(f"{path}: permission denied") from None
    except OSError as e:  # a symlink loop, a name too long, an I/O error
        raise CatalogError(f"{path}: cannot be read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise CatalogError(f"{path}: file is over the {MAX_FILE_BYTES} byte limit")
    return data


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CatalogError(f"{path}:{line}: not valid UTF-8 (byte {e.start})") from None


def _regular(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise CatalogError(f"{path}: is a directory, expected a file")
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a character device"
        if stat.S_ISCHR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise CatalogError(f"{path}: is {kind}, expected a regular file")


def _within_limit(path: Path, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise CatalogError(f"{path}: file is {size} bytes, over the {MAX_FILE_BYTES} byte limit")


def read_at_most(fd: int, limit: int) -> bytes:
    """At most `limit` bytes from `fd`, however large the file claims (or grows) to be."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def load_file(path: Path, *, cache: ParseCache | None = None, freeze: bool = False) -> Any:
    """Load a YAML or JSON file (by extension) into plain Python data (see load_source)."""
    return load_source(path, cache=cache, freeze=freeze)[0]


def load_source(
    path: Path, *, cache: ParseCache | None = None, freeze: bool = False
) -> tuple[Any, bytes]:
    """(document, the bytes that name its cache entry) of a YAML or JSON file (by extension),
    for the checks a caller records there (ParseCache.checked): the file's exact bytes, for a
    JSON file behind a prefix of their own (JSON_ENTRY_PREFIX).

    `cache`: a file whose exact bytes this loader has loaded before is read back from the
    cache (an entry that is missing, stale or damaged is ignored, and the file parsed); what is
    parsed is stored there. JSON files are cached as well: their parse is as fast as reading an
    entry, but a hit skips the loader's checks (numbers, depth: an entry is only stored after
    they passed) and lets the caller skip the schema check recorded in the entry.
    `freeze`: move what was loaded (and everything alive before it) out of the cyclic garbage
    collector's view (`gc.freeze`), so that the collections the rest of a short-lived command
    sets off do not rescan a large catalog again and again; see `_gc_paused`."""
    raw = read_bytes(path)
    is_json = path.suffix.lower() == ".json"
    source = JSON_ENTRY_PREFIX + raw if is_json else raw
    if cache is not None:
        payload = cache.payload(source)
        if payload is not None:
            with _gc_paused(freeze=freeze and len(payload) >= FREEZE_MIN_BYTES):
                found, data = cache.decode(payload)
            if found:
                return data, source
    text = _decode(path, raw)
    if not text.strip():
        raise CatalogError(f"{path}: file is empty")
    data = (
        _load_json(path, text, freeze=freeze) if is_json else _load_yaml(path, text, freeze=freeze)
    )
    if cache is not None:
        cache.put(source, data)
    return data, source


# The same bytes can read differently as JSON and as YAML 1.1 (`{"a": 1e3}`: 1000.0 in JSON,
# the text "1e3" in YAML), so a JSON file's entry is keyed by its bytes behind this prefix. No
# YAML file has these bytes and is stored: libyaml refuses the NUL byte, so it never parses.
JSON_ENTRY_PREFIX = b"release-trains json\0"


def collector_paused(*, freeze: bool = False) -> contextlib.AbstractContextManager[None]:
    """`_gc_paused`, for callers that build large structures from what was loaded (see there:
    `freeze` only in short-lived processes)."""
    return _gc_paused(freeze=freeze)


# Below this size a document is not worth freezing: the collector scans it in well under 1 ms.
FREEZE_MIN_BYTES = 256 * 1024


@contextmanager
def _gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """Parsing a large catalog allocates millions of containers, and every allocation burst
    sets off the cyclic garbage collector, which rescans the whole growing heap: more than
    half the load time of a 10,000-service file, and growing faster than the file. A parsed
    document is a tree that reference counting frees on its own, so pause the collector
    meanwhile (and only resume it if it was running).

    With `freeze`, what is alive afterwards is moved to the permanent generation (gc.freeze),
    which later collections skip: the document stays out of every collection the rest of the
    command sets off (building models and plans allocates enough for several full ones).
    Frozen objects are still freed by reference counting; only a reference cycle among them
    would outlive its use, so the collector runs once first (the heap is small then: before
    the document exists), and the loader builds no cycle (the caller freezes only documents
    without aliases, the one way YAML can make one). For short-lived processes (the CLI): a
    server that loads per request should not freeze."""
    global _freezing
    if _freezing:  # inside a freezing pause (collector_paused): it collects and freezes once
        yield
        return
    enabled = gc.isenabled()
    if freeze:
        gc.collect()
    gc.disable()
    _freezing = freeze
    try:
        yield
        if freeze:
            gc.freeze()
    finally:
        _freezing = False
        if enabled:
            gc.enable()


# Whether a freezing pause is open: the pauses of the files it loads need not collect first.
_freezing = False


# Only a run of 19 digits can be an integer out of range: rare, so the int hook (a Python call
# per integer) is only installed when the text has one.
_LONG_DIGITS = re.compile(r"\d{19}")


def _load_json(path: Path, text: str, *, freeze: bool = False) -> Any:
    odd: list[bool] = []

    def constant(name: str) -> float:  # NaN, Infinity, -Infinity: not JSON, refused below
        odd.append(True)
        return float(name)

    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):  # 1e400
            odd.append(True)
        return value

    def integer(text: str) -> int | OversizedInt:
        try:
            value = int(text)
        except ValueError:  # longer than Python converts
            odd.append(True)
            return OversizedInt(text)
        if not INT_MIN <= value <= INT_MAX:
            odd.append(True)
        return value

    hooks: dict[str, Any] = {"parse_constant": constant, "parse_float": number}
    if _LONG_DIGITS.search(text):
        hooks["parse_int"] = integer
    try:
        with _gc_paused(freeze=freeze and len(text) >= FREEZE_MIN_BYTES):
            data = json.loads(text, **hooks)
    except json.JSONDecodeError as e:
        hint = " (is this a YAML file named .json?)" if ":" in text and "{" not in text else ""
        raise CatalogError(f"{path}:{e.lineno}: invalid JSON: {e.msg}{hint}") from None
    except RecursionError:
        raise CatalogError(f"{path}: document is nested too deeply") from None
    _check_shape(path, data)
    if odd:
        _refuse_odd_numbers(path, data)
    return data


# PyYAML's C composer recurses once per nesting level on the C stack, so with a libyaml that
# lets nesting grow without bound, a few hundred thousand levels crash the process before any
# Python check runs. libyaml 0.2.6 and later refuse more than 1,000 levels themselves (flow and
# block together: its scanner's "exceeded maximum nesting depth"), which the main thread's
# stack holds easily, and MAX_DEPTH is checked on the result (`_check_shape`). Only with an
# older libyaml are the two defences kept: a linear scan for long runs of openers (flow `[[[`,
# `[a,[b,[c`, block `- - -`), and parsing in a thread with a large stack so what the scan lets
# through (indented block nesting, which costs its square in bytes) cannot reach the limit.
def _libyaml_limits_depth() -> bool:
    if _BaseLoader is not getattr(yaml, "CSafeLoader", None):
        return False  # the pure-Python composer: its recursion ends in a RecursionError
    try:
        from yaml import _yaml

        version = tuple(_yaml.get_version())
    except (ImportError, AttributeError):  # pragma: no cover - depends on how PyYAML was built
        return False
    return version >= (0, 2, 6)


LIBYAML_LIMITS_DEPTH = _libyaml_limits_depth()
_DEEP = re.compile(
    rf"(?:[\[{{][^\[\]{{}}]{{0,64}}){{{MAX_DEPTH + 1},}}|(?:-[ \t]+){{{MAX_DEPTH + 1},}}"
)
_PARSER_STACK_BYTES = 512 * 1024 * 1024


def _load_yaml(path: Path, text: str, *, freeze: bool = False) -> Any:
    if LIBYAML_LIMITS_DEPTH:
        return _parse_yaml(path, text, freeze=freeze)
    # The scan is a cheap filter that also sees comments and quoted strings; what it flags is
    # measured exactly by libyaml's event parser, which keeps its stack on the heap.
    if _DEEP.search(text) and _event_depth(text) > MAX_DEPTH:
        raise CatalogError(f"{path}: document is nested deeper than {MAX_DEPTH} levels")
    result: list[Any] = []

    def parse() -> None:
        try:
            result.append(_parse_yaml(path, text, freeze=freeze))
        except BaseException as e:  # handed back to the calling thread
            result.append(e)

    previous = threading.stack_size(_PARSER_STACK_BYTES)
    try:
        worker = threading.Thread(target=parse, name="yaml-parse")
        worker.start()
    finally:
        threading.stack_size(previous)
    worker.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _event_depth(text: str) -> int:
    """The document's nesting depth, from parser events (stops once past the limit)."""
    depth = deepest = 0
    try:
        for event in yaml.parse(text, Loader=_BaseLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > MAX_DEPTH:
                    break
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as e:
        if "nesting depth" in str(e):  # libyaml >= 0.2.6 stops at its own depth limit
            return MAX_DEPTH + 1
        # otherwise the real parse reports the syntax error with its line
    return deepest


def _parse_yaml(path: Path, text: str, *, freeze: bool = False) -> Any:
    aliases = "*" in text
    loader = _Loader(text) if aliases else _NoAliasLoader(text)
    try:
        # An alias can make a cycle (`&a [*a]`), which frozen would never be collected.
        with _gc_paused(freeze=freeze and not aliases and len(text) >= FREEZE_MIN_BYTES):
            data = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        if "nesting depth" in str(problem):  # libyaml >= 0.2.6 has a depth limit of its own
            raise CatalogError(f"{path}{line}: document is nested too deeply ({problem})") from None
        if "could not determine a constructor" in str(problem):
            problem = f"unsafe or unknown tag refused ({problem.split('for the tag')[-1].strip()})"
        raise CatalogError(f"{path}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise CatalogError(f"{path}: invalid YAML: {e}") from None
    except RecursionError:
        raise CatalogError(f"{path}: document is nested too deeply") from None
    finally:
        loader.dispose()
    if loader.alias_uses:
        size = _expanded_size(data)
        if size > MAX_EXPANDED_NODES:
            raise CatalogError(
                f"{path}: aliases expand the document to {size} nodes, over the limit of "
                f"{MAX_EXPANDED_NODES} (an alias bomb?)"
            )
    _check_shape(path, data)
    if loader.odd_numbers:
        _refuse_odd_numbers(path, data)
    return data


def _expanded_size(data: Any) -> int:
    """Node count with every alias expanded, computed without expanding (memo by identity)."""
    memo: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, children_done = stack.pop()
        if not isinstance(node, (dict, list)) or (id(node) in memo and not children_done):
            continue
        children = list(node.values()) if isinstance(node, dict) else node
        if children_done:
            memo[id(node)] = 1 + sum(memo.get(id(c), 1) for c in children)
            if memo[id(node)] > MAX_EXPANDED_NODES:
                return memo[id(node)]
            continue
        memo[id(node)] = 0  # guards against recursive aliases
        stack.append((node, True))
        stack.extend(
            (c, False) for c in children if isinstance(c, (dict, list)) and id(c) not in memo
        )
    return memo.get(id(data), 1)


def _check_shape(path: Path, data: Any) -> None:
    """Refuse documents nested deeper than MAX_DEPTH before anything recurses into them.

    Level by level, each level's containers gathered by a comprehension: no tuple and no
    Python call per node (half the time of a stack of (node, depth) pairs on a large file)."""
    level = [data] if type(data) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise CatalogError(f"{path}: document is nested deeper than {MAX_DEPTH} levels")
        below: list[Any] = []
        for node in level:
            children = node.values() if type(node) is dict else node
            below += [c for c in children if type(c) in _CONTAINERS]
        level = below


# What the loaders build: exact types (a subclass cannot come out of yaml or json here).
_CONTAINERS = frozenset((dict, list))


def line_of(path: Path, json_path: JsonPath) -> int | None:
    """1-based line of the node at `json_path` in the file, or of its nearest ancestor."""
    try:
        node = yaml.compose(read_text(path), Loader=_BaseLoader)
    except Exception:  # only used to decorate a message: never let it raise
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for item in json_path:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if getattr(k, "value", None) == str(item)]
            if not match:
                return line
            key, node = match[0]
            line = key.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(item, int) and item < len(node.value)
        ):
            node = node.value[item]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def dump_json(data: Any) -> str:
    """The one JSON style the tool writes: stable key order as built, two-space indent."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and os.replace, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
