#!/usr/bin/env bash
# Debian's arm64 Python 3.11, unpacked into DIR (not installed): what `make test-aarch64` runs the aarch64
# wheel in under qemu-user. The packages come from Debian's registry through apt, which needs the arm64
# architecture added (`dpkg --add-architecture arm64`, then the package lists updated: done here when
# missing, as root). C libraries come from the cross packages in /usr/aarch64-linux-gnu (system-deps.sh).
# Idempotent: a complete DIR is kept.
# Usage: scripts/aarch64-sysroot.sh DIR
set -euo pipefail
dir=$1
[ -f "$dir/.complete" ] && exit 0
packages=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libffi8 zlib1g libexpat1 libssl3 libbz2-1.0
          liblzma5 libuuid1 libcrypt1)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  [ "$(id -u)" = 0 ] || { echo "aarch64-sysroot: run as root once, or: dpkg --add-architecture arm64 && apt-get update" >&2; exit 1; }
  dpkg --add-architecture arm64
  apt-get update -q > /dev/null
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "${packages[@]/%/:arm64}" > /dev/null 2>&1) ||
  { apt-get update -q > /dev/null && (cd "$tmp" && apt-get download -q "${packages[@]/%/:arm64}" > /dev/null); }
rm -rf "$dir"; mkdir -p "$dir"
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dir"; done
[ -x "$dir/usr/bin/python3.11" ] || { echo "aarch64-sysroot: no python3.11 in the packages" >&2; exit 1; }
touch "$dir/.complete"
