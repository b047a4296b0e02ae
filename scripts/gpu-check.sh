#!/usr/bin/env bash
# The GPU run of the execution-provider work, as one script for a machine with an NVIDIA GPU: a virtualenv
# with yolo-ffi's wheel and PyPI's onnxruntime-gpu with its CUDA and cuDNN libraries (make gpu), then
# scripts/gpu_check.py (parity on the CUDA provider, latency against a raw CUDA session.run, throughput
# with 1 to 64 callers with and without cross-caller batching). Prints the tables for docs/benchmarks.md.
#
#   scripts/gpu-check.sh [MODEL [IMAGE...]]      default: ../shared's yolov8n.onnx at 640 on bus.jpg, zidane.jpg
#
# GPU_VENV=/path/to/venv uses a virtualenv prepared beforehand (for a machine without the registries);
# otherwise `make gpu` makes build/gpuvenv from PyPI (the wheel with onnxruntime-gpu in place of onnxruntime).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-../shared/models/yolov8n.onnx}
shift || true
cache=$(scripts/fetch.sh path)
images=("$@")
[ ${#images[@]} -gt 0 ] || images=("$cache/images/bus.jpg" "$cache/images/zidane.jpg")
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || {
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi failed)" >&2; exit 1; }

venv=${GPU_VENV:-build/gpuvenv}
[ -x "$venv/bin/python" ] || make gpu
# libonnxruntime_providers_cuda.so finds CUDA and cuDNN through the loader: point it at the nvidia-* wheels.
nvidia_libs=$("$venv/bin/python" - <<'PY'
import glob, os, site
print(":".join(sorted({os.path.dirname(p) for d in site.getsitepackages() for p in glob.glob(f"{d}/nvidia/*/lib/*.so*")})))
PY
)
export LD_LIBRARY_PATH=${nvidia_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# yolo-ffi picks the onnxruntime-gpu package's libonnxruntime by itself when a GPU provider is asked for.
"$venv/bin/python" scripts/gpu_check.py "$model" "${images[@]}" --imgsz 640
