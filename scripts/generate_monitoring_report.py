#!/usr/bin/env python3
"""generate_monitoring_report.py (--service S | --train T) [--format markdown|json|html]
[--output F] [--since 7d] [--runs N] [--root DIR]"""

import argparse

from _wrapper import run

parser = argparse.ArgumentParser(
    description="Write a service or train report (release-trains report)."
)
subject = parser.add_mutually_exclusive_group(required=True)
subject.add_argument("--service")
subject.add_argument("--train")
parser.add_argument("--format", choices=["markdown", "json", "html"], default="markdown")
parser.add_argument("--output")
parser.add_argument("--since")
parser.add_argument("--runs", help="how many of the latest runs to cover (default 10)")
parser.add_argument("--root", default=".")
args = parser.parse_args()
argv = ["--root", args.root, "report", "--format", args.format]
argv += ["--service", args.service] if args.service else ["--train", args.train]
argv += ["--output", args.output] if args.output else []
argv += ["--since", args.since] if args.since else []
argv += ["--runs", args.runs] if args.runs else []
run(argv)
