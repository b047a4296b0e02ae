#!/usr/bin/env bash
# Checks build/detect end to end: JSON per image and line, errors per image, exit statuses.
# Usage: check_detect_cli.sh DETECT SYNTHETIC_MODELS_DIR DEMO_MODEL IMAGE
set -euo pipefail
detect=$1 models=$2 demo_model=$3 image=$4
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'not an image' > "$tmp/bad.jpg"

set +e
"$detect" --imgsz 640 --conf 0.3 --max-det 3 --pool 1 --iou 0.7 "$demo_model" "$image" "$tmp/bad.jpg" "$tmp/missing.png" > "$tmp/out.jsonl"
status=$?
set -e
[ "$status" = 1 ] || { echo "check_detect_cli: expected exit 1 with failing images, got $status" >&2; exit 1; }

python3 - "$tmp/out.jsonl" "$image" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 3, lines
first = json.loads(lines[0])
assert first["image"] == sys.argv[2] and first["width"] == 810 and first["height"] == 1080, first
assert len(first["detections"]) == 3, first  # 4 boxes above 0.3 at 640, capped at 3
for d in first["detections"]:
    assert set(d) == {"class_id", "class_name", "score", "box"} and d["score"] > 0.3 and len(d["box"]) == 4, d
bad, missing = json.loads(lines[1]), json.loads(lines[2])
assert "error" in bad and "image format" in bad["error"], bad
assert "error" in missing and missing["image"].endswith("missing.png"), missing
PY

# Nothing but our own output: ONNX Runtime's logging is routed away, and the library never prints.
"$detect" --pool 2 "$demo_model" "$image" > /dev/null 2> "$tmp/quiet.txt"
[ ! -s "$tmp/quiet.txt" ] || { echo "check_detect_cli: unexpected stderr: $(cat "$tmp/quiet.txt")" >&2; exit 1; }

set +e
"$detect" "$models/not_yolo.onnx" "$image" 2> "$tmp/err.txt"; status=$?
"$detect" 2> /dev/null; usage=$?
set -e
[ "$status" = 2 ] && grep -q "invalid model" "$tmp/err.txt" || { echo "check_detect_cli: bad model not reported" >&2; exit 1; }
[ "$usage" = 2 ] || { echo "check_detect_cli: usage error should exit 2" >&2; exit 1; }
echo "check_detect_cli: 4 passed, 0 failed"
