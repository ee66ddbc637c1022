#!/usr/bin/env python3
"""rollback_release_train.py --train-name T (--reason R | --dry-run) [--force] [--service S]...
[--json]"""

import argparse

from _wrapper import run

parser = argparse.ArgumentParser(description="Roll back a release train (release-trains rollback).")
parser.add_argument("--train-name", required=True)
parser.add_argument("--reason", default=None, help="required unless --dry-run")
parser.add_argument("--dry-run", action="store_true")
parser.add_argument("--force", action="store_true")
parser.add_argument("--service", action="append", default=[])
parser.add_argument("--json", action="store_true")
parser.add_argument("--root", default=".")
args = parser.parse_args()
run(
    ["--root", args.root, "rollback", args.train_name]
    + (["--reason", args.reason] if args.reason is not None else [])
    + ["--dry-run"] * args.dry_run
    + ["--force"] * args.force
    + [arg for s in args.service for arg in ("--service", s)]
    + ["--json"] * args.json
)
