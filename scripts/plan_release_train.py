#!/usr/bin/env python3
"""plan_release_train.py --train T [--validate] [--dry-run] [--json] [--root DIR]"""

import argparse

from _wrapper import run

parser = argparse.ArgumentParser(description="Plan a release train (release-trains plan).")
parser.add_argument("--train", required=True)
parser.add_argument("--validate", action="store_true")
parser.add_argument("--dry-run", action="store_true")
parser.add_argument("--json", action="store_true")
parser.add_argument("--root", default=".")
args = parser.parse_args()
run(
    ["--root", args.root, "plan", args.train]
    + ["--validate"] * args.validate
    + ["--dry-run"] * args.dry_run
    + ["--json"] * args.json
)
