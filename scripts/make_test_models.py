#!/usr/bin/env python3
"""Writes the tiny synthetic ONNX models the tests use, one per output layout and one per way to be wrong.

Each model ignores its pixels (the output is a constant plus 0 x the input's mean), so the expected detections
are known exactly from the constants below; the end-to-end model also encodes its input height and width in
a class id, so that tests can check the letterbox's minimal rectangle. Usage: make_test_models.py OUT_DIR
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def metadata(model, **entries):
    for key, value in entries.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))


def constant_output_model(outputs, *, height=64, width=64, dtype=TensorProto.FLOAT, **meta):
    """A model with one image input whose output is `outputs` (a numpy array) whatever the pixels."""
    np_dtype = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["constant", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic",
        [helper.make_tensor_value_info("images", dtype, [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", dtype, list(outputs.shape))],
        [
            numpy_helper.from_array(np.array(0, np_dtype), "zero"),
            numpy_helper.from_array(outputs.astype(np_dtype), "constant"),
        ],
    )
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8)
    metadata(model, **meta)
    return model


def channels_first(boxes):
    """[1, 4 + nc, N] from rows of (cx, cy, w, h, score per class)."""
    return np.array(boxes, np.float32).T[None]


# Initializers that `size_code_nodes` reads.
SIZE_CODE_INITIALIZERS = [
    numpy_helper.from_array(np.array([2], np.int64), "idx_h"),
    numpy_helper.from_array(np.array([3], np.int64), "idx_w"),
    numpy_helper.from_array(np.array([1000], np.float32), "thousand"),
]


def size_code_nodes(output):
    """Nodes computing `output` = input height * 1000 + input width, as a float: the synthetic end-to-end
    models report through it which input size a run actually used."""
    return [
        helper.make_node("Shape", ["images"], ["shape"]),
        helper.make_node("Gather", ["shape", "idx_h"], ["h_i"], axis=0),
        helper.make_node("Gather", ["shape", "idx_w"], ["w_i"], axis=0),
        helper.make_node("Cast", ["h_i"], ["h"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["w_i"], ["w"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["h", "thousand"], ["h1000"]),
        helper.make_node("Add", ["h1000", "w"], [output]),
    ]


def end_to_end_dynamic():
    """[1, 3, 6] with row 0's class = input height * 1000 + input width."""
    nodes = [
        *size_code_nodes("code"),
        helper.make_node("Concat", ["row0_head", "code"], ["row0"], axis=0),
        helper.make_node("Concat", ["row0", "rest"], ["flat"], axis=0),
        helper.make_node("Reshape", ["flat", "out_shape"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "e2e",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 6])],
        [
            *SIZE_CODE_INITIALIZERS,
            numpy_helper.from_array(np.array([4, 4, 12, 12, 0.9], np.float32), "row0_head"),
            numpy_helper.from_array(np.array([0, 0, 8, 8, 0.1, 0, 10, 10, 20, 20, 0.8, 1], np.float32), "rest"),
            numpy_helper.from_array(np.array([1, 3, 6], np.int64), "out_shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8)
    metadata(model, end2end="True", stride="32", imgsz="[64, 64]", task="detect")
    return model


def end_to_end_batch():
    """[batch, 1, 6] per image: one box, score = the image's mean input value, class = height * 1000 + width.

    The score tells the images of a batch apart, the class tells which input size the batch ran at.
    """
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean4", "col_shape"], ["score"]),
        *size_code_nodes("code1"),
        helper.make_node("Shape", ["score"], ["score_shape"]),
        helper.make_node("Expand", ["code1", "score_shape"], ["code"]),
        helper.make_node("Concat", ["score_shape", "four"], ["box_shape"], axis=0),
        helper.make_node("Slice", ["box_shape", "zero", "three"], ["box_dims"]),
        helper.make_node("Concat", ["box_dims", "four"], ["box_target"], axis=0),
        helper.make_node("Expand", ["box", "box_target"], ["boxes"]),
        helper.make_node("Concat", ["boxes", "score", "code"], ["output0"], axis=2),
    ]
    graph = helper.make_graph(
        nodes,
        "e2e_batch",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 1, 6])],
        [
            numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "col_shape"),
            *SIZE_CODE_INITIALIZERS,
            numpy_helper.from_array(np.array([4], np.int64), "four"),
            numpy_helper.from_array(np.array([0], np.int64), "zero"),
            numpy_helper.from_array(np.array([2], np.int64), "three"),
            numpy_helper.from_array(np.array([[[2, 2, 10, 10]]], np.float32), "box"),
        ],
    )
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8)
    metadata(model, end2end="True", stride="32", imgsz="[64, 64]", task="detect", names="{0: 'any'}")
    return model


def two_inputs():
    graph = helper.make_graph(
        [helper.make_node("Add", ["images", "other"], ["output0"])],
        "two",
        [
            helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64]),
            helper.make_tensor_value_info("other", TensorProto.FLOAT, [1, 3, 64, 64]),
        ],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 64, 64])],
    )
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8)


def uint8_input():
    graph = helper.make_graph(
        [helper.make_node("Cast", ["images"], ["output0"], to=TensorProto.FLOAT)],
        "u8",
        [helper.make_tensor_value_info("images", TensorProto.UINT8, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 64, 64])],
    )
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8)


# (cx, cy, w, h, score class 0, class 1, class 2) in 64x64 input pixels.
V8_BOXES = [
    (20, 20, 10, 10, 0.9, 0.0, 0.0),
    (21, 20, 10, 10, 0.8, 0.0, 0.0),  # IoU 0.82 with the first: suppressed
    (20, 21, 10, 10, 0.0, 0.7, 0.0),  # overlaps the first, but another class
    (50, 50, 8, 8, 0.0, 0.0, 0.3),
    (50, 10, 4, 4, 0.25, 0.0, 0.0),  # exactly at the default threshold: dropped
    (5, 60, 6, 6, 0.2, 0.1, 0.6),
    (60, 60, 2, 2, 0.01, 0.02, 0.03),  # below every threshold; also keeps N != 6, which Ultralytics reads as end-to-end
]
# (cx, cy, w, h, objectness, class 0, class 1).
V5_ROWS = [
    (20, 20, 10, 10, 0.9, 0.5, 1.0),  # 0.9 for class 1
    (40, 40, 10, 10, 0.2, 1.0, 1.0),  # objectness below 0.25
    (40, 20, 10, 10, 0.5, 0.4, 0.2),  # 0.2 < 0.25
    (10, 50, 6, 6, 0.8, 0.5, 0.0),  # 0.4 for class 0
]


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names3 = "{0: 'person', 1: \"it's\", 2: 'caf\\xe9'}"
    models = {
        "v8_fixed.onnx": constant_output_model(channels_first(V8_BOXES), names=names3, stride="32", task="detect"),
        "v5_fixed.onnx": constant_output_model(np.array(V5_ROWS, np.float32)[None], names="{0: 'a', 1: 'b'}", stride="32"),
        "e2e_dynamic.onnx": end_to_end_dynamic(),
        "e2e_batch.onnx": end_to_end_batch(),
        "v8_f16_dynamic.onnx": constant_output_model(
            channels_first([(16, 16, 8, 8, 0.75), (40, 40, 8, 8, 0.125)]),
            height="height",
            width="width",
            dtype=TensorProto.FLOAT16,
            names="{0: 'only'}",
            stride="32",
            imgsz="[64, 64]",
        ),
        "not_yolo.onnx": constant_output_model(np.zeros((1, 10), np.float32)),
        "segment_task.onnx": constant_output_model(channels_first(V8_BOXES), names=names3, task="segment"),
        # An Ultralytics classifier: one score per class, [1, classes].
        "classify_task.onnx": constant_output_model(
            np.full((1, 3), 1 / 3, np.float32), names=names3, task="classify", imgsz="[64, 64]"
        ),
        "two_inputs.onnx": two_inputs(),
        "uint8_input.onnx": uint8_input(),
    }
    for name, model in models.items():
        onnx.checker.check_model(model)
        onnx.save(model, out / name)


if __name__ == "__main__":
    main(sys.argv[1])
