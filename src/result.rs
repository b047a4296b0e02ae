//! The result handle and the structs read from it: detections, masks and their polygons, keypoints,
//! oriented boxes, class probabilities, class maps and depth maps, with the layouts pinned.

use std::ffi::{c_char, CString};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use std::ffi::c_void;

use yolo_ffi_core::{ClassIds, ClassMap, DepthMap, Detection, Detections, Mask, OrientedBox};

use crate::boundary::OutParam;
use crate::enums::yolo_task;
use crate::handles::{borrow_handle, free_handle, BoxOwned};
use crate::status::yolo_status;

/// Gives the detections of a result: writes a pointer to the first of `*out_count` detections, sorted by
/// descending score (end-to-end models: in the model's order). The array is owned by the result and valid
/// until `yolo_result_free`; with no detections, the count is 0 and the pointer must not be dereferenced.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_detections(
    result: *const yolo_result,
    out_detections: *mut *const yolo_detection,
    out_count: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_detections = OutParam::new(out_detections, "out_detections")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_detections.write(result.detections.as_ptr());
            out_count.write(result.detections.len());
        }
        Ok(())
    })
}

/// Writes the name of class `class_id` as the model that made the result names it, as NUL-terminated UTF-8,
/// and its length in bytes (without the NUL): the same as `yolo_class_name`, except after a reload, when a
/// result made by the replaced model still names its classes as that model did. The string is owned by the
/// result and valid until `yolo_result_free`. `YOLO_STATUS_OUT_OF_RANGE` when `class_id` is not below the
/// model's class count.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_class_name(
    result: *const yolo_result,
    class_id: u32,
    out_name: *mut *const c_char,
    out_name_len: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let names = result
            .c_class_names
            .get_or_init(|| result.class_names.iter().map(|name| crate::boundary::c_string_lossy(name)).collect());
        // SAFETY: writable by the caller's contract.
        unsafe { write_class_name(names, class_id, out_name, out_name_len) }
    })
}

/// Writes the name of class `class_id` of `names` and its length, or says it is out of range.
///
/// # Safety
/// Both out-pointers must be NULL (an error) or valid for a write; the name stays where `names` is.
pub(crate) unsafe fn write_class_name(
    names: &[CString],
    class_id: u32,
    out_name: *mut *const c_char,
    out_name_len: *mut usize,
) -> Result<()> {
    let out_name = OutParam::new(out_name, "out_name")?;
    let out_len = OutParam::new(out_name_len, "out_name_len")?;
    let name = names.get(class_id as usize).ok_or_else(|| {
        Error::out_of_range(format!("class_id {class_id} is out of range: the model has {} classes", names.len()))
    })?;
    // SAFETY: both writable by the caller's contract.
    unsafe {
        out_name.write(name.as_ptr());
        out_len.write(name.as_bytes().len());
    }
    Ok(())
}

/// Writes the task of the model that made the result (a `yolo_task` value): which of the per-detection
/// accessors apply to it. The same as `yolo_model_task`, except after a reload to a model of another task.
///
/// Safety: `result` must be a live result; `out_task` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_task(result: *const yolo_result, out_task: *mut yolo_task) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out = OutParam::new(out_task, "out_task")?;
        let task = result.task.ok_or_else(|| Error::invalid_argument("the result was not made by a model"))?;
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(task.into()) };
        Ok(())
    })
}

/// Writes the size of the image the result's boxes refer to: for encoded images, after EXIF orientation.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_image_size(
    result: *const yolo_result,
    out_width: *mut u32,
    out_height: *mut u32,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_width = OutParam::new(out_width, "out_width")?;
        let out_height = OutParam::new(out_height, "out_height")?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_width.write(result.image_width);
            out_height.write(result.image_height);
        }
        Ok(())
    })
}

/// The entry `index` of a result's per-detection data `items` (`what`), or why there is none.
fn per_detection<'a, T>(
    result: &DetectionResult,
    items: &'a [T],
    per: usize,
    index: usize,
    what: &str,
) -> Result<&'a [T]> {
    if index >= result.detections.len() {
        return Err(Error::out_of_range(format!(
            "index {index} is out of range: the result has {} detections",
            result.detections.len()
        )));
    }
    items.get(index * per..(index + 1) * per).filter(|_| per > 0).ok_or_else(|| {
        Error::invalid_argument(format!("the result has no {what}: the model's task does not give them"))
    })
}

/// Writes the instance mask of detection `index` of a segmentation model's result (see `yolo_mask`),
/// computed as Ultralytics computes it (by default at the model input's resolution, then scaled to the
/// image; with `retina_masks`, at the image's). `YOLO_STATUS_OUT_OF_RANGE` when `index` is not below the
/// detection count; `YOLO_STATUS_INVALID_ARGUMENT` when the model is not a segmentation model. The bitmap
/// is owned by the result and valid until `yolo_result_free`.
///
/// Safety: `result` must be a live result; `out_mask` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_mask(
    result: *const yolo_result,
    index: usize,
    out_mask: *mut yolo_mask,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out = OutParam::new(out_mask, "out_mask")?;
        let mask = &per_detection(result, &result.masks, 1, index, "masks")?[0];
        let mask = yolo_mask {
            left: mask.left,
            top: mask.top,
            width: mask.width,
            height: mask.height,
            data: mask.data.as_ptr(),
            data_len: mask.data.len(),
        };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(mask) };
        Ok(())
    })
}

/// Gives the outline of detection `index`'s mask as a polygon: writes a pointer to `2 * *out_count` floats,
/// the `x, y` image pixel coordinates of `*out_count` points, in order around the outer boundary of the
/// mask's largest connected region (through the centres of its boundary pixels, with the points inside
/// straight runs left out, as OpenCV's `findContours` gives it). For a mask of one region that is
/// Ultralytics' `masks.xy`; Ultralytics joins several regions into one polygon with thin bridges. An empty mask has 0
/// points, and the pointer must not be dereferenced. The polygon is traced on the first call for that
/// detection and kept by the result: the array is owned by the result and valid until `yolo_result_free`.
/// Unlike the other accessors this one computes, but it is safe to call from several threads on a shared
/// result. Errors as `yolo_result_mask`.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_mask_polygon(
    result: *const yolo_result,
    index: usize,
    out_points: *mut *const f32,
    out_count: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_points = OutParam::new(out_points, "out_points")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        let mask = &per_detection(result, &result.masks, 1, index, "masks")?[0];
        let points = result.polygons[index]
            .get_or_init(|| mask.polygon().into_iter().flatten().collect());
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_points.write(points.as_ptr());
            out_count.write(points.len() / 2);
        }
        Ok(())
    })
}

/// Gives the keypoints of detection `index` of a pose model's result: writes a pointer to the first of
/// `*out_count` keypoints (the model's keypoint count, `yolo_keypoint_shape`), in the model's order. The
/// array is owned by the result and valid until `yolo_result_free`. `YOLO_STATUS_OUT_OF_RANGE` when
/// `index` is not below the detection count; `YOLO_STATUS_INVALID_ARGUMENT` when the model is not a pose
/// model.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_keypoints(
    result: *const yolo_result,
    index: usize,
    out_keypoints: *mut *const yolo_keypoint,
    out_count: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_keypoints = OutParam::new(out_keypoints, "out_keypoints")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        let keypoints = per_detection(result, &result.keypoints, result.keypoints_per_detection, index, "keypoints")?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_keypoints.write(keypoints.as_ptr());
            out_count.write(keypoints.len());
        }
        Ok(())
    })
}

/// Copies the rotated box of detection `index` of an oriented-box model's result into `*out_box` (the
/// detection itself holds the box's axis-aligned bounds, clipped to the image). `YOLO_STATUS_OUT_OF_RANGE`
/// when `index` is not below the detection count; `YOLO_STATUS_INVALID_ARGUMENT` when the model is not an
/// oriented-box model.
///
/// Safety: `result` must be a live result; `out_box` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_oriented_box(
    result: *const yolo_result,
    index: usize,
    out_box: *mut yolo_oriented_box,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out = OutParam::new(out_box, "out_box")?;
        let oriented = per_detection(result, &result.oriented_boxes, 1, index, "oriented boxes")?[0];
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(oriented) };
        Ok(())
    })
}

/// Gives a classification result's most probable classes, best first (equal probabilities in class
/// order), at most the call's `top_k` (default 5): writes a pointer to the first of `*out_count`
/// entries. The array is owned by the result and valid until `yolo_result_free`. For models of the
/// other tasks the count is 0 and the pointer must not be dereferenced.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_classes(
    result: *const yolo_result,
    out_classes: *mut *const yolo_class_probability,
    out_count: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_classes = OutParam::new(out_classes, "out_classes")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_classes.write(result.classes.as_ptr());
            out_count.write(result.classes.len());
        }
        Ok(())
    })
}

/// Releases a result. NULL is a no-op. Passing anything else than a result from this library, or the same
/// result twice, is undefined behaviour. The common cases are caught on a best-effort basis: a pointer
/// without a result's tag (a detector handle, a result already freed whose memory is not reused yet) is left
/// alone, and the call sets `yolo_last_error()` and logs a warning instead of freeing it. Do not rely on it.
///
/// Writes the class map of a semantic segmentation model's result (see `yolo_class_map`).
/// `YOLO_STATUS_INVALID_ARGUMENT` when the model is not a semantic segmentation model. Safe to call from
/// several threads on a shared result.
///
/// Safety: `result` must be a live result; `out_map` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_class_map(
    result: *const yolo_result,
    out_map: *mut yolo_class_map,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out = OutParam::new(out_map, "out_map")?;
        let map = result.class_map.as_ref().ok_or_else(|| {
            Error::invalid_argument("the result has no class map: the model is not a semantic segmentation model")
        })?;
        let data: *const c_void = match &map.ids {
            ClassIds::U8(ids) => ids.as_ptr().cast(),
            ClassIds::U16(ids) => ids.as_ptr().cast(),
            ClassIds::U32(ids) => ids.as_ptr().cast(),
        };
        let map = yolo_class_map {
            width: map.width,
            height: map.height,
            element_size: map.ids.element_size(),
            data,
            data_len: map.ids.len(),
            pixel_counts: map.counts.as_ptr(),
            class_count: map.counts.len(),
        };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(map) };
        Ok(())
    })
}

/// Writes the depth map of a depth estimation model's result (see `yolo_depth_map`).
/// `YOLO_STATUS_INVALID_ARGUMENT` when the model is not a depth model. Safe to call from several threads
/// on a shared result.
///
/// Safety: `result` must be a live result; `out_map` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_depth_map(
    result: *const yolo_result,
    out_map: *mut yolo_depth_map,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out = OutParam::new(out_map, "out_map")?;
        let map = result.depth_map.as_ref().ok_or_else(|| {
            Error::invalid_argument("the result has no depth map: the model is not a depth estimation model")
        })?;
        let map =
            yolo_depth_map { width: map.width, height: map.height, data: map.values.as_ptr(), data_len: map.values.len() };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(map) };
        Ok(())
    })
}

/// Safety: `result` must be NULL or a live result, not used by any other thread.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_free(result: *mut yolo_result) {
    // The status is not returned (the function is void), but a failure sets the last error as usual.
    ffi_boundary!(release {
        // SAFETY: forwarded to the caller's contract.
        unsafe { free_handle(result) }.inspect_err(|error| {
            yolo_ffi_core::log::emit(yolo_ffi_core::log::Level::Warn, || format!("yolo_result_free: {}", error.message()));
        })
    });
}

/// The instance mask of one detection of a segmentation model, from `yolo_result_mask`: a bitmap cropped to
/// the pixels the object covers. Row `r`, column `c` of the bitmap is image pixel (`left + c`, `top + r`);
/// every pixel outside the bitmap is outside the object. `data` points to `width * height` bytes (equal to
/// `data_len`), row after row, each 1 inside the object and 0 outside; it is owned by the result and valid
/// until `yolo_result_free`. A mask with no pixel at the image's resolution has `width`, `height` and
/// `data_len` 0, and `data` must not be dereferenced.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct yolo_mask {
    /// Image column of the bitmap's first column.
    pub left: u32,
    /// Image row of the bitmap's first row.
    pub top: u32,
    /// Columns of the bitmap.
    pub width: u32,
    /// Rows of the bitmap.
    pub height: u32,
    /// The bitmap, `width * height` bytes.
    pub data: *const u8,
    /// Bytes at `data`.
    pub data_len: usize,
}

/// The class of every pixel of the image, from `yolo_result_class_map` (semantic segmentation), computed as
/// Ultralytics' semantic predictor computes it. Pixel (`x`, `y`) is element `y * width + x` of `data`: an
/// unsigned integer of `element_size` bytes (1 for models of up to 256 classes, 2 up to 65,536, else 4), in
/// the machine's byte order. `pixel_counts[c]` is how many pixels are of class `c`, for each of the
/// `class_count` classes. Both arrays are owned by the result and valid until `yolo_result_free`; reading
/// them from several threads at once is safe.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct yolo_class_map {
    /// Columns (the image's width).
    pub width: u32,
    /// Rows (the image's height).
    pub height: u32,
    /// Bytes per class id: 1, 2 or 4.
    pub element_size: usize,
    /// `width * height` class ids, row after row.
    pub data: *const c_void,
    /// Class ids at `data` (`width * height`).
    pub data_len: usize,
    /// Pixels per class, `class_count` of them.
    pub pixel_counts: *const u64,
    /// Entries of `pixel_counts`: the model's class count.
    pub class_count: usize,
}

/// The depth of every pixel of the image, from `yolo_result_depth_map`, in the model's unit (metres for
/// Ultralytics' depth models), computed as Ultralytics' depth predictor computes it. Pixel (`x`, `y`) is
/// `data[y * width + x]`. The array is owned by the result and valid until `yolo_result_free`; reading it
/// from several threads at once is safe.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct yolo_depth_map {
    /// Columns (the image's width).
    pub width: u32,
    /// Rows (the image's height).
    pub height: u32,
    /// `width * height` depths, row after row.
    pub data: *const f32,
    /// Floats at `data` (`width * height`).
    pub data_len: usize,
}

/// One keypoint of a pose model, in image pixels, clipped to the image. Part of an array owned by a
/// `yolo_result`, valid until `yolo_result_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_keypoint {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
    /// Visibility confidence in [0, 1]; 1 for models whose keypoints have none (`kpt_shape` `[K, 2]`).
    /// A model's value outside [0, 1] is clamped to it, and one that is not a finite number is 0. A keypoint
    /// the model gave no finite position has position (0, 0) and confidence 0.
    pub confidence: f32,
}

/// A rotated box in image pixels (Ultralytics' `xywhr` and `xyxyxyxy`), from `yolo_result_oriented_box`,
/// copied into the caller's struct. Not clipped: corners may lie outside the image.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_oriented_box {
    /// Centre column.
    pub cx: f32,
    /// Centre row.
    pub cy: f32,
    /// Width, along the direction of `angle`.
    pub width: f32,
    /// Height, across it.
    pub height: f32,
    /// Rotation in radians, as the model gives it (Ultralytics' heads: from -pi/4 to 3pi/4).
    pub angle: f32,
    /// The four corners `x0, y0, x1, y1, x2, y2, x3, y3`, in Ultralytics' order.
    pub corners: [f32; 8],
}

impl From<&OrientedBox> for yolo_oriented_box {
    fn from(b: &OrientedBox) -> Self {
        let c = b.corners;
        Self {
            cx: b.cx,
            cy: b.cy,
            width: b.width,
            height: b.height,
            angle: b.angle,
            corners: [c[0][0], c[0][1], c[1][0], c[1][1], c[2][0], c[2][1], c[3][0], c[3][1]],
        }
    }
}

/// One class of a classification result, from `yolo_result_classes`. Part of an array owned by a
/// `yolo_result`, valid until `yolo_result_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_class_probability {
    /// Class id; `yolo_class_name` gives its name.
    pub class_id: u32,
    /// The model's probability for the class.
    pub probability: f32,
}

/// One detected object. Coordinates are in pixels of the original image (after EXIF orientation for
/// encoded images), clipped to it: `0 <= x1 <= x2 <= width`, `0 <= y1 <= y2 <= height`. Detections live in
/// an array owned by a `yolo_result`, valid until `yolo_result_free`; copy them to keep them longer.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_detection {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
    /// Confidence, strictly above the threshold used.
    pub score: f32,
    /// Class id; `yolo_class_name` gives its name.
    pub class_id: u32,
}

impl From<Detection> for yolo_detection {
    fn from(d: Detection) -> Self {
        Self { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2, score: d.score, class_id: d.class_id }
    }
}

/// The tracking a result carries, or why it has none.
fn tracking(result: &DetectionResult) -> Result<&Tracking> {
    result.tracking.as_ref().ok_or_else(|| Error::invalid_argument("this result was not tracked (yolo_tracker_update)"))
}

/// Gives the tracks a tracker left on `result`, in Ultralytics' order (the order of its tracked results):
/// a pointer to the first of `*out_count` `yolo_track`s, owned by the result and valid until
/// `yolo_result_free` or the next `yolo_tracker_update` of this result. With no track, `*out_count` is 0 and
/// `*out_untracked_shown` says what Ultralytics shows for the frame: true, every detection without an id;
/// false, nothing (a track started in this frame is not confirmed yet). With tracks it is false: the
/// frame shows its tracks. `YOLO_STATUS_INVALID_ARGUMENT` for a result no tracker updated.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_tracks(
    result: *const yolo_result,
    out_tracks: *mut *const yolo_track,
    out_count: *mut usize,
    out_untracked_shown: *mut bool,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_tracks = OutParam::new(out_tracks, "out_tracks")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        let out_shown = OutParam::new(out_untracked_shown, "out_untracked_shown")?;
        let tracking = tracking(result)?;
        // SAFETY: all writable by the caller's contract.
        unsafe {
            out_tracks.write(tracking.tracks.as_ptr());
            out_count.write(tracking.tracks.len());
            out_shown.write(tracking.untracked_shown);
        }
        Ok(())
    })
}

/// Writes the track id of detection `index` of a tracked result: from 1, or 0 when the detection is no
/// track's in this frame. `YOLO_STATUS_OUT_OF_RANGE` when `index` is not below the detection count;
/// `YOLO_STATUS_INVALID_ARGUMENT` for a result no tracker updated.
///
/// Safety: `result` must be a live result; `out_id` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_track_id(
    result: *const yolo_result,
    index: usize,
    out_id: *mut u64,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_id = OutParam::new(out_id, "out_id")?;
        let tracking = tracking(result)?;
        let id = *tracking.ids.get(index).ok_or_else(|| {
            Error::out_of_range(format!("index {index} is out of range: the result has {} detections", tracking.ids.len()))
        })?;
        // SAFETY: writable by the caller's contract.
        unsafe { out_id.write(id) };
        Ok(())
    })
}

/// One track of a tracked frame (`yolo_result_tracks`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_track {
    /// The track's id, from 1, counted per tracker.
    pub id: u64,
    /// The index of the result's detection this track is (`yolo_result_detections`; its mask, keypoints or
    /// rotated box are that detection's).
    pub detection: u32,
    /// The detection's class.
    pub class_id: u32,
    /// The detection's score.
    pub score: f32,
    /// The track's box as its Kalman filter gives it: `x1, y1, x2, y2` clipped to the image; for an
    /// oriented-box model, centre `x`, `y`, `width`, `height` (not clipped) and `angle` in radians.
    pub x1: f32,
    /// See `x1`.
    pub y1: f32,
    /// See `x1`.
    pub x2: f32,
    /// See `x1`.
    pub y2: f32,
    /// An oriented track's angle in radians; 0 for other models.
    pub angle: f32,
}

/// What a tracker left on a result.
pub(crate) struct Tracking {
    pub(crate) tracks: Vec<yolo_track>,
    /// Per detection, its track's id, or 0.
    pub(crate) ids: Vec<u64>,
    /// With no track: whether the frame's detections stand without ids (else they are hidden).
    pub(crate) untracked_shown: bool,
}

/// The detections of one image, owned by the caller until `yolo_result_free`. Independent of the detector:
/// it stays valid after `yolo_free`. Not synchronised: share it between threads only read-only.
pub struct yolo_result {
    _private: [u8; 0],
}

/// What `yolo_result` points to.
pub(crate) struct DetectionResult {
    pub(crate) detections: Vec<yolo_detection>,
    pub(crate) image_width: u32,
    pub(crate) image_height: u32,
    /// Segmentation: one per detection.
    pub(crate) masks: Vec<Mask>,
    /// Segmentation: each mask's outline, `x, y` pairs, traced when first asked for.
    pub(crate) polygons: Box<[OnceLock<Vec<f32>>]>,
    /// Pose: `keypoints_per_detection` per detection.
    pub(crate) keypoints: Vec<yolo_keypoint>,
    pub(crate) keypoints_per_detection: usize,
    /// Oriented boxes: one per detection.
    pub(crate) oriented_boxes: Vec<yolo_oriented_box>,
    /// Classification: best first.
    pub(crate) classes: Vec<yolo_class_probability>,
    /// Semantic segmentation: the class of every pixel.
    pub(crate) class_map: Option<ClassMap>,
    /// Depth estimation: the depth of every pixel.
    pub(crate) depth_map: Option<DepthMap>,
    /// What a tracker made of this result (`yolo_tracker_update`), if one did.
    pub(crate) tracking: Option<Tracking>,
    /// The class names of the model that made the result.
    pub(crate) class_names: Arc<[String]>,
    /// The task of the model that made the result.
    pub(crate) task: Option<yolo_ffi_core::Task>,
    /// The same, as C strings, made when first asked for.
    pub(crate) c_class_names: OnceLock<Box<[CString]>>,
}

impl From<Detections> for DetectionResult {
    fn from(found: Detections) -> Self {
        Self {
            detections: found.detections.into_iter().map(yolo_detection::from).collect(),
            // Both fit: pixel buffers come in with u32 sizes, and decoders report u32 sizes.
            image_width: found.image_width as u32,
            image_height: found.image_height as u32,
            polygons: found.masks.iter().map(|_| OnceLock::new()).collect(),
            masks: found.masks,
            keypoints: found
                .keypoints
                .iter()
                .map(|k| yolo_keypoint { x: k.x, y: k.y, confidence: k.confidence })
                .collect(),
            keypoints_per_detection: found.keypoints_per_detection,
            oriented_boxes: found.oriented_boxes.iter().map(yolo_oriented_box::from).collect(),
            classes: found
                .classes
                .iter()
                .map(|c| yolo_class_probability { class_id: c.class_id, probability: c.probability })
                .collect(),
            class_map: found.class_map,
            depth_map: found.depth_map,
            tracking: None,
            class_names: found.class_names,
            task: found.task,
            c_class_names: OnceLock::new(),
        }
    }
}

impl BoxOwned for yolo_result {
    type Rust = DetectionResult;
    const NAME: &'static str = "result";
    /// "yoloRSLT" in ASCII.
    const TAG: u64 = u64::from_be_bytes(*b"yoloRSLT");
}
