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
const Mask = koffi.struct('yolo_mask', {
  left: 'uint32_t',
  top: 'uint32_t',
  width: 'uint32_t',
  height: 'uint32_t',
  data: 'const uint8_t *',
  data_len: 'size_t',
});
const ReloadStats = koffi.struct('yolo_reload_stats', {
  reloads: 'uint64_t',
  failures: 'uint64_t',
  last_duration_us: 'uint64_t',
  last_status: 'uint32_t',
  running: 'bool',
});
const Keypoint = koffi.struct('yolo_keypoint', { x: 'float', y: 'float', confidence: 'float' });
const OrientedBox = koffi.struct('yolo_oriented_box', {
  cx: 'float',
  cy: 'float',
  width: 'float',
  height: 'float',
  angle: 'float',
  corners: koffi.array('float', 8),
});
const ClassProbability = koffi.struct('yolo_class_probability', { class_id: 'uint32_t', probability: 'float' });
const ClassMap = koffi.struct('yolo_class_map', {
  width: 'uint32_t',
  height: 'uint32_t',
  element_size: 'size_t',
  data: 'void *',
  data_len: 'size_t',
  pixel_counts: 'void *',
  class_count: 'size_t',
});
const DepthMap = koffi.struct('yolo_depth_map', { width: 'uint32_t', height: 'uint32_t', data: 'void *', data_len: 'size_t' });
const Track = koffi.struct('yolo_track', {
  id: 'uint64_t',
  detection: 'uint32_t',
  class_id: 'uint32_t',
  score: 'float',
  x1: 'float',
  y1: 'float',
  x2: 'float',
  y2: 'float',
  angle: 'float',
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
  setMaxImagePixels: lib.func('uint32_t yolo_config_set_max_image_pixels(void *config, uint64_t pixels)'),
  setLoadWait: lib.func('uint32_t yolo_config_set_load_wait_ms(void *config, uint32_t ms)'),
  setShareWeights: lib.func('uint32_t yolo_config_set_share_weights(void *config, bool share)'),
  setRetinaMasks: lib.func('uint32_t yolo_config_set_retina_masks(void *config, bool retina)'),
  setTopK: lib.func('uint32_t yolo_config_set_top_k(void *config, uint32_t k)'),
  addProvider: lib.func('uint32_t yolo_config_add_provider(void *config, uint32_t provider, uint32_t device)'),
  setProviderFallback: lib.func('uint32_t yolo_config_set_provider_fallback(void *config, bool fall_back)'),
  setIoBinding: lib.func('uint32_t yolo_config_set_io_binding(void *config, uint32_t io_binding)'),
  setBatching: lib.func('uint32_t yolo_config_set_batching(void *config, uint32_t max_batch, uint32_t delay_us)'),
  init: lib.func('uint32_t yolo_init(void *config, _Out_ uintptr_t *out_detector)'),
  free: lib.func('uint32_t yolo_free(uintptr_t detector)'),
  stats: lib.func('uint32_t yolo_stats(uintptr_t detector, _Out_ yolo_detector_stats *out_stats)'),
  classCount: lib.func('uint32_t yolo_class_count(uintptr_t detector, _Out_ size_t *out_count)'),
  className: lib.func(
    'uint32_t yolo_class_name(uintptr_t detector, uint32_t id, _Out_ const char **out_name, _Out_ size_t *out_len)',
  ),
  modelTask: lib.func('uint32_t yolo_model_task(uintptr_t detector, _Out_ uint32_t *out_task)'),
  modelProvider: lib.func(
    'uint32_t yolo_model_provider(uintptr_t detector, _Out_ uint32_t *out_provider, _Out_ uint32_t *out_device)',
  ),
  modelIoBinding: lib.func('uint32_t yolo_model_io_binding(uintptr_t detector, _Out_ bool *out_bound)'),
  batchStats: lib.func(
    'uint32_t yolo_batch_stats(uintptr_t detector, _Out_ uint64_t *runs, _Out_ uint64_t *calls, _Out_ uint64_t *wait)',
  ),
  keypointShape: lib.func(
    'uint32_t yolo_keypoint_shape(uintptr_t detector, _Out_ size_t *out_keypoints, _Out_ size_t *out_dims)',
  ),
  optionsNew: lib.func('uint32_t yolo_detect_options_new(_Out_ void **out_options)'),
  optionsFree: lib.func('uint32_t yolo_detect_options_free(void *options)'),
  optionsConf: lib.func('uint32_t yolo_detect_options_set_conf_threshold(void *options, float conf)'),
  optionsIou: lib.func('uint32_t yolo_detect_options_set_iou_threshold(void *options, float iou)'),
  optionsMaxDet: lib.func('uint32_t yolo_detect_options_set_max_detections(void *options, uint32_t count)'),
  optionsAgnostic: lib.func('uint32_t yolo_detect_options_set_class_agnostic(void *options, bool agnostic)'),
  optionsRetinaMasks: lib.func('uint32_t yolo_detect_options_set_retina_masks(void *options, bool retina)'),
  optionsTopK: lib.func('uint32_t yolo_detect_options_set_top_k(void *options, uint32_t k)'),
  detect: lib.func(
    'uint32_t yolo_detect(uintptr_t detector, const uint8_t *encoded, size_t len, void *options, _Out_ void **out_result)',
  ),
  resultDetections: lib.func(
    'uint32_t yolo_result_detections(void *result, _Out_ void **out_detections, _Out_ size_t *out_count)',
  ),
  resultImageSize: lib.func(
    'uint32_t yolo_result_image_size(void *result, _Out_ uint32_t *out_width, _Out_ uint32_t *out_height)',
  ),
  resultMask: lib.func('uint32_t yolo_result_mask(void *result, size_t index, _Out_ yolo_mask *out_mask)'),
  resultMaskPolygon: lib.func(
    'uint32_t yolo_result_mask_polygon(void *result, size_t index, _Out_ void **out_points, _Out_ size_t *out_count)',
  ),
  resultKeypoints: lib.func(
    'uint32_t yolo_result_keypoints(void *result, size_t index, _Out_ void **out_keypoints, _Out_ size_t *out_count)',
  ),
  resultOrientedBox: lib.func(
    'uint32_t yolo_result_oriented_box(void *result, size_t index, _Out_ yolo_oriented_box *out_box)',
  ),
  resultClasses: lib.func('uint32_t yolo_result_classes(void *result, _Out_ void **out_classes, _Out_ size_t *out_count)'),
  resultClassMap: lib.func('uint32_t yolo_result_class_map(void *result, _Out_ yolo_class_map *out_map)'),
  resultDepthMap: lib.func('uint32_t yolo_result_depth_map(void *result, _Out_ yolo_depth_map *out_map)'),
  resultTask: lib.func('uint32_t yolo_result_task(void *result, _Out_ uint32_t *out_task)'),
  resultClassName: lib.func(
    'uint32_t yolo_result_class_name(void *result, uint32_t id, _Out_ const char **out_name, _Out_ size_t *out_len)',
  ),
  resultFree: lib.func('void yolo_result_free(void *result)'),
  reload: lib.func('uint32_t yolo_reload(uintptr_t detector, void *config, uint32_t flags)'),
  reloadStats: lib.func('uint32_t yolo_stats_reload(uintptr_t detector, _Out_ yolo_reload_stats *out_stats)'),
  trackerConfigNew: lib.func('uint32_t yolo_tracker_config_new(uint32_t kind, _Out_ void **out_config)'),
  trackerConfigFree: lib.func('uint32_t yolo_tracker_config_free(void *config)'),
  trackerNew: lib.func('uint32_t yolo_tracker_new(void *config, _Out_ uintptr_t *out_tracker)'),
  trackerFree: lib.func('uint32_t yolo_tracker_free(uintptr_t tracker)'),
  trackerReset: lib.func('uint32_t yolo_tracker_reset(uintptr_t tracker)'),
  trackerUpdate: lib.func(
    'uint32_t yolo_tracker_update(uintptr_t tracker, void *result, const double *motion, size_t motion_len)',
  ),
  resultTracks: lib.func(
    'uint32_t yolo_result_tracks(void *result, _Out_ void **out_tracks, _Out_ size_t *out_count, _Out_ bool *out_shown)',
  ),
  setLogCallback: lib.func('uint32_t yolo_set_log_callback(yolo_log_callback *callback, void *user_data)'),
};

/** The setter of each tracker setting, by the name the binding takes (camel case of the YAML's). */
const TRACKER_SETTINGS = {
  trackHighThresh: lib.func('uint32_t yolo_tracker_config_set_track_high_thresh(void *config, double value)'),
  trackLowThresh: lib.func('uint32_t yolo_tracker_config_set_track_low_thresh(void *config, double value)'),
  newTrackThresh: lib.func('uint32_t yolo_tracker_config_set_new_track_thresh(void *config, double value)'),
  trackBuffer: lib.func('uint32_t yolo_tracker_config_set_track_buffer(void *config, uint32_t value)'),
  matchThresh: lib.func('uint32_t yolo_tracker_config_set_match_thresh(void *config, double value)'),
  fuseScore: lib.func('uint32_t yolo_tracker_config_set_fuse_score(void *config, bool value)'),
  gmcMethod: lib.func('uint32_t yolo_tracker_config_set_gmc_method(void *config, uint32_t value)'),
  proximityThresh: lib.func('uint32_t yolo_tracker_config_set_proximity_thresh(void *config, double value)'),
  appearanceThresh: lib.func('uint32_t yolo_tracker_config_set_appearance_thresh(void *config, double value)'),
  withReid: lib.func('uint32_t yolo_tracker_config_set_with_reid(void *config, bool value)'),
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
/** Provider values by name ('cpu', 'cuda', ...), as the library states them (yolo_provider_name). */
const PROVIDERS = Object.freeze(Object.fromEntries(namesFrom(c.providerName, 1).map(([value, name]) => [name, value])));
/** The providers that run on an NVIDIA GPU and take a device id ('cuda:1'). */
const GPU_PROVIDERS = ['cuda', 'tensorrt'];
/** yolo_io_binding's values (the header's YOLO_IO_BINDING_ON and _OFF). */
const IO_BINDING = { on: 2, off: 3 };
/** YOLO_WAIT_FOREVER and YOLO_DEFAULT_BATCH_DELAY: the header's UINT32_MAX. */
const UINT32_MAX = 0xffffffff;

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

/** A provider name ('cpu', 'cuda', 'cuda:1', ...) as [yolo_provider value, device id]; throws on others. */
function provider(name) {
  const [kind, device = ''] = String(name).trim().toLowerCase().split(':');
  const invalid = (message) => {
    const status = STATUS_NAMES.indexOf('INVALID_ARGUMENT');
    return new NativeError({ status, name: STATUS_NAMES[status], message });
  };
  if (!(kind in PROVIDERS)) throw invalid(`unknown provider '${name}': use one of ${Object.keys(PROVIDERS).join(', ')}`);
  if (device === '') return [PROVIDERS[kind], 0];
  if (!GPU_PROVIDERS.includes(kind) || !/^[0-9]+$/.test(device)) {
    throw invalid(`bad provider '${name}': only ${GPU_PROVIDERS.join(' and ')} take a device, as 'cuda:1'`);
  }
  return [PROVIDERS[kind], Number(device)];
}

function setNumber(setter, target, value, name) {
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const status = STATUS_NAMES.indexOf('INVALID_ARGUMENT');
    throw new NativeError({ status, name: STATUS_NAMES[status], message: `${name} must be a finite number` });
  }
  check(setter(target, value));
}

/** Runs `use(config)` on a config holding `model` and `options`, freed after. Throws NativeError. */
function withConfig(model, options, use) {
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
    setNumber(c.setMaxImagePixels, config, options.maxImagePixels, 'maxImagePixels');
    if (options.loadWaitMs !== undefined) {
      // Infinity waits for ever (YOLO_WAIT_FOREVER).
      if (options.loadWaitMs === Infinity) check(c.setLoadWait(config, UINT32_MAX));
      else setNumber(c.setLoadWait, config, options.loadWaitMs, 'loadWaitMs');
    }
    if (options.shareWeights !== undefined) check(c.setShareWeights(config, Boolean(options.shareWeights)));
    if (options.retinaMasks !== undefined) check(c.setRetinaMasks(config, Boolean(options.retinaMasks)));
    setNumber(c.setTopK, config, options.topK, 'topK');
    for (const name of options.providers ?? []) {
      const [kind, device] = provider(name);
      check(c.addProvider(config, kind, device));
    }
    if (options.providerFallback !== undefined) {
      check(c.setProviderFallback(config, Boolean(options.providerFallback)));
    }
    if (options.ioBinding !== undefined && options.ioBinding !== null) {
      check(c.setIoBinding(config, options.ioBinding ? IO_BINDING.on : IO_BINDING.off));
    }
    if (options.maxBatch !== undefined || options.maxBatchDelayUs !== undefined) {
      const delay = options.maxBatchDelayUs ?? UINT32_MAX; // YOLO_DEFAULT_BATCH_DELAY
      setNumber((k, v) => c.setBatching(k, options.maxBatch ?? 1, v), config, delay, 'maxBatchDelayUs');
    }
    return use(config);
  } finally {
    c.configFree(config);
  }
}

/** Loads a model: the handle's address, its class names, task and session count. Throws NativeError. */
function open(model, options = {}) {
  return withConfig(model, options, (config) => {
    const handle = [0];
    check(c.init(config, handle));
    return { handle: BigInt(handle[0]), ...describe(BigInt(handle[0])) };
  });
}

/** yolo_reload flags (yolo_reload_flag). */
const RELOAD_FLAGS = Object.freeze({ keepTask: 1, keepClassCount: 2 });

/**
 * Replaces the model of `handle` with `model` and `options` (yolo_reload): what the new model is, as `open`
 * describes it. Throws NativeError; the current model then keeps serving.
 */
function reload(handle, model, options = {}, keep = {}) {
  const flags = (keep.keepTask ? RELOAD_FLAGS.keepTask : 0) | (keep.keepClassCount ? RELOAD_FLAGS.keepClassCount : 0);
  return withConfig(model, options, (config) => {
    check(c.reload(handle, config, flags));
    return describe(handle);
  });
}

/** yolo_stats_reload: `{reloads, failures, lastDurationUs, lastStatus, running}`. */
function reloadStats(handle) {
  const out = {};
  check(c.reloadStats(handle, out));
  return {
    reloads: Number(out.reloads),
    failures: Number(out.failures),
    lastDurationUs: Number(out.last_duration_us),
    lastStatus: out.last_status,
    running: out.running,
  };
}

/** The names the result gives its classes (those of the model that made it), each read once. */
function resultNames(result) {
  const seen = new Map();
  return (id) => {
    if (!seen.has(id)) {
      const name = [null];
      const length = [0];
      const status = c.resultClassName(result, id, name, length);
      seen.set(id, status === 0 ? name[0] : String(id));
    }
    return seen.get(id);
  };
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
  const kind = [0];
  const device = [0];
  check(c.modelProvider(handle, kind, device));
  const providerName = c.providerName(kind[0]) ?? `provider ${kind[0]}`;
  const bound = [false];
  check(c.modelIoBinding(handle, bound));
  const keypoints = [0];
  const dims = [0];
  check(c.keypointShape(handle, keypoints, dims));
  return {
    names,
    task: TASKS[task[0]] || `task ${task[0]}`,
    sessions: stats(handle).sessions,
    provider: GPU_PROVIDERS.includes(providerName) ? `${providerName}:${device[0]}` : providerName,
    ioBinding: bound[0],
    keypointShape: [Number(keypoints[0]), Number(dims[0])],
  };
}

/** yolo_batch_stats: what cross-caller batching has done in this process. */
function batchStats(handle) {
  const runs = [0];
  const calls = [0];
  const wait = [0];
  check(c.batchStats(handle, runs, calls, wait));
  return { runs: Number(runs[0]), calls: Number(calls[0]), longestWaitUs: Number(wait[0]) };
}

/** What the task adds to detection `index` of `result`: its mask, keypoints or oriented box. */
function taskValues(result, index, task) {
  if (task === 'segment') {
    const mask = {};
    check(c.resultMask(result, index, mask));
    const data = mask.data_len > 0 ? Uint8Array.from(koffi.decode(mask.data, 'uint8_t', Number(mask.data_len))) : new Uint8Array(0);
    const points = [null];
    const count = [0];
    check(c.resultMaskPolygon(result, index, points, count));
    const flat = count[0] > 0 ? koffi.decode(points[0], 'float', 2 * Number(count[0])) : [];
    const polygon = [];
    for (let i = 0; i < flat.length; i += 2) polygon.push([flat[i], flat[i + 1]]);
    return { mask: { left: mask.left, top: mask.top, width: mask.width, height: mask.height, data }, polygon };
  }
  if (task === 'pose') {
    const first = [null];
    const count = [0];
    check(c.resultKeypoints(result, index, first, count));
    const raw = count[0] > 0 ? koffi.decode(first[0], Keypoint, Number(count[0])) : [];
    return { keypoints: raw.map((k) => [k.x, k.y, k.confidence]) };
  }
  if (task === 'obb') {
    const box = {};
    check(c.resultOrientedBox(result, index, box));
    const corners = [];
    for (let i = 0; i < 8; i += 2) corners.push([box.corners[i], box.corners[i + 1]]);
    return { obb: { cx: box.cx, cy: box.cy, width: box.width, height: box.height, angle: box.angle, corners } };
  }
  return {};
}

/** yolo_stats, with the struct's fields in camelCase (latency_p50_us -> latencyP50Us). */
function stats(handle) {
  const out = {};
  check(c.stats(handle, out));
  return Object.fromEntries(
    Object.entries(out).map(([key, value]) => [key.replace(/_([a-z0-9])/g, (_, ch) => ch.toUpperCase()), value]),
  );
}

/**
 * Detects in encoded image bytes: [{classId, className, score, box}, with what the task adds], best first,
 * the classes of a classifier, and the image size. The task and the class names are the result's: those of
 * the model that ran the call, even if a reload replaced it since.
 */
function detect(handle, bytes, options, tracking = undefined) {
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
      if (options.retinaMasks !== undefined) check(c.optionsRetinaMasks(nativeOptions, Boolean(options.retinaMasks)));
      setNumber(c.optionsTopK, nativeOptions, options.topK, 'topK');
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
      const taskValue = [0];
      check(c.resultTask(result[0], taskValue));
      const task = TASKS[taskValue[0]];
      const nameOf = resultNames(result[0]);
      const detections = raw.map((d, index) => ({
        classId: d.class_id,
        className: nameOf(d.class_id),
        score: d.score,
        box: [d.x1, d.y1, d.x2, d.y2],
        ...taskValues(result[0], index, task),
      }));
      let classes = [];
      if (task === 'classify') {
        const first = [null];
        const n = [0];
        check(c.resultClasses(result[0], first, n));
        const rawClasses = n[0] > 0 ? koffi.decode(first[0], ClassProbability, Number(n[0])) : [];
        classes = rawClasses.map((k) => ({ classId: k.class_id, className: nameOf(k.class_id), probability: k.probability }));
      }
      if (tracking) {
        const frame = tracked(result[0], detections, tracking, width[0], height[0]);
        return { detections: frame, classes: [], width: width[0], height: height[0] };
      }
      return { detections, classes, task, width: width[0], height: height[0], ...maps(result[0], task) };
    } finally {
      c.resultFree(result[0]);
    }
  } finally {
    if (nativeOptions) c.optionsFree(nativeOptions);
  }
}

/** The tracker kinds and BoT-SORT's motion compensations the library has (yolo_tracker_kind, yolo_gmc_method). */
const TRACKER_KINDS = Object.freeze({ bytetrack: 1, botsort: 2 });
const GMC_METHODS = Object.freeze({ none: 1, sparseOptFlow: 2 });

/** A tracker (its address) from a kind and settings; only the settings given are passed on. */
function newTracker(kind, settings = {}) {
  if (!(kind in TRACKER_KINDS)) throw new TypeError(`tracker kind ${kind}: the library has ${Object.keys(TRACKER_KINDS)}`);
  const config = [null];
  check(c.trackerConfigNew(TRACKER_KINDS[kind], config));
  try {
    for (const [name, value] of Object.entries(settings)) {
      if (value === undefined) continue;
      const setter = TRACKER_SETTINGS[name];
      if (!setter) throw new TypeError(`unknown tracker setting ${name}`);
      if (name === 'gmcMethod') {
        if (!(value in GMC_METHODS)) throw new TypeError(`gmcMethod ${value}: the library has ${Object.keys(GMC_METHODS)}`);
        check(setter(config[0], GMC_METHODS[value]));
      } else {
        check(setter(config[0], typeof value === 'boolean' ? value : Number(value)));
      }
    }
    const tracker = [0];
    check(c.trackerNew(config[0], tracker));
    return tracker[0];
  } finally {
    c.trackerConfigFree(config[0]);
  }
}

/**
 * Tracks a frame's result with `tracking.tracker` (and `tracking.motion`, BoT-SORT's camera motion): the
 * frame's tracks as detections with `trackId` and the track's box, in Ultralytics' order; without tracks,
 * the detections without ids, or none while a new track awaits confirmation.
 */
function tracked(result, detections, { tracker, motion }, width, height) {
  const m = motion ? Float64Array.from(motion) : null;
  check(c.trackerUpdate(tracker, result, m, m ? m.length : 0));
  const first = [null];
  const count = [0];
  const shown = [false];
  check(c.resultTracks(result, first, count, shown));
  if (Number(count[0]) === 0) return shown[0] ? detections : [];
  return koffi.decode(first[0], Track, Number(count[0])).map((t) => {
    const d = detections[t.detection];
    if (!d.obb) return { ...d, box: [t.x1, t.y1, t.x2, t.y2], trackId: Number(t.id) };
    // An oriented track: its centre, size and angle, the corners from them, and their clipped bounds.
    const corners = rotatedCorners(t.x1, t.y1, t.x2, t.y2, t.angle);
    const xs = corners.filter((_, i) => i % 2 === 0);
    const ys = corners.filter((_, i) => i % 2 === 1);
    const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
    const box = [clip(Math.min(...xs), width), clip(Math.min(...ys), height), clip(Math.max(...xs), width), clip(Math.max(...ys), height)];
    const obb = { cx: t.x1, cy: t.y1, width: t.x2, height: t.y2, angle: t.angle, corners };
    return { ...d, box, obb, trackId: Number(t.id) };
  });
}

/** The corners of a rotated box, x, y pairs in Ultralytics' order. */
function rotatedCorners(cx, cy, w, h, angle) {
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  const along = [(w / 2) * cos, (w / 2) * sin];
  const across = [(-h / 2) * sin, (h / 2) * cos];
  const point = (a, b) => [cx + a * along[0] + b * across[0], cy + a * along[1] + b * across[1]];
  return [...point(1, 1), ...point(1, -1), ...point(-1, -1), ...point(-1, 1)];
}

/** `len` bytes of the library's memory at `pointer`, copied (the result they belong to is freed after). */
function copied(pointer, len) {
  return len > 0 ? koffi.view(pointer, len).slice(0) : new ArrayBuffer(0);
}

/** A semantic model's class map or a depth model's depth map, copied out of the result. */
function maps(result, task) {
  if (task === 'semantic') {
    const map = {};
    check(c.resultClassMap(result, map));
    const size = Number(map.element_size);
    const Ids = { 1: Uint8Array, 2: Uint16Array, 4: Uint32Array }[size];
    const counts = new BigUint64Array(copied(map.pixel_counts, 8 * Number(map.class_count)));
    return {
      classMap: {
        width: map.width,
        height: map.height,
        ids: new Ids(copied(map.data, size * Number(map.data_len))),
        counts: Array.from(counts, Number),
      },
    };
  }
  if (task === 'depth') {
    const map = {};
    check(c.resultDepthMap(result, map));
    return { depthMap: { width: map.width, height: map.height, data: new Float32Array(copied(map.data, 4 * Number(map.data_len))) } };
  }
  return {};
}

module.exports = { koffi, c, newTracker, reload, reloadStats, ReloadStats, Track, TRACKER_KINDS, GMC_METHODS, Detection, Stats, Mask, Keypoint, OrientedBox, ClassProbability, ClassMap, DepthMap, LogCallback, STATUS_NAMES, PROVIDERS, IO_BINDING, UINT32_MAX, batchStats, NativeError, failure, check, open, detect, stats, libraryPath };
