"""The REST API benchmarks (B7, B8), against a real `release-trains serve` on 127.0.0.1.

    python benchmarks/api_bench.py            # B7 (50 clients, 10 s) and B8 (3 rounds)
    python benchmarks/api_bench.py --quick    # 10 clients for 2 s, 1 round (a smoke run)
    python benchmarks/api_bench.py --only B7 --clients 50 --seconds 10 --output /tmp/api.json

- B7: `GET /api/v1/release-trains/bench-train/status` of a 100-service train (the generator's
  catalog, the `command` deployer sleeping a fixed time per service, `max_parallel` 1, so the
  execute lasts the whole measurement) from C concurrent keep-alive clients (C threads of
  this process, each with one HTTP/1.1 connection it drives itself: `_Client`, far lighter
  than httpx on the cores the server shares) for S seconds, while the train executes in the
  server's one worker. Requests per second, p50/p99 latency (sent to answer read, as the
  client sees it), errors (any non-200, a body that is not a complete JSON object, or an
  exception), the server's CPU share (its worker's included) and the client's, and the load
  average.
- B8: the same 100-service train on the `local` deployer, executed through the API (POST
  execute, then GET the job every 10 ms until it is done) and by `release-trains execute`,
  each from a fresh copy of the project (no state), rounds interleaved. Per service: wall time
  (API: POST sent to the job seen done; CLI: process start to exit) / N, and the release phase
  (first deploy start to last release, from the steps in the store) / N.

Every server is started with `serve --workers 1 --port P` on a free port, after `token create
bench --role operator` in the same project; it is stopped with SIGTERM (and killed if it has
not exited 30 s later). Results go to benchmarks/results/api.json unless --output says.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402

DEFAULT_OUTPUT = BENCH / "results" / "api.json"
TRAIN = generate.TRAIN


def rt_argv() -> list[str]:
    """The console script next to this Python (python -m release_trains where there is none)."""
    script = Path(sys.executable).with_name("release-trains")
    return [str(script)] if script.exists() else [sys.executable, "-m", "release_trains"]


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cli": " ".join(rt_argv()),
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile (p99 of 1,000 values: the 990th)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# --- a server ------------------------------------------------------------------------------


@dataclass
class Server:
    root: Path
    port: int
    token: str
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_token(root: Path, name: str) -> str:
    out = subprocess.run(
        [*rt_argv(), "--root", str(root), "token", "create", name, "--role", "operator", "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(out.stdout)["token"])


@contextmanager
def serving(root: Path, *, profile: Path | None = None) -> Iterator[Server]:
    """`release-trains serve --workers 1` on a free port of 127.0.0.1, ready (GET /healthz
    answered), stopped with SIGTERM at the end. `profile`: run it under py-spy (raw
    flame-graph lines written there when it stops)."""
    port = free_port()
    token = make_token(root, f"bench-{port}")  # a new name: the project may have served before
    argv = [*rt_argv(), "--root", str(root), "serve", "--workers", "1", "--port", str(port)]
    if profile is not None:
        py_spy = Path(sys.executable).with_name("py-spy")
        argv = [str(py_spy), "record", "--format", "raw", "--gil", "--subprocesses",
                "--rate", "200", "-o", str(profile), "--", *argv]  # fmt: skip
    log = open(root / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        argv, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    server = Server(root, port, token, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited {proc.returncode}: {_tail(root / 'serve.log')}")
            try:
                if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve not ready after 60 s: {_tail(root / 'serve.log')}")
            time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT if profile is not None else signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


def server_pid(server: Server) -> int:
    """The serve process itself (under py-spy, its child)."""
    if Path(server.proc.args[0]).name != "py-spy":  # type: ignore[index]
        return server.proc.pid
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    return int(children[0]) if children else server.proc.pid


def post_execute(server: Server, body: dict[str, Any]) -> int:
    r = httpx.post(
        f"{server.url}/api/v1/release-trains/{TRAIN}/execute",
        json=body,
        headers=server.headers,
        timeout=30,
    )
    if r.status_code != 202:
        raise RuntimeError(f"POST execute: {r.status_code} {r.text[:500]}")
    return int(r.json()["job_id"])


def wait_job(
    client: httpx.Client, server: Server, job_id: int, *, until: Sequence[str], poll_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while True:
        r = client.get(f"{server.url}/api/v1/jobs/{job_id}", headers=server.headers)
        doc: dict[str, Any] = r.json()
        if r.status_code == 200 and doc["status"] in until:
            return doc
        if doc.get("status") == "failed":
            raise RuntimeError(f"job {job_id} failed: {doc.get('error')}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {doc.get('status')} after 600 s")
        time.sleep(poll_s)


# --- B7 ------------------------------------------------------------------------------------


def _load(
    url: str, headers: dict[str, str], *, clients: int, seconds: float
) -> tuple[list[float], list[str], float]:
    """`clients` threads, each with one keep-alive connection of its own, GETting `url` in a
    loop until the deadline. (latencies in s, errors, elapsed s.) Each client speaks HTTP/1.1
    over its socket itself (`_Client`): the load generator shares the 2 cores with the server,
    and httpx spent ~6 ms of CPU per request here (client CPU share 0.28 for 44 requests/s),
    more than the server; this one spends ~0.3 ms, json.loads of each answer included. Every
    answer must be a 200 with a complete JSON object body (its Content-Length read in full),
    or it counts as an error."""
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    deadline = start + seconds

    def one() -> None:
        client = _Client(url, headers)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    status, body = client.get()
                    if status != 200:
                        errors.append(f"HTTP {status}: {body[:200]!r}")
                        continue
                    if not isinstance(json.loads(body), dict):
                        errors.append(f"not a JSON object: {body[:200]!r}")
                        continue
                except Exception as e:  # every failure counts; the loop goes on
                    errors.append(f"{type(e).__name__}: {e}")
                    client.close()
                    continue
                latencies.append(time.perf_counter() - t0)  # list.append: atomic under the GIL
        finally:
            client.close()

    threads = [threading.Thread(target=one, name=f"client-{i}") for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - start


class _Client:
    """One keep-alive HTTP/1.1 connection: GET one URL again and again (reconnecting after
    an error). Enough HTTP for our server's answers: a status line, headers, a body of
    Content-Length bytes (uvicorn sends no chunked body for a JSONResponse)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = httpx.URL(url)
        self._address = (parsed.host, parsed.port or 80)
        lines = [f"GET {parsed.raw_path.decode()} HTTP/1.1", f"Host: {parsed.host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""

    def get(self) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = socket.create_connection(self._address, timeout=30)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(self._request)
        while b"\r\n\r\n" not in self._buffer:
            self._recv()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise RuntimeError(f"no Content-Length in {head[:200]!r}")
        while len(rest) < length:
            self._buffer = rest
            self._recv()
            rest = self._buffer
        body, self._buffer = rest[:length], rest[length:]
        return status, body

    def _recv(self) -> None:
        assert self._sock is not None
        chunk = self._sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self._buffer += chunk


def b7(
    work: Path, *, clients: int, seconds: float, services: int, profile: Path | None
) -> dict[str, Any]:
    # per-service sleep so that the serial execute outlasts the window by a few seconds
    per_service = max(0.05, round((seconds + 5) / services, 3))
    root = work / "b7"
    generate.generate(
        root, services=services, participants=services, durations=(per_service, per_service)
    )
    url_path = f"/api/v1/release-trains/{TRAIN}/status"
    with serving(root, profile=profile) as server:
        with httpx.Client(timeout=30) as c:
            for _ in range(5):  # warm up: the catalog is loaded and cached by the first
                c.get(server.url + url_path, headers=server.headers).raise_for_status()
            job_id = post_execute(server, {"max_parallel": 1})
            wait_job(c, server, job_id, until=("running", "done"), poll_s=0.02)
            before = c.get(server.url + url_path, headers=server.headers).json()
        pid = server_pid(server)
        load_start, cpu0, t0 = loadavg(), proc_cpu_s(pid), time.perf_counter()
        self0 = time.process_time()
        latencies, errors, elapsed = _load(
            server.url + url_path, server.headers, clients=clients, seconds=seconds
        )
        cpu1, t1, self1 = proc_cpu_s(pid), time.perf_counter(), time.process_time()
        load_end = loadavg()
        with httpx.Client(timeout=30) as c:
            after = c.get(server.url + url_path, headers=server.headers).json()
    latencies.sort()
    n = len(latencies)
    rps = n / elapsed
    p50, p99 = quantile(latencies, 0.50) * 1000, quantile(latencies, 0.99) * 1000
    met = not errors and p99 < 100 and rps >= 300
    return {
        "case": (
            f"GET .../status, {services}-service train executing (command deployer "
            f"{per_service * 1000:.0f} ms/service, max_parallel 1), {clients} keep-alive "
            f"clients, {seconds:g} s"
        ),
        "requests": n,
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(rps, 1),
        "p50_ms": round(p50, 2),
        "p90_ms": round(quantile(latencies, 0.90) * 1000, 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "server_cpu_share": round((cpu1 - cpu0) / (t1 - t0), 2),  # 1.0 = one core
        "client_cpu_share": round((self1 - self0) / (t1 - t0), 2),
        "released_before": before.get("released"),
        "released_after": after.get("released"),
        "status_after": after.get("status"),
        "load_average_start": load_start,
        "load_average_end": load_end,
        "target": "0 errors, p99 < 100 ms, >= 300 requests/s",
        "verdict": "met" if met else "missed",
    }


# --- B8 ------------------------------------------------------------------------------------


def _steps_span(root: Path) -> float:
    """First deploy start to last release of the train's newest run (steps in the store)."""
    from release_trains.state import open_store

    store = open_store(None, root, create=False)
    assert store is not None
    try:
        run = store.latest_run(TRAIN)
        assert run is not None
        steps = store.steps(run.id)
    finally:
        store.close()
    if not steps or any(s.status != "released" for s in steps):
        raise RuntimeError(f"not every step is released in {root}")
    starts = [datetime.fromisoformat(s.started_at) for s in steps if s.started_at]
    ends = [datetime.fromisoformat(s.finished_at) for s in steps if s.finished_at]
    return (max(ends) - min(starts)).total_seconds()


def _cli_round(template: Path, root: Path) -> tuple[float, float]:
    shutil.copytree(template, root)
    t0 = time.perf_counter()
    done = subprocess.run(
        [*rt_argv(), "--root", str(root), "execute", TRAIN, "--json"],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"execute: exit {done.returncode}: {done.stderr[-1500:]}")
    return wall, _steps_span(root)


def _api_round(template: Path, root: Path) -> tuple[float, float]:
    shutil.copytree(template, root)
    with serving(root) as server, httpx.Client(timeout=30) as c:
        t0 = time.perf_counter()
        job_id = post_execute(server, {})
        doc = wait_job(c, server, job_id, until=("done",), poll_s=0.01)
        wall = time.perf_counter() - t0
    if doc["outcome"]["status"] != "completed":
        raise RuntimeError(f"job {job_id}: run {doc['outcome']['status']}")
    return wall, _steps_span(root)


def b8(work: Path, *, rounds: int, services: int) -> dict[str, Any]:
    template = work / "b8-template"
    generate.generate(template, services=services, participants=services)
    cli: list[tuple[float, float]] = []
    api: list[tuple[float, float]] = []
    load_start = loadavg()
    for r in range(rounds + 1):  # round 0 is a warm-up (bytecode, page cache), not counted
        for kind, into, fn in (("cli", cli, _cli_round), ("api", api, _api_round)):
            result = fn(template, work / f"b8-{kind}-{r}")
            if r > 0:
                into.append(result)
    load_end = loadavg()

    def per(values: list[tuple[float, float]], i: int) -> float:
        return statistics.median(v[i] for v in values) / services * 1000

    cli_ms, api_ms = per(cli, 0), per(api, 0)
    cli_rel, api_rel = per(cli, 1), per(api, 1)
    ratio = api_ms / cli_ms
    return {
        "case": f"execute, {services} services, local deployer: API (POST, poll job) vs CLI",
        "rounds": rounds,
        "cli_wall_s": [round(v[0], 3) for v in cli],
        "api_wall_s": [round(v[0], 3) for v in api],
        "cli_per_service_ms": round(cli_ms, 2),
        "api_per_service_ms": round(api_ms, 2),
        "ratio": round(ratio, 2),
        "cli_release_phase_per_service_ms": round(cli_rel, 2),
        "api_release_phase_per_service_ms": round(api_rel, 2),
        "release_phase_ratio": round(api_rel / cli_rel, 2),
        "load_average_start": load_start,
        "load_average_end": load_end,
        "target": "API <= 1.2x CLI per service",
        "verdict": "met" if ratio <= 1.2 else "missed",
    }


# --- main ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 clients, 2 s, 1 round")
    ap.add_argument("--only", default="B7,B8", help="comma-separated: B7, B8")
    ap.add_argument("--clients", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--profile", type=Path, default=None, help="B7's server under py-spy: raw out")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = ap.parse_args(argv)
    clients = args.clients or (10 if args.quick else 50)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    rounds = args.rounds or (1 if args.quick else 3)
    only = {x.strip().upper() for x in args.only.split(",") if x.strip()}

    work = Path(tempfile.mkdtemp(prefix="rt-api-bench-"))
    results: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/api_bench.py", *(argv or sys.argv[1:])]),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": loadavg(),
    }
    failed = False
    try:
        for bid, fn in (
            ("B7", lambda: b7(work, clients=clients, seconds=seconds,
                              services=args.services, profile=args.profile)),
            ("B8", lambda: b8(work, rounds=rounds, services=args.services)),
        ):  # fmt: skip
            if bid not in only:
                continue
            try:
                results[bid] = fn()
            except Exception as e:  # one benchmark that cannot run does not stop the other
                failed = True
                results[bid] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{bid}: {json.dumps(results[bid], indent=1)}", flush=True)
    finally:
        results["load_average_end"] = loadavg()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.output}; load average {results['load_average_end']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
