#!/usr/bin/env python3
"""Rebuilds the export-variant fixtures (tests/fixtures/export-variants/, made by
scripts/make_export_variants.py) from their committed graphs and the weights of `../shared/models/`, and
checks each file's sha256 against the reference: the rebuilt files are, byte for byte, the exports
Ultralytics made and predicted on.

    python scripts/assemble_export_variants.py OUT_DIR

Needs `onnx` and `numpy` (build/modelvenv). Without `../shared/` it writes nothing and says SKIPPED: the
tests that read OUT_DIR skip (or fail, when YOLO_FFI_REQUIRE_SHARED=1) on their own.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests/fixtures/export-variants"
SHARED_MODELS = ROOT.parent / "shared/models"

# ONNX Runtime's float16 converter (which Ultralytics' fp16 export on CPU uses) keeps every nonzero value
# nonzero and every finite value finite: magnitudes below the smallest float16 subnormal become it, above
# the largest finite float16 become that, then the value is rounded to float16.
FLOAT16_SMALLEST = 5.96e-08
FLOAT16_LARGEST = 65504.0


def as_float16(values: np.ndarray) -> bytes:
    values = values.astype(np.float32)
    magnitude = np.abs(values)
    sign = np.sign(values)
    values = np.where((magnitude > 0) & (magnitude < FLOAT16_SMALLEST), sign * np.float32(FLOAT16_SMALLEST), values)
    values = np.where(np.isfinite(values) & (magnitude > FLOAT16_LARGEST), sign * np.float32(FLOAT16_LARGEST), values)
    return values.astype(np.float16).tobytes()


def assemble(graph_file: Path, expected_sha256: str, sources: dict) -> bytes:
    model = onnx.ModelProto.FromString(gzip.decompress(graph_file.read_bytes()))
    for init in model.graph.initializer:
        if init.data_location != onnx.TensorProto.EXTERNAL:
            continue
        fields = {entry.key: entry.value for entry in init.external_data}
        location = fields["location"]
        if location not in sources:
            source = onnx.load(str(SHARED_MODELS / location))
            sources[location] = {i.name: i for i in source.graph.initializer}
        found = sources[location][fields["initializer"]]
        if fields.get("transform") == "float16":
            raw = as_float16(numpy_helper.to_array(found))
        elif "transform" in fields:
            raise SystemExit(f"{graph_file.name}: unknown transform {fields['transform']}")
        else:
            raw = found.raw_data
        del init.external_data[:]
        init.ClearField("data_location")
        init.raw_data = raw
    data = model.SerializeToString()
    got = hashlib.sha256(data).hexdigest()
    if got != expected_sha256:
        raise SystemExit(f"{graph_file.name}: the rebuilt export's sha256 is {got}, the reference's {expected_sha256}")
    return data


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    if not SHARED_MODELS.is_dir():
        print(f"SKIPPED: export variants: {SHARED_MODELS.parent} is not beside this clone")
        return 0
    reference = json.loads((FIXTURES / "reference.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    sources: dict = {}
    for name, entry in reference["models"].items():
        target = out / entry["file"]
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == entry["sha256"]:
            continue
        target.write_bytes(assemble(FIXTURES / f"{name}.graph.onnx.gz", entry["sha256"], sources))
    print(f"export variants: {len(reference['models'])} models in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
