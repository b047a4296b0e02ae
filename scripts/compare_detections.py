"""Compares the detections a binding printed with build/detect's, for the same model, image and settings.

    compare_detections.py NAME REFERENCE ACTUAL

Each file holds one JSON object per line with a "detections" list of {"class_id", "score", "box", and
optionally "class_name", "mask", "keypoints", "obb"}, or a "classes" list of {"class_id", "class_name",
"probability"}, as build/detect prints them; the first line of each is compared. Classes and names must be
equal, scores within 1e-4, box coordinates, keypoints and oriented boxes within 2e-3 (build/detect prints 5
and 3 decimals), angles and probabilities within 1e-4 and 1e-5, masks (run lengths) exactly.
"""

import json
import sys


def first_line(path: str) -> dict:
    with open(path, encoding="utf-8") as stream:
        return json.loads(stream.readline())


def detections(path: str) -> list:
    return first_line(path)["detections"]


def near(a: list, b: list, tolerance: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tolerance for x, y in zip(a, b))


def same_task_values(g: dict, e: dict) -> bool:
    """What a task adds to a detection, in build/detect's form, agrees."""
    if ("mask" in e) != ("mask" in g) or ("keypoints" in e) != ("keypoints" in g) or ("obb" in e) != ("obb" in g):
        return False
    if "mask" in e and g["mask"] != e["mask"]:
        return False
    if "keypoints" in e:
        if len(g["keypoints"]) != len(e["keypoints"]):
            return False
        for gk, ek in zip(g["keypoints"], e["keypoints"]):
            if not (near(gk[:2], ek[:2], 2e-3) and near(gk[2:], ek[2:], 1e-4)):
                return False
    if "obb" in e:
        go, eo = g["obb"], e["obb"]
        if not (near(go["xywhr"][:4], eo["xywhr"][:4], 2e-3) and near(go["xywhr"][4:], eo["xywhr"][4:], 1e-4)):
            return False
        if len(go["corners"]) != 4 or not all(near(a, b, 2e-3) for a, b in zip(go["corners"], eo["corners"])):
            return False
    return True


def compare_classes(name: str, expected: list, got: list) -> str:
    if not expected:
        sys.exit(f"{name}: the reference has no classes; the comparison would prove nothing")
    if [(k["class_id"], k["class_name"]) for k in got] != [(k["class_id"], k["class_name"]) for k in expected]:
        sys.exit(f"{name}: classes {got}, build/detect gave {expected}")
    if not near([k["probability"] for k in got], [k["probability"] for k in expected], 1e-5):
        sys.exit(f"{name}: probabilities {got}, build/detect gave {expected}")
    return f"{name}: {len(got)} classes equal to build/detect's"


def compare(name: str, expected: list, got: list) -> str:
    """Exits with a message at the first difference; returns a one-line summary when all match."""
    if not expected:
        sys.exit(f"{name}: the reference has no detections; the comparison would prove nothing")
    if len(got) != len(expected):
        sys.exit(f"{name}: {len(got)} detections, build/detect found {len(expected)}")
    for index, (g, e) in enumerate(zip(got, expected)):
        same = g["class_id"] == e["class_id"] and abs(g["score"] - e["score"]) <= 1e-4
        same = same and len(g["box"]) == 4 and all(abs(a - b) <= 2e-3 for a, b in zip(g["box"], e["box"]))
        if "class_name" in g and g["class_name"] != e["class_name"]:
            same = False
        if not same_task_values(g, e):
            same = False
        if not same:
            sys.exit(f"{name}: detection {index} is {g}, build/detect gave {e}")
    return f"{name}: {len(got)} detections equal to build/detect's"


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    expected, got = first_line(sys.argv[2]), first_line(sys.argv[3])
    if "classes" in expected:
        print(compare_classes(sys.argv[1], expected["classes"], got.get("classes", [])))
    else:
        print(compare(sys.argv[1], expected["detections"], got.get("detections", [])))


if __name__ == "__main__":
    main()
