// TypeScript declarations for yolo-ffi's Node.js binding (index.js).

/** Settings of a detector; each is checked when the detector loads (a bad value rejects with INVALID_ARGUMENT). */
export interface DetectorOptions {
  /** Input size for models with dynamic input dimensions: a square side, or [height, width]. */
  imgsz?: number | [number, number];
  /** Confidence threshold, in [0, 1]. Default: the library's. */
  conf?: number;
  /** NMS IoU threshold, in [0, 1]. Default: the library's. */
  iou?: number;
  /** Most detections per image. Default: the library's. */
  maxDet?: number;
  /** Class-agnostic NMS. Default: the library's. */
  agnostic?: boolean;
  /** Sessions in the pool; 0 or absent: chosen from the core count. */
  poolSize?: number;
  /** ONNX Runtime intra-op threads per session; 0 or absent: automatic. */
  threadsPerSession?: number;
  /** How long a call waits for a free session before TIMEOUT, in milliseconds. */
  acquireTimeoutMs?: number;
  /** libonnxruntime.so to load instead of the library's own search. */
  ortLibrary?: string;
  /** Larger images are refused before decoding; 0 keeps the library's default. */
  maxImagePixels?: number;
  /** How long a call waits for a model still loading, in milliseconds; Infinity waits for ever. */
  loadWaitMs?: number;
  /** One copy of the weights for the whole pool (less memory, slower inference). */
  shareWeights?: boolean;
  /** Segmentation masks at the image's resolution (Ultralytics' retina_masks=True). */
  retinaMasks?: boolean;
  /** How many classes classify() gives. */
  topK?: number;
  /** Execution providers to try, in order: 'cpu', 'cuda' or 'cuda:1', 'tensorrt', 'openvino'. */
  providers?: string[];
  /** Try the next provider when one is not there, instead of failing the load. */
  providerFallback?: boolean;
  /** Bind each session's input and outputs in the provider's host memory: absent/null automatic, true, false. */
  ioBinding?: boolean | null;
  /** Gather up to this many concurrent calls of one input size into one run (1: off). */
  maxBatch?: number;
  /** How long a call waits for others to share its run, in microseconds; absent: the library's default. */
  maxBatchDelayUs?: number;
}

/** Per-call overrides of the detector's thresholds. */
export interface DetectOptions {
  conf?: number;
  iou?: number;
  maxDet?: number;
  agnostic?: boolean;
  retinaMasks?: boolean;
  topK?: number;
}

/** A segmentation mask cropped to the pixels it covers: width x height bytes, 1 inside, 0 outside. */
export interface Mask {
  left: number;
  top: number;
  width: number;
  height: number;
  data: Uint8Array;
}

/** A rotated box: centre, size, angle in radians, and its four corners. */
export interface OrientedBox {
  cx: number;
  cy: number;
  width: number;
  height: number;
  angle: number;
  corners: [number, number][];
}

/** One class of a classification. */
export interface ClassProbability {
  classId: number;
  className: string;
  probability: number;
}

/** The class of every pixel of an image (semantic segmentation), row-major. */
export interface ClassMap {
  width: number;
  height: number;
  /** Class ids: Uint8Array for models of up to 256 classes, Uint16Array up to 65,536, else Uint32Array. */
  ids: Uint8Array | Uint16Array | Uint32Array;
  /** Pixels of each class of the model. */
  counts: number[];
}

/** The depth of every pixel of an image, row-major, in the model's unit (metres for Ultralytics'). */
export interface DepthMap {
  width: number;
  height: number;
  data: Float32Array;
}

/** One detected object, in the image's pixels (after EXIF orientation). */
export interface Detection {
  classId: number;
  className: string;
  /** Confidence, above the threshold used. */
  score: number;
  /** [x1, y1, x2, y2]. */
  box: [number, number, number, number];
  /** Segmentation models: the mask, and its outline as [x, y] points. */
  mask?: Mask;
  polygon?: [number, number][];
  /** Pose models: [x, y, confidence] per keypoint. */
  keypoints?: [number, number, number][];
  /** Oriented-box models: the rotated box (box holds its axis-aligned bounds). */
  obb?: OrientedBox;
  /** From Detector.track: the track's id, from 1; absent for a frame's detections without ids. */
  trackId?: number;
}

/** A tracker's settings, camelCase of Ultralytics' tracker YAML; those left out keep its values. */
export interface TrackerSettings {
  trackHighThresh?: number;
  trackLowThresh?: number;
  newTrackThresh?: number;
  trackBuffer?: number;
  matchThresh?: number;
  fuseScore?: boolean;
  /** BoT-SORT's camera-motion compensation; 'sparseOptFlow' (the default) needs a motion with each frame. */
  gmcMethod?: 'none' | 'sparseOptFlow';
  proximityThresh?: number;
  appearanceThresh?: number;
  withReid?: boolean;
}

/** One stream's tracker (ByteTrack or BoT-SORT, as Ultralytics runs them). Release it with close(). */
export class Tracker {
  constructor(kind: 'bytetrack' | 'botsort', settings?: TrackerSettings);
  readonly kind: 'bytetrack' | 'botsort';
  /** Forgets every track; ids start from 1 again. */
  reset(): void;
  /** Releases the tracker. Idempotent. */
  close(): void;
}

/** Detect options for a tracked frame, and BoT-SORT's camera motion (the 2 x 3 affine matrix, row by row). */
export interface TrackOptions extends DetectOptions {
  motion?: [number, number, number, number, number, number];
}

/** The pool's counters: yolo_detector_stats with camelCase names (latencies in microseconds). */
export interface Stats {
  state: number;
  loadTimeUs: number;
  detects: number;
  errorsByStatus: number[];
  sessions: number;
  sessionsIdle: number;
  poolWaits: number;
  poolWaitUs: number;
  latencyP50Us: number;
  latencyP90Us: number;
  latencyP99Us: number;
  latencyHistogram: number[];
}

/** The names of the library's statuses, indexed by value. */
export const STATUS_NAMES: readonly string[];

/** A failed call, with the library's status and its message. */
export class YoloError extends Error {
  /** The status value (yolo_status). */
  readonly status: number;
  /** The status name: 'MODEL_LOAD_FAILED', 'IMAGE_DECODE_FAILED', ... */
  readonly statusName: string;
}

/**
 * A loaded model and its pool of ONNX Runtime sessions. Calls run on the detector's own worker threads (at
 * most one per session), never on the event loop. Close it with close().
 */
export class Detector {
  /** Loads the model synchronously; throws YoloError on failure. */
  constructor(model: string, options?: DetectorOptions);
  /** Loads the model on a worker thread; rejects with YoloError on failure. */
  static load(model: string, options?: DetectorOptions): Promise<Detector>;
  /** The model file given (to the constructor, or to the last reload that succeeded). */
  readonly model: string;
  /** 'detect', 'segment', 'pose', 'obb', 'classify', 'semantic' or 'depth'. */
  readonly task: string;
  /** The model's class names, by class id. */
  readonly classNames: readonly string[];
  /** Sessions in the pool. */
  readonly sessions: number;
  /** The execution provider the model runs on: 'cpu', 'cuda:0', 'tensorrt:0' or 'openvino'. */
  readonly provider: string;
  /** Whether the sessions' input and outputs are bound to them. */
  readonly ioBinding: boolean;
  /** A pose model's [keypoints, values per keypoint]; [0, 0] for other tasks. */
  readonly keypointShape: readonly [number, number];
  /** Classifies an image with a classification model; resolves to the most probable classes, best first. */
  classify(image: string | Uint8Array, options?: DetectOptions): Promise<ClassProbability[]>;
  /** A semantic segmentation model's class of every pixel. */
  semantic(image: string | Uint8Array): Promise<ClassMap>;
  /** A depth model's depth of every pixel. */
  depth(image: string | Uint8Array): Promise<DepthMap>;
  /** What cross-caller batching has done in this process. */
  batchStats(): { runs: number; calls: number; longestWaitUs: number };
  /** Detects objects in an image file or its encoded bytes; resolves to the detections, best first. */
  detect(image: string | Uint8Array, options?: DetectOptions): Promise<Detection[]>;
  /** Detects and tracks one video frame with `tracker`; resolves to its tracks, in Ultralytics' order. */
  track(image: string | Uint8Array, tracker: Tracker, options?: TrackOptions): Promise<Detection[]>;
  /** The pool's counters. */
  stats(): Stats;
  /**
   * Replaces the model (default: the same file, read again) with the options updated by `options`, while
   * calls go on; rejects with YoloError when the new model does not load, and the current one keeps serving.
   */
  reload(model?: string, options?: DetectorOptions, keep?: { keepTask?: boolean; keepClassCount?: boolean }): Promise<void>;
  /** The reload counters. */
  reloadStats(): { reloads: number; failures: number; lastDurationUs: number; lastStatus: number; running: boolean };
  /** Frees the model after the calls in flight; later calls reject with INVALID_HANDLE. Idempotent. */
  close(): Promise<void>;
}

/** Routes the library's events to callback(level, message) (1 error, 2 warning, 3 info); null drops them. */
export function setLogCallback(callback: ((level: number, message: string) => void) | null): void;

/** The version of the loaded library, such as '0.1.0'. */
export function version(): string;
