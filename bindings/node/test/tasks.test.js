'use strict';
// The binding at the surface of Python's, on the synthetic task models: masks and their polygons, keypoints,
// oriented boxes and classes, each compared with what build/detect (the C API's own CLI) prints for the same
// model and image; per-call options, the model's provider and IO binding, and batching's counters.
// Needs YOLO_FFI_LIBRARY, YOLO_FFI_TEST_MODELS (build/test-models), YOLO_FFI_TEST_DETECT (build/detect) and
// YOLO_FFI_TEST_TASK_IMAGE (a small image, tests/fixtures/images/rgb.jpg); `make test-node` sets them.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Detector, YoloError } = require('..');

const models = process.env.YOLO_FFI_TEST_MODELS;
const cli = process.env.YOLO_FFI_TEST_DETECT;
const image = process.env.YOLO_FFI_TEST_TASK_IMAGE;
if (!models || !cli || !image) throw new Error('set YOLO_FFI_TEST_MODELS, YOLO_FFI_TEST_DETECT and YOLO_FFI_TEST_TASK_IMAGE');

/** build/detect's JSON for `model` on the test image. */
function reference(model, ...flags) {
  return JSON.parse(execFileSync(cli, [...flags, path.join(models, model), image], { encoding: 'utf8' }));
}

/** A bitmap from build/detect's run lengths: alternating 0 and 1 runs, starting with 0. */
function unrun(counts) {
  const out = [];
  counts.forEach((n, i) => {
    for (let k = 0; k < n; k++) out.push(i % 2);
  });
  return Uint8Array.from(out);
}

function close(a, b, tolerance, what) {
  assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} and ${b} differ by more than ${tolerance}`);
}

/** The boxes agree to build/detect's printed precision (3 decimals for pixels, 5 for scores). */
function sameBoxes(got, want) {
  assert.equal(got.length, want.length, 'as many detections as build/detect');
  got.forEach((d, i) => {
    assert.equal(d.classId, want[i].class_id);
    assert.equal(d.className, want[i].class_name);
    close(d.score, want[i].score, 1e-5, `score ${i}`);
    d.box.forEach((v, k) => close(v, want[i].box[k], 1e-3, `box ${i}[${k}]`));
  });
}

test('segmentation: masks as build/detect gives them, and a polygon inside each mask', async () => {
  const detector = new Detector(path.join(models, 'seg_e2e.onnx'));
  try {
    assert.equal(detector.task, 'segment');
    const got = await detector.detect(image);
    const want = reference('seg_e2e.onnx').detections;
    sameBoxes(got, want);
    assert.ok(got.length > 0);
    got.forEach((d, i) => {
      const { left, top, width, height, counts } = want[i].mask;
      assert.deepEqual([d.mask.left, d.mask.top, d.mask.width, d.mask.height], [left, top, width, height]);
      assert.deepEqual(d.mask.data, unrun(counts));
      assert.ok(d.polygon.length > 0, 'a non-empty mask has an outline');
      for (const [x, y] of d.polygon) {
        assert.ok(x >= left && x < left + width && y >= top && y < top + height, `point ${x},${y} outside the mask`);
      }
    });
    const retina = await detector.detect(image, { retinaMasks: true });
    const wantRetina = reference('seg_e2e.onnx', '--retina-masks', '1').detections;
    retina.forEach((d, i) => assert.deepEqual(d.mask.data, unrun(wantRetina[i].mask.counts)));
  } finally {
    await detector.close();
  }
});

test('pose: keypoints as build/detect gives them', async () => {
  const detector = new Detector(path.join(models, 'pose_e2e.onnx'));
  try {
    assert.equal(detector.task, 'pose');
    const got = await detector.detect(image);
    const want = reference('pose_e2e.onnx').detections;
    sameBoxes(got, want);
    assert.deepEqual(detector.keypointShape, [want[0].keypoints.length, 3]);
    got.forEach((d, i) =>
      d.keypoints.forEach((k, j) => k.forEach((v, n) => close(v, want[i].keypoints[j][n], 1e-3, `keypoint ${i}.${j}`))),
    );
  } finally {
    await detector.close();
  }
});

test('oriented boxes as build/detect gives them', async () => {
  const detector = new Detector(path.join(models, 'obb_e2e.onnx'));
  try {
    const got = await detector.detect(image);
    const want = reference('obb_e2e.onnx').detections;
    sameBoxes(got, want);
    got.forEach((d, i) => {
      const { cx, cy, width, height, angle } = d.obb;
      [cx, cy, width, height].forEach((v, k) => close(v, want[i].obb.xywhr[k], 1e-3, `obb ${i}[${k}]`));
      close(angle, want[i].obb.xywhr[4], 1e-5, `angle ${i}`);
      d.obb.corners.forEach((p, k) => p.forEach((v, n) => close(v, want[i].obb.corners[k][n], 1e-3, `corner ${i}.${k}`)));
    });
  } finally {
    await detector.close();
  }
});

test('classification: classes as build/detect gives them, topK per call', async () => {
  const detector = new Detector(path.join(models, 'classify_task.onnx'));
  try {
    assert.equal(detector.task, 'classify');
    const got = await detector.classify(image);
    const want = reference('classify_task.onnx').classes;
    assert.deepEqual(got.map((k) => [k.classId, k.className]), want.map((k) => [k.class_id, k.class_name]));
    got.forEach((k, i) => close(k.probability, want[i].probability, 1e-6, `class ${i}`));
    assert.equal((await detector.classify(image, { topK: 1 })).length, 1);
    assert.deepEqual(await detector.detect(image), [], 'a classifier gives no detections');
  } finally {
    await detector.close();
  }
});

test('semantic segmentation: the class map build/detect gives, run for run', async () => {
  const detector = new Detector(path.join(models, 'semantic_logits.onnx'));
  try {
    assert.equal(detector.task, 'semantic');
    const got = await detector.semantic(image);
    const want = reference('semantic_logits.onnx').class_map;
    assert.equal(got.width, want.width);
    assert.equal(got.height, want.height);
    assert.ok(got.ids instanceof Uint8Array && got.ids.length === got.width * got.height);
    const rebuilt = new Uint8Array(got.ids.length);
    for (const c of want.classes) {
      assert.equal(got.counts[c.class_id], c.pixels, `pixels of class ${c.class_id}`);
      for (const [start, length] of c.runs) rebuilt.fill(c.class_id, start, start + length);
    }
    assert.deepEqual(got.ids, rebuilt);
    assert.ok(want.classes.length === 2, 'both classes present');
    await assert.rejects(detector.depth(image), TypeError);
  } finally {
    await detector.close();
  }
});

test('depth: the depth map build/detect summarises, its values a ramp across the image', async () => {
  const detector = new Detector(path.join(models, 'depth_ramp.onnx'));
  try {
    assert.equal(detector.task, 'depth');
    const got = await detector.depth(image);
    const want = reference('depth_ramp.onnx').depth_map;
    assert.deepEqual([got.width, got.height], [want.width, want.height]);
    assert.ok(got.data instanceof Float32Array && got.data.length === got.width * got.height);
    close(Math.min(...got.data), want.min, 1e-5, 'min');
    close(Math.max(...got.data), want.max, 1e-5, 'max');
    // The 8 columns of the model's map are 0..7, stretched with aligned corners to the image's width.
    for (let x = 0; x < got.width; x++) close(got.data[x], (7 * x) / (got.width - 1), 1e-4, `column ${x}`);
    await assert.rejects(detector.semantic(image), TypeError);
  } finally {
    await detector.close();
  }
});

test('the provider, its fall-back and IO binding are the caller\'s to set and the model says what it got', async () => {
  const detector = new Detector(path.join(models, 'v8_fixed.onnx'), { providers: ['cpu'], ioBinding: false });
  assert.equal(detector.provider, 'cpu');
  assert.equal(detector.ioBinding, false);
  await detector.close();
  assert.throws(() => new Detector(path.join(models, 'v8_fixed.onnx'), { providers: ['tpu'] }), (e) => e instanceof YoloError && e.statusName === 'INVALID_ARGUMENT');
  assert.throws(() => new Detector(path.join(models, 'v8_fixed.onnx'), { providers: ['openvino:1'] }), YoloError);
});

test('batching gathers concurrent calls and a threshold of 0 reaches the library', async () => {
  const detector = new Detector(path.join(models, 'e2e_batch.onnx'), {
    imgsz: 64,
    poolSize: 1,
    maxBatch: 4,
    maxBatchDelayUs: 200000,
    conf: 0,
  });
  try {
    const calls = await Promise.all([0, 1, 2, 3].map(() => detector.detect(image)));
    assert.ok(calls.every((found) => JSON.stringify(found) === JSON.stringify(calls[0])));
    const { runs, calls: carried } = detector.batchStats();
    assert.equal(carried, 4);
    assert.ok(runs >= 1 && runs <= 4);
    assert.throws(
      () => new Detector(path.join(models, 'e2e_batch.onnx'), { maxBatch: 65 }),
      (e) => e instanceof YoloError && /max_batch/.test(e.message),
    );
  } finally {
    await detector.close();
  }
});

test('the asynchronous load resolves to a ready detector, and a bad model rejects with the reason', async () => {
  const detector = await Detector.load(path.join(models, 'seg_fixed.onnx'));
  assert.equal(detector.task, 'segment');
  await detector.close();
  await assert.rejects(Detector.load(path.join(models, 'not_yolo.onnx')), (e) => e instanceof YoloError && e.statusName === 'INVALID_MODEL');
});

test('the header values the binding restates are the header\'s', () => {
  const native = require('../lib/native.js');
  const header = require('node:fs').readFileSync(path.join(__dirname, '../../../include/yolo_ffi.h'), 'utf8');
  const value = (name) => Number(new RegExp(`^\\s*${name} = (\\d+),`, 'm').exec(header)[1]);
  assert.equal(native.IO_BINDING.on, value('YOLO_IO_BINDING_ON'));
  assert.equal(native.IO_BINDING.off, value('YOLO_IO_BINDING_OFF'));
  assert.match(header, /^#define YOLO_WAIT_FOREVER UINT32_MAX$/m);
  assert.match(header, /^#define YOLO_DEFAULT_BATCH_DELAY UINT32_MAX$/m);
  assert.equal(native.UINT32_MAX, 2 ** 32 - 1);
  assert.equal(native.TRACKER_KINDS.bytetrack, value('YOLO_TRACKER_KIND_BYTETRACK'));
  assert.equal(native.TRACKER_KINDS.botsort, value('YOLO_TRACKER_KIND_BOTSORT'));
  assert.equal(native.GMC_METHODS.none, value('YOLO_GMC_METHOD_NONE'));
  assert.equal(native.GMC_METHODS.sparseOptFlow, value('YOLO_GMC_METHOD_SPARSE_OPT_FLOW'));
});

test('reload swaps the model while calls run; results name their own model\'s classes', async () => {
  const detector = new Detector(path.join(models, 'v8_fixed.onnx'), { poolSize: 2 });
  try {
    const before = await detector.detect(image);
    assert.equal(before[0].className, 'person');
    // Calls in flight across the reload each come whole from one model.
    const inFlight = Array.from({ length: 8 }, () => detector.detect(image));
    await detector.reload(path.join(models, 'seg_fixed.onnx'));
    for (const found of await Promise.all(inFlight)) {
      assert.ok(found.every((d) => (d.mask ? ['a', 'b'] : ['person', "it's", 'café']).includes(d.className)));
    }
    assert.equal(detector.task, 'segment');
    assert.deepEqual(detector.classNames, ['a', 'b']);
    const after = await detector.detect(image);
    assert.ok(after.length > 0 && after.every((d) => d.mask && ['a', 'b'].includes(d.className)));
    await assert.rejects(detector.reload(path.join(models, 'missing.onnx')), (error) => {
      assert.ok(error instanceof YoloError && error.statusName === 'MODEL_LOAD_FAILED', String(error));
      assert.match(error.message, /keeps serving/);
      return true;
    });
    await assert.rejects(detector.reload(path.join(models, 'v8_fixed.onnx'), {}, { keepTask: true }), /task/);
    assert.equal(detector.task, 'segment', 'a failed reload leaves the model serving');
    assert.deepEqual(await detector.detect(image), after);
    const stats = detector.reloadStats();
    assert.deepEqual([stats.reloads, stats.failures, stats.running], [1, 2, false]);
    assert.equal(stats.lastStatus, 4, 'INVALID_MODEL');
  } finally {
    await detector.close();
  }
});
