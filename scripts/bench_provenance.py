#!/usr/bin/env python3
"""Stamps benchmark JSON files with what they measured and where: the commit (and whether the tree had
uncommitted changes), the date, the machine (CPU model, cores, memory, kernel), the versions (Rust, ONNX
Runtime, the library's features, Python, Ultralytics when given). `make bench` runs it on every file it
writes, so that each raw file in docs/bench/ says where its figures come from.

Usage: bench_provenance.py start FILE                       record the commit a run starts from
       bench_provenance.py [--ultralytics-python PYTHON] --start FILE FILE.json...
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def output(command, cwd=ROOT):
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def memory_gib():
    try:
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        return round(int(match.group(1)) / 2**20, 1) if match else None
    except OSError:
        return None


def ort_version():
    versions = (ROOT / "versions.env").read_text()
    match = re.search(r"^ORT_VERSION=(\S+)", versions, re.M)
    return match.group(1) if match else None


def commit_now():
    """The commit checked out, and whether tracked files differ from it."""
    status = output(["git", "status", "--porcelain", "--untracked-files=no"])
    return {"commit": output(["git", "rev-parse", "HEAD"]),
            "uncommitted_changes": bool(status) if status is not None else None}


def provenance(ultralytics_python, start):
    """What the run measured: the commit recorded when it started (the binaries are built then), the machine
    and the versions."""
    record = {
        **json.loads(start.read_text()),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": memory_gib(),
            "kernel": platform.release(),
            "arch": platform.machine(),
        },
        "versions": {
            "rustc": output(["rustc", "--version"]),
            "onnxruntime": ort_version(),
            "simd_jpeg": shutil.which("nasm") is not None,
            "python": platform.python_version(),
        },
    }
    if ultralytics_python:
        record["versions"]["ultralytics"] = output(
            [ultralytics_python, "-c", "import ultralytics, onnxruntime, torch; print(ultralytics.__version__, "
             "'(onnxruntime', onnxruntime.__version__ + ', torch', torch.__version__ + ')')"])
    return record


def main():
    if sys.argv[1:2] == ["start"] and len(sys.argv) == 3:
        Path(sys.argv[2]).parent.mkdir(parents=True, exist_ok=True)
        Path(sys.argv[2]).write_text(json.dumps(commit_now()))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--ultralytics-python")
    parser.add_argument("--start", type=Path, required=True, help="the file `start` wrote when the run began")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    record = provenance(args.ultralytics_python, args.start)
    for path in args.files:
        data = json.loads(path.read_text())
        wrapped = {"provenance": record, "data": data.get("data", data) if isinstance(data, dict) else data}
        path.write_text(json.dumps(wrapped, indent=1, sort_keys=True) + "\n")
        print(f"bench_provenance: {path}: commit {record['commit']}, {record['machine']['cpu']}", file=sys.stderr)


if __name__ == "__main__":
    main()
