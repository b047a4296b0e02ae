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


def constant_output_model(outputs, *, height=64, width=64, dtype=TensorProto.FLOAT, copy_input=False, **meta):
    """A model with one image input whose output is `outputs` (a numpy array) whatever the pixels. With
    `copy_input`, ONNX Runtime allocates a tensor of the input's size on the way (input x 0)."""
    np_dtype = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    copy = [helper.make_node("Mul", ["images", "zero"], ["pixels"])] if copy_input else []
    nodes = copy + [
        helper.make_node("ReduceMean", ["pixels" if copy_input else "images"], ["mean"], keepdims=0),
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


def constant_outputs_model(outputs, *, height=64, width=64, **meta):
    """A model with one image input and several constant outputs (`{name: array}`) whatever the pixels."""
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    initializers = [numpy_helper.from_array(np.array(0, np.float32), "zero")]
    values = []
    for name, array in outputs.items():
        nodes.append(helper.make_node("Add", [f"{name}_constant", "nothing"], [name]))
        initializers.append(numpy_helper.from_array(array.astype(np.float32), f"{name}_constant"))
        values.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(array.shape)))
    graph = helper.make_graph(
        nodes,
        "synthetic",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        values,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8)
    metadata(model, **meta)
    return model


def class_id_model(ids, dtype=TensorProto.UINT8, **meta):
    """A semantic 'model' whose output is the class map `ids` (a numpy array) cast to `dtype`, whatever the
    pixels: an export that ends in an ArgMax."""
    model = constant_output_model(ids.astype(np.float32), **meta)
    graph = model.graph
    graph.node[-1].output[0] = "ids_float"
    graph.node.append(helper.make_node("Cast", ["ids_float"], ["output0"], to=dtype))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("output0", dtype, list(ids.shape)))
    return model


# A semantic map of 8 x 8 class ids: class 0 in the top half, 1 in the bottom half.
HALVES = np.repeat(np.array([0, 1], np.float32), 4)[:, None].repeat(8, axis=1)[None]
# A depth map of 8 x 8 whose value is its column: a ramp that resizes with aligned corners into a ramp.
RAMP = np.tile(np.arange(8, dtype=np.float32), (8, 1))[None, None]


def channel_means_classifier():
    """A 'classifier' whose probabilities are its input's mean red, green and blue: what it returns shows
    which pixels the classification preprocessing (resize, centre crop) fed it."""
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["means"], axes=[2, 3], keepdims=0),
            helper.make_node("Identity", ["means"], ["output0"]),
        ],
        "means",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8)
    metadata(model, task="classify", names="{0: 'red', 1: 'green', 2: 'blue'}", imgsz="[32, 32]")
    return model


# Segmentation: 2 prototype planes of 16x16 for a 64x64 input: plane 0 is +1 everywhere, plane 1 is +1 in
# the left half (columns 0-7) and -1 in the right. (cx, cy, w, h, class scores a b, coefficients) per box.
SEG_PROTOS = np.stack([np.ones((16, 16)), np.where(np.arange(16) < 8, 1.0, -1.0)[None].repeat(16, 0)])[None]
SEG_BOXES = [
    (16, 16, 16, 16, 0.9, 0.0, 1.0, 0.0),  # [8 8 24 24], all of plane 0: its whole box
    (36, 48, 24, 16, 0.0, 0.8, 0.0, 1.0),  # [24 40 48 56], plane 1: the columns left of 32 only
    (48, 16, 8, 8, 0.7, 0.0, -1.0, 0.0),  # a negative mask: no pixel, so dropped as Ultralytics drops it
    (40, 24, 8, 8, 0.6, 0.0, np.nan, 0.0),  # NaN coefficient: no pixel, dropped
    (56, 56, 0, 6, 0.5, 0.0, 1.0, 0.0),  # zero width: no pixel, dropped
    (60, 4, 2, 2, 0.01, 0.0, 1.0, 0.0),  # below the threshold; keeps N != 6
]
# Pose: kpt_shape [2, 3]; (cx, cy, w, h, score, x0, y0, c0, x1, y1, c1) in 64x64 input pixels.
POSE_BOXES = [
    (20, 20, 16, 16, 0.9, 14, 15, 0.95, 80, -3, 0.4),  # the second keypoint is clipped to the image
    (44, 44, 12, 12, 0.8, np.nan, 40, 0.9, 46, 47, np.nan),  # NaN: (0, 0, 0), and confidence 0
    (5, 60, 4, 4, 0.1, 5, 60, 0.5, 5, 61, 0.5),  # below the threshold
    (60, 4, 2, 2, 0.01, 0, 0, 0, 0, 0, 0),
]
# Oriented boxes: (cx, cy, w, h, score bar, score block, angle) in 64x64 input pixels.
OBB_BOXES = [
    (20, 20, 20, 8, 0.9, 0.0, 0.3),
    (21, 20, 20, 8, 0.8, 0.0, 0.3),  # nearly the first: suppressed
    (44, 44, 16, 10, 0.0, 0.7, -0.5),
    (44, 44, 16, 10, 0.6, 0.0, -0.5),  # the same box in the other class: kept
    (10, 54, 6, 6, 0.1, 0.0, 0.0),  # below the threshold
    (60, 4, 2, 2, 0.01, 0.0, 0.0),
]


def channels_first(boxes):
    """[1, 4 + nc, N] from rows of (cx, cy, w, h, score per class)."""
    return np.array(boxes, np.float32).T[None]


# Initializers that `size_code_nodes` reads.
SIZE_CODE_INITIALIZERS = [
    numpy_helper.from_array(np.array([2], np.int64), "idx_h"),
    numpy_helper.from_array(np.array([3], np.int64), "idx_w"),
    numpy_helper.from_array(np.array([32], np.float32), "stride32"),
    numpy_helper.from_array(np.array([100], np.float32), "hundred"),
]


def size_code_nodes(output):
    """Nodes computing `output` = (input height / 32) * 100 + input width / 32, as a float: the synthetic
    end-to-end models report through it (as a class id, below the 999 classes of a model without names)
    which input size a run actually used. Inputs are multiples of the stride, 32."""
    return [
        helper.make_node("Shape", ["images"], ["shape"]),
        helper.make_node("Gather", ["shape", "idx_h"], ["h_i"], axis=0),
        helper.make_node("Gather", ["shape", "idx_w"], ["w_i"], axis=0),
        helper.make_node("Cast", ["h_i"], ["h"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["w_i"], ["w"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["h", "stride32"], ["h32"]),
        helper.make_node("Div", ["w", "stride32"], ["w32"]),
        helper.make_node("Mul", ["h32", "hundred"], ["h3200"]),
        helper.make_node("Add", ["h3200", "w32"], [output]),
    ]


def end_to_end_dynamic():
    """[1, 3, 6] with row 0's class = the input size code (`size_code_nodes`)."""
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
    """[batch, 1, 6] per image: one box, score = the image's mean input value, class = the input size code.

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
    metadata(model, end2end="True", stride="32", imgsz="[64, 64]", task="detect")
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


NAMES2 = "{0: 'a', 1: 'b'}"
NAMES3 = "{0: 'a', 1: 'b', 2: 'c'}"
NAMES4 = "{0: 'a', 1: 'b', 2: 'c', 3: 'd'}"
# (cx, cy, w, h, scores of 4 classes) in 64x64 input pixels: one good box, the rest what no trained model
# outputs. Only the good box and the one of negative size (corners then ordered) keep the header's promise.
CRAFTED_V8_BOXES = [
    (40, 40, 8, 8, 0.0, 0.8, 0.0, 0.0),  # good: [36 36 44 44], class 1
    (32, 32, 64, 64, np.inf, 0.0, 0.0, 0.0),  # infinite score
    (np.nan, 10, 4, 4, 0.9, 0.0, 0.0, 0.0),  # NaN centre
    (10, 10, np.inf, 4, 0.9, 0.0, 0.0, 0.0),  # infinite width
    (10, 50, -8, -6, 0.0, 0.0, 0.7, 0.0),  # negative size: [14 53 6 47], corners ordered to [6 47 14 53]
]
# (x1, y1, x2, y2, score, class) rows of an end-to-end head for a 4-class model.
CRAFTED_E2E_ROWS = [
    (50, 50, 10, 10, 0.9, 1),  # corners swapped: kept as [10 10 50 50]
    (np.nan, 5, 20, 20, 0.9, 0),  # NaN corner
    (0, 0, 8, 8, 0.9, 1e10),  # class far beyond the model's 4
    (0, 0, 8, 8, 0.9, 4),  # class just beyond
    (0, 0, 8, 8, 0.9, -1),  # negative class
    (0, 0, 8, 8, np.inf, 0),  # infinite score
    (4, 4, 12, 12, 0.6, 3.7),  # good: class 3
]


def placeholder_bytes(model, placeholder, raw):
    """`model` serialised, with the metadata string `placeholder` replaced by `raw` (same length): the onnx
    package only writes valid UTF-8, and a hostile model need not."""
    data = model.SerializeToString()
    assert len(placeholder) == len(raw) and data.count(placeholder) == 1
    return data.replace(placeholder, raw)


def with_external_constant(model, location):
    """`model` with its `constant` initializer moved to external data at `location` (not written)."""
    from onnx import external_data_helper

    for tensor in model.graph.initializer:
        if tensor.name == "constant":
            external_data_helper.set_external_data(tensor, location=location)
            tensor.ClearField("raw_data")
            tensor.ClearField("float_data")
            tensor.data_location = TensorProto.EXTERNAL
    return model


def write_hostile(out):
    """Models for tests/c/hostile_models.c, in OUT/hostile."""
    hostile = out / "hostile"
    hostile.mkdir(exist_ok=True)
    dynamic = dict(height="height", width="width", names=NAMES4, stride="32")
    good = channels_first([CRAFTED_V8_BOXES[0]])
    onnx.save(constant_output_model(good, imgsz="[100000, 100000]", **dynamic), hostile / "imgsz_bomb.onnx")
    # The largest size the metadata may ask for; its input alone is 3.2 GB of floats.
    big = constant_output_model(good, imgsz="[16384, 16384]", copy_input=True, **dynamic)
    onnx.save(big, hostile / "imgsz_16384.onnx")
    onnx.save(constant_output_model(good, height=20000, width=20000, names=NAMES4), hostile / "fixed_20000.onnx")
    onnx.save(constant_output_model(channels_first(CRAFTED_V8_BOXES), names=NAMES4), hostile / "crafted_v8.onnx")
    e2e = np.array(CRAFTED_E2E_ROWS, np.float32)[None]
    onnx.save(constant_output_model(e2e, names=NAMES4, end2end="True"), hostile / "crafted_e2e.onnx")
    # Three classes in the output, one in the metadata: refused, naming both.
    onnx.save(
        constant_output_model(channels_first([(20, 20, 8, 8, 0.0, 0.0, 0.9)]), names="{0: 'only'}"),
        hostile / "names_short.onnx",
    )
    # 'caf\xe9' in Latin-1: not UTF-8.
    latin1 = constant_output_model(channels_first([(20, 20, 8, 8, 0.9)]), names="{0: 'cafX'}")
    (hostile / "names_latin1.onnx").write_bytes(placeholder_bytes(latin1, b"cafX", b"caf\xe9"))

    # External data: the model's output constant beside the model, and a decoy of the same size.
    external = hostile / "external"
    external.mkdir(exist_ok=True)
    model = constant_output_model(channels_first(V8_BOXES), names=NAMES3)
    onnx.save_model(
        model, external / "model.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0
    )
    # The decoy: one box of score 0.99 at (8, 8), in a file laid out as weights.bin is (decoy/weights.bin)
    # and as the constant alone (decoy_weights.bin).
    decoy = np.array(V8_BOXES, np.float32).copy()
    decoy[:, 4:] = 0.0
    decoy[0, 4] = 0.99
    decoy[0, :4] = (8, 8, 4, 4)
    (hostile / "decoy").mkdir(exist_ok=True)
    onnx.save_model(
        constant_output_model(channels_first(decoy), names=NAMES3),
        hostile / "decoy" / "model.onnx",
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )
    (hostile / "decoy_weights.bin").write_bytes(channels_first(decoy).astype("<f4").tobytes())
    for name, location in [("escape_dotdot", "../decoy_weights.bin"), ("escape_absolute", "/etc/hostname"),
                           ("escape_symlink", "link.bin")]:
        onnx.save(with_external_constant(constant_output_model(channels_first(V8_BOXES), names=NAMES3), location),
                  external / f"{name}.onnx")
    link = external / "link.bin"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to("../decoy_weights.bin")

    # Per-pixel models whose outputs do not fit, or hold values no map can: a class id past the names, ids
    # that are not integers, NaN logits, a one-pixel map, logits for another class count, two depth planes.
    onnx.save(class_id_model(HALVES * 7, names=NAMES4, task="semantic"), hostile / "semantic_id_past_names.onnx")
    onnx.save(constant_output_model(HALVES * 0.5, names=NAMES2, task="semantic"), hostile / "semantic_fractional_ids.onnx")
    nan = np.full((1, 2, 8, 8), np.nan, np.float32)
    onnx.save(constant_output_model(nan, names=NAMES2, task="semantic"), hostile / "semantic_nan_logits.onnx")
    onnx.save(class_id_model(np.ones((1, 1, 1), np.float32), names=NAMES2, task="semantic"), hostile / "semantic_1x1.onnx")
    onnx.save(constant_output_model(np.zeros((1, 3, 8, 8), np.float32), names=NAMES2, task="semantic"), hostile / "semantic_wrong_classes.onnx")
    onnx.save(constant_output_model(np.ones((1, 1, 1, 1), np.float32), task="depth"), hostile / "depth_1x1.onnx")
    onnx.save(constant_output_model(np.ones((1, 2, 8, 8), np.float32), task="depth"), hostile / "depth_two_planes.onnx")
    onnx.save(constant_output_model(np.ones((1, 8), np.float32), task="depth"), hostile / "depth_2d.onnx")

    # Task models whose outputs do not fit their task, and a segmentation model with many masks.
    seg = {"output0": channels_first(SEG_BOXES), "output1": SEG_PROTOS}
    onnx.save(constant_outputs_model({**seg, "output1": SEG_PROTOS[:, :1]}, names=NAMES2, task="segment"), hostile / "seg_protos_short.onnx")
    onnx.save(constant_outputs_model({**seg, "output1": SEG_PROTOS[:, :, :, 0]}, names=NAMES2, task="segment"), hostile / "seg_protos_3d.onnx")
    onnx.save(constant_output_model(channels_first(POSE_BOXES), names="{0: 'star'}", task="pose", kpt_shape="[0, 3]"), hostile / "pose_k0.onnx")
    onnx.save(constant_output_model(channels_first(POSE_BOXES), names="{0: 'star'}", task="pose"), hostile / "pose_no_kpt_shape.onnx")
    onnx.save(constant_output_model(channels_first(POSE_BOXES), names="{0: 'star'}", task="pose", kpt_shape="[3, 3]"), hostile / "pose_wrong_k.onnx")
    onnx.save(constant_output_model(channels_first(OBB_BOXES), names="{0: 'bar'}", task="obb"), hostile / "obb_wrong_classes.onnx")
    onnx.save(constant_output_model(np.full((1, 4), 0.25, np.float32), names=NAMES3, task="classify"), hostile / "classify_wrong_classes.onnx")
    onnx.save(constant_output_model(channels_first(V8_BOXES), names=NAMES3, task="track"), hostile / "unknown_task.onnx")
    # 400 separate 2x2 boxes of score 0.9 on a 64x64 input, each with a full mask: max_det caps them at 300.
    many = [(1 + 3 * (i % 20), 1 + 3 * (i // 20), 2, 2, 0.9, 0.0, 1.0, 0.0) for i in range(400)]
    onnx.save(constant_outputs_model({"output0": channels_first(many), "output1": SEG_PROTOS}, names=NAMES2, task="segment"), hostile / "seg_many.onnx")

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
        # A segmentation model without its prototypes.
        "segment_task.onnx": constant_output_model(channels_first(V8_BOXES), names=names3, task="segment"),
        "seg_fixed.onnx": constant_outputs_model(
            {"output0": channels_first(SEG_BOXES), "output1": SEG_PROTOS}, names=NAMES2, task="segment"
        ),
        # End-to-end segmentation: (x1, y1, x2, y2, score, class, coefficients) rows.
        "seg_e2e.onnx": constant_outputs_model(
            {
                "output0": np.array([[8, 8, 24, 24, 0.9, 0, 1, 0], [24, 40, 48, 56, 0.8, 1, 0, 1], [0, 0, 4, 4, 0.1, 0, 1, 0]], np.float32)[None],
                "output1": SEG_PROTOS,
            },
            names=NAMES2,
            task="segment",
            end2end="True",
        ),
        # End-to-end pose and oriented boxes: (x1, y1, x2, y2, score, class, keypoints) and (cx, cy, w, h, score,
        # class, angle) rows.
        "pose_e2e.onnx": constant_output_model(
            np.array([[12, 12, 28, 28, 0.9, 0, 14, 15, 0.95, 80, -3, 0.4], [0, 0, 4, 4, 0.1, 0, 1, 1, 1, 1, 1, 1]], np.float32)[None],
            names="{0: 'star'}",
            task="pose",
            kpt_shape="[2, 3]",
            end2end="True",
        ),
        "obb_e2e.onnx": constant_output_model(
            np.array([[20, 20, 20, 8, 0.9, 0, 0.3], [44, 44, 16, 10, 0.7, 1, -0.5], [0, 0, 4, 4, 0.1, 0, 0]], np.float32)[None],
            names="{0: 'bar', 1: 'block'}",
            task="obb",
            end2end="True",
        ),
        "pose_fixed.onnx": constant_output_model(channels_first(POSE_BOXES), names="{0: 'star'}", task="pose", kpt_shape="[2, 3]"),
        "obb_fixed.onnx": constant_output_model(channels_first(OBB_BOXES), names="{0: 'bar', 1: 'block'}", task="obb"),
        # An Ultralytics classifier: one score per class, [1, classes].
        "classify_task.onnx": constant_output_model(
            np.array([[0.2, 0.5, 0.3]], np.float32), names=names3, task="classify", imgsz="[64, 64]"
        ),
        "classify_means.onnx": channel_means_classifier(),
        # Per-pixel tasks on a fixed 64 x 64 input, with maps at an eighth of it.
        "semantic_ids.onnx": class_id_model(HALVES, names=NAMES2, task="semantic"),
        # One class: Ultralytics' export gives `> 0` of its one plane, background 0 and the class 1.
        "semantic_one_class.onnx": class_id_model(HALVES, names="{0: 'thing'}", task="semantic"),
        "semantic_logits.onnx": constant_output_model(
            np.concatenate([1 - HALVES, HALVES])[None] * 4 - 2, names=NAMES2, task="semantic"
        ),
        "depth_ramp.onnx": constant_output_model(RAMP, names="{0: 'depth'}", task="depth"),
        # An RT-DETR as exports before Ultralytics 8.4 give it: [1, queries, 4 + classes], normalised cx cy
        # w h then class scores; the metadata names no head, its description the model.
        "rtdetr_scores.onnx": constant_output_model(
            np.array([[0.5, 0.5, 0.2, 0.4, 0.1, 0.9], [0.2, 0.2, 0.1, 0.1, 0.2, 0.1], [0.25, 0.75, 0.5, 0.5, 0.7, 0.7]], np.float32)[None],
            names=NAMES2,
            task="detect",
            description="Ultralytics rtdetr-l model trained on coco.yaml",
        ),
        "two_inputs.onnx": two_inputs(),
        "uint8_input.onnx": uint8_input(),
    }
    for name, model in models.items():
        onnx.checker.check_model(model)
        onnx.save(model, out / name)
    write_hostile(out)


if __name__ == "__main__":
    main(sys.argv[1])
