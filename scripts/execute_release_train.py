#!/usr/bin/env python3
"""execute_release_train.py --train T [--dry-run] [--max-parallel N] [--json] [--root DIR]"""

import argparse

from _wrapper import run

parser = argparse.ArgumentParser(description="Execute a release train (release-trains execute).")
parser.add_argument("--train", required=True)
parser.add_argument("--dry-run", action="store_true")
parser.add_argument("--max-parallel", type=int)
parser.add_argument("--json", action="store_true")
parser.add_argument("--root", default=".")
args = parser.parse_args()
run(
    ["--root", args.root, "execute", args.train]
    + ["--dry-run"] * args.dry_run
    + (["--max-parallel", str(args.max_parallel)] if args.max_parallel else [])
    + ["--json"] * args.json
)
