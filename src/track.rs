//! Tracking across the frames of a stream: `yolo_tracker_config` (ByteTrack's or BoT-SORT's settings),
//! `yolo_tracker` (one stream's state), and the tracks a tracker leaves on a result.

use std::sync::{Mutex, TryLockError};

use yolo_ffi_core::track::{Frame, MotionCompensation, Tracker, TrackerSettings};
use yolo_ffi_core::{Detection, OrientedBox};

use crate::boundary::{non_null, OutParam};
use crate::error::{Error, Result};
use crate::handles::{borrow_handle, borrow_handle_mut, free_handle, into_handle, BoxOwned};
use crate::result::{yolo_result, yolo_track, DetectionResult, Tracking};
use crate::status::yolo_status;

/// Which tracker a `yolo_tracker_config` configures. Values are stable; 0 is never valid.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_tracker_kind {
    /// ByteTrack: Ultralytics' `bytetrack.yaml`.
    Bytetrack = 1,
    /// BoT-SORT: Ultralytics' `botsort.yaml`, its default tracker.
    Botsort = 2,
}

/// BoT-SORT's camera-motion compensation (Ultralytics' `gmc_method`). Values are stable; 0 is never valid.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_gmc_method {
    /// `none`: no compensation; `yolo_tracker_update` takes no motion.
    None = 1,
    /// `sparseOptFlow` (the default): the caller estimates the camera's motion between frames as Ultralytics
    /// does (OpenCV's `goodFeaturesToTrack`, `calcOpticalFlowPyrLK` and `estimateAffinePartial2D` on the
    /// half-size grey frames) and passes it to each `yolo_tracker_update`. The Python package does it.
    SparseOptFlow = 2,
}

/// The settings of a tracker: every setting of Ultralytics' `bytetrack.yaml` and `botsort.yaml`. Created by
/// `yolo_tracker_config_new` with that file's values, changed by the `yolo_tracker_config_set_*` calls (each
/// checked when a tracker is made from it), released by `yolo_tracker_config_free`. Owned by the caller;
/// only read by `yolo_tracker_new`, which copies it. Not thread-safe while being changed.
pub struct yolo_tracker_config {
    _private: [u8; 0],
}

impl BoxOwned for yolo_tracker_config {
    type Rust = TrackerSettings;
    const NAME: &'static str = "tracker config";
    /// "yoloTCFG" in ASCII.
    const TAG: u64 = u64::from_be_bytes(*b"yoloTCFG");
}

/// One stream's tracker: its tracks and its id counter (ids from 1). Created by `yolo_tracker_new`, fed one
/// frame's result after another by `yolo_tracker_update`, released by `yolo_tracker_free`. One stream, one
/// tracker, one caller at a time: an update while another thread's update of the same tracker runs returns
/// `YOLO_STATUS_BUSY` and changes nothing. It may move between threads.
pub struct yolo_tracker {
    _private: [u8; 0],
}

impl BoxOwned for yolo_tracker {
    type Rust = Mutex<Tracker>;
    const NAME: &'static str = "tracker";
    /// "yoloTRAK" in ASCII.
    const TAG: u64 = u64::from_be_bytes(*b"yoloTRAK");
}

/// Creates a config with the values of Ultralytics' file for `kind` (`yolo_tracker_kind`): thresholds 0.25
/// (high and new track) and 0.1 (low), `track_buffer` 30 frames, `match_thresh` 0.8, `fuse_score` on; for
/// BoT-SORT also `gmc_method` sparseOptFlow, `proximity_thresh` 0.5, `appearance_thresh` 0.8, `with_reid`
/// off. On success writes it to `*out_config`, owned by the caller until `yolo_tracker_config_free`.
/// Thread-safe.
///
/// Safety: `out_config` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_new(kind: u32, out_config: *mut *mut yolo_tracker_config) -> yolo_status {
    ffi_boundary!(status {
        let out = OutParam::new(out_config, "out_config")?;
        let settings = match kind {
            k if k == yolo_tracker_kind::Bytetrack as u32 => TrackerSettings::bytetrack(),
            k if k == yolo_tracker_kind::Botsort as u32 => TrackerSettings::botsort(),
            other => return Err(Error::invalid_argument(format!("{other} is not a yolo_tracker_kind"))),
        };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(into_handle::<yolo_tracker_config>(settings)) };
        Ok(())
    })
}

/// Releases a tracker config. NULL is a no-op. Trackers made from it keep their copy.
///
/// Safety: `config` must be NULL or a live tracker config not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_free(config: *mut yolo_tracker_config) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    ffi_boundary!(release { unsafe { free_handle(config) } })
}

/// Applies `change` to a live tracker config.
///
/// Safety: `config` must be NULL or a live tracker config not used by another thread during the call.
unsafe fn change(config: *mut yolo_tracker_config, change: impl FnOnce(&mut TrackerSettings)) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: forwarded to the caller's contract.
        let settings = unsafe { borrow_handle_mut(config) }?;
        change(settings);
        Ok(())
    })
}

/// Detections scoring at least this are matched first and may start tracks (`track_high_thresh`).
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_track_high_thresh(
    config: *mut yolo_tracker_config,
    value: f64,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.track_high_thresh = value) }
}

/// Detections scoring above this, and below the high threshold, are matched second (`track_low_thresh`).
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_track_low_thresh(
    config: *mut yolo_tracker_config,
    value: f64,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.track_low_thresh = value) }
}

/// An unmatched detection starts a track if it scores at least this (`new_track_thresh`).
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_new_track_thresh(
    config: *mut yolo_tracker_config,
    value: f64,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.new_track_thresh = value) }
}

/// Frames a lost track is kept before it is removed (`track_buffer`).
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_track_buffer(
    config: *mut yolo_tracker_config,
    value: u32,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.track_buffer = value) }
}

/// The largest cost (1 - IoU, or with `fuse_score` 1 - IoU x score) of a first-round match
/// (`match_thresh`).
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_match_thresh(
    config: *mut yolo_tracker_config,
    value: f64,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.match_thresh = value) }
}

/// Whether first-round costs weigh IoU by the detection's score (`fuse_score`).
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_fuse_score(
    config: *mut yolo_tracker_config,
    value: bool,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.fuse_score = value) }
}

/// BoT-SORT's smallest IoU for appearance matching (`proximity_thresh`); used with re-identification
/// only, which is not offered.
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_proximity_thresh(
    config: *mut yolo_tracker_config,
    value: f64,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.proximity_thresh = value) }
}

/// BoT-SORT's smallest appearance similarity (`appearance_thresh`); used with re-identification only,
/// which is not offered.
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_appearance_thresh(
    config: *mut yolo_tracker_config,
    value: f64,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.appearance_thresh = value) }
}

/// BoT-SORT's re-identification by appearance (`with_reid`): not offered; `yolo_tracker_new` refuses a
/// config that turns it on.
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_with_reid(
    config: *mut yolo_tracker_config,
    value: bool,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.with_reid = value) }
}

/// Sets BoT-SORT's camera-motion compensation (`gmc_method`, a `yolo_gmc_method`). ByteTrack ignores it.
///
/// Safety: `config` must be a live tracker config not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_config_set_gmc_method(
    config: *mut yolo_tracker_config,
    method: u32,
) -> yolo_status {
    let method = match method {
        m if m == yolo_gmc_method::None as u32 => MotionCompensation::None,
        m if m == yolo_gmc_method::SparseOptFlow as u32 => MotionCompensation::SparseOptFlow,
        other => {
            return ffi_boundary!(status { Err(Error::invalid_argument(format!("{other} is not a yolo_gmc_method"))) })
        }
    };
    // SAFETY: forwarded to the caller's contract.
    unsafe { change(config, |s| s.gmc_method = method) }
}

/// Creates a tracker from `config` (copied: the config may be freed or changed after). Fails with
/// `YOLO_STATUS_INVALID_ARGUMENT` for a threshold that is not finite or for re-identification, which is not
/// offered. On success writes it to `*out_tracker`, owned by the caller until `yolo_tracker_free`.
/// Thread-safe.
///
/// Safety: `config` must be a live tracker config; `out_tracker` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_new(
    config: *const yolo_tracker_config,
    out_tracker: *mut *mut yolo_tracker,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live config by the caller's contract.
        let settings = unsafe { borrow_handle(config) }?;
        let out = OutParam::new(out_tracker, "out_tracker")?;
        let tracker = Tracker::new(settings.clone())?;
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(into_handle::<yolo_tracker>(Mutex::new(tracker))) };
        Ok(())
    })
}

/// Releases a tracker. NULL is a no-op.
///
/// Safety: `tracker` must be NULL or a live tracker that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_free(tracker: *mut yolo_tracker) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    ffi_boundary!(release { unsafe { free_handle(tracker) } })
}

/// Locks a tracker for one call, or says it is busy.
fn lock(tracker: &Mutex<Tracker>) -> Result<std::sync::MutexGuard<'_, Tracker>> {
    match tracker.try_lock() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::WouldBlock) => {
            Err(Error::busy("the tracker is being updated by another thread: one stream, one caller at a time"))
        }
        // A panic during an update was caught at the boundary; the state it left is a tracker's state.
        Err(TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
    }
}

/// Forgets every track and restarts the ids from 1, as for a new video. `YOLO_STATUS_BUSY` during another
/// thread's update.
///
/// Safety: `tracker` must be a live tracker.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_reset(tracker: *const yolo_tracker) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live tracker by the caller's contract.
        let tracker = unsafe { borrow_handle(tracker) }?;
        lock(tracker)?.reset();
        Ok(())
    })
}

/// Tracks one frame: `result` is the frame's `yolo_detect` (or `yolo_detect_pixels`) result, from a
/// detection, segmentation, pose or oriented-box model, detected as Ultralytics' `track` detects (conf 0.1
/// unless the caller chose another). The frame's tracks are left on the result (`yolo_result_tracks`,
/// `yolo_result_track_id`); the result's detections are unchanged.
///
/// `motion` is the camera's motion since the previous frame for BoT-SORT with `gmc_method`
/// sparseOptFlow: 6 doubles, a 2 x 3 affine matrix row by row (`a, b, tx, c, d, ty`: a point `(x, y)` of the
/// previous frame is at `(a x + b y + tx, c x + d y + ty)` in this one; the identity on the first frame),
/// with `motion_len` 6. It must be NULL (and `motion_len` 0) for any other tracker.
///
/// `YOLO_STATUS_BUSY` while another thread updates the same tracker; `YOLO_STATUS_INVALID_ARGUMENT` for a
/// result without boxes (classification, semantic segmentation, depth) or a motion missing, unwanted or not
/// finite. On failure neither the tracker nor the result changes.
///
/// Safety: `tracker` must be a live tracker; `result` a live result no other thread is using during the
/// call; `motion` NULL or valid for `motion_len` doubles.
#[no_mangle]
pub unsafe extern "C" fn yolo_tracker_update(
    tracker: *const yolo_tracker,
    result: *mut yolo_result,
    motion: *const f64,
    motion_len: usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live tracker by the caller's contract.
        let tracker = unsafe { borrow_handle(tracker) }?;
        // SAFETY: a live result, used by no other thread during the call, by the caller's contract.
        let result = unsafe { borrow_handle_mut(result) }?;
        let motion = match (motion.is_null(), motion_len) {
            (true, 0) => None,
            (true, n) => return Err(Error::invalid_argument(format!("motion is NULL with motion_len {n}"))),
            (false, 6) => {
                // SAFETY: valid for 6 doubles by the caller's contract.
                let m = unsafe { std::slice::from_raw_parts(non_null(motion, "motion")?, 6) };
                Some([m[0], m[1], m[2], m[3], m[4], m[5]])
            }
            (false, n) => return Err(Error::invalid_argument(format!("motion_len is {n}: a motion is 6 doubles"))),
        };
        if !result.classes.is_empty() || result.class_map.is_some() || result.depth_map.is_some() {
            return Err(Error::invalid_argument(
                "this result has no boxes to track: tracking takes detection, segmentation, pose or oriented-box results",
            ));
        }
        let mut guard = lock(tracker)?;
        let tracking = track(&mut guard, result, motion)?;
        result.tracking = Some(tracking);
        Ok(())
    })
}

/// Runs the core tracker on a result's detections.
fn track(tracker: &mut Tracker, result: &DetectionResult, motion: Option<[f64; 6]>) -> Result<Tracking> {
    let detections: Vec<Detection> = result
        .detections
        .iter()
        .map(|d| Detection { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2, score: d.score, class_id: d.class_id, anchor: 0 })
        .collect();
    let oriented: Vec<OrientedBox> = result
        .oriented_boxes
        .iter()
        .map(|o| OrientedBox {
            cx: o.cx,
            cy: o.cy,
            width: o.width,
            height: o.height,
            angle: o.angle,
            corners: [
                [o.corners[0], o.corners[1]],
                [o.corners[2], o.corners[3]],
                [o.corners[4], o.corners[5]],
                [o.corners[6], o.corners[7]],
            ],
        })
        .collect();
    let frame = Frame {
        detections: &detections,
        oriented: (!oriented.is_empty()).then_some(&oriented[..]),
        image_size: (result.image_width, result.image_height),
        motion,
    };
    let found = tracker.update(&frame)?;
    let mut ids = vec![0u64; detections.len()];
    let tracks = found
        .tracks
        .iter()
        .map(|t| {
            ids[t.detection] = t.id;
            yolo_track {
                id: t.id,
                // Fits: a result's detections are counted in u32 elsewhere in the API.
                detection: t.detection as u32,
                class_id: t.class_id,
                score: t.score,
                x1: t.bbox[0],
                y1: t.bbox[1],
                x2: t.bbox[2],
                y2: t.bbox[3],
                angle: t.angle,
            }
        })
        .collect::<Vec<_>>();
    let untracked_shown = tracks.is_empty() && !found.hide_detections;
    Ok(Tracking { tracks, ids, untracked_shown })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::yolo_result_tracks;
    use yolo_ffi_core::Detections;

    #[test]
    fn an_update_during_another_is_busy_and_changes_nothing() {
        let mut config = std::ptr::null_mut();
        let mut tracker = std::ptr::null_mut();
        // SAFETY: local out-pointers; the handles are live until freed below.
        unsafe {
            assert_eq!(yolo_tracker_config_new(yolo_tracker_kind::Bytetrack as u32, &mut config), yolo_status::Ok);
            assert_eq!(yolo_tracker_new(config, &mut tracker), yolo_status::Ok);
        }
        let found = Detections {
            detections: vec![Detection { x1: 10.0, y1: 10.0, x2: 40.0, y2: 50.0, score: 0.9, class_id: 0, anchor: 0 }],
            image_width: 64,
            image_height: 64,
            ..Detections::default()
        };
        let result = into_handle::<yolo_result>(DetectionResult::from(found));
        // SAFETY: live handles; the guard stands for another thread's update in progress.
        unsafe {
            let held = borrow_handle(tracker).unwrap().lock().unwrap();
            assert_eq!(yolo_tracker_update(tracker, result, std::ptr::null(), 0), yolo_status::Busy);
            assert_eq!(yolo_tracker_reset(tracker), yolo_status::Busy);
            drop(held);
            let mut tracks = std::ptr::null();
            let (mut count, mut shown) = (0usize, false);
            assert_eq!(yolo_result_tracks(result, &mut tracks, &mut count, &mut shown), yolo_status::InvalidArgument);
            assert_eq!(yolo_tracker_update(tracker, result, std::ptr::null(), 0), yolo_status::Ok);
            assert_eq!(yolo_result_tracks(result, &mut tracks, &mut count, &mut shown), yolo_status::Ok);
            assert_eq!(count, 1);
            assert_eq!((*tracks).id, 1);
            free_handle(result).unwrap();
            assert_eq!(yolo_tracker_free(tracker), yolo_status::Ok);
            assert_eq!(yolo_tracker_config_free(config), yolo_status::Ok);
        }
    }
}
