'use strict';
// yolo-ffi for Node.js: a Detector over libyolo_ffi, through koffi. detect() returns a Promise and runs on
// the detector's own worker threads, one per session of its pool, so the event loop never waits for an
// inference. See README.md.

const fs = require('node:fs/promises');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const native = require('./lib/native');

/** A failed call: `status` (the header's value), `name` ('MODEL_LOAD_FAILED', ...) and the library's message. */
class YoloError extends Error {
  constructor({ status, name, message }) {
    super(message);
    this.name = 'YoloError';
    this.status = status;
    this.statusName = name;
  }
}

function rethrow(error) {
  if (error instanceof native.NativeError) throw new YoloError(error.info);
  throw error;
}

const WORKER = path.join(__dirname, 'lib', 'worker.js');

/** One worker thread and the calls waiting for it; referenced (keeping the process alive) only while busy. */
class Lane {
  constructor() {
    this.worker = new Worker(WORKER);
    this.worker.unref();
    this.pending = new Map();
    this.nextId = 0;
    this.worker.on('message', ({ id, value, error }) => {
      const call = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) this.worker.unref();
      if (error) call.reject(new YoloError(error));
      else call.resolve(value);
    });
    this.worker.on('error', (error) => {
      for (const call of this.pending.values()) call.reject(error);
      this.pending.clear();
    });
  }

  call(op, args) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, op, args });
    });
  }

  get busy() {
    return this.pending.size;
  }

  terminate() {
    return this.worker.terminate();
  }
}

// Frees a detector that was garbage-collected without close(); its workers hold no reference to it.
const finalizer = new FinalizationRegistry(({ handle, lanes }) => {
  for (const lane of lanes) lane.terminate();
  native.c.free(handle);
});

/**
 * A loaded model and its session pool. `new Detector(model, options)` loads synchronously;
 * `await Detector.load(model, options)` loads on a worker thread. Close it with `close()`.
 */
class Detector {
  constructor(model, options = {}, loaded = undefined) {
    let info = loaded;
    if (info === undefined) {
      try {
        info = native.open(model, options);
      } catch (error) {
        rethrow(error);
      }
    }
    this.model = String(model);
    this._options = { ...options };
    this._describe(info);
    this._handle = info.handle;
    this._lanes = [];
    this._inFlight = 0;
    this._closing = null;
    finalizer.register(this, { handle: this._handle, lanes: this._lanes }, this);
  }

  _describe(info) {
    this.task = info.task;
    this.classNames = Object.freeze(info.names);
    this.sessions = info.sessions;
    this.provider = info.provider;
    this.ioBinding = info.ioBinding;
    this.keypointShape = Object.freeze(info.keypointShape);
  }

  /**
   * Replaces the model while calls go on, on a worker thread: `model` (default: the same file, read again)
   * with this detector's options updated by `options`. Resolves when the new model serves: calls in flight
   * finish on the model they started with (their results name its classes), the replaced model is freed
   * after the last of them, and `task`, `classNames` and the other facts describe the new model.
   * `keep.keepTask` and `keep.keepClassCount` refuse a model that changes them. Rejects with a YoloError
   * (MODEL_LOAD_FAILED, INVALID_MODEL, BUSY for a second reload at once, ...) and the current model keeps
   * serving.
   */
  async reload(model = this.model, options = {}, keep = {}) {
    this._checkOpen();
    const merged = { ...this._options, ...options };
    const lane = new Lane();
    // Counted as a call in flight: close() frees the model only after it.
    this._inFlight++;
    try {
      const info = await lane.call('reload', [this._handle, String(model), merged, keep]);
      this.model = String(model);
      this._options = merged;
      this._describe(info);
    } finally {
      lane.terminate();
      this._inFlight--;
      if (this._closing && this._inFlight === 0) this._closing.release();
    }
  }

  /** The reload counters: `{reloads, failures, lastDurationUs, lastStatus, running}`. */
  reloadStats() {
    this._checkOpen();
    try {
      return native.reloadStats(this._handle);
    } catch (error) {
      return rethrow(error);
    }
  }

  /** Loads `model` on a worker thread: start-up never blocks the event loop. */
  static async load(model, options = {}) {
    const lane = new Lane();
    try {
      const info = await lane.call('open', [String(model), options]);
      return new Detector(model, options, info);
    } finally {
      lane.terminate();
    }
  }

  /**
   * Detects objects in an image: a path, or the encoded bytes (Buffer, Uint8Array). Resolves to the
   * detections, best first: `{classId, className, score, box: [x1, y1, x2, y2]}` in the image's pixels,
   * with what the model's task adds: `mask` and `polygon` (segment), `keypoints` (pose), `obb` (oriented
   * boxes). `options` overrides the detector's `conf`, `iou`, `maxDet`, `agnostic` and `retinaMasks` for
   * this call.
   */
  async detect(image, options = undefined) {
    return (await this._run(image, options)).detections;
  }

  /**
   * Classifies an image with a classification model: resolves to its most probable classes, best first,
   * `{classId, className, probability}`; `options.topK` overrides how many.
   */
  async classify(image, options = undefined) {
    return (await this._run(image, options)).classes;
  }

  /**
   * The class of every pixel of an image, with a semantic segmentation model: resolves to
   * `{width, height, ids, counts}`, `ids` the row-major class ids (a Uint8Array for models of up to 256
   * classes, Uint16Array up to 65,536, else Uint32Array) and `counts[c]` the pixels of class `c`.
   */
  async semantic(image) {
    if (this.task !== 'semantic') throw new TypeError(`a ${this.task} model, not a semantic segmentation model`);
    return (await this._run(image, undefined)).classMap;
  }

  /**
   * The depth of every pixel of an image, with a depth estimation model: resolves to
   * `{width, height, data}`, `data` a row-major Float32Array in the model's unit (metres for Ultralytics').
   */
  async depth(image) {
    if (this.task !== 'depth') throw new TypeError(`a ${this.task} model, not a depth estimation model`);
    return (await this._run(image, undefined)).depthMap;
  }

  /**
   * Detects objects in one video frame and tracks them with `tracker` (a Tracker: one stream's), as
   * Ultralytics' `model.track`: resolves to the frame's tracks, `detect`'s objects with `trackId` and the
   * track's filtered box, in Ultralytics' order; without tracks, the detections without `trackId` (or none
   * while a new track awaits confirmation). `options` are `detect`'s, `conf` 0.1 unless given, and
   * `motion`, BoT-SORT's camera motion since the last frame (6 numbers, the 2 x 3 affine matrix row by row)
   * when its `gmcMethod` is 'sparseOptFlow'. A tracker updated by two calls at once rejects the second with
   * status BUSY.
   */
  async track(image, tracker, options = {}) {
    if (!(tracker instanceof Tracker)) throw new TypeError('track needs a Tracker');
    const { motion, ...detectOptions } = options;
    if (detectOptions.conf === undefined) detectOptions.conf = 0.1;
    return (await this._run(image, detectOptions, { tracker: tracker._live(), motion })).detections;
  }

  /** What cross-caller batching (`maxBatch`) has done in this process: `{runs, calls, longestWaitUs}`. */
  batchStats() {
    this._checkOpen();
    try {
      return native.batchStats(this._handle);
    } catch (error) {
      return rethrow(error);
    }
  }

  async _run(image, options, tracking = undefined) {
    this._checkOpen();
    this._inFlight++;
    try {
      const bytes = typeof image === 'string' ? await fs.readFile(image) : image;
      if (!(bytes instanceof Uint8Array)) throw new TypeError('image must be a path, a Buffer or a Uint8Array');
      // A call that started before close() still runs: the model is freed after the last one in flight.
      return await this._lane().call('detect', [this._handle, bytes, options, tracking]);
    } finally {
      this._inFlight--;
      if (this._closing && this._inFlight === 0) this._closing.release();
    }
  }

  /** The pool's counters (sessions, detects, latency percentiles in microseconds, ...). */
  stats() {
    this._checkOpen();
    try {
      return native.stats(this._handle);
    } catch (error) {
      return rethrow(error);
    }
  }

  /**
   * Frees the model once the calls in flight have ended; new calls fail at once. Idempotent; the Promise
   * resolves when the model is freed.
   */
  close() {
    if (this._closing) return this._closing.done;
    let release;
    const done = new Promise((resolve) => {
      release = resolve;
    });
    this._closing = {
      done,
      release: () => {
        finalizer.unregister(this);
        native.c.free(this._handle);
        Promise.all(this._lanes.map((lane) => lane.terminate())).then(() => release());
      },
    };
    if (this._inFlight === 0) this._closing.release();
    return done;
  }

  _checkOpen() {
    if (this._closing) {
      const status = native.STATUS_NAMES.indexOf('INVALID_HANDLE');
      throw new YoloError({ status, name: 'INVALID_HANDLE', message: 'the detector is closed' });
    }
  }

  /** The least busy worker, starting one more while every worker is busy, up to one per session. */
  _lane() {
    let best = this._lanes[0];
    for (const lane of this._lanes) if (lane.busy < best.busy) best = lane;
    if (!best || (best.busy > 0 && this._lanes.length < this.sessions)) {
      best = new Lane();
      this._lanes.push(best);
    }
    return best;
  }
}

let logTrampoline = null;
let logTarget = null;

/**
 * Routes the library's events (loads, failures, warnings) to `callback(level, message)`, level 1 error,
 * 2 warning, 3 info; `null` drops them. Events from other threads arrive when the event loop runs.
 */
function setLogCallback(callback) {
  if (callback !== null && typeof callback !== 'function') throw new TypeError('callback must be a function or null');
  logTarget = callback;
  if (logTrampoline === null && callback !== null) {
    // Registered once and kept: the library may call it from any thread for the life of the process.
    logTrampoline = native.koffi.register(
      (_userData, level, message) => {
        if (logTarget) logTarget(level, message);
      },
      native.koffi.pointer(native.LogCallback),
    );
    native.check(native.c.setLogCallback(logTrampoline, null));
  }
}

/** The version of the loaded library, such as '0.1.0'. */
function version() {
  return native.c.version();
}

const trackerFinalizer = new FinalizationRegistry((handle) => native.c.trackerFree(handle));

/**
 * One stream's tracker: `new Tracker('bytetrack' | 'botsort', settings)`, with the values of Ultralytics'
 * `bytetrack.yaml` or `botsort.yaml` and `settings` overriding single ones (`trackHighThresh`,
 * `trackLowThresh`, `newTrackThresh`, `trackBuffer`, `matchThresh`, `fuseScore`, `gmcMethod` ('none' or
 * 'sparseOptFlow', BoT-SORT's default, which needs a `motion` with each frame), `proximityThresh`,
 * `appearanceThresh`, `withReid`). Feed it frames with `detector.track(frame, tracker)`; `reset()` starts it
 * over, `close()` releases it.
 */
class Tracker {
  constructor(kind, settings = {}) {
    try {
      this._handle = native.newTracker(kind, settings);
    } catch (error) {
      rethrow(error);
    }
    this.kind = kind;
    trackerFinalizer.register(this, this._handle, this);
  }

  /** Forgets every track; ids start from 1 again. */
  reset() {
    try {
      native.check(native.c.trackerReset(this._live()));
    } catch (error) {
      rethrow(error);
    }
  }

  /** Releases the tracker. Idempotent. */
  close() {
    if (this._handle) {
      trackerFinalizer.unregister(this);
      native.c.trackerFree(this._handle);
      this._handle = 0;
    }
  }

  _live() {
    if (!this._handle) {
      const status = native.STATUS_NAMES.indexOf('INVALID_ARGUMENT');
      throw new YoloError({ status, name: 'INVALID_ARGUMENT', message: 'the tracker is closed' });
    }
    return this._handle;
  }
}

module.exports = { Detector, Tracker, YoloError, setLogCallback, version, STATUS_NAMES: native.STATUS_NAMES };
