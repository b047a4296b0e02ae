#!/usr/bin/env bash
# Runs one binding's tests against the library, then compares the detections it wrote for the demo image
# with build/detect's. A binding whose toolchain is missing is SKIPPED, loudly, with the reason and the
# Debian package that brings it (scripts/system-deps.sh installs them when run as root).
# Usage: bindings/run_tests.sh node|go|java LIBRARY PREFIX MODEL IMAGE
#   LIBRARY: libyolo_ffi.so to test (node, java); PREFIX: a `make install` prefix (go finds it by pkg-config).
set -euo pipefail
binding=$1 library=$(realpath "$2") prefix=$(realpath "$3") model=$(realpath "$4") image=$(realpath "$5")
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/bindings
mkdir -p "$out"
rm -f "$out/$binding".json "$out/$binding"-*.json
"$root/build/detect" --imgsz 320 "$model" "$image" > "$out/reference.json"

skip() {
  printf '\n*** %s bindings: SKIPPED: %s ***\n\n' "$binding" "$1" >&2
  exit 0
}

case $binding in
  node)
    command -v node > /dev/null && command -v npm > /dev/null || skip "node and npm are not installed (Debian: nodejs, npm)"
    cd "$root/bindings/node"
    npm ci --silent --no-audit --no-fund
    npx tsc --noEmit --strict --target es2022 --module commonjs test/types-check.ts
    YOLO_FFI_LIBRARY=$library YOLO_FFI_TEST_MODEL=$model YOLO_FFI_TEST_IMAGE=$image YOLO_FFI_TEST_OUT=$out/node.json \
      timeout 300 node --test --test-reporter=spec test/
    ;;
  go)
    command -v go > /dev/null || skip "go is not installed (Debian: golang-go)"
    command -v pkg-config > /dev/null || skip "pkg-config is not installed (Debian: pkg-config)"
    cd "$root/bindings/go"
    export GOCACHE=$root/build/go/cache GOPATH=$root/build/go/path GOFLAGS=-mod=readonly GOTOOLCHAIN=local
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig CGO_LDFLAGS="-Wl,-rpath,$prefix/lib"
    [ -z "$(gofmt -l .)" ] || { echo "go: gofmt would change: $(gofmt -l .)" >&2; exit 1; }
    go vet ./...
    YOLO_FFI_TEST_MODEL=$model YOLO_FFI_TEST_IMAGE=$image YOLO_FFI_TEST_OUT=$out/go.json \
      timeout 300 go test -count=1 -v ./...
    YOLO_FFI_TEST_MODEL=$model YOLO_FFI_TEST_IMAGE=$image timeout 300 go test -count=1 -run '^$' -bench . -benchtime 40x ./...
    ;;
  java)
    command -v javac > /dev/null || skip "javac is not installed (Debian: default-jdk-headless)"
    jna=/usr/share/java/jna.jar
    [ -f "$jna" ] || skip "JNA is not installed (Debian: libjna-java)"
    classes=$out/java-classes
    rm -rf "$classes"
    javac -Xlint:all -Werror -d "$classes" -cp "$jna" $(find "$root/bindings/java/src" -name '*.java')
    timeout 300 java -cp "$jna:$classes" -Dyolo.ffi.library="$library" yoloffi.DetectorTest "$model" "$image" "$out/java.json"
    ;;
  *)
    echo "usage: $0 node|go|java LIBRARY PREFIX MODEL IMAGE" >&2
    exit 2
    ;;
esac
python3 "$root/scripts/compare_detections.py" "$binding" "$out/reference.json" "$out/$binding.json"
# A binding that writes its task models' results (OUT/BINDING-MODEL.json) has them compared too.
for written in "$out/$binding"-*.json; do
  [ -f "$written" ] || continue
  name=$(basename "$written" .json); name=${name#"$binding"-}
  "$YOLO_FFI_TEST_DETECT" "$YOLO_FFI_TEST_MODELS/$name.onnx" "$YOLO_FFI_TEST_TASK_IMAGE" > "$out/reference-$name.json"
  python3 "$root/scripts/compare_detections.py" "$binding $name" "$out/reference-$name.json" "$written"
done
