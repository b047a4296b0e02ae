#!/usr/bin/env bash
# Optional system packages, from Debian's registry: nasm, which lets the build use libjpeg-turbo's SIMD JPEG
# decoder (2-3x faster, identical pixels; see Cargo.toml's `simd-jpeg`). Best effort: without root or apt,
# it says so and the build goes on without SIMD.
set -uo pipefail
if command -v nasm >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q nasm >/dev/null 2>&1 ||
     { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nasm >/dev/null 2>&1; }; then
    exit 0
  fi
fi
echo "system-deps: nasm is not installed (Debian: apt-get install nasm); JPEG decoding is built without SIMD" >&2
exit 0
