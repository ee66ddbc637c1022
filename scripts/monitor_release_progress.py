#!/usr/bin/env python3
"""monitor_release_progress.py --train-name T [--status | --watch [--interval S]] [--json]
[--root DIR]

--status (the default) prints the snapshot once (release-trains status T); --watch follows the
train until it completes, fails or rolls back (release-trains monitor T --watch).
"""

import argparse

from _wrapper import run

parser = argparse.ArgumentParser(
    description="Release train progress (release-trains status / monitor)."
)
parser.add_argument("--train-name", required=True)
mode = parser.add_mutually_exclusive_group()
mode.add_argument("--status", action="store_true", help="print the progress once (default)")
mode.add_argument("--watch", action="store_true", help="follow the train until it ends")
parser.add_argument("--interval", type=float, default=None, help="seconds between reads (--watch)")
parser.add_argument("--json", action="store_true")
parser.add_argument("--root", default=".")
args = parser.parse_args()
if args.watch:
    argv = ["--root", args.root, "monitor", args.train_name, "--watch"]
    argv += ["--interval", str(args.interval)] if args.interval is not None else []
else:
    argv = ["--root", args.root, "status", args.train_name]
run(argv + ["--json"] * args.json)
