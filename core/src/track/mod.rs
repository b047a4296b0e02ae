//! Tracking across the frames of a video: ByteTrack and BoT-SORT as Ultralytics 8.4.190's trackers run
//! them (`model.track(frame, persist=True)`), so that each detection gets the id Ultralytics would give it
//! and the box its Kalman filter gives.
//!
//! A [`Tracker`] follows one stream: [`Tracker::update`] takes a frame's detections (what `detect` returned
//! for it, with Ultralytics' tracking threshold, conf 0.1) and returns the tracks of that frame, each
//! naming the detection it comes from. One stream, one tracker, one frame after another: it is `Send` but
//! takes `&mut self`.
//!
//! How a frame is tracked (Ultralytics' `BYTETracker.update`): detections with a positive size are split
//! into high (score at least `track_high_thresh`) and low (above `track_low_thresh`, below high); the
//! confirmed and lost tracks are predicted one frame ahead and matched to the high detections by IoU
//! distance (weighted by the score with `fuse_score`) under `match_thresh`; the confirmed tracks left over
//! are matched to the low detections under 0.5, and the rest are lost; tracks not yet confirmed are matched
//! to the high detections left under 0.7 (the rest are removed); a high detection left that scores at
//! least `new_track_thresh` starts a track (confirmed at once on the first frame only); a track lost for
//! more than `track_buffer` frames is removed; and of a tracked and a lost track closer than 0.15 in IoU
//! distance, the younger is dropped. Matching is `lap`'s LAPJV ([`lapjv`]). BoT-SORT differs by its filter
//! (width and height rather than aspect ratio and height) and by motion compensation: the predicted tracks
//! are moved by the camera's motion, which the caller estimates ([`Frame::motion`]). Re-identification by
//! appearance is not offered. Ids are counted per tracker from 1.

mod kalman;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod lapjv;
#[cfg(not(feature = "internals"))]
pub(crate) mod lapjv;

use std::collections::VecDeque;

use crate::error::{Error, ErrorKind, Result};
use crate::result::{Detection, OrientedBox};
use kalman::{Covariance, Filter, Mean};

/// Which tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackerKind {
    /// ByteTrack (`bytetrack.yaml`).
    ByteTrack,
    /// BoT-SORT (`botsort.yaml`), Ultralytics' default.
    BotSort,
}

/// BoT-SORT's global motion compensation (`gmc_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MotionCompensation {
    /// `none`.
    None,
    /// `sparseOptFlow` (Ultralytics' default): corners tracked by optical flow from frame to frame, the
    /// camera's motion fitted to them. The caller estimates it and passes it with each frame
    /// ([`Frame::motion`]); the Python package does so with OpenCV's calls, as Ultralytics makes them.
    SparseOptFlow,
}

/// Every setting of Ultralytics' `bytetrack.yaml` and `botsort.yaml`; [`TrackerSettings::bytetrack`] and
/// [`TrackerSettings::botsort`] give the files' values. Thresholds are doubles, as the YAML files' numbers
/// are in Python: scores are compared with them in single precision, match costs in double, as there.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerSettings {
    /// Which tracker.
    pub kind: TrackerKind,
    /// Detections scoring at least this are matched first and may start tracks (0.25).
    pub track_high_thresh: f64,
    /// Detections scoring above this (and below the high threshold) are matched second (0.1).
    pub track_low_thresh: f64,
    /// A detection left unmatched starts a track if it scores at least this (0.25).
    pub new_track_thresh: f64,
    /// Frames a lost track is kept before it is removed (30).
    pub track_buffer: u32,
    /// The largest cost of a first-round match (0.8).
    pub match_thresh: f64,
    /// Whether match costs weigh IoU by the detection's score (true).
    pub fuse_score: bool,
    /// BoT-SORT's motion compensation (`SparseOptFlow` in Ultralytics' file).
    pub gmc_method: MotionCompensation,
    /// BoT-SORT's smallest IoU for appearance matching (0.5): used with re-identification only.
    pub proximity_thresh: f64,
    /// BoT-SORT's smallest appearance similarity (0.8): used with re-identification only.
    pub appearance_thresh: f64,
    /// BoT-SORT's re-identification by appearance (false). Not offered: a tracker asked for it is refused.
    pub with_reid: bool,
}

impl TrackerSettings {
    /// Ultralytics' `bytetrack.yaml`.
    pub fn bytetrack() -> Self {
        Self {
            kind: TrackerKind::ByteTrack,
            track_high_thresh: 0.25,
            track_low_thresh: 0.1,
            new_track_thresh: 0.25,
            track_buffer: 30,
            match_thresh: 0.8,
            fuse_score: true,
            gmc_method: MotionCompensation::SparseOptFlow,
            proximity_thresh: 0.5,
            appearance_thresh: 0.8,
            with_reid: false,
        }
    }

    /// Ultralytics' `botsort.yaml`.
    pub fn botsort() -> Self {
        Self { kind: TrackerKind::BotSort, ..Self::bytetrack() }
    }

    fn check(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::new(ErrorKind::InvalidArgument, message));
        for (name, value) in [
            ("track_high_thresh", self.track_high_thresh),
            ("track_low_thresh", self.track_low_thresh),
            ("new_track_thresh", self.new_track_thresh),
            ("match_thresh", self.match_thresh),
            ("proximity_thresh", self.proximity_thresh),
            ("appearance_thresh", self.appearance_thresh),
        ] {
            if !value.is_finite() {
                return invalid(format!("tracker setting {name} is {value}, not a finite number"));
            }
        }
        if self.kind == TrackerKind::BotSort && self.with_reid {
            return invalid("BoT-SORT's re-identification (with_reid) is not offered".into());
        }
        Ok(())
    }
}

/// A frame's detections, as `detect` returned them: their boxes, and for an oriented-box model their
/// rotated boxes (one per detection), which are then what is tracked.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The detections.
    pub detections: &'a [Detection],
    /// The rotated boxes of an oriented-box model, else `None`.
    pub oriented: Option<&'a [OrientedBox]>,
    /// The image's `(width, height)`: tracked boxes are clipped to it, as Ultralytics clips them.
    pub image_size: (u32, u32),
    /// The camera's motion since the previous frame, a 2 x 3 affine matrix row by row (`[a, b, tx, c, d,
    /// ty]`: a point `(x, y)` of the previous frame is at `(a x + b y + tx, c x + d y + ty)` in this one),
    /// as BoT-SORT's motion compensation estimates it. Required by BoT-SORT with a `gmc_method` other than
    /// none (the identity on the first frame), refused otherwise.
    pub motion: Option<[f64; 6]>,
}

/// One track of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Track {
    /// The index of the frame's detection this track matched.
    pub detection: usize,
    /// The track's id, from 1.
    pub id: u64,
    /// The box the filter gives, `[x1, y1, x2, y2]` clipped to the image; for oriented boxes
    /// `[cx, cy, w, h]`, not clipped.
    pub bbox: [f32; 4],
    /// An oriented track's angle in radians (the detection's, turned by a multiple of pi to follow the
    /// track's), else 0.
    pub angle: f32,
    /// The matched detection's score.
    pub score: f32,
    /// The matched detection's class.
    pub class_id: u32,
}

/// What a frame's update gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tracks {
    /// The confirmed tracks of the frame, in the tracker's order (Ultralytics' order of the results).
    pub tracks: Vec<Track>,
    /// With no track to give: whether the frame's detections are hidden (a track started this frame and is
    /// not confirmed yet) rather than given without ids. Ultralytics empties the frame's result then.
    pub hide_detections: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Tracked,
    Lost,
    Removed,
}

/// A detection as a candidate track (Ultralytics' `STrack` before activation).
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// `[left, top, width, height]` in single precision, as Ultralytics stores it.
    tlwh: [f32; 4],
    score: f32,
    class_id: u32,
    index: usize,
    angle: Option<f64>,
}

/// A track (an activated `STrack`).
#[derive(Debug, Clone)]
struct Tracked {
    id: u64,
    mean: Mean,
    covariance: Covariance,
    state: State,
    activated: bool,
    score: f32,
    class_id: u32,
    index: usize,
    frame: u64,
    start_frame: u64,
    angle: Option<f64>,
}

/// Follows the objects of one stream from frame to frame.
#[derive(Debug)]
pub struct Tracker {
    settings: TrackerSettings,
    filter: Filter,
    /// Ultralytics' `tracked_stracks`, then `lost_stracks`, as indices into `tracks`.
    tracks: Vec<Tracked>,
    tracked: Vec<usize>,
    lost: Vec<usize>,
    /// The ids of the removed tracks, the last 1000 (Ultralytics' `removed_stracks`).
    removed: VecDeque<u64>,
    frame: u64,
    last_id: u64,
    /// Whether the tracker follows rotated boxes, from the first frame with detections.
    oriented: Option<bool>,
}

/// How many removed tracks Ultralytics remembers.
const REMOVED_MEMORY: usize = 1000;
/// The most detections a frame may bring to a tracker (above the low threshold, of a positive size): the
/// assignment's cost grows with the cube of tracks plus detections. A frame with more is refused.
pub const MAX_FRAME_DETECTIONS: usize = 1024;
/// The largest coordinate or size a tracked box may have, in pixels (images are at most 16384 pixels a side).
const MAX_COORDINATE: f64 = 1e7;
/// The most tracks (followed and lost) a tracker keeps; past it, the tracks lost longest are removed. Far
/// above what a stream within `MAX_FRAME_DETECTIONS` per frame keeps with Ultralytics' `track_buffer`.
pub const MAX_TRACKS: usize = 4096;
/// Of a tracked and a lost track closer than this IoU distance, one is dropped.
const DUPLICATE_DISTANCE: f32 = 0.15;
/// The second round's and the unconfirmed tracks' match limits.
const SECOND_MATCH: f64 = 0.5;
const UNCONFIRMED_MATCH: f64 = 0.7;
/// The `eps` of Ultralytics' `bbox_ioa`.
const IOU_EPS: f32 = 1e-7;

impl Tracker {
    /// A tracker with `settings`; refused (`InvalidArgument`) for a setting that is not a finite number or
    /// for re-identification, which is not offered.
    pub fn new(settings: TrackerSettings) -> Result<Self> {
        settings.check()?;
        let filter = match settings.kind {
            TrackerKind::ByteTrack => Filter::Xyah,
            TrackerKind::BotSort => Filter::Xywh,
        };
        Ok(Self {
            settings,
            filter,
            tracks: Vec::new(),
            tracked: Vec::new(),
            lost: Vec::new(),
            removed: VecDeque::new(),
            frame: 0,
            last_id: 0,
            oriented: None,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &TrackerSettings {
        &self.settings
    }

    /// How many tracks the tracker keeps (followed, not yet confirmed, and lost).
    pub fn len(&self) -> usize {
        self.tracked.len() + self.lost.len()
    }

    /// Whether it keeps no track.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every track and restarts the ids from 1, as for a new video.
    pub fn reset(&mut self) {
        self.tracks.clear();
        self.tracked.clear();
        self.lost.clear();
        self.removed.clear();
        self.frame = 0;
        self.last_id = 0;
        self.oriented = None;
    }

    /// Tracks one frame. Fails (`InvalidArgument`), changing nothing, when `oriented` does not have one box
    /// per detection, when the frame brings more than [`MAX_FRAME_DETECTIONS`], when its boxes are of the
    /// other kind than the tracker's earlier frames' (rotated or not: one model per tracker), or when the
    /// camera motion is missing, not finite, or given to a tracker that does not compensate it.
    pub fn update(&mut self, frame: &Frame<'_>) -> Result<Tracks> {
        if let Some(oriented) = frame.oriented {
            if oriented.len() != frame.detections.len() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{} rotated boxes for {} detections", oriented.len(), frame.detections.len()),
                ));
            }
        }
        let (high, low) = self.split(frame);
        if high.len() + low.len() > MAX_FRAME_DETECTIONS {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} detections to track in one frame: a tracker takes at most {MAX_FRAME_DETECTIONS}",
                    high.len() + low.len()
                ),
            ));
        }
        let oriented = frame.oriented.is_some();
        match self.oriented {
            Some(expected) if !frame.detections.is_empty() && expected != oriented => {
                let (follows, given) = if expected { ("rotated", "axis-aligned") } else { ("axis-aligned", "rotated") };
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "this tracker follows {follows} boxes and this frame has {given} ones: one model per tracker"
                    ),
                ));
            }
            None if !frame.detections.is_empty() => self.oriented = Some(oriented),
            _ => {}
        }
        let compensates =
            self.settings.kind == TrackerKind::BotSort && self.settings.gmc_method != MotionCompensation::None;
        match (compensates, frame.motion) {
            (true, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "BoT-SORT with motion compensation needs each frame's camera motion (gmc_method none tracks without it)",
                ))
            }
            (false, Some(_)) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "a camera motion was given to a tracker without motion compensation (BoT-SORT with a gmc_method)",
                ))
            }
            (_, Some(m)) if m.iter().any(|v| !v.is_finite()) => {
                return Err(Error::new(ErrorKind::InvalidArgument, format!("the camera motion {m:?} is not finite")));
            }
            _ => {}
        }
        self.frame += 1;
        let mut activated = Vec::new();
        let mut refound = Vec::new();
        let mut newly_lost = Vec::new();
        let mut newly_removed = Vec::new();

        let (unconfirmed, confirmed): (Vec<usize>, Vec<usize>) =
            self.tracked.iter().partition(|&&t| !self.tracks[t].activated);
        let pool = self.joint(&confirmed, &self.lost.clone());
        for &t in &pool {
            let track = &mut self.tracks[t];
            let mut mean = track.mean;
            if track.state != State::Tracked {
                // A track not followed in the last frame keeps its position but not its size's change (and,
                // for BoT-SORT, not its width's either).
                mean[7] = 0.0;
                if self.filter == Filter::Xywh {
                    mean[6] = 0.0;
                }
            }
            (track.mean, track.covariance) = self.filter.predict(&mean, &track.covariance);
        }

        if let Some(motion) = frame.motion {
            for &t in pool.iter().chain(&unconfirmed) {
                compensate(&mut self.tracks[t], &motion);
            }
        }

        // First round: confirmed and lost tracks against the high detections.
        let cost = self.costs(&pool, &high, self.settings.fuse_score);
        let (matches, unmatched_pool, unmatched_high) =
            lapjv::assign(&cost, pool.len(), high.len(), self.settings.match_thresh);
        for (t, d) in matches {
            self.apply(pool[t], &high[d], &mut activated, &mut refound);
        }

        // Second round: the tracks still followed against the low detections.
        let followed: Vec<usize> =
            unmatched_pool.iter().map(|&t| pool[t]).filter(|&t| self.tracks[t].state == State::Tracked).collect();
        let left = if !followed.is_empty() && !low.is_empty() {
            let cost = self.costs(&followed, &low, false);
            let (matches, left, _) = lapjv::assign(&cost, followed.len(), low.len(), SECOND_MATCH);
            for (t, d) in matches {
                self.apply(followed[t], &low[d], &mut activated, &mut refound);
            }
            left
        } else {
            (0..followed.len()).collect()
        };
        for t in left {
            self.tracks[followed[t]].state = State::Lost;
            newly_lost.push(followed[t]);
        }

        // Unconfirmed tracks against the high detections left.
        let high_left: Vec<Candidate> = unmatched_high.iter().map(|&d| high[d]).collect();
        let starting: Vec<usize> = if unconfirmed.is_empty() {
            (0..high_left.len()).collect()
        } else {
            let cost = self.costs(&unconfirmed, &high_left, self.settings.fuse_score);
            let (matches, unmatched, starting) =
                lapjv::assign(&cost, unconfirmed.len(), high_left.len(), UNCONFIRMED_MATCH);
            for (t, d) in matches {
                self.follow(unconfirmed[t], &high_left[d]);
                activated.push(unconfirmed[t]);
            }
            for t in unmatched {
                self.tracks[unconfirmed[t]].state = State::Removed;
                newly_removed.push(unconfirmed[t]);
            }
            starting
        };

        // New tracks.
        for d in starting {
            let candidate = high_left[d];
            if candidate.score < self.settings.new_track_thresh as f32 {
                continue;
            }
            self.last_id += 1;
            let (mean, covariance) = self.filter.initiate(self.measurement(&candidate));
            self.tracks.push(Tracked {
                id: self.last_id,
                mean,
                covariance,
                state: State::Tracked,
                activated: self.frame == 1,
                score: candidate.score,
                class_id: candidate.class_id,
                index: candidate.index,
                frame: self.frame,
                start_frame: self.frame,
                angle: candidate.angle,
            });
            activated.push(self.tracks.len() - 1);
        }

        // Lost too long: removed (they stay in the lost list until the next frame, as in Ultralytics).
        for &t in &self.lost {
            if self.frame - self.tracks[t].frame > u64::from(self.settings.track_buffer) {
                self.tracks[t].state = State::Removed;
                newly_removed.push(t);
            }
        }

        self.merge(activated, refound, newly_lost, newly_removed);
        Ok(self.output(frame))
    }

    /// The high and low detections, in the frame's order.
    fn split(&self, frame: &Frame<'_>) -> (Vec<Candidate>, Vec<Candidate>) {
        let (high_thresh, low_thresh) = (self.settings.track_high_thresh as f32, self.settings.track_low_thresh as f32);
        let (mut high, mut low) = (Vec::new(), Vec::new());
        for (index, d) in frame.detections.iter().enumerate() {
            // Ultralytics' xywh (from the corners, in single precision), then xywhr for rotated boxes, in
            // double precision for the rest of the way.
            let (mut cx, mut cy, mut w, mut h) = (
                ((d.x1 + d.x2) / 2.0) as f64,
                ((d.y1 + d.y2) / 2.0) as f64,
                (d.x2 - d.x1) as f64,
                (d.y2 - d.y1) as f64,
            );
            let mut angle = None;
            if let Some(oriented) = frame.oriented {
                let o = &oriented[index];
                (cx, cy, w, h) = (o.cx as f64, o.cy as f64, o.width as f64, o.height as f64);
                let mut a = o.angle as f64;
                if w < h {
                    (w, h) = (h, w);
                    a += std::f64::consts::FRAC_PI_2;
                }
                angle = Some(a);
            }
            // Ultralytics keeps boxes of a positive size. What no detect call gives is left out too: a box,
            // score or angle that is not finite, or a box beyond `MAX_COORDINATE` (or so thin that its
            // measurement is not finite).
            let sane = [cx, cy, w, h].iter().all(|v| v.abs() <= MAX_COORDINATE)
                && angle.unwrap_or(0.0).is_finite()
                && d.score.is_finite();
            if !(w > 0.0 && h > 0.0 && sane) {
                continue;
            }
            let tlwh = [(cx - w / 2.0) as f32, (cy - h / 2.0) as f32, w as f32, h as f32];
            let candidate = Candidate { tlwh, score: d.score, class_id: d.class_id, index, angle };
            if !self.measurement(&candidate).iter().all(|v| v.is_finite()) {
                continue;
            }
            if d.score >= high_thresh {
                high.push(candidate);
            } else if d.score > low_thresh {
                low.push(candidate);
            }
        }
        (high, low)
    }

    /// Ultralytics' `joint_stracks`: `a`, then the tracks of `b` whose ids `a` does not have.
    fn joint(&self, a: &[usize], b: &[usize]) -> Vec<usize> {
        let mut out = a.to_vec();
        out.extend(b.iter().filter(|&&t| !a.iter().any(|&u| self.tracks[u].id == self.tracks[t].id)));
        out
    }

    /// A detection's measurement for the filter, computed in single precision as Ultralytics does.
    fn measurement(&self, c: &Candidate) -> [f64; 4] {
        let [l, t, w, h] = c.tlwh;
        let (x, y) = (l + w / 2.0, t + h / 2.0);
        match self.filter {
            Filter::Xyah => [x as f64, y as f64, (w / h) as f64, h as f64],
            Filter::Xywh => [x as f64, y as f64, w as f64, h as f64],
        }
    }

    /// A track's `[left, top, width, height]` from its state, in double precision.
    fn tlwh(&self, t: &Tracked) -> [f64; 4] {
        let m = &t.mean;
        let (w, h) = match self.filter {
            Filter::Xyah => (m[2] * m[3], m[3]),
            Filter::Xywh => (m[2], m[3]),
        };
        [m[0] - w / 2.0, m[1] - h / 2.0, w, h]
    }

    /// A track's box as the distances read it: corners from its state in double precision, then single;
    /// an oriented track's centre, size and angle.
    fn track_box(&self, t: &Tracked) -> Shape {
        let [l, top, w, h] = self.tlwh(t);
        match t.angle {
            Some(a) => Shape::Rotated([(l + w / 2.0) as f32, (top + h / 2.0) as f32, w as f32, h as f32, a as f32]),
            None => Shape::Corners([l as f32, top as f32, (w + l) as f32, (h + top) as f32]),
        }
    }

    /// The IoU distances (optionally fused with the detections' scores) of tracks and candidates, in
    /// single precision as Ultralytics computes them, row-major, as the assignment's costs.
    fn costs(&self, tracks: &[usize], candidates: &[Candidate], fuse: bool) -> Vec<f64> {
        let a: Vec<Shape> = tracks.iter().map(|&t| self.track_box(&self.tracks[t])).collect();
        let b: Vec<Shape> = candidates.iter().map(Candidate::shape).collect();
        let mut out = Vec::with_capacity(a.len() * b.len());
        for x in &a {
            for (y, c) in b.iter().zip(candidates) {
                let distance = 1.0 - overlap(x, y);
                let cost = if fuse { 1.0 - (1.0 - distance) * c.score } else { distance };
                // A state driven out of range by extreme boxes gives no overlap rather than a NaN cost.
                out.push(if cost.is_finite() { cost as f64 } else { 1.0 });
            }
        }
        out
    }

    /// A first- or second-round match: a followed track is updated, a lost one found again.
    fn apply(&mut self, t: usize, c: &Candidate, activated: &mut Vec<usize>, refound: &mut Vec<usize>) {
        let was_followed = self.tracks[t].state == State::Tracked;
        self.follow(t, c);
        if was_followed {
            activated.push(t);
        } else {
            refound.push(t);
        }
    }

    /// The track corrected by the candidate, which it now is.
    fn follow(&mut self, t: usize, c: &Candidate) {
        let z = self.measurement(c);
        let frame = self.frame;
        let filter = self.filter;
        let track = &mut self.tracks[t];
        (track.mean, track.covariance) = filter.update(&track.mean, &track.covariance, z);
        track.state = State::Tracked;
        track.activated = true;
        track.frame = frame;
        track.score = c.score;
        track.class_id = c.class_id;
        track.index = c.index;
        if let (Some(previous), Some(angle)) = (track.angle, c.angle) {
            // The detection's angle, turned by the multiple of pi nearest to the track's (half to even).
            track.angle =
                Some(angle - std::f64::consts::PI * ((angle - previous) / std::f64::consts::PI).round_ties_even());
        }
    }

    /// Ultralytics' `merge_track_pools`, then `remove_duplicate_stracks`.
    fn merge(&mut self, activated: Vec<usize>, refound: Vec<usize>, newly_lost: Vec<usize>, newly_removed: Vec<usize>) {
        let still: Vec<usize> =
            self.tracked.iter().copied().filter(|&t| self.tracks[t].state == State::Tracked).collect();
        let tracked = self.joint(&still, &activated);
        let tracked = self.joint(&tracked, &refound);
        let mut lost: Vec<usize> = self
            .lost
            .iter()
            .copied()
            .filter(|&t| !tracked.iter().any(|&u| self.tracks[u].id == self.tracks[t].id))
            .collect();
        lost.extend(newly_lost);
        lost.retain(|&t| !self.removed.contains(&self.tracks[t].id));
        // Duplicates: of a tracked and a lost track this close, the one followed for fewer frames goes.
        let (mut drop_tracked, mut drop_lost) = (Vec::new(), Vec::new());
        if !tracked.is_empty() && !lost.is_empty() {
            let lost_boxes: Vec<Shape> = lost.iter().map(|&t| self.track_box(&self.tracks[t])).collect();
            for (p, &a) in tracked.iter().enumerate() {
                let a_box = self.track_box(&self.tracks[a]);
                for (q, (&b, b_box)) in lost.iter().zip(&lost_boxes).enumerate() {
                    if 1.0 - overlap(&a_box, b_box) < DUPLICATE_DISTANCE {
                        let age = |t: usize| self.tracks[t].frame as i64 - self.tracks[t].start_frame as i64;
                        if age(a) > age(b) {
                            drop_lost.push(q);
                        } else {
                            drop_tracked.push(p);
                        }
                    }
                }
            }
        }
        let tracked: Vec<usize> =
            tracked.into_iter().enumerate().filter(|(p, _)| !drop_tracked.contains(p)).map(|(_, t)| t).collect();
        let lost: Vec<usize> =
            lost.into_iter().enumerate().filter(|(q, _)| !drop_lost.contains(q)).map(|(_, t)| t).collect();
        // Past the bound on live tracks, the tracks lost longest go first, as removed ones.
        let mut lost = lost;
        let mut newly_removed = newly_removed;
        if tracked.len() + lost.len() > MAX_TRACKS {
            let excess = tracked.len() + lost.len() - MAX_TRACKS;
            let mut by_age: Vec<usize> = (0..lost.len()).collect();
            by_age.sort_by_key(|&q| self.tracks[lost[q]].frame);
            let dropped: Vec<usize> = by_age.into_iter().take(excess).collect();
            for &q in &dropped {
                self.tracks[lost[q]].state = State::Removed;
                newly_removed.push(lost[q]);
            }
            lost = lost.into_iter().enumerate().filter(|(q, _)| !dropped.contains(q)).map(|(_, t)| t).collect();
        }
        for t in newly_removed {
            self.removed.push_back(self.tracks[t].id);
        }
        while self.removed.len() > REMOVED_MEMORY {
            self.removed.pop_front();
        }
        // Keep only the tracks still listed, renumbered.
        let mut kept = Vec::with_capacity(tracked.len() + lost.len());
        let renumber = |t: usize, kept: &mut Vec<Tracked>| {
            kept.push(self.tracks[t].clone());
            kept.len() - 1
        };
        let tracked: Vec<usize> = tracked.into_iter().map(|t| renumber(t, &mut kept)).collect();
        let lost: Vec<usize> = lost.into_iter().map(|t| renumber(t, &mut kept)).collect();
        self.tracks = kept;
        self.tracked = tracked;
        self.lost = lost;
    }

    fn output(&self, frame: &Frame<'_>) -> Tracks {
        let (width, height) = (frame.image_size.0 as f32, frame.image_size.1 as f32);
        let mut tracks = Vec::new();
        for &t in &self.tracked {
            let track = &self.tracks[t];
            if !track.activated {
                continue;
            }
            let [l, top, w, h] = self.tlwh(track);
            let (bbox, angle) = match track.angle {
                Some(angle) => ([(l + w / 2.0) as f32, (top + h / 2.0) as f32, w as f32, h as f32], angle as f32),
                None => {
                    let b = [l as f32, top as f32, (w + l) as f32, (h + top) as f32];
                    (
                        [
                            b[0].clamp(0.0, width),
                            b[1].clamp(0.0, height),
                            b[2].clamp(0.0, width),
                            b[3].clamp(0.0, height),
                        ],
                        0.0,
                    )
                }
            };
            tracks.push(Track {
                detection: track.index,
                id: track.id,
                bbox,
                angle,
                score: track.score,
                class_id: track.class_id,
            });
        }
        let hide_detections = tracks.is_empty() && self.tracked.iter().any(|&t| !self.tracks[t].activated);
        Tracks { tracks, hide_detections }
    }
}

/// Moves a track by the camera's motion (Ultralytics' `multi_gmc`): its state by [`kalman::compensate`],
/// an oriented track's angle turned with the camera.
fn compensate(track: &mut Tracked, motion: &[f64; 6]) {
    (track.mean, track.covariance) = kalman::compensate(&track.mean, &track.covariance, motion, track.angle.is_some());
    if let Some(angle) = track.angle.as_mut() {
        *angle += motion[3].atan2(motion[0]);
    }
}

/// A box as Ultralytics' `iou_distance` reads it.
enum Shape {
    /// `[x1, y1, x2, y2]`.
    Corners([f32; 4]),
    /// `[cx, cy, w, h, angle]`.
    Rotated([f32; 5]),
}

impl Candidate {
    /// A detection's box, computed from its single-precision `tlwh` as Ultralytics does.
    fn shape(&self) -> Shape {
        let [l, t, w, h] = self.tlwh;
        match self.angle {
            Some(a) => Shape::Rotated([l + w / 2.0, t + h / 2.0, w, h, a as f32]),
            None => Shape::Corners([l, t, w + l, h + t]),
        }
    }
}

/// The overlap of two boxes: IoU, or probabilistic IoU when both are rotated.
fn overlap(a: &Shape, b: &Shape) -> f32 {
    match (a, b) {
        (Shape::Rotated(a), Shape::Rotated(b)) => crate::tasks::obb::probiou_xywhr(*a, *b),
        (Shape::Corners(a), Shape::Corners(b)) => iou(*a, *b),
        // Not reached: one tracker sees one kind of box.
        _ => 0.0,
    }
}

/// Ultralytics' `bbox_ioa(..., iou=True)` of two `[x1, y1, x2, y2]` boxes, in its order of single-precision
/// operations.
fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let inter = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = (b[2] - b[0]) * (b[3] - b[1]);
    let union = area + (a[2] - a[0]) * (a[3] - a[1]) - inter;
    inter / (union + IOU_EPS)
}
