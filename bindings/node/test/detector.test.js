'use strict';
// The Node binding against the real library: Promises that leave the event loop free, errors as YoloError,
// close() and use after it, the log callback. With YOLO_FFI_TEST_OUT set, writes the demo image's detections
// in build/detect's format, which `make test-node` compares with build/detect's own.
// Needs YOLO_FFI_LIBRARY (libyolo_ffi.so), YOLO_FFI_TEST_MODEL (the demo model, 320) and YOLO_FFI_TEST_IMAGE.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Detector, YoloError, setLogCallback, version, STATUS_NAMES } = require('..');

const model = process.env.YOLO_FFI_TEST_MODEL;
const image = process.env.YOLO_FFI_TEST_IMAGE;
if (!model || !image) throw new Error('set YOLO_FFI_TEST_MODEL and YOLO_FFI_TEST_IMAGE');

test('the version is the library\'s', () => {
  assert.match(version(), /^\d+\.\d+\.\d+/);
});

test('the status names are the library\'s, by value', () => {
  assert.equal(STATUS_NAMES[0], 'OK');
  assert.equal(STATUS_NAMES[1], 'INVALID_ARGUMENT');
  assert.ok(STATUS_NAMES.length >= 16, `${STATUS_NAMES.length} statuses`);
  assert.ok(STATUS_NAMES.includes('PROVIDER_UNAVAILABLE'));
});

test('the structs it reads are laid out as the header\'s', (t) => {
  // What tests/c/layouts.c prints: "STRUCT SIZE FIELD OFFSET" lines, from a C compiler and the header.
  const file = process.env.YOLO_FFI_TEST_LAYOUTS;
  if (!file) return t.skip('set YOLO_FFI_TEST_LAYOUTS to build/layouts.txt');
  const native = require('../lib/native.js');
  const ours = {
    yolo_detection: native.Detection,
    yolo_detector_stats: native.Stats,
    yolo_track: native.Track,
    yolo_reload_stats: native.ReloadStats,
  };
  const seen = new Set();
  for (const line of fs.readFileSync(file, 'utf8').trim().split('\n')) {
    const [struct, size, field, offset] = line.split(' ');
    if (!(struct in ours)) continue;
    seen.add(struct);
    assert.equal(native.koffi.sizeof(ours[struct]), Number(size), struct);
    assert.equal(native.koffi.offsetof(ours[struct], field), Number(offset), `${struct}.${field}`);
  }
  assert.deepEqual([...seen].sort(), Object.keys(ours).sort());
});

test('detect resolves to the boxes build/detect finds', async () => {
  const detector = await Detector.load(model, { imgsz: 320, poolSize: 2 });
  try {
    assert.equal(detector.task, 'detect');
    assert.ok(detector.classNames.length > 0);
    const fromPath = await detector.detect(image);
    const fromBytes = await detector.detect(fs.readFileSync(image));
    assert.deepEqual(fromPath, fromBytes);
    assert.ok(fromPath.length > 0);
    for (const d of fromPath) {
      assert.equal(d.className, detector.classNames[d.classId]);
      assert.ok(d.score > 0.25 && d.box.length === 4 && d.box[0] <= d.box[2] && d.box[1] <= d.box[3]);
    }
    const strict = await detector.detect(image, { conf: 0.99 });
    assert.equal(strict.length, 0, 'per-call options apply');
    if (process.env.YOLO_FFI_TEST_OUT) {
      const detections = fromPath.map((d) => ({ class_id: d.classId, class_name: d.className, score: d.score, box: d.box }));
      fs.writeFileSync(process.env.YOLO_FFI_TEST_OUT, `${JSON.stringify({ detections })}\n`);
    }
  } finally {
    await detector.close();
  }
});

test('detect runs off the event loop', async () => {
  const detector = new Detector(model, { imgsz: 320, poolSize: 2 });
  try {
    const bytes = fs.readFileSync(image);
    let turns = 0;
    let settled = false;
    const calls = Promise.all([1, 2, 3, 4].map(() => detector.detect(bytes))).finally(() => {
      settled = true;
    });
    // While the four inferences run on worker threads, the event loop keeps turning.
    while (!settled && turns < 1_000_000) {
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
    }
    const results = await calls;
    assert.ok(turns > 1, `the event loop turned ${turns} times during 4 detects`);
    for (const r of results) assert.deepEqual(r, results[0]);
    assert.ok(Number(detector.stats().detects) >= 4);
  } finally {
    await detector.close();
  }
});

test('failures are YoloErrors with the status and the library\'s message', async () => {
  assert.throws(() => new Detector('/nonexistent/model.onnx'), (error) => {
    assert.ok(error instanceof YoloError);
    assert.equal(error.statusName, 'MODEL_LOAD_FAILED');
    assert.equal(error.status, 3);
    assert.match(error.message, /nonexistent\/model\.onnx/);
    return true;
  });
  await assert.rejects(Detector.load('/nonexistent/model.onnx'), { name: 'YoloError', statusName: 'MODEL_LOAD_FAILED' });
  assert.throws(() => new Detector(model, { conf: 2 }), { statusName: 'INVALID_ARGUMENT' });
  const detector = new Detector(model, { imgsz: 320, poolSize: 1 });
  // The message is read on the worker thread that made the call (the library's last error is per thread).
  await assert.rejects(detector.detect(Buffer.from('not an image')), (error) => {
    assert.equal(error.statusName, 'IMAGE_DECODE_FAILED');
    assert.match(error.message, /image/);
    return true;
  });
  await assert.rejects(detector.detect(42), TypeError);
  await detector.close();
  await detector.close(); // idempotent
  await assert.rejects(detector.detect(image), { statusName: 'INVALID_HANDLE' });
});

test('close waits for the calls in flight', async () => {
  const detector = new Detector(model, { imgsz: 320, poolSize: 1 });
  const pending = detector.detect(image);
  const closed = detector.close();
  assert.ok((await pending).length > 0, 'a call started before close completes');
  await closed;
});

test('the log callback receives the library\'s events', async () => {
  const events = [];
  setLogCallback((level, message) => events.push({ level, message }));
  try {
    const detector = await Detector.load(model, { imgsz: 320, poolSize: 1 });
    await detector.close();
    // The load ran on a worker thread: its events arrive through the event loop.
    for (let i = 0; i < 100 && !events.some((e) => e.message.includes('loaded')); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(events.some((e) => e.level === 3 && e.message.includes('loaded')), JSON.stringify(events));
  } finally {
    setLogCallback(null);
  }
});
