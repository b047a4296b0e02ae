'use strict';
// Tracking from Node.js on the synthetic detector (the same boxes in every frame): ids from 1, kept from frame
// to frame, each track's box its detection's; BoT-SORT's motion rule; oriented boxes; misuse. The tracking
// itself is compared with Ultralytics by the library's own tests. Needs YOLO_FFI_LIBRARY,
// YOLO_FFI_TEST_MODELS and YOLO_FFI_TEST_TASK_IMAGE; `make test-node` sets them.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Detector, Tracker, YoloError } = require('..');

const models = process.env.YOLO_FFI_TEST_MODELS;
const image = process.env.YOLO_FFI_TEST_TASK_IMAGE;
if (!models || !image) throw new Error('set YOLO_FFI_TEST_MODELS and YOLO_FFI_TEST_TASK_IMAGE');

test('ByteTrack: ids from 1, kept, on the detections that start tracks', async () => {
  const detector = new Detector(path.join(models, 'v8_fixed.onnx'));
  const tracker = new Tracker('bytetrack', { trackBuffer: 10 });
  try {
    const detections = await detector.detect(image, { conf: 0.1 });
    // The detections that start tracks: strong enough, and of a positive size (a box clipped flat does not).
    const strong = detections.filter((d) => d.score >= 0.25 && d.box[2] > d.box[0] && d.box[3] > d.box[1]);
    assert.ok(strong.length > 0);
    for (let frame = 0; frame < 3; frame++) {
      const tracks = await detector.track(image, tracker);
      assert.deepEqual(tracks.map((t) => t.trackId), strong.map((_, i) => i + 1));
      tracks.forEach((t, i) => {
        assert.equal(t.classId, strong[i].classId);
        t.box.forEach((v, k) => assert.ok(Math.abs(v - strong[i].box[k]) < 1e-3, `box ${i}[${k}]`));
      });
    }
    tracker.reset();
    assert.equal((await detector.track(image, tracker))[0].trackId, 1);
  } finally {
    tracker.close();
    await detector.close();
  }
});

test("BoT-SORT as Ultralytics ships it needs each frame's camera motion", async () => {
  const detector = new Detector(path.join(models, 'v8_fixed.onnx'));
  const tracker = new Tracker('botsort');
  try {
    await assert.rejects(detector.track(image, tracker), (e) => e instanceof YoloError && e.statusName === 'INVALID_ARGUMENT');
    const tracks = await detector.track(image, tracker, { motion: [1, 0, 0, 0, 1, 0] });
    assert.ok(tracks.length > 0 && tracks[0].trackId === 1);
    const still = new Tracker('botsort', { gmcMethod: 'none' });
    assert.ok((await detector.track(image, still)).length > 0);
    still.close();
  } finally {
    tracker.close();
    await detector.close();
  }
});

test('oriented boxes are tracked with their rotated boxes', async () => {
  const detector = new Detector(path.join(models, 'obb_fixed.onnx'));
  const tracker = new Tracker('bytetrack');
  try {
    const tracks = await detector.track(image, tracker);
    assert.ok(tracks.length > 0);
    for (const t of tracks) {
      assert.ok(t.trackId >= 1 && t.obb && t.obb.corners.length === 8);
      assert.ok(t.box[0] <= t.box[2] && t.box[1] <= t.box[3]);
    }
  } finally {
    tracker.close();
    await detector.close();
  }
});

test('misuse is reported', async () => {
  assert.throws(() => new Tracker('ocsort'), TypeError);
  assert.throws(() => new Tracker('bytetrack', { matchThreshold: 0.5 }), TypeError);
  assert.throws(() => new Tracker('botsort', { withReid: true }), (e) => e instanceof YoloError);
  const detector = new Detector(path.join(models, 'v8_fixed.onnx'));
  const tracker = new Tracker('bytetrack');
  tracker.close();
  tracker.close();
  try {
    await assert.rejects(detector.track(image, tracker), (e) => e instanceof YoloError);
    await assert.rejects(detector.track(image, {}), TypeError);
  } finally {
    await detector.close();
  }
});
