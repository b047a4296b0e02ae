#!/usr/bin/env python3
"""Runs every C, C++ and Python snippet of the README and docs/ as written, so that none drifts from the API.

Each ```c block (```cpp: as C++17) is compiled with -Wall -Wextra -Werror against include/ and the built
library, then run; each
```python block is run with the given interpreter (a virtualenv with the wheel installed). Both run in a
scratch folder holding the demo model and images that `make demo` fetches and the synthetic task models of
`make test-models`, under the names the snippets use.

Usage: check_snippets.py --python PYTHON --cache CACHE_DIR [--cc CC] [--cxx CXX]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(c|cpp|python)\n(.*?)^```", re.M | re.S)


def snippets():
    for page in [ROOT / "README.md", ROOT / "python" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield f"{page.relative_to(ROOT)}:{line}", match.group(1), match.group(2)


def run(label, command, cwd, env=None):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        print(f"check_snippets: {label} failed ({' '.join(map(str, command[:2]))}...):")
        print((done.stdout + done.stderr)[-3000:])
        return False
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", required=True)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--cc", default=os.environ.get("CC", "cc"))
    parser.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    args = parser.parse_args()
    python = os.path.abspath(args.python)  # the snippets run in another folder; a venv python must keep its path
    library = ROOT / "target" / "release"
    passed = failed = 0
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        synthetic = ROOT / "build" / "test-models"
        for name, source in [
            ("nudenet-320n.onnx", args.cache / "models" / "nudenet-320n.onnx"),
            ("bus.jpg", args.cache / "images" / "bus.jpg"),
            ("zidane.jpg", args.cache / "images" / "zidane.jpg"),
            # The task snippets' models: the synthetic ones of `make test-models`.
            ("seg.onnx", synthetic / "seg_fixed.onnx"),
            ("pose.onnx", synthetic / "pose_fixed.onnx"),
            ("obb.onnx", synthetic / "obb_fixed.onnx"),
            ("cls.onnx", synthetic / "classify_task.onnx"),
        ]:
            if not source.is_file():
                sys.exit(f"check_snippets: {source} is missing: run `make fixtures` first")
            (work / name).symlink_to(source)
        for index, (label, language, code) in enumerate(snippets()):
            if language in ("c", "cpp"):
                source = work / f"snippet{index}.{language}"
                binary = work / f"snippet{index}"
                source.write_text(code, encoding="utf-8")
                compiler = [args.cc, "-std=c11"] if language == "c" else [args.cxx, "-std=c++17"]
                compile_command = [*compiler, "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'include'}",
                                   str(source), "-o", str(binary), f"-L{library}", "-lyolo_ffi",
                                   f"-Wl,-rpath,{library}"]
                ok = run(label, compile_command, work) and run(label, [str(binary)], work)
            else:
                source = work / f"snippet{index}.py"
                source.write_text(code, encoding="utf-8")
                ok = run(label, [python, str(source)], work)
            passed += ok
            failed += not ok
    print(f"check_snippets: {passed} passed, {failed} failed")
    if passed == 0:
        sys.exit("check_snippets: found no snippet")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
