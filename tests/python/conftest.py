"""Fixtures for the Python package's tests. They run against the installed wheel (`make test-python`).

Files come from the Makefile: the demo model and images from the cache that `scripts/fetch.sh` fills
(`YOLO_FFI_CACHE`), the synthetic models from `build/test-models` (`YOLO_FFI_TEST_MODELS`). The
Ultralytics reference only exists in the developers' `../shared/`; a test that needs it is marked with
`needs_shared(path)`, which skips in a user's clone and fails when `YOLO_FFI_REQUIRE_SHARED=1` (CI).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cache() -> Path:
    return Path(subprocess.run([str(ROOT / "scripts/fetch.sh"), "path"], check=True, capture_output=True, text=True).stdout.strip())


CACHE = _cache()
MODEL = Path(os.environ.get("YOLO_FFI_TEST_MODEL", CACHE / "models/nudenet-320n.onnx"))
IMAGES = Path(os.environ.get("YOLO_FFI_TEST_IMAGES", CACHE / "images"))
SYNTHETIC = Path(os.environ.get("YOLO_FFI_TEST_MODELS", ROOT / "build/test-models"))
SHARED = Path(os.environ.get("YOLO_FFI_SHARED", ROOT.parent / "shared"))
#: What tests/c/layouts.c prints: the header's struct layouts as a C compiler lays them out.
LAYOUTS = Path(os.environ.get("YOLO_FFI_TEST_LAYOUTS", ROOT / "build/layouts.txt"))


REQUIRE_SHARED_ENV = "YOLO_FFI_REQUIRE_SHARED"


def needs_shared(path: Path) -> pytest.MarkDecorator:
    """Skip a test that needs `path` from `../shared/` when it is absent, unless CI requires it."""
    if path.exists() or os.environ.get(REQUIRE_SHARED_ENV) == "1":
        return pytest.mark.usefixtures("_shared_present")
    return pytest.mark.skip(reason=f"SKIPPED: {path} is absent (../shared/: developers' and CI's fixtures)")


@pytest.fixture
def _shared_present() -> None:
    if not (SHARED / "reference").is_dir():
        pytest.fail(f"{SHARED} is missing and {REQUIRE_SHARED_ENV}=1 requires it")


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make fixtures test-models` first")
    return path


@pytest.fixture(scope="session")
def model_path() -> Path:
    return _require(MODEL)


@pytest.fixture(scope="session")
def bus() -> Path:
    return _require(IMAGES / "bus.jpg")


@pytest.fixture(scope="session")
def zidane() -> Path:
    return _require(IMAGES / "zidane.jpg")


@pytest.fixture(scope="session")
def synthetic() -> Path:
    return _require(SYNTHETIC)


@pytest.fixture(scope="session")
def detector(model_path: Path):
    import yolo_ffi

    with yolo_ffi.Detector(model_path, pool_size=2, threads_per_session=1) as detector:
        yield detector
