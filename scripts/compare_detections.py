"""Compares the detections a binding printed with build/detect's, for the same model, image and settings.

    compare_detections.py NAME REFERENCE ACTUAL

Each file holds one JSON object per line with a "detections" list of {"class_id", "score", "box", and
optionally "class_name"}, as build/detect prints them; the first line of each is compared. Classes and names
must be equal, scores within 1e-4 and box coordinates within 2e-3 (build/detect prints 5 and 3 decimals).
"""

import json
import sys


def detections(path: str) -> list:
    with open(path, encoding="utf-8") as stream:
        return json.loads(stream.readline())["detections"]


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
        if not same:
            sys.exit(f"{name}: detection {index} is {g}, build/detect gave {e}")
    return f"{name}: {len(got)} detections equal to build/detect's"


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(compare(sys.argv[1], detections(sys.argv[2]), detections(sys.argv[3])))


if __name__ == "__main__":
    main()
