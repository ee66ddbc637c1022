#!/usr/bin/env python3
"""execute_release_train.py (--train T [--now] | --due) [--dry-run] [--max-parallel N] [--json]
[--root DIR]

--due (for cron) starts every train whose schedule.start_time has passed and that never ran
(release-trains execute --due); --now starts T before its start time."""

import argparse

from _wrapper import run

parser = argparse.ArgumentParser(description="Execute a release train (release-trains execute).")
which = parser.add_mutually_exclusive_group(required=True)
which.add_argument("--train")
which.add_argument("--due", action="store_true", help="every due train, one after another")
parser.add_argument("--now", action="store_true", help="start --train before its start time")
parser.add_argument("--dry-run", action="store_true")
parser.add_argument("--max-parallel", type=int)
parser.add_argument("--json", action="store_true")
parser.add_argument("--root", default=".")
args = parser.parse_args()
run(
    ["--root", args.root, "execute"]
    + ([args.train] if args.train else ["--due"])
    + ["--now"] * args.now
    + ["--dry-run"] * args.dry_run
    + (["--max-parallel", str(args.max_parallel)] if args.max_parallel else [])
    + ["--json"] * args.json
)
