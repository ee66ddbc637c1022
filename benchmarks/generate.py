"""Synthetic catalogs for the benchmarks: seeded, deterministic, and valid by construction.

    python benchmarks/generate.py OUT_DIR --services 10000 --participants 2000 [--seed 6]

writes a project root under OUT_DIR in the layout of docs CONTRACT.md:

- catalog/service-index.yaml (or .json with --json): N services `svc-00000`..., each with a
  random set of internal dependencies on *lower-indexed* services only (so the graph is
  acyclic), on average `--degree` (3) of them; every tenth service has an alias
  (`alias-<i>`), every fifth publishes an `api_contracts` entry; some dependencies are
  written pinned (`name@version`), as real catalogs do.
- catalog/latest_quality_snapshot.json: a score in [80, 100] and metrics for every service,
  so the quality, coverage and vulnerability gates pass and plans are ready.
- catalog/specs-index.yaml: publishes the versions the train's spec and library
  dependencies ask for.
- catalog/release-trains.yaml: the train `bench-train` with M participants drawn at random
  (some written by alias), a bare target version, the standard gates and two dependencies.
- config/upgrade-policies.yaml: a `release_trains:` section with the local deployer (or,
  with --durations, the `command` deployer running bin/deploy.sh) and no health checks.
- with --durations LO HI: bench/durations.txt ("<service> <seconds>" per line, seeded
  uniform in [LO, HI]) and bin/deploy.sh, which sleeps the service's duration. The command
  deployer runs it, so a deploy really takes that long.

Everything is written as text by hand (not through a YAML dumper) so that generating 50,000
services takes a second, and the same seed always gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

TRAIN = "bench-train"
SPEC = "bench-api"
LIBRARY = "bench-lib"
DEFAULT_SEED = 6  # issue #6


def name_of(i: int) -> str:
    return f"svc-{i:05d}"


@dataclass(frozen=True)
class Catalog:
    """What the generator decided, for benchmarks that need to know (critical paths, ids)."""

    root: Path
    services: int
    participants: tuple[str, ...]  # as written in the train (names or aliases)
    participant_services: tuple[str, ...]  # the catalog service each one resolves to
    deps: dict[str, tuple[str, ...]] = field(repr=False)  # service -> its internal deps
    durations: dict[str, float] | None = field(default=None, repr=False)


def generate(
    root: Path,
    *,
    services: int,
    participants: int,
    seed: int = DEFAULT_SEED,
    degree: float = 3.0,
    fmt: str = "yaml",
    durations: tuple[float, float] | None = None,
    estimates: bool = False,
    direct: bool = False,
) -> Catalog:
    """Write a project root with `services` services and a train of `participants`.

    With `durations`: `estimates` makes every service state its seeded duration as its
    `release.estimated_duration`, as a catalog that knows its services' deploy times does (the
    scheduler's critical-path priority uses it; B4); `direct` gives every service its own
    deploy command, `sleep SECONDS` exec'd directly: one process per deploy instead of
    bin/deploy.sh's four (sh, dirname, awk, sleep), which cost 20-80 ms per deploy on a loaded
    2-core machine, on every service of the critical path (B4 measures the executor, not
    that script)."""
    if not 0 < participants <= services:
        raise ValueError("need 0 < participants <= services")
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "catalog").mkdir(exist_ok=True)
    (root / "config").mkdir(exist_ok=True)

    deps: dict[str, tuple[str, ...]] = {}
    lines = [
        f"# Synthetic benchmark catalog: {services} services, seed {seed}, "
        f"average out-degree {degree:g}",
        "metadata:",
        "  version: 1.0.0",
        f"  total_services: {services}",
        "services:",
    ]
    json_services = []
    # Out-degree k for service i: uniform in [0, 2*degree] (mean `degree`), capped by i
    # because edges only go to lower-indexed services.
    hi = round(2 * degree)
    for i in range(services):
        name = name_of(i)
        k = min(i, rng.randint(0, hi)) if hi else 0
        targets = sorted(rng.sample(range(i), k)) if k else []
        deps[name] = tuple(name_of(t) for t in targets)
        written = [
            f"{name_of(t)}@1.{t % 10}.0" if rng.random() < 0.2 else name_of(t) for t in targets
        ]
        version = f"1.{i % 10}.{i % 7}"
        coverage = round(rng.uniform(0.75, 0.99), 2)
        entry: dict[str, object] = {"name": name, "version": version}
        if i % 10 == 0:
            entry["aliases"] = [f"alias-{i}"]
        entry["dependencies"] = {"internal": written, "external": ["postgres"] if i % 3 else []}
        if i % 5 == 0:
            entry["api_contracts"] = [f"api-{i}@{version}"]
        entry["quality"] = {"coverage": coverage, "open_critical_vulns": 0}
        if fmt == "json":
            json_services.append(entry)
            continue
        lines.append(f"  - name: {name}")
        lines.append(f"    version: {version}")
        if "aliases" in entry:
            lines.append(f"    aliases: [alias-{i}]")
        ext = "[postgres]" if i % 3 else "[]"
        lines.append(f"    dependencies: {{internal: [{', '.join(written)}], external: {ext}}}")
        if "api_contracts" in entry:
            lines.append(f"    api_contracts: [api-{i}@{version}]")
        lines.append(f"    quality: {{coverage: {coverage}, open_critical_vulns: 0}}")

    if fmt == "json":
        doc = {
            "metadata": {"version": "1.0.0", "total_services": services},
            "services": json_services,
        }
        (root / "catalog" / "service-index.json").write_text(json.dumps(doc, indent=1) + "\n")
        (root / "catalog" / "service-index.yaml").unlink(missing_ok=True)
    else:
        (root / "catalog" / "service-index.yaml").write_text("\n".join(lines) + "\n")
        (root / "catalog" / "service-index.json").unlink(missing_ok=True)

    snapshot = {
        name_of(i): {
            "score": rng.randint(80, 100),
            "metrics": {
                "coverage": round(rng.uniform(0.75, 0.99), 2),
                "critical_vulns": 0,
                "build_success_rate": 1.0,  # no random draw: the rest of the stream stays as it was
            },
        }
        for i in range(services)
    }
    (root / "catalog" / "latest_quality_snapshot.json").write_text(
        json.dumps({"metadata": {"total_services": services}, "services": snapshot}) + "\n"
    )

    (root / "catalog" / "specs-index.yaml").write_text(
        "specs:\n"
        f'  {SPEC}: {{versions: ["1.9.0", "2.1.0"]}}\n'
        "libraries:\n"
        f'  {LIBRARY}: {{versions: ["1.2.0", "1.4.1"]}}\n'
    )

    chosen = sorted(rng.sample(range(services), participants))
    written_names = tuple(
        f"alias-{i}" if i % 10 == 0 and rng.random() < 0.5 else name_of(i) for i in chosen
    )
    plist = "\n".join(f"      - {n}" for n in written_names)
    (root / "catalog" / "release-trains.yaml").write_text(
        f"# Synthetic benchmark train: {participants} participants of {services} services\n"
        "trains:\n"
        f"  - name: {TRAIN}\n"
        f"    description: benchmark train of {participants} participants\n"
        '    target_version: "2.0.0"\n'
        "    participants:\n"
        f"{plist}\n"
        "    dependencies:\n"
        f"      - spec: {SPEC} >=2.0.0\n"
        f"      - library: {LIBRARY} >=1.2,<2\n"
        "    gates:\n"
        "      - all_participants_quality >=80\n"
        "      - no_open_critical_vulns\n"
        "    status: planning\n"
    )

    durations_map = None
    if durations is None:
        deployer = "  deployer:\n    type: local\n"
    else:
        lo, hi_s = durations
        durations_map = {name_of(i): round(rng.uniform(lo, hi_s), 3) for i in range(services)}
        (root / "bench").mkdir(exist_ok=True)
        (root / "bench" / "durations.txt").write_text(
            "".join(f"{n} {d}\n" for n, d in durations_map.items())
        )
        if (estimates or direct) and fmt == "yaml":
            # added after the draws, so the random stream (and every other byte) stays as is
            sleep = shutil.which("sleep") or "/bin/sleep"
            with_release: list[str] = []
            for line in lines:
                with_release.append(line)
                if line.startswith("  - name: "):
                    d = durations_map[line.removeprefix("  - name: ")]
                    own = [f"estimated_duration: {d}"] if estimates else []
                    if direct:
                        own.append(f'deployer: {{deploy: ["{sleep}", "{d}"]}}')
                    with_release.append(f"    release: {{{', '.join(own)}}}")
            (root / "catalog" / "service-index.yaml").write_text("\n".join(with_release) + "\n")
        script = root / "bin" / "deploy.sh"
        script.parent.mkdir(exist_ok=True)
        # /bin/sh + awk + sleep: a few milliseconds of overhead, against ~20 ms for a Python
        # script, so the measured makespan is the executor's scheduling, not interpreter starts.
        script.write_text(
            "#!/bin/sh\n"
            "# bin/deploy.sh SERVICE VERSION: sleep the service's seeded duration\n"
            'here=$(dirname "$0")\n'
            'd=$(awk -v s="$1" \'$1 == s {print $2; exit}\' "$here/../bench/durations.txt")\n'
            'exec sleep "${d:-0}"\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        deployer = (
            "  deployer:\n"
            "    type: command\n"
            f'    deploy: ["{script}", "{{service}}", "{{version}}"]\n'
            "    timeout: 60\n"
            "    retries: 0\n"
        )
    (root / "config" / "upgrade-policies.yaml").write_text(
        "# Synthetic benchmark config\n"
        "release_trains:\n"
        "  environment: bench\n"
        "  quality_gates: {min_quality_score: 80, max_critical_vulns: 0, min_coverage: 70,"
        " max_failure_rate: 5}\n"
        "  estimates: {per_service: 10m}\n"
        f"{deployer}"
        "  rollback: {enabled: false}\n"
    )
    resolved = tuple(name_of(i) for i in chosen)
    return Catalog(root, services, written_names, resolved, deps, durations_map)


def catalog_files(root: Path) -> list[Path]:
    """The input files a `plan` reads, for the load-only reference measurement."""
    found = sorted(p for p in (root / "catalog").iterdir() if p.suffix in (".yaml", ".json"))
    return [*found, root / "config" / "upgrade-policies.yaml"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--participants", type=int, default=None, help="default: services / 5")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--degree", type=float, default=3.0)
    ap.add_argument(
        "--estimates", action="store_true", help="with --durations: release.estimated_duration"
    )
    ap.add_argument(
        "--direct", action="store_true", help="with --durations: deploy by exec'ing sleep"
    )
    ap.add_argument("--json", action="store_true", help="write service-index.json instead of YAML")
    ap.add_argument("--durations", type=float, nargs=2, metavar=("LO", "HI"), default=None)
    args = ap.parse_args()
    cat = generate(
        args.out,
        services=args.services,
        participants=args.participants or max(1, args.services // 5),
        seed=args.seed,
        degree=args.degree,
        estimates=args.estimates,
        direct=args.direct,
        fmt="json" if args.json else "yaml",
        durations=tuple(args.durations) if args.durations else None,
    )
    print(
        f"{os.fspath(cat.root)}: {cat.services} services, train {TRAIN} of {len(cat.participants)}"
    )


if __name__ == "__main__":
    main()
