#!/usr/bin/env bash
# System packages from Debian's registry that the build and tests use, installed when missing: nasm
# (libjpeg-turbo's SIMD JPEG decoder, needed by the Python wheel), cmake and pkg-config (the install-tree
# tests), golang-go, libjna-java and a JDK, Node.js and npm (the bindings' tests), redis-server (the Celery
# tests), valgrind (the C tests), python3-venv (virtualenvs, for Debian's own python3). Best effort:
# without root or apt it says what is missing, and the tests that need it say SKIPPED (the wheel fails
# without nasm, the C tests without valgrind).
# With the argument aarch64: what `make test-aarch64` adds, the aarch64 cross compiler and C libraries and
# qemu-user.
set -uo pipefail
wanted=()
if [ "${1:-}" = aarch64 ]; then
  command -v aarch64-linux-gnu-gcc > /dev/null 2>&1 || wanted+=(gcc-aarch64-linux-gnu)
  command -v qemu-aarch64 > /dev/null 2>&1 || wanted+=(qemu-user)
  [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || wanted+=(libc6-arm64-cross)
  [ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || wanted+=(libstdc++6-arm64-cross)
else
  command -v nasm > /dev/null 2>&1 || wanted+=(nasm)
  command -v cmake > /dev/null 2>&1 || wanted+=(cmake)
  command -v pkg-config > /dev/null 2>&1 || wanted+=(pkg-config)
  command -v go > /dev/null 2>&1 || wanted+=(golang-go)
  command -v javac > /dev/null 2>&1 || wanted+=(default-jdk-headless)
  [ -f /usr/share/java/jna.jar ] || wanted+=(libjna-java)
  command -v node > /dev/null 2>&1 || wanted+=(nodejs)
  command -v npm > /dev/null 2>&1 || wanted+=(npm)
  command -v redis-server > /dev/null 2>&1 || wanted+=(redis-server)
  command -v valgrind > /dev/null 2>&1 || wanted+=(valgrind)
  # Debian's own python3 makes virtualenvs only with python3-venv (a Python from elsewhere brings its own).
  if [ "$(command -v python3)" = /usr/bin/python3 ] && ! python3 -c 'import ensurepip' > /dev/null 2>&1; then
    wanted+=(python3-venv)
  fi
fi
[ ${#wanted[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
  echo "system-deps: installing ${wanted[*]} from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -q "${wanted[@]}" > /dev/null 2>&1 ||
     { apt-get update -q > /dev/null 2>&1 && apt-get install -y -q "${wanted[@]}" > /dev/null 2>&1; }; then
    exit 0
  fi
fi
echo "system-deps: not installed: ${wanted[*]} (Debian: apt-get install ${wanted[*]})" >&2
exit 0
