"""Process-wide concerns: which ONNX Runtime to load, the library's log events, and fork."""

from __future__ import annotations

import atexit
import logging
import functools
import os
from importlib import metadata
from typing import Optional, Tuple

from . import _capi
from ._errors import check

#: Environment variables naming the runtime, checked in this order.
RUNTIME_ENV_VARS = ("YOLO_FFI_ORT_LIBRARY", "ORT_DYLIB_PATH")
#: Distributions that ship the `onnxruntime` package with its shared library, in order of preference.
RUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml")

logger = logging.getLogger("yolo_ffi")


#: The distribution whose runtime has the CUDA and TensorRT providers.
GPU_DISTRIBUTION = "onnxruntime-gpu"


@functools.lru_cache(maxsize=None)
def onnxruntime_library(gpu: bool = False) -> Optional[str]:
    """Path of `libonnxruntime.so.*` inside the installed onnxruntime wheel, or None; with `gpu`, the
    `onnxruntime-gpu` wheel's first (installed in place of `onnxruntime`: docs/python.md, "GPU").

    Read from the distribution's file list (importlib metadata), without importing onnxruntime: importing it
    would load a second copy of ONNX Runtime, its Python bindings, into the process. Looked up once per
    process: installed packages do not move under a running interpreter.
    """
    order: Tuple[str, ...] = RUNTIME_DISTRIBUTIONS
    if gpu:
        order = (GPU_DISTRIBUTION, *(d for d in RUNTIME_DISTRIBUTIONS if d != GPU_DISTRIBUTION))
    for distribution in order:
        try:
            files = metadata.files(distribution) or []
        except metadata.PackageNotFoundError:
            continue
        libraries = sorted(
            (f for f in files if f.name.startswith("libonnxruntime.so") and f.parent.name == "capi"),
            key=lambda f: (len(f.name), f.name),
            reverse=True,
        )
        for library in libraries:
            path = os.path.abspath(str(library.locate()))
            if os.path.isfile(path):
                return path
    return None


def resolve_runtime(explicit: "Optional[os.PathLike[str] | str]", gpu: bool = False) -> Optional[str]:
    """The runtime path to hand to `yolo_init`: the explicit one, else the first environment variable set,
    else the onnxruntime wheel's (with `gpu`, because a CUDA or TensorRT provider was asked for,
    `onnxruntime-gpu`'s first), else None (the library's own search).

    A path from here is the only one the library tries: a runtime named by the caller or the environment
    that cannot be loaded is an error, never a silent fall-back to another copy.
    """
    if explicit is not None:
        return os.fspath(explicit)
    for name in RUNTIME_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    return onnxruntime_library(gpu)


def openvino_plugin() -> Optional[str]:
    """Path of the OpenVINO plugin library of the installed `onnxruntime-ep-openvino` package
    (`pip install yolo-ffi[openvino]`), or None: the library then looks at `YOLO_FFI_OPENVINO_PLUGIN` and
    its cache. Read from the distribution's file list, without importing the package."""
    if os.environ.get("YOLO_FFI_OPENVINO_PLUGIN"):
        return None
    try:
        files = metadata.files("onnxruntime-ep-openvino") or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "libonnxruntime_providers_openvino_plugin.so":
            path = os.path.abspath(str(file.locate()))
            if os.path.isfile(path):
                return path
    return None


def preload_gpu_libraries(runtime: Optional[str]) -> None:
    """Loads the CUDA and cuDNN libraries of PyPI's `nvidia-*` wheels, which `onnxruntime-gpu`'s CUDA
    provider needs but does not find by itself, through `onnxruntime.preload_dlls` (onnxruntime-gpu's own
    helper). Only for a runtime from the `onnxruntime-gpu` wheel; a failure is logged, and the provider then
    reports what it could not load."""
    gpu = onnxruntime_library(True)
    if runtime is None or gpu is None or os.path.abspath(runtime) != gpu:
        return
    try:
        import onnxruntime  # type: ignore[import-untyped]  # the GPU wheel's package, for its DLL helper

        preload = getattr(onnxruntime, "preload_dlls", None)
        if preload is not None:
            preload()
    except Exception as error:  # noqa: BLE001 - a helper of another package: log it, let the load report
        logger.warning("could not preload the CUDA libraries of onnxruntime-gpu: %s", error)


def version() -> str:
    """The native library's version, `MAJOR.MINOR.PATCH`."""
    raw: bytes = _capi.lib.yolo_version()
    return raw.decode("ascii")


def after_fork() -> None:
    """In a forked child, builds fresh sessions for every model now rather than on first use.

    Optional: the library notices fork on its own. Call it from gunicorn's `post_fork`, uwsgi's `@postfork`
    or Celery's `worker_process_init` to pay the cost before the first request.
    """
    check(_capi.lib.yolo_after_fork())


_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}


def _log_to_python(_user_data: Optional[int], level: int, message: Optional[bytes]) -> None:
    # Runs on the library's threads with the GIL taken by ctypes; an exception here must not escape into C.
    try:
        text = (message or b"").decode("utf-8", errors="replace")
        logger.log(_LEVELS.get(level, logging.INFO), "%s", text)
    except Exception:  # noqa: BLE001 - nothing may propagate into the library
        pass


# The C function pointer; kept referenced for as long as the library may call it.
_forward_log = _capi.LOG_CALLBACK(_log_to_python)
_registered_in_pid: Optional[int] = None


def _install_log_forwarding() -> None:
    global _registered_in_pid
    check(_capi.lib.yolo_set_log_callback(_forward_log, None))
    _registered_in_pid = os.getpid()


def _stop_log_forwarding() -> None:
    # At interpreter exit, before Python tears itself down: after this returns no log callback is running
    # or can start, so a loading thread never calls into a finalising interpreter.
    if _registered_in_pid == os.getpid():
        _capi.lib.yolo_set_log_callback(_capi.LOG_CALLBACK(), None)


def _adopt_after_fork() -> None:
    global _registered_in_pid
    if _registered_in_pid is not None:
        _registered_in_pid = os.getpid()


_install_log_forwarding()
atexit.register(_stop_log_forwarding)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_adopt_after_fork)
