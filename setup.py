"""Builds libyolo_ffi.so with cargo and bundles it into the `yolo_ffi` package.

The library is a plain C-ABI cdylib, not a CPython extension, so the wheel is tagged for the platform only
(`py3-none-<platform>`): one wheel serves every Python 3 version. Set `CARGO` to pick a cargo binary and
`YOLO_FFI_CARGO_PROFILE` (default `release`) to pick the profile.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

ROOT = Path(__file__).resolve().parent
LIBRARY = "libyolo_ffi.so"


def crate_version() -> str:
    """The version in Cargo.toml: the wheel and the library it carries always agree."""
    for line in (ROOT / "Cargo.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise RuntimeError("no version in Cargo.toml")


class BuildWithCargo(build_py):
    """Runs cargo, then copies the cdylib next to the Python sources in the build tree."""

    def run(self) -> None:
        super().run()
        profile = os.environ.get("YOLO_FFI_CARGO_PROFILE", "release")
        cargo = os.environ.get("CARGO", "cargo")
        command = [cargo, "build", "--locked", "--lib", "--profile", profile]
        if shutil.which("nasm"):  # libjpeg-turbo's SIMD decoder (see Cargo.toml)
            command += ["--features", "simd-jpeg"]
        self.announce(" ".join(command), level=2)
        try:
            subprocess.run(command, cwd=ROOT, check=True)
        except FileNotFoundError:
            sys.exit("yolo-ffi: building from source needs Rust's cargo (https://rustup.rs) on PATH, or CARGO set")
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        built = target / ("debug" if profile == "dev" else profile) / LIBRARY
        destination = Path(self.build_lib) / "yolo_ffi" / LIBRARY
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, destination)
        destination.chmod(0o755)
        # Debug info is most of the file's size and no user of the wheel reads it; symbols stay.
        if profile != "dev" and shutil.which("strip"):
            subprocess.run(["strip", "--strip-debug", str(destination)], check=False)


class PlatformWheel(bdist_wheel):
    """Tags the wheel for the platform but for any Python 3: it carries a C library, no extension module."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3", "none", platform


class BinaryDistribution(Distribution):
    """Marks the distribution as platform-specific so that it installs into platlib."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    version=crate_version(),
    cmdclass={"build_py": BuildWithCargo, "bdist_wheel": PlatformWheel},
    distclass=BinaryDistribution,
)
