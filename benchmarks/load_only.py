"""The B2 reference: merely load the given files, YAML with libyaml's C loader, JSON with json.

    python benchmarks/load_only.py FILE...

No schema check, no models, no plan: the floor a `plan` of the same files is compared with.
The cyclic garbage collector is paused for the whole load, as the tool pauses it while it
parses (yaml_io._gc_paused): with it running, the bare loader rescans its own growing heap and
the floor comes out 2-3x too high at 10,000 services (issue 16: a flattering reference).
"""

from __future__ import annotations

import gc
import json
import sys

import yaml


def main(paths: list[str]) -> None:
    gc.disable()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.endswith(".json"):
            json.loads(text)
        else:
            yaml.load(text, Loader=yaml.CSafeLoader)


if __name__ == "__main__":
    main(sys.argv[1:])
