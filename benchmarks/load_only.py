"""The B2 reference: merely load the given files, YAML with libyaml's C loader, JSON with json.

    python benchmarks/load_only.py FILE...

No schema check, no models, no plan: the floor a `plan` of the same files is compared with.
"""

from __future__ import annotations

import json
import sys

import yaml


def main(paths: list[str]) -> None:
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.endswith(".json"):
            json.loads(text)
        else:
            yaml.load(text, Loader=yaml.CSafeLoader)


if __name__ == "__main__":
    main(sys.argv[1:])
