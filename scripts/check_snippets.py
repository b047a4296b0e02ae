#!/usr/bin/env python3
"""Runs every code block of the README, the docs and the bindings' READMEs as written, so that none drifts
from the product.

Languages and how each block runs, in a scratch folder holding the demo model and images that `make demo`
fetches and the synthetic task models of `make test-models`, under the names the snippets use:
- ```c and ```cpp: compiled as C11 and C++17 with -Wall -Wextra -Werror against include/ and the built
  library, then run.
- ```python: run with the given interpreter (a virtualenv with the wheel installed).
- ```js: run by node as an ES module, with `yolo-ffi` resolving to bindings/node.
- ```go: a whole program (`package main`) as it is; a fragment as the body of `func run() error` in a
  program whose main calls it (the fragment's `return err` are that function's). Built against
  bindings/go, which finds the library by pkg-config in the `make install` prefix of `make test-go`.
- ```java: a whole class as it is; a fragment as the body of `main`, with `java.nio.file.*`, `java.io.*`
  and the package `yoloffi` imported. Compiled with -Xlint:all -Werror against bindings/java and JNA.
- ```sh: run by bash with -euo pipefail, with a fresh virtualenv first on PATH (its `pip` and `python`) and
  the wheel of `make wheel` beside the images; a block that must not run here (it is the command that runs
  this check, or needs a GPU) is preceded by `<!-- snippet: not run: REASON -->`, and the reason is printed.

A language whose toolchain is missing is SKIPPED, loudly; with `--require-all` (CI) that is a failure.

Usage: check_snippets.py --python PYTHON --cache CACHE_DIR --prefix INSTALL_PREFIX --wheelhouse DIR
                         [--cc CC] [--cxx CXX] [--require-all]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = "c|cpp|python|js|go|java|sh"
BLOCK = re.compile(r"(?:^<!-- snippet: not run: (?P<skip>.+?) -->\n)?^```(?P<lang>" + LANGUAGES + r")\n(?P<code>.*?)^```",
                   re.M | re.S)
GO_WRAPPER = """package main

import (
\t"errors"
\t"fmt"
\t"log"

\tyoloffi "yoloffi"
)

var _ = errors.Is
var _ = fmt.Sprint

func run() error {
%s
\treturn nil
}

func main() {
\tif err := run(); err != nil {
\t\tlog.Fatal(err)
\t}
}
"""
JAVA_WRAPPER = """import java.io.*;
import java.nio.file.*;
import yoloffi.*;

public class %s {
  public static void main(String[] args) {
%s
  }
}
"""


def pages():
    yield ROOT / "README.md"
    yield ROOT / "python" / "README.md"
    yield from sorted((ROOT / "docs").glob("*.md"))
    yield from sorted((ROOT / "bindings").glob("*/README.md"))


def snippets():
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("lang")) + 1
            yield f"{page.relative_to(ROOT)}:{line}", match.group("lang"), match.group("code"), match.group("skip")


class Checker:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.passed = self.failed = self.skipped = 0
        self.missing = {}
        self.library = ROOT / "target" / "release"
        self.java_classes = None
        self.sh_venv = None

    def run(self, label, command, env=None, timeout=300, cwd=None):
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(command, cwd=cwd or self.work, env=full_env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            print(f"check_snippets: {label} failed ({' '.join(map(str, command[:3]))}...):")
            print((done.stdout + done.stderr)[-3000:])
            return False
        return True

    def toolchain(self, language, *programs):
        """True when every program is on PATH; else records the language as SKIPPED."""
        absent = [p for p in programs if shutil.which(p) is None]
        if absent:
            self.missing.setdefault(language, absent)
            return False
        return True

    def check(self, index, label, language, code):
        method = getattr(self, f"check_{language}")
        return method(index, label, code)

    def check_c(self, index, label, code, language="c"):
        source = self.work / f"snippet{index}.{language}"
        binary = self.work / f"snippet{index}"
        source.write_text(code, encoding="utf-8")
        compiler = [self.args.cc, "-std=c11"] if language == "c" else [self.args.cxx, "-std=c++17"]
        command = [*compiler, "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'include'}", str(source), "-o", str(binary),
                   f"-L{self.library}", "-lyolo_ffi", f"-Wl,-rpath,{self.library}"]
        return self.run(label, command) and self.run(label, [str(binary)])

    def check_cpp(self, index, label, code):
        return self.check_c(index, label, code, "cpp")

    def check_python(self, index, label, code):
        source = self.work / f"snippet{index}.py"
        source.write_text(code, encoding="utf-8")
        return self.run(label, [self.args.python, str(source)])

    def check_js(self, index, label, code):
        if not self.toolchain("js", "node"):
            return None
        modules = self.work / "node_modules"
        if not modules.exists():
            if not (ROOT / "bindings" / "node" / "node_modules" / "koffi").is_dir():
                sys.exit("check_snippets: bindings/node has no node_modules: run `make test-node` first")
            modules.mkdir()
            (modules / "yolo-ffi").symlink_to(ROOT / "bindings" / "node")
        source = self.work / f"snippet{index}.mjs"
        source.write_text(code, encoding="utf-8")
        env = {"YOLO_FFI_LIBRARY": str(self.library / "libyolo_ffi.so")}
        return self.run(label, ["node", str(source)], env=env)

    def check_go(self, index, label, code):
        if not self.toolchain("go", "go", "pkg-config"):
            return None
        folder = self.work / f"go{index}"
        folder.mkdir()
        program = code if re.search(r"^package main", code, re.M) else GO_WRAPPER % code
        (folder / "main.go").write_text(program, encoding="utf-8")
        (folder / "go.mod").write_text(
            f"module snippet\n\ngo 1.19\n\nrequire yoloffi v0.0.0\n\nreplace yoloffi => {ROOT / 'bindings' / 'go'}\n",
            encoding="utf-8")
        prefix = Path(self.args.prefix).resolve()
        build = ROOT / "build" / "go"
        env = {"GOCACHE": str(build / "cache"), "GOPATH": str(build / "path"), "GOFLAGS": "-mod=mod",
               "GOTOOLCHAIN": "local", "GOPROXY": "off", "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig"),
               "CGO_LDFLAGS": f"-Wl,-rpath,{prefix / 'lib'}"}
        binary = folder / "snippet"
        return (self.run(label, ["go", "build", "-o", str(binary), "."], env=env, cwd=folder)
                and self.run(label, [str(binary)]))

    def check_java(self, index, label, code):
        jna = Path("/usr/share/java/jna.jar")
        if not self.toolchain("java", "javac", "java") or not jna.is_file():
            self.missing.setdefault("java", ["javac", "java", str(jna)])
            return None
        if self.java_classes is None:
            self.java_classes = self.work / "java-binding"
            sources = [str(p) for p in (ROOT / "bindings" / "java" / "src" / "main").rglob("*.java")]
            if not self.run("the Java binding", ["javac", "-d", str(self.java_classes), "-cp", str(jna), *sources]):
                return False
        name = f"Snippet{index}"
        match = re.search(r"^public\s+(?:final\s+)?class\s+(\w+)", code, re.M)
        if match:
            name = match.group(1)
            program = code
        else:
            program = JAVA_WRAPPER % (name, code)
        folder = self.work / f"java{index}"
        folder.mkdir()
        (folder / f"{name}.java").write_text(program, encoding="utf-8")
        classpath = f"{jna}:{self.java_classes}"
        return (self.run(label, ["javac", "-Xlint:all", "-Werror", "-d", str(folder), "-cp", classpath,
                                 str(folder / f"{name}.java")])
                and self.run(label, ["java", "-cp", f"{classpath}:{folder}",
                                     f"-Dyolo.ffi.library={self.library / 'libyolo_ffi.so'}", name]))

    def check_sh(self, index, label, code):
        if self.sh_venv is None:
            self.sh_venv = self.work / "shvenv"
            if not self.run("a virtualenv for the shell snippets", [self.args.base_python, "-m", "venv", str(self.sh_venv)]):
                return False
            for wheel in Path(self.args.wheelhouse).glob("yolo_ffi-*.whl"):
                (self.work / wheel.name).symlink_to(wheel.resolve())
        script = self.work / f"snippet{index}.sh"
        script.write_text(code, encoding="utf-8")
        env = {"PATH": f"{self.sh_venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(self.sh_venv),
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        return self.run(label, ["bash", "-euo", "pipefail", str(script)], env=env, timeout=600)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", required=True, help="a Python with the wheel installed")
    parser.add_argument("--base-python", default=sys.executable, help="the Python that makes the sh virtualenv")
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--prefix", required=True, help="the `make install` prefix the Go binding builds against")
    parser.add_argument("--wheelhouse", required=True, help="where `make wheel` put the wheel")
    parser.add_argument("--cc", default=os.environ.get("CC", "cc"))
    parser.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    parser.add_argument("--require-all", action="store_true", help="a language without its toolchain fails")
    parser.add_argument("--only", help="run only the blocks of this language")
    args = parser.parse_args()
    args.python = os.path.abspath(args.python)  # the snippets run in another folder; a venv python keeps its path
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
                sys.exit(f"check_snippets: {source} is missing: run `make fixtures` and `make test-models` first")
            (work / name).symlink_to(source)
        checker = Checker(args, work)
        counts = {}
        for index, (label, language, code, skip) in enumerate(snippets()):
            if args.only and language != args.only:
                continue
            if skip:
                print(f"check_snippets: {label} ({language}) not run: {skip}")
                checker.skipped += 1
                continue
            ok = checker.check(index, label, language, code)
            if ok is None:
                checker.skipped += 1
                continue
            counts[language] = counts.get(language, 0) + 1
            checker.passed += ok
            checker.failed += not ok
        for language, absent in checker.missing.items():
            print(f"\n*** check_snippets: {language} snippets SKIPPED: {', '.join(absent)} not installed ***\n",
                  file=sys.stderr)
        print(f"check_snippets: blocks run per language: {counts}")
        print(f"check_snippets: {checker.passed} passed, {checker.failed} failed, {checker.skipped} skipped")
        if checker.passed == 0:
            sys.exit("check_snippets: found no snippet")
        if checker.missing and args.require_all:
            sys.exit("check_snippets: --require-all: a language's toolchain is missing")
        sys.exit(1 if checker.failed else 0)


if __name__ == "__main__":
    main()
