'use strict';
// Every koffi declaration of libyolo_ffi's C API that the package uses, and the calls that go together on
// one thread: a call and the read of its thread-local last error, a result and its free. The main thread
// (synchronous load) and the worker threads (detect, asynchronous load) use these same functions.
//
// Handles cross threads as addresses (uintptr_t): a detector is thread-safe in the library, and a koffi
// pointer object cannot be sent to a worker thread.

const koffi = require('koffi');
const path = require('node:path');

const LIBRARY_ENV = 'YOLO_FFI_LIBRARY';

/** The library: $YOLO_FFI_LIBRARY, else the system loader's libyolo_ffi.so.0.1 (the installed SONAME). */
function libraryPath() {
  const override = process.env[LIBRARY_ENV];
  return override ? path.resolve(override) : 'libyolo_ffi.so.0.1';
}

let lib;
try {
  lib = koffi.load(libraryPath());
} catch (error) {
  throw new Error(
    `yolo-ffi: cannot load ${libraryPath()} (${error.message}); install the C package (make install) or set ` +
      `${LIBRARY_ENV} to libyolo_ffi.so`,
  );
}

const Detection = koffi.struct('yolo_detection', {
  x1: 'float',
  y1: 'float',
  x2: 'float',
  y2: 'float',
  score: 'float',
  class_id: 'uint32_t',
});
const Stats = koffi.struct('yolo_detector_stats', {
  state: 'uint32_t',
  load_time_us: 'uint64_t',
  detects: 'uint64_t',
  errors_by_status: koffi.array('uint64_t', 32),
  sessions: 'uint32_t',
  sessions_idle: 'uint32_t',
  pool_waits: 'uint64_t',
  pool_wait_us: 'uint64_t',
  latency_p50_us: 'uint64_t',
  latency_p90_us: 'uint64_t',
  latency_p99_us: 'uint64_t',
  latency_histogram: koffi.array('uint64_t', 32),
});
const LogCallback = koffi.proto('void yolo_log_callback(void *user_data, uint32_t level, const char *message)');

const c = {
  version: lib.func('const char *yolo_version(void)'),
  statusString: lib.func('const char *yolo_status_string(uint32_t status)'),
  statusName: lib.func('const char *yolo_status_name(uint32_t status)'),
  taskName: lib.func('const char *yolo_task_name(uint32_t task)'),
  providerName: lib.func('const char *yolo_provider_name(uint32_t provider)'),
  lastError: lib.func('const char *yolo_last_error(void)'),
  configNew: lib.func('uint32_t yolo_config_new(_Out_ void **out_config)'),
  configFree: lib.func('uint32_t yolo_config_free(void *config)'),
  setModelPath: lib.func('uint32_t yolo_config_set_model_path(void *config, const char *path)'),
  setOrtLibraryPath: lib.func('uint32_t yolo_config_set_ort_library_path(void *config, const char *path)'),
  setPoolSize: lib.func('uint32_t yolo_config_set_pool_size(void *config, uint32_t sessions)'),
  setThreads: lib.func('uint32_t yolo_config_set_threads_per_session(void *config, uint32_t threads)'),
  setImgsz: lib.func('uint32_t yolo_config_set_imgsz(void *config, uint32_t height, uint32_t width)'),
  setConf: lib.func('uint32_t yolo_config_set_conf_threshold(void *config, float conf)'),
  setIou: lib.func('uint32_t yolo_config_set_iou_threshold(void *config, float iou)'),
  setMaxDet: lib.func('uint32_t yolo_config_set_max_detections(void *config, uint32_t count)'),
  setAgnostic: lib.func('uint32_t yolo_config_set_class_agnostic(void *config, bool agnostic)'),
  setAcquireTimeout: lib.func('uint32_t yolo_config_set_acquire_timeout_ms(void *config, uint32_t ms)'),
  init: lib.func('uint32_t yolo_init(void *config, _Out_ uintptr_t *out_detector)'),
  free: lib.func('uint32_t yolo_free(uintptr_t detector)'),
  stats: lib.func('uint32_t yolo_stats(uintptr_t detector, _Out_ yolo_detector_stats *out_stats)'),
  classCount: lib.func('uint32_t yolo_class_count(uintptr_t detector, _Out_ size_t *out_count)'),
  className: lib.func(
    'uint32_t yolo_class_name(uintptr_t detector, uint32_t id, _Out_ const char **out_name, _Out_ size_t *out_len)',
  ),
  modelTask: lib.func('uint32_t yolo_model_task(uintptr_t detector, _Out_ uint32_t *out_task)'),
  optionsNew: lib.func('uint32_t yolo_detect_options_new(_Out_ void **out_options)'),
  optionsFree: lib.func('uint32_t yolo_detect_options_free(void *options)'),
  optionsConf: lib.func('uint32_t yolo_detect_options_set_conf_threshold(void *options, float conf)'),
  optionsIou: lib.func('uint32_t yolo_detect_options_set_iou_threshold(void *options, float iou)'),
  optionsMaxDet: lib.func('uint32_t yolo_detect_options_set_max_detections(void *options, uint32_t count)'),
  optionsAgnostic: lib.func('uint32_t yolo_detect_options_set_class_agnostic(void *options, bool agnostic)'),
  detect: lib.func(
    'uint32_t yolo_detect(uintptr_t detector, const uint8_t *encoded, size_t len, void *options, _Out_ void **out_result)',
  ),
  resultDetections: lib.func(
    'uint32_t yolo_result_detections(void *result, _Out_ void **out_detections, _Out_ size_t *out_count)',
  ),
  resultImageSize: lib.func(
    'uint32_t yolo_result_image_size(void *result, _Out_ uint32_t *out_width, _Out_ uint32_t *out_height)',
  ),
  resultFree: lib.func('void yolo_result_free(void *result)'),
  setLogCallback: lib.func('uint32_t yolo_set_log_callback(yolo_log_callback *callback, void *user_data)'),
};

/** `[value, name]` of every value `nameOf` names, from `first` up to the first it does not (NULL). */
function namesFrom(nameOf, first) {
  const names = [];
  for (let value = first; ; value++) {
    const name = nameOf(value);
    if (name === null) return names;
    names.push([value, name]);
  }
}

/** The status names, by value, as the library states them (yolo_status_name); never reused. */
const STATUS_NAMES = Object.freeze(namesFrom(c.statusName, 0).map(([, name]) => name));
/** Ultralytics' task names by yolo_task value, as the library states them (yolo_task_name). */
const TASKS = Object.freeze(Object.fromEntries(namesFrom(c.taskName, 1)));

/**
 * A failure as plain data, which crosses threads: the status value and name, and the library's message,
 * read on the thread of the failed call.
 */
function failure(status) {
  const message = c.lastError() || '';
  const name = STATUS_NAMES[status] || `STATUS_${status}`;
  return { status, name, message: message ? `${c.statusString(status)}: ${message}` : c.statusString(status) };
}

class NativeError extends Error {
  constructor(info) {
    super(info.message);
    this.info = info;
  }
}

function check(status) {
  if (status !== 0) throw new NativeError(failure(status));
}

function setNumber(setter, target, value, name) {
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const status = STATUS_NAMES.indexOf('INVALID_ARGUMENT');
    throw new NativeError({ status, name: STATUS_NAMES[status], message: `${name} must be a finite number` });
  }
  check(setter(target, value));
}

/** Loads a model: the handle's address, its class names, task and session count. Throws NativeError. */
function open(model, options = {}) {
  const out = [null];
  check(c.configNew(out));
  const config = out[0];
  try {
    check(c.setModelPath(config, String(model)));
    if (options.ortLibrary) check(c.setOrtLibraryPath(config, String(options.ortLibrary)));
    setNumber(c.setPoolSize, config, options.poolSize, 'poolSize');
    setNumber(c.setThreads, config, options.threadsPerSession, 'threadsPerSession');
    if (options.imgsz !== undefined) {
      const [height, width] = Array.isArray(options.imgsz) ? options.imgsz : [options.imgsz, options.imgsz];
      check(c.setImgsz(config, height, width));
    }
    setNumber(c.setConf, config, options.conf, 'conf');
    setNumber(c.setIou, config, options.iou, 'iou');
    setNumber(c.setMaxDet, config, options.maxDet, 'maxDet');
    if (options.agnostic !== undefined) check(c.setAgnostic(config, Boolean(options.agnostic)));
    setNumber(c.setAcquireTimeout, config, options.acquireTimeoutMs, 'acquireTimeoutMs');
    const handle = [0];
    check(c.init(config, handle));
    return { handle: BigInt(handle[0]), ...describe(BigInt(handle[0])) };
  } finally {
    c.configFree(config);
  }
}

function describe(handle) {
  const count = [0];
  check(c.classCount(handle, count));
  const names = [];
  for (let id = 0; id < count[0]; id++) {
    const name = [null];
    const length = [0];
    check(c.className(handle, id, name, length));
    names.push(name[0]);
  }
  const task = [0];
  check(c.modelTask(handle, task));
  return { names, task: TASKS[task[0]] || `task ${task[0]}`, sessions: stats(handle).sessions };
}

/** yolo_stats, with the struct's fields in camelCase (latency_p50_us -> latencyP50Us). */
function stats(handle) {
  const out = {};
  check(c.stats(handle, out));
  return Object.fromEntries(
    Object.entries(out).map(([key, value]) => [key.replace(/_([a-z0-9])/g, (_, ch) => ch.toUpperCase()), value]),
  );
}

/** Detects in encoded image bytes: [{classId, score, box}], best first, and the image size. */
function detect(handle, bytes, options) {
  let nativeOptions = null;
  if (options && Object.keys(options).length > 0) {
    const out = [null];
    check(c.optionsNew(out));
    nativeOptions = out[0];
  }
  try {
    if (nativeOptions) {
      setNumber(c.optionsConf, nativeOptions, options.conf, 'conf');
      setNumber(c.optionsIou, nativeOptions, options.iou, 'iou');
      setNumber(c.optionsMaxDet, nativeOptions, options.maxDet, 'maxDet');
      if (options.agnostic !== undefined) check(c.optionsAgnostic(nativeOptions, Boolean(options.agnostic)));
    }
    const result = [null];
    check(c.detect(handle, bytes, bytes.length, nativeOptions, result));
    try {
      const first = [null];
      const count = [0];
      check(c.resultDetections(result[0], first, count));
      const width = [0];
      const height = [0];
      check(c.resultImageSize(result[0], width, height));
      const raw = count[0] > 0 ? koffi.decode(first[0], Detection, count[0]) : [];
      const detections = raw.map((d) => ({ classId: d.class_id, score: d.score, box: [d.x1, d.y1, d.x2, d.y2] }));
      return { detections, width: width[0], height: height[0] };
    } finally {
      c.resultFree(result[0]);
    }
  } finally {
    if (nativeOptions) c.optionsFree(nativeOptions);
  }
}

module.exports = { koffi, c, Detection, Stats, LogCallback, STATUS_NAMES, NativeError, failure, check, open, detect, stats, libraryPath };
