#!/usr/bin/env bash
# Builds and runs the install tree's consumers against DIR/prefix (what `make install PREFIX=DIR/prefix`
# wrote): the SONAME links, a pkg-config build of examples_c/detect.c, and the CMake project in
# tests/install/cmake (find_package and the C++17 wrapper); each one's detections on IMAGE are compared with
# build/detect's. Needs cmake and pkg-config (Debian's packages, which scripts/system-deps.sh installs);
# without them it says SKIPPED for that consumer.
# Usage: tests/install/run.sh DIR MODEL IMAGE
set -euo pipefail
dir=$(realpath "$1") model=$2 image=$3
prefix=$dir/prefix
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
abi=$(readelf -d "$prefix/lib/libyolo_ffi.so.$version" | sed -n 's/.*Library soname: \[libyolo_ffi.so.\(.*\)\]/\1/p')

# The links: libyolo_ffi.so (for the linker) -> libyolo_ffi.so.ABI (the SONAME, for the loader) -> the file.
[ "$(readlink "$prefix/lib/libyolo_ffi.so")" = "libyolo_ffi.so.$abi" ] &&
  [ "$(readlink "$prefix/lib/libyolo_ffi.so.$abi")" = "libyolo_ffi.so.$version" ] ||
  { echo "install: the SONAME links are wrong: $(ls -l "$prefix/lib")" >&2; exit 1; }
! readelf -S "$prefix/lib/libyolo_ffi.so.$version" | grep -q '\.debug_' ||
  { echo "install: the installed library carries debug info" >&2; exit 1; }

"$root/build/detect" --imgsz 320 "$model" "$image" > "$dir/reference.json"

if command -v pkg-config > /dev/null; then
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  [ "$(pkg-config --modversion yolo_ffi)" = "$version" ] || { echo "install: pkg-config version is wrong" >&2; exit 1; }
  # shellcheck disable=SC2046 # pkg-config's flags are words
  ${CC:-cc} -std=c11 -Wall -Wextra -Werror -O2 "$root/examples_c/detect.c" -o "$dir/detect_pkgconfig" \
    $(pkg-config --cflags --libs yolo_ffi) -Wl,-rpath,"$prefix/lib"
  readelf -d "$dir/detect_pkgconfig" | grep -q "NEEDED.*\[libyolo_ffi.so.$abi\]" ||
    { echo "install: the pkg-config build does not need libyolo_ffi.so.$abi" >&2; exit 1; }
  # The installed ONNX Runtime beside the library is the one found (no cache, no environment).
  env -u YOLO_FFI_ORT_LIBRARY -u ORT_DYLIB_PATH HOME=/nonexistent XDG_CACHE_HOME=/nonexistent \
    "$dir/detect_pkgconfig" --imgsz 320 "$model" "$image" > "$dir/pkgconfig.json"
  python3 "$root/scripts/compare_detections.py" "install, pkg-config (C)" "$dir/reference.json" "$dir/pkgconfig.json"
else
  echo "install, pkg-config: SKIPPED: pkg-config is not installed (Debian: apt-get install pkg-config)" >&2
fi

if command -v cmake > /dev/null; then
  cmake -S "$here/cmake" -B "$dir/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="${CXX:-c++}" > "$dir/cmake.log" || { cat "$dir/cmake.log"; exit 1; }
  cmake --build "$dir/cmake-build" > "$dir/cmake-build.log" || { cat "$dir/cmake-build.log"; exit 1; }
  env -u YOLO_FFI_ORT_LIBRARY -u ORT_DYLIB_PATH HOME=/nonexistent XDG_CACHE_HOME=/nonexistent \
    "$dir/cmake-build/wrapper_test" "$model" "$image" 320 > "$dir/cmake.json"
  python3 "$root/scripts/compare_detections.py" "install, CMake (C++ wrapper)" "$dir/reference.json" "$dir/cmake.json"
  # A version the package does not satisfy is refused.
  mkdir -p "$dir/cmake-wrong"
  printf 'cmake_minimum_required(VERSION 3.16)\nproject(p LANGUAGES CXX)\nfind_package(yolo_ffi 0.2 CONFIG REQUIRED)\n' \
    > "$dir/cmake-wrong/CMakeLists.txt"
  if cmake -S "$dir/cmake-wrong" -B "$dir/cmake-wrong/build" -DCMAKE_PREFIX_PATH="$prefix" > /dev/null 2>&1; then
    echo "install: find_package(yolo_ffi 0.2) accepted version $version" >&2; exit 1
  fi
else
  echo "install, CMake: SKIPPED: cmake is not installed (Debian: apt-get install cmake)" >&2
fi
