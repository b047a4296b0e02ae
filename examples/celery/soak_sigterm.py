"""SIGTERM at random moments of a Celery worker's life, many times: every run must end with the worker
and all its pool processes gone within a bound, exit status 0 (or death by SIGTERM, before Celery installs
its handlers), and no traceback. A run that hangs gets every process's Python and native stacks dumped
(py-spy) before it is killed, and the soak fails with them.

Runs take turns among three kinds: SIGTERM at a uniform moment of the first seconds of start-up; SIGTERM
within 100 ms of the first pool process's birth, while the pool starts; and SIGTERM at a uniform moment
after the worker is ready with tasks queued and running (what `test_celery.py`'s SIGTERM test does, where a
hang was once seen). In the last kind every task must afterwards be either done or still queued (late
acknowledgement): none lost.
Needs Debian's redis-server (started here on a free port of 127.0.0.1, or --broker), the demo model, an
image and py-spy (PyPI), as `make soak-celery` provides:
    python soak_sigterm.py --model M --image I --runs 300 [--seed N] [--bound 60] [--broker URL]
Prints one line per run and a summary: how many runs ended, their exit times, the phase each SIGTERM hit
(before the pool existed, while it started, after the worker was ready, or with tasks running).
"""

from __future__ import annotations

import argparse
import base64
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
from typing import List, Optional

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


KINDS = ("start", "pool start", "busy")
TASKS_PER_BUSY_RUN = 12


def run_once(args: argparse.Namespace, delay: float, kind: str, log_dir: Path, index: int, client) -> dict:
    log = log_dir / f"run-{index:03d}.log"
    queue = f"soak{index}"
    env = dict(os.environ, YOLO_CELERY_BROKER=args.broker, YOLO_MODEL=args.model, YOLO_IMGSZ="320",
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", args.app, "worker", "--pool", "prefork", "--concurrency",
             str(args.concurrency), "-Q", queue, "-n", f"{queue}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=HERE, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + args.bound
        sent_tasks = []
        if kind == "pool start":
            # Wait for the first pool process (bounded by the worker's own start-up), then the delay.
            while not children(worker.pid) and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        elif kind == "busy":
            # Wait for the worker to be ready, queue the tasks, wait for the first to run, then the delay.
            while b"ready." not in log.read_bytes() and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            sent_tasks = [client.send_task(args.task, args=(args.image_b64,), queue=queue)
                          for _ in range(TASKS_PER_BUSY_RUN)]
            while b"received" not in log.read_bytes() and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        time.sleep(delay)
        pool = children(worker.pid)
        ready = b"ready." in log.read_bytes()
        phase = "ready" if ready else ("pool starting" if pool else "before the pool")
        if kind == "busy" and ready:
            phase = "tasks running"
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
    lost = tasks_lost(client, queue, sent_tasks) if sent_tasks and not hung else None
    if sent_tasks:
        drain(client, queue)
    return {"delay": delay, "kind": kind, "phase": phase, "code": code, "hung": hung, "took": took, "left": left,
            "lost": lost, "traceback": "Traceback" in text, "guarded": "shutdown guard:" in text, "log": str(log), "stacks": stacks, "tail": text[-3000:]}


def tasks_lost(client, queue: str, sent: list) -> Optional[int]:
    """How many of the tasks sent are neither done nor still in the queue (late acknowledgement keeps an
    unfinished task queued, or puts it back when its process dies)."""
    done = sum(r.ready() for r in sent)
    with client.connection_for_read() as connection:
        queued = connection.default_channel.client.llen(queue)
    return max(0, len(sent) - done - queued)


def drain(client, queue: str) -> None:
    """Empties the run's queue, so that Redis holds nothing from it."""
    with client.connection_for_write() as connection:
        connection.default_channel.client.delete(queue)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", help="a Redis URL; by default a redis-server is started for the soak")
    parser.add_argument("--model", required=True)
    parser.add_argument("--image", required=True, help="the image the busy runs' tasks detect objects in")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"the kinds of run to take turns among: {KINDS}")
    parser.add_argument("--app", default="yolo_tasks", help="the worker's Celery app (control_tasks: no yolo-ffi)")
    parser.add_argument("--task", default="yolo.detect", help="the task the busy runs queue")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--bound", type=float, default=60, help="seconds a worker may take to exit")
    parser.add_argument("--window", type=float, default=1.5, help="start-up runs: SIGTERM uniform in [0, window]")
    parser.add_argument("--busy-window", type=float, default=0.25,
                        help="busy runs: SIGTERM uniform in [0, busy window] after the first task is received")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    kinds = args.kinds.split(",")
    if not set(kinds) <= set(KINDS):
        parser.error(f"--kinds: each of {KINDS}")
    args.image_b64 = base64.b64encode(Path(args.image).read_bytes()).decode()
    log_dir = Path(tempfile.mkdtemp(prefix="celery-soak-"))
    print(f"soak: {args.runs} runs of app {args.app} taking turns among {kinds}: SIGTERM 0-{args.window} s after the start, within 0.1 s of the "
          f"first pool process, or 0-{args.busy_window} s after the first of {TASKS_PER_BUSY_RUN} tasks is received; "
          f"seed {seed}, logs in {log_dir}", flush=True)
    server = None
    if args.broker is None:
        server, args.broker = start_redis(log_dir)
    from celery import Celery  # the soak's own client: it sends tasks by name and reads their results

    client = Celery("soak", broker=args.broker, backend=args.broker)
    client.conf.task_serializer = client.conf.result_serializer = "json"
    results, failures = [], []
    try:
        for index in range(args.runs):
            kind = kinds[index % len(kinds)]
            window = {"start": args.window, "pool start": 0.1, "busy": args.busy_window}[kind]
            delay = rng.uniform(0, window)
            r = run_once(args, delay, kind, log_dir, index, client)
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
    bad = r["hung"] or r["code"] not in (0, -signal.SIGTERM) or r["left"] or r["traceback"] or r["lost"]
    after = {"start": "the start", "pool start": "the first pool process", "busy": "the first task"}[r["kind"]]
    flags = ["HUNG" if r["hung"] else "", f"LEFT {r['left']}" if r["left"] else "",
             "TRACEBACK" if r["traceback"] else "", f"LOST {r['lost']} tasks" if r["lost"] else "",
             "GUARDED (the shutdown guard ended the pool)" if r["guarded"] else ""]
    print(f"run {index:3d}: SIGTERM {r['delay']:.2f} s after {after} ({r['phase']}): exit {r['code']} in "
          f"{r['took']:.2f} s  {'  '.join(f for f in flags if f)}".rstrip(), flush=True)
    if bad:
        failures.append(r)
        print(f"--- run {index} log tail:\n{r['tail']}\n{r['stacks']}", flush=True)


def summarise(results: list, failures: list) -> None:
    """The soak's one-line outcome: clean runs, exit times, the phases SIGTERM hit."""
    took = [r["took"] for r in results if not r["hung"]] or [0.0]
    phases = {p: sum(r["phase"] == p for r in results)
              for p in ("before the pool", "pool starting", "ready", "tasks running")}
    guarded = sum(r["guarded"] for r in results)
    print(f"soak: {len(results) - len(failures)} of {len(results)} runs clean ({guarded} of them ended by the "
          f"shutdown guard); exit after SIGTERM: median {statistics.median(took):.2f} s, max {max(took):.2f} s; "
          f"SIGTERM hit {phases}")


if __name__ == "__main__":
    sys.exit(main())
