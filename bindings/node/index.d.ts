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
}

/** Per-call overrides of the detector's thresholds. */
export interface DetectOptions {
  conf?: number;
  iou?: number;
  maxDet?: number;
  agnostic?: boolean;
}

/** One detected object, in the image's pixels (after EXIF orientation). */
export interface Detection {
  classId: number;
  className: string;
  /** Confidence, above the threshold used. */
  score: number;
  /** [x1, y1, x2, y2]. */
  box: [number, number, number, number];
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
  /** The model file given. */
  readonly model: string;
  /** 'detect', 'segment', 'pose', 'obb' or 'classify'. */
  readonly task: string;
  /** The model's class names, by class id. */
  readonly classNames: readonly string[];
  /** Sessions in the pool. */
  readonly sessions: number;
  /** Detects objects in an image file or its encoded bytes; resolves to the detections, best first. */
  detect(image: string | Uint8Array, options?: DetectOptions): Promise<Detection[]>;
  /** The pool's counters. */
  stats(): Stats;
  /** Frees the model after the calls in flight; later calls reject with INVALID_HANDLE. Idempotent. */
  close(): Promise<void>;
}

/** Routes the library's events to callback(level, message) (1 error, 2 warning, 3 info); null drops them. */
export function setLogCallback(callback: ((level: number, message: string) => void) | null): void;

/** The version of the loaded library, such as '0.1.0'. */
export function version(): string;
