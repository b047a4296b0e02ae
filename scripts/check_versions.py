#!/usr/bin/env python3
"""Every version of ONNX Runtime, its OpenVINO plugin or Ultralytics that the docs and the header name is one
that `versions.env` states: the file is the one place of those facts, and the prose is checked against it.

Usage: scripts/check_versions.py [FILE...]   (default: README.md, docs/*.md, include/*.h*, the bindings' and
examples' READMEs). Exits 1 and lists each mention that versions.env does not state.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The forms in which the prose names a fetched version, and the versions.env keys each may be.
MENTIONS = [
    (re.compile(r"ONNX Runtime (\d+\.\d+\.\d+)"), ("ORT_VERSION", "OLD_ORT_VERSION", "ORT_GPU_VERSION")),
    (re.compile(r"onnxruntime(?:-gpu)?[-=]+(\d+\.\d+\.\d+)"), ("ORT_VERSION", "OLD_ORT_VERSION", "ORT_GPU_VERSION")),
    (re.compile(r"libonnxruntime\.so\.(\d+\.\d+\.\d+)"), ("ORT_VERSION", "OLD_ORT_VERSION", "ORT_GPU_VERSION")),
    (re.compile(r"onnxruntime-ep-openvino[-= ]+(\d+\.\d+\.\d+)"), ("OPENVINO_EP_VERSION",)),
    (re.compile(r"[Uu]ltralytics[ =]+(\d+\.\d+\.\d+)"), ("ULTRALYTICS_VERSION",)),
]


def versions() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / "versions.env").read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.lstrip().startswith("#")}


def main(files: list[str]) -> int:
    known = versions()
    paths = [Path(f) for f in files] or [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "include").glob("*.h*")),
        *sorted(ROOT.glob("bindings/*/README.md")),
        *sorted(ROOT.glob("examples/*/README.md")),
    ]
    wrong = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for pattern, keys in MENTIONS:
                for match in pattern.finditer(line):
                    if match.group(1) not in {known[k] for k in keys}:
                        wrong.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)!r} is not in versions.env "
                                     f"({', '.join(f'{k}={known[k]}' for k in keys)})")
    for line in wrong:
        print(line, file=sys.stderr)
    print(f"check_versions: {len(paths)} files, {len(wrong)} mentions not in versions.env")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
