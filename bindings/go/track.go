package yoloffi

/*
#include <stdlib.h>
#include <yolo_ffi.h>
*/
import "C"

import (
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// TrackerKind is which tracker (yolo_tracker_kind).
type TrackerKind uint32

// The trackers of yolo_ffi.h, as Ultralytics' bytetrack.yaml and botsort.yaml.
const (
	ByteTrack TrackerKind = C.YOLO_TRACKER_KIND_BYTETRACK
	BotSort   TrackerKind = C.YOLO_TRACKER_KIND_BOTSORT
)

// GMCMethod is BoT-SORT's camera-motion compensation (yolo_gmc_method).
type GMCMethod uint32

// The motion compensations of yolo_ffi.h. GMCSparseOptFlow, BoT-SORT's default, needs each frame's motion
// (TrackOptions.Motion).
const (
	GMCNone          GMCMethod = C.YOLO_GMC_METHOD_NONE
	GMCSparseOptFlow GMCMethod = C.YOLO_GMC_METHOD_SPARSE_OPT_FLOW
)

// TrackerSettings override single settings of Ultralytics' tracker file for the kind; nil (or 0 for
// GMCMethod) keeps the file's value.
type TrackerSettings struct {
	TrackHighThresh, TrackLowThresh, NewTrackThresh, MatchThresh *float64
	ProximityThresh, AppearanceThresh                            *float64
	TrackBuffer                                                  *int
	FuseScore, WithReID                                          *bool
	GMCMethod                                                    GMCMethod
}

// Float64 is a pointer to v, for the thresholds of TrackerSettings.
func Float64(v float64) *float64 { return &v }

// Tracker is one stream's tracker (ids from 1). Feed it one frame after another with Detector.Track; a
// Track while another goroutine's Track of the same tracker runs returns an error of StatusBusy. Release
// it with Close (or, failing that, the garbage collector).
type Tracker struct {
	mu     sync.RWMutex // held for reading by every call, for writing by Close
	handle *C.yolo_tracker
}

// NewTracker makes a tracker of kind with the values of Ultralytics' file, overridden by settings (nil for
// none).
func NewTracker(kind TrackerKind, settings *TrackerSettings) (*Tracker, error) {
	var config *C.yolo_tracker_config
	if err := call(func() C.yolo_status { return C.yolo_tracker_config_new(C.uint32_t(kind), &config) }); err != nil {
		return nil, err
	}
	defer C.yolo_tracker_config_free(config)
	if settings != nil {
		doubles := []struct {
			value *float64
			set   func(*C.yolo_tracker_config, C.double) C.yolo_status
		}{
			{settings.TrackHighThresh, func(c *C.yolo_tracker_config, v C.double) C.yolo_status {
				return C.yolo_tracker_config_set_track_high_thresh(c, v)
			}},
			{settings.TrackLowThresh, func(c *C.yolo_tracker_config, v C.double) C.yolo_status {
				return C.yolo_tracker_config_set_track_low_thresh(c, v)
			}},
			{settings.NewTrackThresh, func(c *C.yolo_tracker_config, v C.double) C.yolo_status {
				return C.yolo_tracker_config_set_new_track_thresh(c, v)
			}},
			{settings.MatchThresh, func(c *C.yolo_tracker_config, v C.double) C.yolo_status {
				return C.yolo_tracker_config_set_match_thresh(c, v)
			}},
			{settings.ProximityThresh, func(c *C.yolo_tracker_config, v C.double) C.yolo_status {
				return C.yolo_tracker_config_set_proximity_thresh(c, v)
			}},
			{settings.AppearanceThresh, func(c *C.yolo_tracker_config, v C.double) C.yolo_status {
				return C.yolo_tracker_config_set_appearance_thresh(c, v)
			}},
		}
		for _, d := range doubles {
			if d.value == nil {
				continue
			}
			v := C.double(*d.value)
			if err := call(func() C.yolo_status { return d.set(config, v) }); err != nil {
				return nil, err
			}
		}
		if settings.TrackBuffer != nil {
			if *settings.TrackBuffer < 0 || *settings.TrackBuffer > math.MaxUint32 {
				return nil, &Error{Status: StatusInvalidArgument, Message: "TrackBuffer is out of range"}
			}
			v := C.uint32_t(*settings.TrackBuffer)
			if err := call(func() C.yolo_status { return C.yolo_tracker_config_set_track_buffer(config, v) }); err != nil {
				return nil, err
			}
		}
		if settings.FuseScore != nil {
			v := C.bool(*settings.FuseScore)
			if err := call(func() C.yolo_status { return C.yolo_tracker_config_set_fuse_score(config, v) }); err != nil {
				return nil, err
			}
		}
		if settings.WithReID != nil {
			v := C.bool(*settings.WithReID)
			if err := call(func() C.yolo_status { return C.yolo_tracker_config_set_with_reid(config, v) }); err != nil {
				return nil, err
			}
		}
		if settings.GMCMethod != 0 {
			v := C.uint32_t(settings.GMCMethod)
			if err := call(func() C.yolo_status { return C.yolo_tracker_config_set_gmc_method(config, v) }); err != nil {
				return nil, err
			}
		}
	}
	t := &Tracker{}
	if err := call(func() C.yolo_status { return C.yolo_tracker_new(config, &t.handle) }); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(t, (*Tracker).Close)
	return t, nil
}

// Reset forgets every track; ids start from 1 again.
func (t *Tracker) Reset() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.handle == nil {
		return ErrClosed
	}
	return call(func() C.yolo_status { return C.yolo_tracker_reset(t.handle) })
}

// Close releases the tracker after the calls in flight. Idempotent.
func (t *Tracker) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.handle == nil {
		return nil
	}
	err := call(func() C.yolo_status { return C.yolo_tracker_free(t.handle) })
	t.handle = nil
	runtime.SetFinalizer(t, nil)
	return err
}

// TrackOptions are a tracked frame's detect overrides (Conf defaults to 0.1, as Ultralytics' track) and
// BoT-SORT's camera motion since the last frame, the 2 x 3 affine matrix row by row, for GMCSparseOptFlow.
type TrackOptions struct {
	CallOptions
	Motion *[6]float64
}

// Track detects objects in one encoded video frame and tracks them with tracker, as Ultralytics'
// model.track: the frame's tracks, each a Detection with its TrackID and the track's filtered box (an
// oriented track's OBB its rotated box), in Ultralytics' order; without tracks, the detections without
// ids, or none while a new track awaits confirmation.
func (d *Detector) Track(encoded []byte, tracker *Tracker, options *TrackOptions) ([]Detection, error) {
	if tracker == nil {
		return nil, &Error{Status: StatusInvalidArgument, Message: "Track needs a Tracker"}
	}
	tracker.mu.RLock()
	defer tracker.mu.RUnlock()
	if tracker.handle == nil {
		return nil, ErrClosed
	}
	call0 := CallOptions{}
	var motion *[6]float64
	if options != nil {
		call0, motion = options.CallOptions, options.Motion
	}
	if call0.Conf == nil {
		call0.Conf = Float32(0.1)
	}
	var frame []Detection
	err := d.run(encoded, &call0, func(result *C.yolo_result) error {
		detections, err := d.detections(result)
		if err != nil {
			return err
		}
		var m *C.double
		var n C.size_t
		if motion != nil {
			values := C.malloc(C.size_t(6 * C.sizeof_double))
			defer C.free(values)
			copy(unsafe.Slice((*float64)(values), 6), motion[:])
			m, n = (*C.double)(values), 6
		}
		if err := call(func() C.yolo_status { return C.yolo_tracker_update(tracker.handle, result, m, n) }); err != nil {
			return err
		}
		var first *C.yolo_track
		var count C.size_t
		var shown C.bool
		if err := call(func() C.yolo_status { return C.yolo_result_tracks(result, &first, &count, &shown) }); err != nil {
			return err
		}
		if count == 0 {
			if bool(shown) {
				frame = detections
			} else {
				frame = []Detection{}
			}
			return nil
		}
		width, height, err := imageSize(result)
		if err != nil {
			return err
		}
		for _, t := range unsafe.Slice(first, int(count)) {
			det := detections[int(t.detection)]
			det.TrackID = uint64(t.id)
			if det.OBB != nil {
				det.OBB, det.Box = trackedOBB(float64(t.x1), float64(t.y1), float64(t.x2), float64(t.y2), float64(t.angle), width, height)
			} else {
				det.Box = [4]float32{float32(t.x1), float32(t.y1), float32(t.x2), float32(t.y2)}
			}
			frame = append(frame, det)
		}
		return nil
	})
	return frame, err
}

// imageSize is the width and height of a result's image.
func imageSize(result *C.yolo_result) (float64, float64, error) {
	var w, h C.uint32_t
	err := call(func() C.yolo_status { return C.yolo_result_image_size(result, &w, &h) })
	return float64(w), float64(h), err
}

// trackedOBB is an oriented track's rotated box, its corners in Ultralytics' order, and their bounds
// clipped to the image.
func trackedOBB(cx, cy, w, h, angle, width, height float64) (*OrientedBox, [4]float32) {
	cos, sin := math.Cos(angle), math.Sin(angle)
	along := [2]float64{w / 2 * cos, w / 2 * sin}
	across := [2]float64{-h / 2 * sin, h / 2 * cos}
	obb := &OrientedBox{CX: float32(cx), CY: float32(cy), Width: float32(w), Height: float32(h), Angle: float32(angle)}
	signs := [4][2]float64{{1, 1}, {1, -1}, {-1, -1}, {-1, 1}}
	lo, hi := [2]float64{math.Inf(1), math.Inf(1)}, [2]float64{math.Inf(-1), math.Inf(-1)}
	for k, s := range signs {
		x := cx + s[0]*along[0] + s[1]*across[0]
		y := cy + s[0]*along[1] + s[1]*across[1]
		obb.Corners[k] = [2]float32{float32(x), float32(y)}
		lo = [2]float64{math.Min(lo[0], x), math.Min(lo[1], y)}
		hi = [2]float64{math.Max(hi[0], x), math.Max(hi[1], y)}
	}
	clip := func(v, limit float64) float32 { return float32(math.Min(math.Max(v, 0), limit)) }
	return obb, [4]float32{clip(lo[0], width), clip(lo[1], height), clip(hi[0], width), clip(hi[1], height)}
}
