// Package yoloffi runs Ultralytics YOLO models on ONNX Runtime through libyolo_ffi's C API.
//
// A Detector is a loaded model and its pool of ONNX Runtime sessions; it is safe for concurrent use by
// any number of goroutines, and is released by Close (or, failing that, by the garbage collector).
// Failures are returned as *Error values carrying the library's Status and message.
//
// The package finds the library with pkg-config (`make install` writes yolo_ffi.pc); set PKG_CONFIG_PATH
// to PREFIX/lib/pkgconfig for a prefix the system does not search.
package yoloffi

/*
#cgo pkg-config: yolo_ffi
#include <stdlib.h>
#include <yolo_ffi.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Status is the library's yolo_status: the kind of a failure. Values are never reused.
type Status uint32

// The statuses of yolo_ffi.h.
const (
	StatusOK                  Status = C.YOLO_STATUS_OK
	StatusInvalidArgument     Status = C.YOLO_STATUS_INVALID_ARGUMENT
	StatusRuntimeUnavailable  Status = C.YOLO_STATUS_RUNTIME_UNAVAILABLE
	StatusModelLoadFailed     Status = C.YOLO_STATUS_MODEL_LOAD_FAILED
	StatusInvalidModel        Status = C.YOLO_STATUS_INVALID_MODEL
	StatusImageDecodeFailed   Status = C.YOLO_STATUS_IMAGE_DECODE_FAILED
	StatusImageTooLarge       Status = C.YOLO_STATUS_IMAGE_TOO_LARGE
	StatusTimeout             Status = C.YOLO_STATUS_TIMEOUT
	StatusInferenceFailed     Status = C.YOLO_STATUS_INFERENCE_FAILED
	StatusOutOfRange          Status = C.YOLO_STATUS_OUT_OF_RANGE
	StatusInternalError       Status = C.YOLO_STATUS_INTERNAL_ERROR
	StatusNotReady            Status = C.YOLO_STATUS_NOT_READY
	StatusLoadFailed          Status = C.YOLO_STATUS_LOAD_FAILED
	StatusInvalidHandle       Status = C.YOLO_STATUS_INVALID_HANDLE
	StatusOutOfMemory         Status = C.YOLO_STATUS_OUT_OF_MEMORY
	StatusProviderUnavailable Status = C.YOLO_STATUS_PROVIDER_UNAVAILABLE
	StatusBusy                Status = C.YOLO_STATUS_BUSY
)

// String is the library's short description of the status.
func (s Status) String() string {
	return C.GoString(C.yolo_status_string(C.uint32_t(s)))
}

// Name is the library's name of the status, as in the header without its prefix ("INVALID_ARGUMENT"), or
// "" for a value the library does not name.
func (s Status) Name() string {
	if name := C.yolo_status_name(C.uint32_t(s)); name != nil {
		return C.GoString(name)
	}
	return ""
}

// Error is a failed call: its Status and the library's message.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "yolo-ffi: " + e.Status.String()
	}
	return fmt.Sprintf("yolo-ffi: %s: %s", e.Status, e.Message)
}

// Is makes errors.Is(err, &Error{Status: s}) match any Error of status s.
func (e *Error) Is(target error) bool {
	var other *Error
	return errors.As(target, &other) && other.Status == e.Status
}

// ErrClosed is returned by calls on a Detector after Close.
var ErrClosed = &Error{Status: StatusInvalidHandle, Message: "the detector is closed"}

// call runs one C call and, when it fails, reads the library's last error on the same OS thread: the
// message is thread-local, and a goroutine may otherwise move between threads between the two calls.
func call(f func() C.yolo_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	status := f()
	if status == C.YOLO_STATUS_OK {
		return nil
	}
	return &Error{Status: Status(status), Message: C.GoString(C.yolo_last_error())}
}

// Options are a detector's settings. A field left at its zero value (nil for the thresholds, whose zero is
// a threshold like any other) is not passed to the library, which applies its own default (yolo_ffi.h).
type Options struct {
	Imgsz             int      // input side for models with dynamic input dimensions
	Conf              *float32 // confidence threshold, in [0, 1] (Float32(0.5))
	IoU               *float32 // NMS IoU threshold, in [0, 1]
	MaxDet            int      // most detections per image
	Agnostic          bool     // class-agnostic NMS
	PoolSize          int      // sessions in the pool
	ThreadsPerSession int      // ONNX Runtime threads per session
	OrtLibrary        string   // libonnxruntime.so to load instead of the library's own search
	RetinaMasks       bool     // segmentation masks at the image's resolution (Ultralytics' retina_masks)
	TopK              int      // how many classes Classify gives
	MaxImagePixels    uint64   // larger images are refused before decoding
	ShareWeights      bool     // one copy of the weights for the whole pool
	// Providers are the execution providers to try, in order: "cpu", "cuda" or "cuda:1", "tensorrt",
	// "openvino"; none runs on the CPU. ProviderFallback tries the next one when one is not there.
	Providers        []string
	ProviderFallback bool
	IOBinding        *bool // bind inputs and outputs in the provider's host memory; nil: the library decides
	MaxBatch         int   // gather up to this many concurrent calls of one input size into one run
	MaxBatchDelayUs  *int  // how long a call waits for others to share its run; nil: the library's default
}

// Float32 is a pointer to v, for the thresholds of Options.
func Float32(v float32) *float32 { return &v }

// Bool is a pointer to v, for Options.IOBinding.
func Bool(v bool) *bool { return &v }

// Int is a pointer to v, for Options.MaxBatchDelayUs.
func Int(v int) *int { return &v }

// CallOptions override a detector's settings for one call; nil fields keep the detector's.
type CallOptions struct {
	Conf, IoU   *float32
	MaxDet      int
	Agnostic    *bool
	RetinaMasks *bool
	TopK        int
}

// Mask is a segmentation mask cropped to the pixels it covers: Width x Height bytes, row by row, 1 inside
// the object and 0 outside; Data[0] is image pixel (Left, Top).
type Mask struct {
	Left, Top, Width, Height int
	Data                     []byte
}

// OrientedBox is a rotated box in image pixels: centre, size, angle in radians, and its four corners.
type OrientedBox struct {
	CX, CY, Width, Height, Angle float32
	Corners                      [4][2]float32
}

// ClassProbability is one class of a classification.
type ClassProbability struct {
	ClassID     int
	ClassName   string
	Probability float32
}

// ClassMap is the class of every pixel of an image (semantic segmentation), row-major: IDs[y*Width+x].
type ClassMap struct {
	Width, Height int
	// IDs holds the class ids, widened to uint32 whatever the library's id width.
	IDs []uint32
	// Counts[c] is how many pixels are of class c, for every class of the model.
	Counts []uint64
}

// DepthMap is the depth of every pixel of an image, row-major, in the model's unit (metres for
// Ultralytics' depth models).
type DepthMap struct {
	Width, Height int
	Data          []float32
}

// BatchStats are what cross-caller batching (Options.MaxBatch) has done in this process.
type BatchStats struct {
	Runs, Calls, LongestWaitUs uint64
}

// Detection is one detected object, in the image's pixels.
type Detection struct {
	ClassID   int
	ClassName string
	Score     float32
	Box       [4]float32 // x1, y1, x2, y2
	// What the model's task adds: Mask and Polygon (segment), Keypoints as x, y, confidence (pose), OBB
	// (oriented boxes, of which Box holds the axis-aligned bounds).
	Mask      *Mask
	Polygon   [][2]float32
	Keypoints [][3]float32
	OBB       *OrientedBox
	// TrackID is the track's id from Track (from 1); 0 from Detect, and for a frame whose detections come
	// back without ids.
	TrackID uint64
}

// Detector is a loaded model and its session pool. Safe for concurrent use.
type Detector struct {
	mu      sync.RWMutex // held for reading by every call, for writing by Close
	handle  *C.yolo_detector
	info    atomic.Pointer[modelInfo]
	path    string
	options Options
}

// modelInfo is what the model serving now says about itself; a reload replaces it whole.
type modelInfo struct {
	classNames []string
	task       string
}

// providerOf is a provider name ("cpu", "cuda:1", ...) as its yolo_provider value, named by the library
// (yolo_provider_name), and its device id.
func providerOf(name string) (C.uint32_t, C.uint32_t, error) {
	kind, device, hasDevice := strings.Cut(strings.ToLower(strings.TrimSpace(name)), ":")
	for value := C.uint32_t(1); ; value++ {
		known := C.yolo_provider_name(value)
		if known == nil {
			return 0, 0, &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("unknown provider %q", name)}
		}
		if C.GoString(known) != kind {
			continue
		}
		if !hasDevice {
			return value, 0, nil
		}
		id, err := strconv.ParseUint(device, 10, 32)
		if err != nil {
			return 0, 0, &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("bad device in provider %q", name)}
		}
		return value, C.uint32_t(id), nil
	}
}

// taskName is the library's name of a yolo_task value (yolo_task_name), or "task N" for one it does not name.
func taskName(task C.uint32_t) string {
	if name := C.yolo_task_name(task); name != nil {
		return C.GoString(name)
	}
	return fmt.Sprintf("task %d", task)
}

// Opened is what OpenAsync delivers: the detector, or why it could not be loaded.
type Opened struct {
	Detector *Detector
	Err      error
}

// OpenAsync loads the model on a goroutine of its own and delivers the outcome on the returned channel, so
// that start-up need not wait for it.
func OpenAsync(path string, options *Options) <-chan Opened {
	done := make(chan Opened, 1)
	go func() {
		d, err := Open(path, options)
		done <- Opened{Detector: d, Err: err}
	}()
	return done
}

// Open loads the model at path with the given options (nil: defaults).
func Open(path string, options *Options) (*Detector, error) {
	if options == nil {
		options = &Options{}
	}
	var config *C.yolo_config
	if err := call(func() C.yolo_status { return C.yolo_config_new(&config) }); err != nil {
		return nil, err
	}
	defer C.yolo_config_free(config)
	if err := configure(config, path, options); err != nil {
		return nil, err
	}
	d := &Detector{path: path, options: *options}
	if err := call(func() C.yolo_status { return C.yolo_init(config, &d.handle) }); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(d, (*Detector).Close)
	if err := d.describe(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func configure(config *C.yolo_config, path string, o *Options) error {
	for _, value := range []int{o.Imgsz, o.MaxDet, o.PoolSize, o.ThreadsPerSession, o.TopK, o.MaxBatch} {
		if value < 0 || value > 1<<31-1 {
			return &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("%d is out of range", value)}
		}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	setters := []func() C.yolo_status{
		func() C.yolo_status { return C.yolo_config_set_model_path(config, cpath) },
	}
	if o.OrtLibrary != "" {
		cort := C.CString(o.OrtLibrary)
		defer C.free(unsafe.Pointer(cort))
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_ort_library_path(config, cort) })
	}
	if o.Imgsz != 0 {
		setters = append(setters, func() C.yolo_status {
			return C.yolo_config_set_imgsz(config, C.uint32_t(o.Imgsz), C.uint32_t(o.Imgsz))
		})
	}
	if o.Conf != nil {
		conf := *o.Conf
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_conf_threshold(config, C.float(conf)) })
	}
	if o.IoU != nil {
		iou := *o.IoU
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_iou_threshold(config, C.float(iou)) })
	}
	if o.MaxDet != 0 {
		setters = append(setters, func() C.yolo_status {
			return C.yolo_config_set_max_detections(config, C.uint32_t(o.MaxDet))
		})
	}
	if o.Agnostic {
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_class_agnostic(config, true) })
	}
	if o.PoolSize != 0 {
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_pool_size(config, C.uint32_t(o.PoolSize)) })
	}
	if o.ThreadsPerSession != 0 {
		setters = append(setters, func() C.yolo_status {
			return C.yolo_config_set_threads_per_session(config, C.uint32_t(o.ThreadsPerSession))
		})
	}
	if o.RetinaMasks {
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_retina_masks(config, true) })
	}
	if o.TopK != 0 {
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_top_k(config, C.uint32_t(o.TopK)) })
	}
	if o.MaxImagePixels != 0 {
		setters = append(setters, func() C.yolo_status {
			return C.yolo_config_set_max_image_pixels(config, C.uint64_t(o.MaxImagePixels))
		})
	}
	if o.ShareWeights {
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_share_weights(config, true) })
	}
	for _, name := range o.Providers {
		kind, device, err := providerOf(name)
		if err != nil {
			return err
		}
		setters = append(setters, func() C.yolo_status { return C.yolo_config_add_provider(config, kind, device) })
	}
	if o.ProviderFallback {
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_provider_fallback(config, true) })
	}
	if o.IOBinding != nil {
		value := C.uint32_t(C.YOLO_IO_BINDING_OFF)
		if *o.IOBinding {
			value = C.YOLO_IO_BINDING_ON
		}
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_io_binding(config, value) })
	}
	if o.MaxBatch != 0 || o.MaxBatchDelayUs != nil {
		batch, delay := C.uint32_t(1), C.uint32_t(C.YOLO_DEFAULT_BATCH_DELAY)
		if o.MaxBatch != 0 {
			batch = C.uint32_t(o.MaxBatch)
		}
		if o.MaxBatchDelayUs != nil {
			if *o.MaxBatchDelayUs < 0 || *o.MaxBatchDelayUs >= C.YOLO_DEFAULT_BATCH_DELAY {
				return &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf("MaxBatchDelayUs %d is out of range", *o.MaxBatchDelayUs)}
			}
			delay = C.uint32_t(*o.MaxBatchDelayUs)
		}
		setters = append(setters, func() C.yolo_status { return C.yolo_config_set_batching(config, batch, delay) })
	}
	for _, set := range setters {
		if err := call(set); err != nil {
			return err
		}
	}
	return nil
}

func (d *Detector) describe() error {
	var count C.size_t
	if err := call(func() C.yolo_status { return C.yolo_class_count(d.handle, &count) }); err != nil {
		return err
	}
	info := &modelInfo{classNames: make([]string, int(count))}
	for id := range info.classNames {
		var name *C.char
		var length C.size_t
		if err := call(func() C.yolo_status { return C.yolo_class_name(d.handle, C.uint32_t(id), &name, &length) }); err != nil {
			return err
		}
		info.classNames[id] = C.GoStringN(name, C.int(length))
	}
	var task C.yolo_task
	if err := call(func() C.yolo_status { return C.yolo_model_task(d.handle, &task) }); err != nil {
		return err
	}
	info.task = taskName(C.uint32_t(task))
	d.info.Store(info)
	return nil
}

// ClassNames are the class names of the model serving now, by class id. The slice is shared: do not modify
// it.
func (d *Detector) ClassNames() []string { return d.info.Load().classNames }

// Task is the task of the model serving now: "detect", "segment", "pose", "obb", "classify", "semantic" or
// "depth".
func (d *Detector) Task() string { return d.info.Load().task }

// ReloadKeep says what a reload must keep of the model it replaces; the zero value keeps nothing.
type ReloadKeep struct {
	Task       bool // refuse a model of another task
	ClassCount bool // refuse a model with another number of classes
}

// Reload replaces the model while calls go on: path ("" for the same file, read again) with options (nil
// for those of Open, or of the last Reload that succeeded). It returns when the new model serves: calls in
// flight finish on the model they started with (their results name its classes), and the replaced model
// is freed after the last of them. On an error (StatusModelLoadFailed, StatusInvalidModel for a model keep
// refuses, StatusBusy while another reload runs, ...) the current model keeps serving.
func (d *Detector) Reload(path string, options *Options, keep ReloadKeep) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.handle == nil {
		return ErrClosed
	}
	if path == "" {
		path = d.path
	}
	if options == nil {
		options = &d.options
	}
	var config *C.yolo_config
	if err := call(func() C.yolo_status { return C.yolo_config_new(&config) }); err != nil {
		return err
	}
	defer C.yolo_config_free(config)
	if err := configure(config, path, options); err != nil {
		return err
	}
	flags := C.uint32_t(0)
	if keep.Task {
		flags |= C.YOLO_RELOAD_FLAG_KEEP_TASK
	}
	if keep.ClassCount {
		flags |= C.YOLO_RELOAD_FLAG_KEEP_CLASS_COUNT
	}
	if err := call(func() C.yolo_status { return C.yolo_reload(d.handle, config, flags) }); err != nil {
		return err
	}
	d.path, d.options = path, *options
	return d.describe()
}

// ReloadStats are a detector's reload counters.
type ReloadStats struct {
	Reloads        uint64 // reloads that replaced the model
	Failures       uint64 // reloads that failed and left the model serving
	LastDurationUs uint64 // the last reload that ended, either way
	LastStatus     Status // of the last reload that ended; StatusOK if it succeeded or none ended
	Running        bool   // a reload runs now
}

// ReloadStats reads the reload counters.
func (d *Detector) ReloadStats() (ReloadStats, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.handle == nil {
		return ReloadStats{}, ErrClosed
	}
	var raw C.struct_yolo_reload_stats
	if err := call(func() C.yolo_status { return C.yolo_stats_reload(d.handle, &raw) }); err != nil {
		return ReloadStats{}, err
	}
	return ReloadStats{
		Reloads: uint64(raw.reloads), Failures: uint64(raw.failures), LastDurationUs: uint64(raw.last_duration_us),
		LastStatus: Status(raw.last_status), Running: bool(raw.running),
	}, nil
}

// Detect finds objects in an encoded image (JPEG, PNG, BMP, WebP, GIF, TIFF); detections come best first,
// with what the model's task adds (Mask and Polygon, Keypoints, OBB).
func (d *Detector) Detect(encoded []byte) ([]Detection, error) {
	return d.DetectWith(encoded, nil)
}

// DetectWith is Detect with per-call overrides of the detector's settings.
func (d *Detector) DetectWith(encoded []byte, options *CallOptions) ([]Detection, error) {
	var detections []Detection
	err := d.run(encoded, options, func(result *C.yolo_result) error {
		var err error
		detections, err = d.detections(result)
		return err
	})
	return detections, err
}

// Classify gives a classification model's most probable classes for an encoded image, best first.
func (d *Detector) Classify(encoded []byte, options *CallOptions) ([]ClassProbability, error) {
	var classes []ClassProbability
	err := d.run(encoded, options, func(result *C.yolo_result) error {
		var first *C.yolo_class_probability
		var count C.size_t
		if err := call(func() C.yolo_status { return C.yolo_result_classes(result, &first, &count) }); err != nil {
			return err
		}
		classes = make([]ClassProbability, int(count))
		names := resultNames{result: result}
		if count > 0 {
			for i, k := range unsafe.Slice(first, int(count)) {
				classes[i] = ClassProbability{ClassID: int(k.class_id), ClassName: names.of(int(k.class_id)), Probability: float32(k.probability)}
			}
		}
		return nil
	})
	return classes, err
}

// Semantic gives the class of every pixel of an image with a semantic segmentation model, copied out of
// the library. A model of another task gives an error.
func (d *Detector) Semantic(encoded []byte) (*ClassMap, error) {
	var out *ClassMap
	err := d.run(encoded, nil, func(result *C.yolo_result) error {
		var m C.yolo_class_map
		if err := call(func() C.yolo_status { return C.yolo_result_class_map(result, &m) }); err != nil {
			return err
		}
		n := int(m.data_len)
		out = &ClassMap{Width: int(m.width), Height: int(m.height), IDs: make([]uint32, n), Counts: make([]uint64, int(m.class_count))}
		if n > 0 {
			switch m.element_size {
			case 1:
				for i, v := range unsafe.Slice((*uint8)(m.data), n) {
					out.IDs[i] = uint32(v)
				}
			case 2:
				for i, v := range unsafe.Slice((*uint16)(m.data), n) {
					out.IDs[i] = uint32(v)
				}
			default:
				copy(out.IDs, unsafe.Slice((*uint32)(m.data), n))
			}
		}
		if len(out.Counts) > 0 {
			copy(out.Counts, unsafe.Slice((*uint64)(unsafe.Pointer(m.pixel_counts)), len(out.Counts)))
		}
		return nil
	})
	return out, err
}

// Depth gives the depth of every pixel of an image with a depth estimation model, copied out of the
// library. A model of another task gives an error.
func (d *Detector) Depth(encoded []byte) (*DepthMap, error) {
	var out *DepthMap
	err := d.run(encoded, nil, func(result *C.yolo_result) error {
		var m C.yolo_depth_map
		if err := call(func() C.yolo_status { return C.yolo_result_depth_map(result, &m) }); err != nil {
			return err
		}
		out = &DepthMap{Width: int(m.width), Height: int(m.height), Data: make([]float32, int(m.data_len))}
		if m.data_len > 0 {
			copy(out.Data, unsafe.Slice((*float32)(unsafe.Pointer(m.data)), int(m.data_len)))
		}
		return nil
	})
	return out, err
}

// run makes one detect call and hands its result to read, then frees it.
func (d *Detector) run(encoded []byte, options *CallOptions, read func(*C.yolo_result) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.handle == nil {
		return ErrClosed
	}
	native, err := callOptions(options)
	if err != nil {
		return err
	}
	if native != nil {
		defer C.yolo_detect_options_free(native)
	}
	var data *C.uint8_t
	if len(encoded) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(&encoded[0]))
	}
	var result *C.yolo_result
	err = call(func() C.yolo_status {
		return C.yolo_detect(d.handle, data, C.size_t(len(encoded)), native, &result)
	})
	runtime.KeepAlive(encoded)
	if err != nil {
		return err
	}
	defer C.yolo_result_free(result)
	return read(result)
}

// callOptions are the C options for o; nil when nothing is overridden.
func callOptions(o *CallOptions) (*C.yolo_detect_options, error) {
	if o == nil {
		return nil, nil
	}
	var options *C.yolo_detect_options
	if err := call(func() C.yolo_status { return C.yolo_detect_options_new(&options) }); err != nil {
		return nil, err
	}
	var setters []func() C.yolo_status
	if o.Conf != nil {
		v := C.float(*o.Conf)
		setters = append(setters, func() C.yolo_status { return C.yolo_detect_options_set_conf_threshold(options, v) })
	}
	if o.IoU != nil {
		v := C.float(*o.IoU)
		setters = append(setters, func() C.yolo_status { return C.yolo_detect_options_set_iou_threshold(options, v) })
	}
	if o.MaxDet != 0 {
		v := C.uint32_t(o.MaxDet)
		setters = append(setters, func() C.yolo_status { return C.yolo_detect_options_set_max_detections(options, v) })
	}
	if o.Agnostic != nil {
		v := C.bool(*o.Agnostic)
		setters = append(setters, func() C.yolo_status { return C.yolo_detect_options_set_class_agnostic(options, v) })
	}
	if o.RetinaMasks != nil {
		v := C.bool(*o.RetinaMasks)
		setters = append(setters, func() C.yolo_status { return C.yolo_detect_options_set_retina_masks(options, v) })
	}
	if o.TopK != 0 {
		v := C.uint32_t(o.TopK)
		setters = append(setters, func() C.yolo_status { return C.yolo_detect_options_set_top_k(options, v) })
	}
	for _, set := range setters {
		if err := call(set); err != nil {
			C.yolo_detect_options_free(options)
			return nil, err
		}
	}
	return options, nil
}

// resultNames are the class names a result gives (those of the model that made it, even after a reload),
// each read once.
type resultNames struct {
	result *C.yolo_result
	seen   map[int]string
}

func (n *resultNames) of(id int) string {
	if name, ok := n.seen[id]; ok {
		return name
	}
	var name *C.char
	var length C.size_t
	found := fmt.Sprint(id)
	if id >= 0 && call(func() C.yolo_status { return C.yolo_result_class_name(n.result, C.uint32_t(id), &name, &length) }) == nil {
		found = C.GoStringN(name, C.int(length))
	}
	if n.seen == nil {
		n.seen = map[int]string{}
	}
	n.seen[id] = found
	return found
}

// detections copies a result's detections and what the task adds to them.
func (d *Detector) detections(result *C.yolo_result) ([]Detection, error) {
	var first *C.yolo_detection
	var count C.size_t
	if err := call(func() C.yolo_status { return C.yolo_result_detections(result, &first, &count) }); err != nil {
		return nil, err
	}
	detections := make([]Detection, int(count))
	if count == 0 {
		return detections, nil
	}
	var task C.yolo_task
	if err := call(func() C.yolo_status { return C.yolo_result_task(result, &task) }); err != nil {
		return nil, err
	}
	names := resultNames{result: result}
	for i, r := range unsafe.Slice(first, int(count)) {
		id := int(r.class_id)
		detections[i] = Detection{
			ClassID: id, ClassName: names.of(id), Score: float32(r.score),
			Box: [4]float32{float32(r.x1), float32(r.y1), float32(r.x2), float32(r.y2)},
		}
		index := C.size_t(i)
		switch taskName(C.uint32_t(task)) {
		case "segment":
			var mask C.struct_yolo_mask
			if err := call(func() C.yolo_status { return C.yolo_result_mask(result, index, &mask) }); err != nil {
				return nil, err
			}
			copied := &Mask{Left: int(mask.left), Top: int(mask.top), Width: int(mask.width), Height: int(mask.height)}
			if mask.data_len > 0 {
				copied.Data = C.GoBytes(unsafe.Pointer(mask.data), C.int(mask.data_len))
			}
			detections[i].Mask = copied
			var points *C.float
			var n C.size_t
			if err := call(func() C.yolo_status { return C.yolo_result_mask_polygon(result, index, &points, &n) }); err != nil {
				return nil, err
			}
			if n > 0 {
				flat := unsafe.Slice(points, 2*int(n))
				for k := 0; k < int(n); k++ {
					detections[i].Polygon = append(detections[i].Polygon, [2]float32{float32(flat[2*k]), float32(flat[2*k+1])})
				}
			}
		case "pose":
			var keypoints *C.yolo_keypoint
			var n C.size_t
			if err := call(func() C.yolo_status { return C.yolo_result_keypoints(result, index, &keypoints, &n) }); err != nil {
				return nil, err
			}
			if n > 0 {
				for _, k := range unsafe.Slice(keypoints, int(n)) {
					detections[i].Keypoints = append(detections[i].Keypoints, [3]float32{float32(k.x), float32(k.y), float32(k.confidence)})
				}
			}
		case "obb":
			var box C.struct_yolo_oriented_box
			if err := call(func() C.yolo_status { return C.yolo_result_oriented_box(result, index, &box) }); err != nil {
				return nil, err
			}
			obb := &OrientedBox{CX: float32(box.cx), CY: float32(box.cy), Width: float32(box.width), Height: float32(box.height), Angle: float32(box.angle)}
			for k := 0; k < 4; k++ {
				obb.Corners[k] = [2]float32{float32(box.corners[2*k]), float32(box.corners[2*k+1])}
			}
			detections[i].OBB = obb
		}
	}
	return detections, nil
}

// Provider is the execution provider the model runs on: "cpu", "cuda:0", "tensorrt:0" or "openvino".
func (d *Detector) Provider() (string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.handle == nil {
		return "", ErrClosed
	}
	var kind C.yolo_provider
	var device C.uint32_t
	if err := call(func() C.yolo_status { return C.yolo_model_provider(d.handle, &kind, &device) }); err != nil {
		return "", err
	}
	name := C.GoString(C.yolo_provider_name(C.uint32_t(kind)))
	if name == "cuda" || name == "tensorrt" {
		return fmt.Sprintf("%s:%d", name, device), nil
	}
	return name, nil
}

// IOBinding tells whether the model's sessions have their input and outputs bound to them.
func (d *Detector) IOBinding() (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.handle == nil {
		return false, ErrClosed
	}
	var bound C.bool
	err := call(func() C.yolo_status { return C.yolo_model_io_binding(d.handle, &bound) })
	return bool(bound), err
}

// KeypointShape is a pose model's keypoints per detection and values per keypoint; 0, 0 for other tasks.
func (d *Detector) KeypointShape() (int, int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.handle == nil {
		return 0, 0, ErrClosed
	}
	var keypoints, dims C.size_t
	err := call(func() C.yolo_status { return C.yolo_keypoint_shape(d.handle, &keypoints, &dims) })
	return int(keypoints), int(dims), err
}

// BatchStats are what cross-caller batching has done in this process.
func (d *Detector) BatchStats() (BatchStats, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.handle == nil {
		return BatchStats{}, ErrClosed
	}
	var runs, calls, wait C.uint64_t
	err := call(func() C.yolo_status { return C.yolo_batch_stats(d.handle, &runs, &calls, &wait) })
	return BatchStats{Runs: uint64(runs), Calls: uint64(calls), LongestWaitUs: uint64(wait)}, err
}

// DetectFile reads the image at path and detects objects in it.
func (d *Detector) DetectFile(path string) ([]Detection, error) {
	encoded, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return d.Detect(encoded)
}

// Close waits for the calls in flight, then frees the model. Later calls return ErrClosed. Idempotent.
func (d *Detector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.handle == nil {
		return nil
	}
	err := call(func() C.yolo_status { return C.yolo_free(d.handle) })
	d.handle = nil
	runtime.SetFinalizer(d, nil)
	return err
}

// Version is the version of the loaded library, such as "0.1.0".
func Version() string { return C.GoString(C.yolo_version()) }

// cLayout is the size and field offsets that cgo gives the header's structs this package reads, for the
// tests to compare with what a C compiler gives them (tests/c/layouts.c).
func cLayout() map[string]map[string]uintptr {
	var d C.yolo_detection
	var m C.struct_yolo_mask
	var k C.yolo_keypoint
	var o C.struct_yolo_oriented_box
	var p C.yolo_class_probability
	var t C.yolo_track
	var r C.struct_yolo_reload_stats
	return map[string]map[string]uintptr{
		"yolo_reload_stats": {"size": unsafe.Sizeof(r), "reloads": unsafe.Offsetof(r.reloads),
			"failures": unsafe.Offsetof(r.failures), "last_duration_us": unsafe.Offsetof(r.last_duration_us),
			"last_status": unsafe.Offsetof(r.last_status), "running": unsafe.Offsetof(r.running)},
		"yolo_track": {"size": unsafe.Sizeof(t), "id": unsafe.Offsetof(t.id), "detection": unsafe.Offsetof(t.detection),
			"class_id": unsafe.Offsetof(t.class_id), "score": unsafe.Offsetof(t.score), "x1": unsafe.Offsetof(t.x1),
			"y1": unsafe.Offsetof(t.y1), "x2": unsafe.Offsetof(t.x2), "y2": unsafe.Offsetof(t.y2),
			"angle": unsafe.Offsetof(t.angle)},
		"yolo_detection": {"size": unsafe.Sizeof(d), "x1": unsafe.Offsetof(d.x1), "y1": unsafe.Offsetof(d.y1),
			"x2": unsafe.Offsetof(d.x2), "y2": unsafe.Offsetof(d.y2), "score": unsafe.Offsetof(d.score),
			"class_id": unsafe.Offsetof(d.class_id)},
		"yolo_mask": {"size": unsafe.Sizeof(m), "left": unsafe.Offsetof(m.left), "top": unsafe.Offsetof(m.top),
			"width": unsafe.Offsetof(m.width), "height": unsafe.Offsetof(m.height), "data": unsafe.Offsetof(m.data),
			"data_len": unsafe.Offsetof(m.data_len)},
		"yolo_keypoint": {"size": unsafe.Sizeof(k), "x": unsafe.Offsetof(k.x), "y": unsafe.Offsetof(k.y),
			"confidence": unsafe.Offsetof(k.confidence)},
		"yolo_oriented_box": {"size": unsafe.Sizeof(o), "cx": unsafe.Offsetof(o.cx), "cy": unsafe.Offsetof(o.cy),
			"width": unsafe.Offsetof(o.width), "height": unsafe.Offsetof(o.height), "angle": unsafe.Offsetof(o.angle),
			"corners": unsafe.Offsetof(o.corners)},
		"yolo_class_probability": {"size": unsafe.Sizeof(p), "class_id": unsafe.Offsetof(p.class_id),
			"probability": unsafe.Offsetof(p.probability)},
	}
}
