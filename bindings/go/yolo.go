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
	"sync"
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
}

// Float32 is a pointer to v, for the thresholds of Options.
func Float32(v float32) *float32 { return &v }

// Detection is one detected object, in the image's pixels.
type Detection struct {
	ClassID   int
	ClassName string
	Score     float32
	Box       [4]float32 // x1, y1, x2, y2
}

// Detector is a loaded model and its session pool. Safe for concurrent use.
type Detector struct {
	mu         sync.RWMutex // held for reading by every call, for writing by Close
	handle     *C.yolo_detector
	classNames []string
	task       string
}

// taskName is the library's name of a yolo_task value (yolo_task_name), or "task N" for one it does not name.
func taskName(task C.uint32_t) string {
	if name := C.yolo_task_name(task); name != nil {
		return C.GoString(name)
	}
	return fmt.Sprintf("task %d", task)
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
	d := &Detector{}
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
	for _, value := range []int{o.Imgsz, o.MaxDet, o.PoolSize, o.ThreadsPerSession} {
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
	d.classNames = make([]string, int(count))
	for id := range d.classNames {
		var name *C.char
		var length C.size_t
		if err := call(func() C.yolo_status { return C.yolo_class_name(d.handle, C.uint32_t(id), &name, &length) }); err != nil {
			return err
		}
		d.classNames[id] = C.GoStringN(name, C.int(length))
	}
	var task C.yolo_task
	if err := call(func() C.yolo_status { return C.yolo_model_task(d.handle, &task) }); err != nil {
		return err
	}
	d.task = taskName(C.uint32_t(task))
	return nil
}

// ClassNames are the model's class names, by class id. The slice is shared: do not modify it.
func (d *Detector) ClassNames() []string { return d.classNames }

// Task is the model's task: "detect", "segment", "pose", "obb" or "classify".
func (d *Detector) Task() string { return d.task }

// Detect finds objects in an encoded image (JPEG, PNG, BMP, WebP, GIF, TIFF); detections come best first.
func (d *Detector) Detect(encoded []byte) ([]Detection, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.handle == nil {
		return nil, ErrClosed
	}
	var data *C.uint8_t
	if len(encoded) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(&encoded[0]))
	}
	var result *C.yolo_result
	err := call(func() C.yolo_status {
		return C.yolo_detect(d.handle, data, C.size_t(len(encoded)), nil, &result)
	})
	runtime.KeepAlive(encoded)
	if err != nil {
		return nil, err
	}
	defer C.yolo_result_free(result)
	var first *C.yolo_detection
	var count C.size_t
	if err := call(func() C.yolo_status { return C.yolo_result_detections(result, &first, &count) }); err != nil {
		return nil, err
	}
	detections := make([]Detection, int(count))
	if count > 0 {
		raw := unsafe.Slice(first, int(count))
		for i, r := range raw {
			id := int(r.class_id)
			name := fmt.Sprint(id)
			if id < len(d.classNames) {
				name = d.classNames[id]
			}
			detections[i] = Detection{
				ClassID: id, ClassName: name, Score: float32(r.score),
				Box: [4]float32{float32(r.x1), float32(r.y1), float32(r.x2), float32(r.y2)},
			}
		}
	}
	return detections, nil
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
