package yoloffi

// Tests against the real library. Needs YOLO_FFI_TEST_MODEL (the demo model, run at 320) and
// YOLO_FFI_TEST_IMAGE; with YOLO_FFI_TEST_OUT set, writes the image's detections in build/detect's format,
// which `make test-go` compares with build/detect's own.

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"sync"
	"testing"
)

func paths(tb testing.TB) (string, string) {
	model, image := os.Getenv("YOLO_FFI_TEST_MODEL"), os.Getenv("YOLO_FFI_TEST_IMAGE")
	if model == "" || image == "" {
		tb.Fatal("set YOLO_FFI_TEST_MODEL and YOLO_FFI_TEST_IMAGE")
	}
	return model, image
}

func open(tb testing.TB) (*Detector, []byte) {
	model, image := paths(tb)
	detector, err := Open(model, &Options{Imgsz: 320, PoolSize: 2})
	if err != nil {
		tb.Fatal(err)
	}
	encoded, err := os.ReadFile(image)
	if err != nil {
		tb.Fatal(err)
	}
	return detector, encoded
}

func TestDetectFindsTheReferenceBoxes(t *testing.T) {
	detector, encoded := open(t)
	defer detector.Close()
	if detector.Task() != "detect" || len(detector.ClassNames()) == 0 {
		t.Fatalf("task %q, %d classes", detector.Task(), len(detector.ClassNames()))
	}
	detections, err := detector.Detect(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if len(detections) == 0 {
		t.Fatal("no detections on the demo image")
	}
	for _, d := range detections {
		if d.ClassName != detector.ClassNames()[d.ClassID] || d.Score <= 0.25 || d.Box[0] > d.Box[2] || d.Box[1] > d.Box[3] {
			t.Errorf("implausible detection %+v", d)
		}
	}
	if out := os.Getenv("YOLO_FFI_TEST_OUT"); out != "" {
		type row struct {
			ClassID   int        `json:"class_id"`
			ClassName string     `json:"class_name"`
			Score     float32    `json:"score"`
			Box       [4]float32 `json:"box"`
		}
		rows := make([]row, len(detections))
		for i, d := range detections {
			rows[i] = row{d.ClassID, d.ClassName, d.Score, d.Box}
		}
		line, _ := json.Marshal(map[string][]row{"detections": rows})
		if err := os.WriteFile(out, append(line, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGoroutinesShareOneDetector(t *testing.T) {
	detector, encoded := open(t)
	defer detector.Close()
	want, err := detector.Detect(encoded)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	failures := make(chan string, 32)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				got, err := detector.Detect(encoded)
				if err != nil || !reflect.DeepEqual(got, want) {
					failures <- "a concurrent call differs from the first"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
}

func TestAThresholdOfZeroIsPassedAsZero(t *testing.T) {
	model, image := paths(t)
	encoded, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	count := func(options *Options) int {
		detector, err := Open(model, options)
		if err != nil {
			t.Fatal(err)
		}
		defer detector.Close()
		detections, err := detector.Detect(encoded)
		if err != nil {
			t.Fatal(err)
		}
		return len(detections)
	}
	byDefault := count(&Options{Imgsz: 320})
	atZero := count(&Options{Imgsz: 320, Conf: Float32(0), MaxDet: 1000})
	if atZero <= byDefault {
		t.Fatalf("conf 0 found %d boxes, the default threshold %d: the zero did not reach the library", atZero, byDefault)
	}
}

func TestStatusNamesAreTheLibrarys(t *testing.T) {
	for status, name := range map[Status]string{
		StatusOK: "OK", StatusInvalidArgument: "INVALID_ARGUMENT", StatusProviderUnavailable: "PROVIDER_UNAVAILABLE",
	} {
		if status.Name() != name {
			t.Errorf("status %d is named %q, want %q", uint32(status), status.Name(), name)
		}
	}
	if name := Status(1 << 20).Name(); name != "" {
		t.Errorf("a value that is no status is named %q", name)
	}
}

func TestErrorsAreValuesWithStatusAndMessage(t *testing.T) {
	_, err := Open("/nonexistent/model.onnx", nil)
	var yoloErr *Error
	if !errors.As(err, &yoloErr) || yoloErr.Status != StatusModelLoadFailed || yoloErr.Message == "" {
		t.Fatalf("missing model gave %v", err)
	}
	model, _ := paths(t)
	if _, err := Open(model, &Options{Conf: Float32(2)}); !errors.Is(err, &Error{Status: StatusInvalidArgument}) {
		t.Fatalf("conf 2 gave %v", err)
	}
	if _, err := Open(model, &Options{Imgsz: -1}); !errors.Is(err, &Error{Status: StatusInvalidArgument}) {
		t.Fatalf("imgsz -1 gave %v", err)
	}
	detector, _ := open(t)
	// Many goroutines fail at once: each gets its own message, read on the thread of its own call.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := detector.Detect([]byte("not an image"))
			if !errors.As(err, &yoloErr) || yoloErr.Status != StatusImageDecodeFailed || yoloErr.Message == "" {
				t.Errorf("bytes that are no image gave %v", err)
			}
		}()
	}
	wg.Wait()
	if _, err := detector.Detect(nil); err == nil {
		t.Error("no bytes gave no error")
	}
	if err := detector.Close(); err != nil {
		t.Fatal(err)
	}
	if err := detector.Close(); err != nil {
		t.Fatalf("a second Close failed: %v", err)
	}
	if _, err := detector.Detect([]byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Detect after Close gave %v", err)
	}
	if Version() == "" {
		t.Error("no version")
	}
}

// BenchmarkDetect measures one JPEG detect per iteration, from as many goroutines as GOMAXPROCS.
func BenchmarkDetect(b *testing.B) {
	detector, encoded := open(b)
	defer detector.Close()
	b.SetBytes(int64(len(encoded)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := detector.Detect(encoded); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
