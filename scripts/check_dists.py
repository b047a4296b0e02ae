"""Checks the Python distributions that `make wheel` builds, as a package index and a user would see them.

    check_dists.py inspect DIST_DIR
        The wheel: its manylinux tag is one that `auditwheel show` agrees with and no newer than
        manylinux_2_28; it carries one libyolo_ffi for the tag's machine, stripped of debug info and built
        with libjpeg-turbo's SIMD decoder, the licences and the metadata. The sdist: everything cargo needs
        to build the library. Prints the wheel's tag, size and the newest glibc symbol version it needs.

    check_dists.py inspect-wheel DIST_DIR
        The same checks of the one wheel in DIST_DIR (the aarch64 wheel's folder has no sdist).

    check_dists.py run PYTHON DETECT MODEL IMAGE
        Runs `PYTHON -m yolo_ffi --json` from an installed distribution, with no Rust toolchain on PATH, and
        checks that its detections are build/detect's (the C example, linked with the source tree's build).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import NoReturn

sys.path.insert(0, str(Path(__file__).parent))
from compare_detections import compare  # noqa: E402  (a sibling script)

NEWEST_ALLOWED_GLIBC = (2, 28)
# PEP 600's aliases for the legacy tags.
LEGACY_TAGS = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
# The ELF machine (e_machine, as pyelftools names it) of each manylinux architecture.
ELF_MACHINES = {"x86_64": "EM_X86_64", "aarch64": "EM_AARCH64"}
SDIST_NEEDS = [
    "Cargo.toml",
    "Cargo.lock",
    "build.rs",
    "cbindgen.toml",
    "core/Cargo.toml",
    "core/build.rs",
    "versions.env",
    "core/src/lib.rs",
    "src/lib.rs",
    "include/yolo_ffi.h",
    "LICENSE-MIT",
    "LICENSE-APACHE",
    "pyproject.toml",
    "setup.py",
    "python/yolo_ffi/__init__.py",
    "python/yolo_ffi/py.typed",
]


def fail(message: str) -> NoReturn:
    sys.exit(f"check_dists: {message}")


def glibc_of_tag(platform: str) -> tuple[int, int]:
    legacy = platform.split("_", 1)[0]
    if legacy in LEGACY_TAGS:
        return LEGACY_TAGS[legacy]
    match = re.match(r"manylinux_(\d+)_(\d+)_", platform)
    if not match:
        fail(f"{platform} is not a manylinux tag")
    return int(match[1]), int(match[2])


def one(paths: list[Path], what: str) -> Path:
    if len(paths) != 1:
        fail(f"expected one {what}, found {[p.name for p in paths]}")
    return paths[0]


def inspect_wheel(wheel: Path) -> None:
    from elftools.elf.elffile import ELFFile  # pyelftools: auditwheel's own dependency
    from elftools.elf.gnuversions import GNUVerNeedSection

    platform = wheel.stem.split("-")[-1]
    claimed = glibc_of_tag(platform)
    if claimed > NEWEST_ALLOWED_GLIBC:
        fail(f"{wheel.name}: {platform} is newer than manylinux_2_28")

    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True, check=True
    ).stdout
    consistent = re.search(r'consistent with\s+the following platform tag:\s+"manylinux_(\d+)_(\d+)_', shown)
    if not consistent:
        fail(f"auditwheel show found no manylinux tag:\n{shown}")
    policy = (int(consistent[1]), int(consistent[2]))
    if policy > claimed:
        fail(f"{wheel.name} claims glibc {claimed} but auditwheel says it needs {policy}:\n{shown}")

    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as scratch:
        names = archive.namelist()
        library = one([Path(n) for n in names if re.fullmatch(r"yolo_ffi/libyolo_ffi[^/]*\.so", n)], "library")
        for licence in ("LICENSE-MIT", "LICENSE-APACHE"):
            if not any(n.endswith(f".dist-info/licenses/{licence}") for n in names):
                fail(f"{wheel.name} does not carry {licence}")
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        for field in ("Name: yolo-ffi", "License-Expression: MIT OR Apache-2.0", "Requires-Dist: onnxruntime"):
            if field not in metadata:
                fail(f"{wheel.name}: METADATA lacks {field!r}")
        if "yolo_ffi/py.typed" not in names:
            fail(f"{wheel.name} does not carry py.typed")
        extracted = Path(archive.extract(str(library), scratch))
        library_size = extracted.stat().st_size
        with extracted.open("rb") as stream:
            elf = ELFFile(stream)
            architecture = next((a for a in ELF_MACHINES if platform.endswith(f"_{a}")), None)
            if architecture is None:
                fail(f"{wheel.name}: {platform} names no architecture this project builds")
            if elf["e_machine"] != ELF_MACHINES[architecture]:
                fail(f"{library} is built for {elf['e_machine']}, not the tag's {architecture}")
            debug = [s.name for s in elf.iter_sections() if s.name.startswith(".debug")]
            if debug:
                fail(f"{library} carries debug info: {debug}")
            symbols = elf.get_section_by_name(".symtab")
            names_in_library = {s.name for s in symbols.iter_symbols()} if symbols else set()
            if not any(n.startswith("jsimd_") for n in names_in_library):
                fail(f"{library} was built without libjpeg-turbo's SIMD decoder (nasm missing at build time?)")
            newest = (0, 0)
            for section in elf.iter_sections():
                if isinstance(section, GNUVerNeedSection):
                    for _, auxiliaries in section.iter_versions():
                        for aux in auxiliaries:
                            found = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", aux.name)
                            if found:
                                newest = max(newest, (int(found[1]), int(found[2])))
    size = wheel.stat().st_size
    print(
        f"check_dists: {wheel.name}: {size / 1e6:.2f} MB, library {library_size / 1e6:.2f} MB, "
        f"auditwheel: manylinux_{policy[0]}_{policy[1]}, newest glibc symbol GLIBC_{newest[0]}.{newest[1]}, "
        f"{architecture} library, SIMD JPEG, no debug info"
    )


def inspect_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        prefix = sdist.name[: -len(".tar.gz")]
        members = {m.name[len(prefix) + 1 :] for m in archive.getmembers()}
    missing = [n for n in SDIST_NEEDS if n not in members]
    if missing:
        fail(f"{sdist.name} lacks {missing}")
    if any(m.startswith(("target/", "build/")) for m in members):
        fail(f"{sdist.name} carries build output")
    print(f"check_dists: {sdist.name}: {sdist.stat().st_size / 1e3:.0f} kB, {len(members)} entries")


def without_rust(env: dict[str, str]) -> dict[str, str]:
    """The environment with every PATH folder that holds cargo or rustc removed."""
    folders = [f for f in env.get("PATH", "").split(os.pathsep) if f]
    kept = [f for f in folders if not any((Path(f) / tool).exists() for tool in ("cargo", "rustc"))]
    clean = {k: v for k, v in env.items() if not k.startswith(("CARGO", "RUSTUP", "YOLO_FFI_"))}
    clean["PATH"] = os.pathsep.join(kept)
    if shutil.which("cargo", path=clean["PATH"]) or shutil.which("rustc", path=clean["PATH"]):
        fail("could not hide the Rust toolchain")
    return clean


def run(python: str, detect: str, model: str, image: str) -> None:
    # abspath, not resolve(): a virtualenv's python is a symlink that must not be followed.
    python, detect, model, image = (os.path.abspath(p) for p in (python, detect, model, image))
    ours = subprocess.run(
        [python, "-m", "yolo_ffi", "--json", "--imgsz", "320", "--conf", "0.05", model, image],
        capture_output=True,
        text=True,
        env=without_rust(dict(os.environ)),
        cwd=tempfile.gettempdir(),  # not the source tree, whose python/ folder must not be imported
    )
    if ours.returncode != 0:
        fail(f"{python} -m yolo_ffi failed ({ours.returncode}): {ours.stderr}")
    reference = subprocess.run(
        [detect, "--imgsz", "320", "--conf", "0.05", model, image], capture_output=True, text=True, check=True
    )
    summary = compare(python, json.loads(reference.stdout)["detections"], json.loads(ours.stdout)["detections"])
    location = subprocess.run(
        [python, "-c", "import yolo_ffi._capi as c; print(c._library_path())"],
        capture_output=True,
        text=True,
        check=True,
        env=without_rust(dict(os.environ)),
        cwd=tempfile.gettempdir(),
    ).stdout.strip()
    if "site-packages" not in Path(location).parts:
        fail(f"{python} loaded {location}, not an installed library")
    print(f"check_dists: {summary}, without Rust on PATH")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "inspect":
        folder = Path(sys.argv[2])
        inspect_wheel(one(sorted(folder.glob("*.whl")), "wheel"))
        inspect_sdist(one(sorted(folder.glob("*.tar.gz")), "sdist"))
    elif len(sys.argv) == 3 and sys.argv[1] == "inspect-wheel":
        inspect_wheel(one(sorted(Path(sys.argv[2]).glob("*.whl")), "wheel"))
    elif len(sys.argv) == 6 and sys.argv[1] == "run":
        run(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
