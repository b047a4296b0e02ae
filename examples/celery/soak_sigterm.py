"""SIGTERM at random moments of a Celery worker's start-up, many times: every run must end with the worker
and all its pool processes gone within a bound, exit status 0 (or death by SIGTERM, before Celery installs
its handlers), and no traceback. A run that hangs gets every
process's Python and native stacks dumped (py-spy) before it is killed, and the soak fails with them.

Half the runs send SIGTERM at a uniform moment of the first seconds; the other half wait for the first pool
process to exist and send it within the next 100 ms, while the pool starts (when a hang was once seen).
Needs Debian's redis-server (started here on a free port of 127.0.0.1, or --broker), the demo model and
py-spy (PyPI), as `make soak-celery` provides:
    python soak_sigterm.py --model M --runs 200 [--seed N] [--bound 60] [--broker redis://127.0.0.1:PORT/0]
Prints one line per run and a summary: how many runs ended, their exit times, the start-up phase each
SIGTERM hit (before the pool existed, while it started, or after the worker was ready).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent


def children(pid: int) -> List[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def dump_stacks(pids: List[int]) -> str:
    """Every process's stacks, Python and native, from py-spy (which needs no help from the process)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = []
    for pid in pids:
        done = subprocess.run([py_spy, "dump", "--native", "--pid", str(pid)], capture_output=True, text=True,
                              timeout=60)
        out.append(f"--- pid {pid} (py-spy exit {done.returncode})\n{done.stdout}{done.stderr}")
    return "\n".join(out)


def run_once(args: argparse.Namespace, delay: float, targeted: bool, log_dir: Path, index: int) -> dict:
    log = log_dir / f"run-{index:03d}.log"
    env = dict(os.environ, YOLO_CELERY_BROKER=args.broker, YOLO_MODEL=args.model, YOLO_IMGSZ="320",
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "yolo_tasks", "worker", "--pool", "prefork", "--concurrency",
             str(args.concurrency), "-Q", f"soak{index}", "-n", f"soak{index}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=HERE, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
        if targeted:
            # Wait for the first pool process (bounded by the worker's own start-up), then the delay.
            deadline = time.monotonic() + args.bound
            while not children(worker.pid) and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        time.sleep(delay)
        pool = children(worker.pid)
        ready = b"ready." in log.read_bytes()
        phase = "ready" if ready else ("pool starting" if pool else "before the pool")
        if targeted and not pool and worker.poll() is None:
            phase = "before the pool"
        sent = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=args.bound)
            hung, stacks = False, ""
        except subprocess.TimeoutExpired:
            hung = True
            every = [worker.pid] + children(worker.pid)
            stacks = dump_stacks(every)
            for pid in every:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            code = worker.wait(timeout=30)
        took = time.monotonic() - sent
    left = [pid for pid in pool if Path(f"/proc/{pid}").exists() and
            Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
    text = log.read_text(errors="replace")
    return {"delay": delay, "targeted": targeted, "phase": phase, "code": code, "hung": hung, "took": took, "left": left,
            "traceback": "Traceback" in text, "log": str(log), "stacks": stacks, "tail": text[-3000:]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", help="a Redis URL; by default a redis-server is started for the soak")
    parser.add_argument("--model", required=True)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--bound", type=float, default=60, help="seconds a worker may take to exit")
    parser.add_argument("--window", type=float, default=1.5, help="SIGTERM delays are uniform in [0, window]")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    log_dir = Path(tempfile.mkdtemp(prefix="celery-soak-"))
    print(f"soak: {args.runs} runs, SIGTERM after 0-{args.window} s or within 0.1 s of the first pool process, "
          f"seed {seed}, logs in {log_dir}", flush=True)
    server = None
    if args.broker is None:
        server, args.broker = start_redis(log_dir)
    results, failures = [], []
    try:
        for index in range(args.runs):
            targeted = index % 2 == 1
            delay = rng.uniform(0, 0.1) if targeted else rng.uniform(0, args.window)
            r = run_once(args, delay, targeted, log_dir, index)
            results.append(r)
            report(index, r, failures)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
    summarise(results, failures)
    if not failures:
        shutil.rmtree(log_dir, ignore_errors=True)
    return 1 if failures else 0


def start_redis(folder: Path):
    """A redis-server on a free port of 127.0.0.1, answering PING; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                               "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return server, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("soak: redis-server did not answer in 20 s")


def report(index: int, r: dict, failures: list) -> None:
    """Prints one run; a run that hung, failed or left processes joins `failures`, with its log and stacks."""
    # Before Celery installs its handlers, SIGTERM's default action ends the process (-15): also clean.
    bad = r["hung"] or r["code"] not in (0, -signal.SIGTERM) or r["left"] or r["traceback"]
    print(f"run {index:3d}: SIGTERM {r['delay']:.2f} s after {'the first pool process' if r['targeted'] else 'the start'} "
          f"({r['phase']}): exit {r['code']} in "
          f"{r['took']:.2f} s{'  HUNG' if r['hung'] else ''}{'  LEFT ' + str(r['left']) if r['left'] else ''}"
          f"{'  TRACEBACK' if r['traceback'] else ''}", flush=True)
    if bad:
        failures.append(r)
        print(f"--- run {index} log tail:\n{r['tail']}\n{r['stacks']}", flush=True)


def summarise(results: list, failures: list) -> None:
    """The soak's one-line outcome: clean runs, exit times, the phases SIGTERM hit."""
    took = [r["took"] for r in results if not r["hung"]] or [0.0]
    phases = {p: sum(r["phase"] == p for r in results) for p in ("before the pool", "pool starting", "ready")}
    print(f"soak: {len(results) - len(failures)} of {len(results)} runs clean; exit after SIGTERM: median "
          f"{statistics.median(took):.2f} s, max {max(took):.2f} s; SIGTERM hit {phases}")


if __name__ == "__main__":
    sys.exit(main())
