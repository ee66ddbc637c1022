"""Run one command and report its own wall time, CPU time, peak RSS and exit status.

    python -S benchmarks/measure.py RESULT_FILE COMMAND [ARG...]

run.py starts every measured process through this small wrapper rather than directly. On Linux
a child's ru_maxrss starts from the resident size of the address space it had before exec, and
a child spawned by a large process (the runner, once it has generated a 50,000-service catalog)
inherits that: `python -c pass` then "peaks" at the runner's 300 MB. Forked from this wrapper
(about 7 MB, started with -S), the command's figure is its own. Wall time is taken here, from
fork to reaping, so the wrapper's own start-up is not counted. The wrapper passes stdin, stdout
and stderr through, exits with the command's exit status, and writes one line to RESULT_FILE:
"<wall s> <user s> <system s> <max rss KB> <wait status>".
"""

import os
import sys
import time


def main() -> None:
    result, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            sys.stderr.write(f"measure.py: cannot run {argv[0]}: {e}\n")
        os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    with open(result, "w") as f:
        f.write(f"{wall} {usage.ru_utime} {usage.ru_stime} {usage.ru_maxrss} {status}\n")
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
