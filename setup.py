"""Builds libyolo_ffi (a plain C-ABI cdylib, not a CPython extension) with setuptools-rust and bundles it
into the `yolo_ffi` package, where the ctypes bindings load it.

- Cargo builds in a temporary folder outside the source tree, removed when the build ends; set
  `CARGO_TARGET_DIR` to keep one between builds, so that rebuilds are incremental.
- libyolo_ffi is built with libjpeg-turbo's SIMD JPEG decoder (2-3x faster decoding, identical pixels): on
  x86-64 when nasm is on PATH (without it, with the portable C decoder); on aarch64 always (its NEON code
  needs only the C compiler).
- `make wheel` builds the distributable manylinux2014 wheel: the same build with Zig as the linker, for
  glibc 2.17 (docs/python.md).
"""

import os
import platform
import shutil
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools_rust import Binding, RustExtension, Strip

ROOT = Path(__file__).resolve().parent


def crate_version() -> str:
    """The version in Cargo.toml (`[workspace.package]`, its one place): the wheel and the library it carries
    always agree."""
    for line in (ROOT / "Cargo.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("version = "):
            return line.split("=", 1)[1].strip().strip('"')
    raise RuntimeError("no version in Cargo.toml")


def simd_jpeg() -> bool:
    """Whether the target machine's SIMD JPEG decoder can be built: aarch64's always, x86-64's with nasm."""
    target = os.environ.get("CARGO_BUILD_TARGET") or platform.machine()
    return target.startswith(("aarch64", "arm64")) or shutil.which("nasm") is not None


if "CARGO_TARGET_DIR" not in os.environ:
    # Removed when this process exits; the wheel has its copy of the library by then.
    _scratch = tempfile.TemporaryDirectory(prefix="yolo-ffi-cargo-")
    os.environ["CARGO_TARGET_DIR"] = _scratch.name

setup(
    version=crate_version(),
    rust_extensions=[
        RustExtension(
            "yolo_ffi.libyolo_ffi",
            path="Cargo.toml",
            binding=Binding.NoBinding,
            cargo_manifest_args=["--locked"],
            quiet=True,  # cargo's output only when it fails
            features=["simd-jpeg"] if simd_jpeg() else [],
            # Debug info is most of the file's size and no user of the wheel reads it; symbols stay.
            strip=Strip.Debug,
        )
    ],
)
