package yoloffi

// Tracking from Go on the synthetic detector (the same boxes in every frame): ids from 1, kept from frame to
// frame, each track's box its detection's; BoT-SORT's motion rule; oriented boxes; misuse.
// The tracking itself is compared with Ultralytics by the library's own tests. Needs the variables of
// tasks_test.go (`make test-go`).

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func openFrame(t *testing.T, model string) (*Detector, []byte) {
	models, _, image := taskFixtures(t)
	detector, err := Open(filepath.Join(models, model), nil)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	return detector, encoded
}

func TestByteTrackKeepsItsIDs(t *testing.T) {
	detector, frame := openFrame(t, "v8_fixed.onnx")
	defer detector.Close()
	found, err := detector.DetectWith(frame, &CallOptions{Conf: Float32(0.1)})
	if err != nil {
		t.Fatal(err)
	}
	// The detections that start tracks: strong enough, and of a positive size.
	var strong []Detection
	for _, d := range found {
		if d.Score >= 0.25 && d.Box[2] > d.Box[0] && d.Box[3] > d.Box[1] {
			strong = append(strong, d)
		}
	}
	tracker, err := NewTracker(ByteTrack, &TrackerSettings{TrackBuffer: new(int)})
	if err != nil {
		t.Fatal(err)
	}
	defer tracker.Close()
	for f := 0; f < 3; f++ {
		tracks, err := detector.Track(frame, tracker, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(tracks) != len(strong) || len(tracks) == 0 {
			t.Fatalf("frame %d: %d tracks, %d strong detections", f, len(tracks), len(strong))
		}
		for i, d := range tracks {
			if d.TrackID != uint64(i+1) || d.ClassID != strong[i].ClassID {
				t.Errorf("frame %d: track %d is %d of class %d", f, i, d.TrackID, d.ClassID)
			}
			for k, v := range d.Box {
				if math.Abs(float64(v-strong[i].Box[k])) > 1e-3 {
					t.Errorf("frame %d: track %d box %v, detection %v", f, i, d.Box, strong[i].Box)
				}
			}
		}
	}
	if err := tracker.Reset(); err != nil {
		t.Fatal(err)
	}
	if tracks, err := detector.Track(frame, tracker, nil); err != nil || tracks[0].TrackID != 1 {
		t.Fatalf("after Reset: %v, %v", tracks, err)
	}
}

func TestBotSortNeedsEachFramesMotion(t *testing.T) {
	detector, frame := openFrame(t, "v8_fixed.onnx")
	defer detector.Close()
	tracker, err := NewTracker(BotSort, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tracker.Close()
	if _, err := detector.Track(frame, tracker, nil); !errors.Is(err, &Error{Status: StatusInvalidArgument}) {
		t.Fatalf("BoT-SORT without a motion: %v", err)
	}
	tracks, err := detector.Track(frame, tracker, &TrackOptions{Motion: &[6]float64{1, 0, 0, 0, 1, 0}})
	if err != nil || len(tracks) == 0 || tracks[0].TrackID != 1 {
		t.Fatalf("with the identity: %v, %v", tracks, err)
	}
	still, err := NewTracker(BotSort, &TrackerSettings{GMCMethod: GMCNone})
	if err != nil {
		t.Fatal(err)
	}
	defer still.Close()
	if tracks, err := detector.Track(frame, still, nil); err != nil || len(tracks) == 0 {
		t.Fatalf("without compensation: %v, %v", tracks, err)
	}
}

func TestOrientedBoxesAreTrackedWithTheirRotatedBoxes(t *testing.T) {
	detector, frame := openFrame(t, "obb_fixed.onnx")
	defer detector.Close()
	tracker, err := NewTracker(ByteTrack, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tracker.Close()
	tracks, err := detector.Track(frame, tracker, nil)
	if err != nil || len(tracks) == 0 {
		t.Fatalf("%v, %v", tracks, err)
	}
	for _, d := range tracks {
		if d.TrackID == 0 || d.OBB == nil || d.Box[0] > d.Box[2] || d.Box[1] > d.Box[3] {
			t.Errorf("track %+v", d)
		}
	}
}

func TestTrackerMisuseIsAnError(t *testing.T) {
	if _, err := NewTracker(TrackerKind(0), nil); !errors.Is(err, &Error{Status: StatusInvalidArgument}) {
		t.Errorf("kind 0: %v", err)
	}
	if _, err := NewTracker(BotSort, &TrackerSettings{WithReID: Bool(true)}); !errors.Is(err, &Error{Status: StatusInvalidArgument}) {
		t.Errorf("with_reid: %v", err)
	}
	if _, err := NewTracker(ByteTrack, &TrackerSettings{MatchThresh: Float64(math.NaN())}); err == nil {
		t.Error("a NaN threshold")
	}
	detector, frame := openFrame(t, "v8_fixed.onnx")
	defer detector.Close()
	tracker, err := NewTracker(ByteTrack, nil)
	if err != nil {
		t.Fatal(err)
	}
	tracker.Close()
	tracker.Close()
	if _, err := detector.Track(frame, tracker, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("a closed tracker: %v", err)
	}
	if _, err := detector.Track(frame, nil, nil); err == nil {
		t.Error("no tracker")
	}
}
