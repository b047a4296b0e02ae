"""`Detector.track` against Ultralytics 8.4.190's `model.track(frame, persist=True)` on the videos of
tests/fixtures/track/ (scripts/make_track_fixtures.py): every frame's ids, classes, scores and boxes, with
ByteTrack, BoT-SORT without motion compensation, and BoT-SORT as Ultralytics ships it, whose camera motion
the package estimates with OpenCV (compared with the motion Ultralytics applied). Then `Tracker`: several
streams, reset, misuse, one caller at a time."""

import json
import threading

import numpy as np
import pytest

import yolo_ffi
from conftest import ROOT, SHARED, needs_shared
from yolo_ffi.tracking import _bgr, _SparseOptFlow

FIXTURES = ROOT / "tests/fixtures/track"
REFERENCE = json.loads((FIXTURES / "reference.json").read_text())
NOGMC = {"tracker_type": "botsort", "gmc_method": "none"}
TRACKERS = {"bytetrack": "bytetrack.yaml", "botsort-nogmc": NOGMC, "botsort": "botsort.yaml"}


def _frames(video):
    return sorted((FIXTURES / video).glob("*.png"))


def _compare(run, tracker_name, rows_of_frames):
    expected = REFERENCE["runs"][run][tracker_name]
    coords = 5 if run == "bars" else 4
    compared = 0
    for f, (ours, theirs) in enumerate(zip(rows_of_frames, expected)):
        if any(row[coords] < 0 for row in theirs):
            assert all(d.track_id is None for d in ours) and len(ours) == len(theirs), f"frame {f}"
            compared += 1
            continue
        assert [d.track_id for d in ours] == [row[coords] for row in theirs], f"frame {f}"
        for d, row in zip(ours, theirs):
            box = d.xywhr if coords == 5 else d.box
            assert np.allclose(box, row[:coords], atol=1e-3), f"frame {f}: {box} vs {row}"
            assert d.class_id == row[coords + 2] and abs(d.score - row[coords + 1]) < 1e-4
            compared += 1
    return compared


@needs_shared(SHARED / "models/shapes-seg.onnx")
@pytest.mark.parametrize("run", sorted(REFERENCE["runs"]))
@pytest.mark.parametrize("tracker_name", list(TRACKERS))
def test_tracks_are_ultralytics(run, tracker_name):
    if tracker_name not in REFERENCE["runs"][run]:
        pytest.skip(f"no {tracker_name} reference for {run}")
    model = SHARED / "models" / REFERENCE["models"][run]
    with yolo_ffi.Detector(model, imgsz=320, pool_size=1) as detector:
        tracked = [
            detector.track(frame, persist=True, tracker=TRACKERS[tracker_name])
            for frame in _frames(REFERENCE["videos"][run])
        ]
    assert _compare(run, tracker_name, tracked) >= len(tracked) // 2


@pytest.mark.parametrize("video", ["crossing", "gaps", "pan"])
def test_the_motion_estimate_is_the_one_ultralytics_applied(video):
    """OpenCV's calls as Ultralytics makes them, on the frames as cv2 reads them: the same warps (the
    package's OpenCV may be another build than the reference's, hence a tolerance)."""
    estimator = _SparseOptFlow()
    ours = [estimator.estimate(_bgr(frame, "rgb")) for frame in _frames(video)]
    theirs = np.asarray(REFERENCE["warps"][video])
    assert np.allclose(np.asarray(ours), theirs, atol=1e-6), np.abs(np.asarray(ours) - theirs).max()


def test_each_stream_has_its_own_tracker_and_ids(synthetic):
    frame = np.full((64, 64, 3), 90, np.uint8)
    with yolo_ffi.Detector(synthetic / "v8_fixed.onnx") as detector:
        first = detector.track(frame, persist=True, tracker="bytetrack.yaml")
        assert first and [d.track_id for d in first] == list(range(1, len(first) + 1))
        with yolo_ffi.Tracker("bytetrack.yaml") as a, yolo_ffi.Tracker("bytetrack.yaml", track_buffer=5) as b:
            for _ in range(3):
                ids_a = [d.track_id for d in detector.track(frame, persist=True, tracker=a)]
            ids_b = [d.track_id for d in detector.track(frame, persist=True, tracker=b)]
            assert ids_a == ids_b == [d.track_id for d in first]
            assert b.overrides == {"track_buffer": 5} and a.kind == "bytetrack"
        # persist=False starts the detector's own tracker over, as Ultralytics' default does.
        again = detector.track(frame, tracker="bytetrack.yaml")
        assert [d.track_id for d in again] == [d.track_id for d in first]
        assert detector.track(frame, persist=True, tracker={"tracker_type": "bytetrack"})[0].track_id == 1
        assert [d.to_dict()["track_id"] for d in first] == [d.track_id for d in first]


def test_tracker_misuse_is_reported(synthetic, tmp_path):
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="tracker_type"):
        yolo_ffi.Tracker({"tracker_type": "ocsort"})
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="unknown tracker settings: match_threshold"):
        yolo_ffi.Tracker("bytetrack.yaml", match_threshold=0.5)
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="re-identification"):
        yolo_ffi.Tracker("botsort.yaml", with_reid=True)
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="match_thresh"):
        yolo_ffi.Tracker("bytetrack.yaml", match_thresh=float("nan"))
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="gmc_method"):
        yolo_ffi.Tracker("botsort.yaml", gmc_method="orb")
    path = tmp_path / "mine.yaml"
    path.write_text("tracker_type: bytetrack\ntrack_buffer: 10\n")
    pytest.importorskip("yaml")
    assert yolo_ffi.Tracker(path).overrides == {"track_buffer": 10}
    with yolo_ffi.Detector(synthetic / "classify_task.onnx") as classify:
        with pytest.raises(ValueError, match="tracking needs boxes"):
            classify.track(np.zeros((8, 8, 3), np.uint8))
    tracker = yolo_ffi.Tracker("bytetrack.yaml")
    tracker.close()
    tracker.close()
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="closed"):
        tracker.reset()


def test_one_stream_one_caller_at_a_time(synthetic):
    """While one thread updates a tracker, another's update raises BusyError and changes nothing."""
    frame = np.full((64, 64, 3), 90, np.uint8)
    with yolo_ffi.Detector(synthetic / "v8_fixed.onnx") as detector, yolo_ffi.Tracker("bytetrack.yaml") as stream:
        detector.track(frame, persist=True, tracker=stream)
        entered, release = threading.Event(), threading.Event()

        def hold():
            with stream._exclusive():
                entered.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        entered.wait(10)
        try:
            with pytest.raises(yolo_ffi.BusyError, match="one stream, one caller"):
                detector.track(frame, persist=True, tracker=stream)
        finally:
            release.set()
            holder.join()
        assert [d.track_id for d in detector.track(frame, persist=True, tracker=stream)] == [
            d.track_id for d in detector.track(frame, tracker="bytetrack.yaml")
        ]


def test_the_command_line_tracks_a_video(synthetic, tmp_path, capsys):
    """`python -m yolo_ffi track MODEL VIDEO --json --save OUT`: a JSON line per frame with the ids, and the
    video written back with as many frames."""
    import cv2

    from yolo_ffi.__main__ import main

    video, out = tmp_path / "grey.mp4", tmp_path / "tracked.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 64))
    for _ in range(6):
        writer.write(np.full((64, 64, 3), 90, np.uint8))
    writer.release()
    model = synthetic / "v8_fixed.onnx"
    assert main(["track", str(model), str(video), "--tracker", "bytetrack.yaml", "--json", "--save", str(out)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["frame"] for line in lines] == list(range(6))
    ids = [[d["track_id"] for d in line["detections"]] for line in lines]
    assert ids[0] and all(frame == ids[0] for frame in ids)
    capture = cv2.VideoCapture(str(out))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 6
    assert main(["track", str(model), str(tmp_path / "missing.mp4")]) == 2
