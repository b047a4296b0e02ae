package yoloffi

// The binding at the surface of Python's, on the synthetic task models: masks and their polygons,
// keypoints, oriented boxes and classes, each compared with what build/detect (the C API's own CLI) prints
// for the same model and image; per-call options, the provider, IO binding, batching and the asynchronous
// load. Needs YOLO_FFI_TEST_MODELS, YOLO_FFI_TEST_DETECT and YOLO_FFI_TEST_TASK_IMAGE (`make test-go`).

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type cliDetection struct {
	ClassID   int       `json:"class_id"`
	ClassName string    `json:"class_name"`
	Score     float64   `json:"score"`
	Box       []float64 `json:"box"`
	Mask      *struct {
		Left, Top, Width, Height int
		Counts                   []int
	} `json:"mask"`
	Keypoints [][]float64 `json:"keypoints"`
	OBB       *struct {
		XYWHR   []float64   `json:"xywhr"`
		Corners [][]float64 `json:"corners"`
	} `json:"obb"`
}

type cliOutput struct {
	ClassMap *struct {
		Width, Height int
		Classes       []struct {
			ClassID int      `json:"class_id"`
			Pixels  uint64   `json:"pixels"`
			Runs    [][2]int `json:"runs"`
		} `json:"classes"`
	} `json:"class_map"`
	DepthMap *struct {
		Width, Height int
		Min, Max      float64
	} `json:"depth_map"`
	Detections []cliDetection `json:"detections"`
	Classes    []struct {
		ClassID     int     `json:"class_id"`
		ClassName   string  `json:"class_name"`
		Probability float64 `json:"probability"`
	} `json:"classes"`
}

func taskFixtures(t *testing.T) (string, string, string) {
	models, cli, image := os.Getenv("YOLO_FFI_TEST_MODELS"), os.Getenv("YOLO_FFI_TEST_DETECT"), os.Getenv("YOLO_FFI_TEST_TASK_IMAGE")
	if models == "" || cli == "" || image == "" {
		t.Fatal("set YOLO_FFI_TEST_MODELS, YOLO_FFI_TEST_DETECT and YOLO_FFI_TEST_TASK_IMAGE")
	}
	return models, cli, image
}

// reference is build/detect's output for model on the test image.
func reference(t *testing.T, model string, flags ...string) cliOutput {
	models, cli, image := taskFixtures(t)
	out, err := exec.Command(cli, append(flags, filepath.Join(models, model), image)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	var parsed cliOutput
	if err := json.Unmarshal(out, &parsed); err != nil {
		t.Fatal(err)
	}
	return parsed
}

// detectTask opens model, checks its task and detects in the test image.
func detectTask(t *testing.T, model, task string, options *Options) ([]Detection, *Detector) {
	models, _, image := taskFixtures(t)
	detector, err := Open(filepath.Join(models, model), options)
	if err != nil {
		t.Fatal(err)
	}
	if detector.Task() != task {
		t.Fatalf("%s: task %q, want %q", model, detector.Task(), task)
	}
	encoded, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	found, err := detector.Detect(encoded)
	if err != nil {
		t.Fatal(err)
	}
	return found, detector
}

func near(t *testing.T, got float32, want, tolerance float64, what string) {
	t.Helper()
	if math.Abs(float64(got)-want) > tolerance {
		t.Errorf("%s: %v, build/detect %v", what, got, want)
	}
}

func sameBoxes(t *testing.T, got []Detection, want []cliDetection) {
	t.Helper()
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d detections, build/detect %d", len(got), len(want))
	}
	for i, d := range got {
		if d.ClassID != want[i].ClassID || d.ClassName != want[i].ClassName {
			t.Errorf("detection %d: class %d %q, build/detect %d %q", i, d.ClassID, d.ClassName, want[i].ClassID, want[i].ClassName)
		}
		near(t, d.Score, want[i].Score, 1e-5, "score")
		for k, v := range d.Box {
			near(t, v, want[i].Box[k], 1e-3, "box")
		}
	}
}

// unrun is a bitmap from build/detect's run lengths, alternating 0 and 1, starting with 0.
func unrun(counts []int) []byte {
	var out []byte
	for i, n := range counts {
		for k := 0; k < n; k++ {
			out = append(out, byte(i%2))
		}
	}
	return out
}

func TestSegmentationMasksAreBuildDetects(t *testing.T) {
	found, detector := detectTask(t, "seg_e2e.onnx", "segment", nil)
	defer detector.Close()
	want := reference(t, "seg_e2e.onnx").Detections
	sameBoxes(t, found, want)
	for i, d := range found {
		m := want[i].Mask
		if d.Mask == nil || d.Mask.Left != m.Left || d.Mask.Top != m.Top || d.Mask.Width != m.Width || d.Mask.Height != m.Height {
			t.Fatalf("mask %d: %+v, build/detect %+v", i, d.Mask, m)
		}
		if string(d.Mask.Data) != string(unrun(m.Counts)) {
			t.Errorf("mask %d: other pixels than build/detect's", i)
		}
		if len(d.Polygon) == 0 {
			t.Errorf("mask %d has no outline", i)
		}
	}
}

func TestPoseKeypointsAreBuildDetects(t *testing.T) {
	found, detector := detectTask(t, "pose_e2e.onnx", "pose", nil)
	defer detector.Close()
	want := reference(t, "pose_e2e.onnx").Detections
	sameBoxes(t, found, want)
	if k, dims, err := detector.KeypointShape(); err != nil || k != len(want[0].Keypoints) || dims != 3 {
		t.Errorf("keypoint shape %d x %d (%v)", k, dims, err)
	}
	for i, d := range found {
		for j, k := range d.Keypoints {
			for n := range k {
				near(t, k[n], want[i].Keypoints[j][n], 1e-3, "keypoint")
			}
		}
	}
}

func TestOrientedBoxesAreBuildDetects(t *testing.T) {
	found, detector := detectTask(t, "obb_e2e.onnx", "obb", nil)
	defer detector.Close()
	want := reference(t, "obb_e2e.onnx").Detections
	sameBoxes(t, found, want)
	for i, d := range found {
		o := d.OBB
		for k, v := range []float32{o.CX, o.CY, o.Width, o.Height} {
			near(t, v, want[i].OBB.XYWHR[k], 1e-3, "obb")
		}
		near(t, o.Angle, want[i].OBB.XYWHR[4], 1e-5, "angle")
		for k, p := range o.Corners {
			near(t, p[0], want[i].OBB.Corners[k][0], 1e-3, "corner")
			near(t, p[1], want[i].OBB.Corners[k][1], 1e-3, "corner")
		}
	}
}

func TestClassesAreBuildDetectsAndTopKIsPerCall(t *testing.T) {
	models, _, image := taskFixtures(t)
	detector, err := Open(filepath.Join(models, "classify_task.onnx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer detector.Close()
	encoded, _ := os.ReadFile(image)
	got, err := detector.Classify(encoded, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, "classify_task.onnx").Classes
	if len(got) != len(want) {
		t.Fatalf("%d classes, build/detect %d", len(got), len(want))
	}
	for i, k := range got {
		if k.ClassID != want[i].ClassID || k.ClassName != want[i].ClassName {
			t.Errorf("class %d: %+v, build/detect %+v", i, k, want[i])
		}
		near(t, k.Probability, want[i].Probability, 1e-6, "probability")
	}
	if top, err := detector.Classify(encoded, &CallOptions{TopK: 1}); err != nil || len(top) != 1 {
		t.Errorf("TopK 1 gave %d classes (%v)", len(top), err)
	}
}

func TestClassMapsAreBuildDetectsRunForRun(t *testing.T) {
	models, _, image := taskFixtures(t)
	detector, err := Open(filepath.Join(models, "semantic_logits.onnx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer detector.Close()
	encoded, _ := os.ReadFile(image)
	got, err := detector.Semantic(encoded)
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, "semantic_logits.onnx").ClassMap
	if got.Width != want.Width || got.Height != want.Height || len(got.IDs) != got.Width*got.Height {
		t.Fatalf("%dx%d with %d ids, build/detect %dx%d", got.Width, got.Height, len(got.IDs), want.Width, want.Height)
	}
	rebuilt := make([]uint32, len(got.IDs))
	for _, c := range want.Classes {
		if got.Counts[c.ClassID] != c.Pixels {
			t.Errorf("class %d: %d pixels, build/detect %d", c.ClassID, got.Counts[c.ClassID], c.Pixels)
		}
		for _, run := range c.Runs {
			for i := run[0]; i < run[0]+run[1]; i++ {
				rebuilt[i] = uint32(c.ClassID)
			}
		}
	}
	if len(want.Classes) != 2 || !reflect.DeepEqual(got.IDs, rebuilt) {
		t.Errorf("the class map differs from build/detect's (%d classes there)", len(want.Classes))
	}
	if _, err := detector.Depth(encoded); err == nil {
		t.Error("Depth on a semantic model gave no error")
	}
}

func TestDepthMapsAreBuildDetectsAndARamp(t *testing.T) {
	models, _, image := taskFixtures(t)
	detector, err := Open(filepath.Join(models, "depth_ramp.onnx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer detector.Close()
	encoded, _ := os.ReadFile(image)
	got, err := detector.Depth(encoded)
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, "depth_ramp.onnx").DepthMap
	if got.Width != want.Width || got.Height != want.Height || len(got.Data) != got.Width*got.Height {
		t.Fatalf("%dx%d with %d depths, build/detect %dx%d", got.Width, got.Height, len(got.Data), want.Width, want.Height)
	}
	// The model's 8 columns hold 0..7, stretched with aligned corners across the image.
	for x := 0; x < got.Width; x++ {
		near(t, got.Data[x], 7*float64(x)/float64(got.Width-1), 1e-4, fmt.Sprintf("column %d", x))
	}
	near(t, got.Data[len(got.Data)-1], want.Max, 1e-5, "max")
	if _, err := detector.Semantic(encoded); err == nil {
		t.Error("Semantic on a depth model gave no error")
	}
}

func TestProviderIOBindingBatchingAndTheAsynchronousLoad(t *testing.T) {
	models, _, image := taskFixtures(t)
	cpu, err := Open(filepath.Join(models, "v8_fixed.onnx"), &Options{Providers: []string{"cpu"}, IOBinding: Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := cpu.Provider(); p != "cpu" || err != nil {
		t.Errorf("provider %q (%v)", p, err)
	}
	if bound, err := cpu.IOBinding(); bound || err != nil {
		t.Errorf("IO binding %v (%v)", bound, err)
	}
	cpu.Close()
	if _, err := Open(filepath.Join(models, "v8_fixed.onnx"), &Options{Providers: []string{"tpu"}}); !errors.Is(err, &Error{Status: StatusInvalidArgument}) {
		t.Errorf("an unknown provider gave %v", err)
	}
	batched, err := Open(filepath.Join(models, "e2e_batch.onnx"), &Options{Imgsz: 64, PoolSize: 1, MaxBatch: 4, MaxBatchDelayUs: Int(200000)})
	if err != nil {
		t.Fatal(err)
	}
	defer batched.Close()
	encoded, _ := os.ReadFile(image)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := batched.Detect(encoded); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if stats, err := batched.BatchStats(); err != nil || stats.Calls != 4 || stats.Runs < 1 || stats.Runs > 4 {
		t.Errorf("batch stats %+v (%v)", stats, err)
	}
	opened := <-OpenAsync(filepath.Join(models, "seg_fixed.onnx"), nil)
	if opened.Err != nil || opened.Detector.Task() != "segment" {
		t.Fatalf("async load: %v", opened.Err)
	}
	opened.Detector.Close()
	if failed := <-OpenAsync(filepath.Join(models, "not_yolo.onnx"), nil); !errors.Is(failed.Err, &Error{Status: StatusInvalidModel}) {
		t.Errorf("a bad model loaded asynchronously gave %v", failed.Err)
	}
}

func TestStructLayoutsAreTheHeaders(t *testing.T) {
	file := os.Getenv("YOLO_FFI_TEST_LAYOUTS")
	if file == "" {
		t.Skip("set YOLO_FFI_TEST_LAYOUTS to build/layouts.txt")
	}
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ours := cLayout()
	seen := map[string]map[string]uintptr{}
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		var structName, field string
		var size, offset uintptr
		if _, err := fmt.Sscan(line, &structName, &size, &field, &offset); err != nil {
			t.Fatal(err)
		}
		if _, read := ours[structName]; !read {
			continue
		}
		if seen[structName] == nil {
			seen[structName] = map[string]uintptr{"size": size}
		}
		seen[structName][field] = offset
	}
	if !reflect.DeepEqual(seen, ours) {
		t.Errorf("cgo's layouts %v, the C compiler's %v", ours, seen)
	}
}

func TestReloadSwapsTheModelWhileGoroutinesCall(t *testing.T) {
	models, _, image := taskFixtures(t)
	encoded, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	detector, err := Open(filepath.Join(models, "v8_fixed.onnx"), &Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer detector.Close()
	stop := make(chan struct{})
	failures := make(chan error, 1000)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				found, err := detector.Detect(encoded)
				if err != nil {
					failures <- err
					continue
				}
				for _, d := range found {
					// Each result names its classes as its own model does: a mask means seg_fixed's.
					if (d.Mask != nil) != (d.ClassName == "a" || d.ClassName == "b") {
						failures <- fmt.Errorf("a mixed result: %+v", d)
					}
				}
			}
		}()
	}
	for i := 0; i < 4; i++ {
		model := "seg_fixed.onnx"
		if i%2 == 1 {
			model = "v8_fixed.onnx"
		}
		if err := detector.Reload(filepath.Join(models, model), nil, ReloadKeep{}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if detector.Task() != "detect" || detector.ClassNames()[0] != "person" {
		t.Errorf("after four reloads: %q %v", detector.Task(), detector.ClassNames())
	}
	err = detector.Reload(filepath.Join(models, "seg_fixed.onnx"), nil, ReloadKeep{Task: true})
	var failure *Error
	if !errors.As(err, &failure) || failure.Status != StatusInvalidModel {
		t.Errorf("a reload that keeps the task took a segmentation model: %v", err)
	}
	if err := detector.Reload(filepath.Join(models, "missing.onnx"), nil, ReloadKeep{}); err == nil {
		t.Error("a missing model reloaded")
	}
	stats, err := detector.ReloadStats()
	if err != nil || stats.Reloads != 4 || stats.Failures != 2 || stats.Running || detector.Task() != "detect" {
		t.Errorf("reload stats %+v (%v), task %q", stats, err, detector.Task())
	}
}
