//! The exported functions. Each body runs inside `ffi_boundary!`, checks its pointers with the helpers in
//! `boundary` and `handles`, then calls the core.

use std::ffi::c_char;

use super::boundary::{input_bytes, last_error_ptr, non_null, OutParam};
use super::handles::{borrow_handle, free_handle, into_handle};
use super::types::*;
use crate::detector::Detections;
use crate::detector::Detector;
use crate::error::{Error, ErrorKind, Result};
use crate::image_input::PixelView;
use crate::postprocess::NmsSettings;

/// The library's version, `MAJOR.MINOR.PATCH`, as a static NUL-terminated string. Never NULL, never freed.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_version() -> *const c_char {
    ffi_boundary!(value c"?".as_ptr(), { concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast() })
}

/// A static, NUL-terminated description of `status`; unknown values give "unknown status". Never NULL,
/// never freed. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_status_string(status: u32) -> *const c_char {
    ffi_boundary!(value c"unknown status".as_ptr(), {
        yolo_status::ALL
            .iter()
            .find(|s| **s as u32 == status)
            .map_or(c"unknown status".as_ptr(), |s| s.description().as_ptr())
    })
}

/// The message of the last failed call on this thread, as NUL-terminated UTF-8; "" after a successful call.
/// Never NULL. The pointer is owned by the library and valid until the next call into the library on the
/// same thread: copy the message to keep it. Each thread has its own message.
#[no_mangle]
pub extern "C" fn yolo_last_error() -> *const c_char {
    ffi_boundary!(value c"".as_ptr(), { last_error_ptr() })
}

/// A config with every default set and `model_path` NULL: set `model_path`, then pass it to `yolo_init`.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_config_default() -> yolo_config {
    ffi_boundary!(value yolo_config::default(), { yolo_config::default() })
}

/// Options that inherit every setting from the detector: change the fields to override. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_detect_options_default() -> yolo_detect_options {
    ffi_boundary!(value yolo_detect_options::default(), { yolo_detect_options::default() })
}

/// Loads ONNX Runtime (once per process), reads the model, builds `pool_size` sessions and runs one warm-up
/// inference to check the output layout. Blocks until all of that is done.
///
/// On success, writes a new detector to `*out_detector`; the caller owns it and must release it with
/// `yolo_free`. `config` is only read during the call. Thread-safe: several threads may create detectors
/// at once.
///
/// # Safety
/// `config` must be NULL or point to a valid `yolo_config` whose strings are NULL or NUL-terminated;
/// `out_detector` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_init(config: *const yolo_config, out_detector: *mut *mut yolo_detector) -> yolo_status {
    ffi_boundary!(status {
        let config = non_null(config, "config")?;
        let out = OutParam::new(out_detector, "out_detector")?;
        // SAFETY: non-null; valid and its strings NUL-terminated by the caller's contract.
        let core_config = unsafe { (*config).to_core() }?;
        let detector = Detector::new(&core_config)?;
        // SAFETY: `out` is non-null and writable by the caller's contract.
        unsafe { out.write(into_handle(DetectorHandle::new(detector))) };
        Ok(())
    })
}

/// Releases a detector, its sessions and its buffers. NULL is a no-op. Results already returned stay valid.
///
/// # Safety
/// `detector` must be NULL or a detector from `yolo_init` that was not freed yet, and no other thread may be
/// using it during or after this call.
#[no_mangle]
pub unsafe extern "C" fn yolo_free(detector: *mut yolo_detector) {
    // SAFETY: forwarded to the caller's contract.
    ffi_boundary!(value(), { unsafe { free_handle(detector) } })
}

/// Merges the optional per-call options with the detector's defaults.
///
/// # Safety
/// `options` must be NULL or point to a valid `yolo_detect_options`.
unsafe fn settings_for(handle: &DetectorHandle, options: *const yolo_detect_options) -> Result<Option<NmsSettings>> {
    if options.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and valid by the caller's contract.
    let options = unsafe { &*options };
    options.apply_to(handle.detector.default_settings()).map(Some)
}

/// Writes detections as a new result.
///
/// # Safety
/// `out` must be valid for a write.
unsafe fn write_result(out: OutParam<*mut yolo_result>, found: Detections) {
    let result = DetectionResult {
        detections: found.detections.into_iter().map(yolo_detection::from).collect(),
        // Both fit: pixel buffers come in with u32 sizes, and decoders report u32 sizes.
        image_width: found.image_width as u32,
        image_height: found.image_height as u32,
    };
    // SAFETY: forwarded to the caller's contract.
    unsafe { out.write(into_handle(result)) };
}

/// Decodes an encoded image (JPEG, PNG, BMP, WebP, GIF first frame or TIFF; EXIF orientation applied) and
/// detects objects in it. `options` may be NULL for the detector's defaults.
///
/// On success, writes a new result to `*out_result`, owned by the caller until `yolo_result_free`. The
/// image bytes are only read during the call. Thread-safe: call it from any number of threads on the same
/// detector; when every session is busy it waits up to the config's `acquire_timeout_ms`.
///
/// # Safety
/// `detector` must be a live detector; `encoded` must be readable for `encoded_len` bytes; `options` must be
/// NULL or valid; `out_result` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect(
    detector: *const yolo_detector,
    encoded: *const u8,
    encoded_len: usize,
    options: *const yolo_detect_options,
    out_result: *mut *mut yolo_result,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live detector by the caller's contract.
        let handle = unsafe { borrow_handle(detector) }?;
        // SAFETY: readable for `encoded_len` bytes by the caller's contract.
        let bytes = unsafe { input_bytes(encoded, encoded_len, "encoded") }?;
        let out = OutParam::new(out_result, "out_result")?;
        // SAFETY: NULL or valid by the caller's contract.
        let settings = unsafe { settings_for(handle, options) }?;
        let detections = handle.detector.detect_encoded(bytes, settings.as_ref())?;
        // SAFETY: `out` is writable by the caller's contract.
        unsafe { write_result(out, detections) };
        Ok(())
    })
}

/// Detects objects in a pixel buffer: `height` rows of `width` pixels in `pixel_format` (a
/// `yolo_pixel_format` value), each row starting `stride_bytes` after the previous one. The buffer is read
/// in place, with no conversion on the caller's side: pass an OpenCV `cv::Mat` as BGR8 with its `step`, or a
/// numpy array with its `strides[0]`. `pixels_len` must cover `(height - 1) * stride_bytes + width * bpp`
/// bytes. `options` may be NULL for the detector's defaults.
///
/// Ownership, lifetime and thread-safety are as for `yolo_detect`.
///
/// # Safety
/// `detector` must be a live detector; `pixels` must be readable for `pixels_len` bytes; `options` must be
/// NULL or valid; `out_result` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_pixels(
    detector: *const yolo_detector,
    pixels: *const u8,
    pixels_len: usize,
    width: u32,
    height: u32,
    stride_bytes: usize,
    pixel_format: u32,
    options: *const yolo_detect_options,
    out_result: *mut *mut yolo_result,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live detector by the caller's contract.
        let handle = unsafe { borrow_handle(detector) }?;
        // SAFETY: readable for `pixels_len` bytes by the caller's contract.
        let bytes = unsafe { input_bytes(pixels, pixels_len, "pixels") }?;
        let out = OutParam::new(out_result, "out_result")?;
        let format = pixel_format_from_raw(pixel_format)?;
        let view = PixelView::new(bytes, width as usize, height as usize, stride_bytes, format)?;
        // SAFETY: NULL or valid by the caller's contract.
        let settings = unsafe { settings_for(handle, options) }?;
        let detections = handle.detector.detect_pixels(&view, settings.as_ref())?;
        // SAFETY: `out` is writable by the caller's contract.
        unsafe { write_result(out, detections) };
        Ok(())
    })
}

/// Gives the detections of a result: writes a pointer to the first of `*out_count` detections, sorted by
/// descending score (end-to-end models: in the model's order). The array is owned by the result and valid
/// until `yolo_result_free`; with no detections, the count is 0 and the pointer must not be dereferenced.
///
/// # Safety
/// `result` must be a live result; the out-pointers must be valid for writes.
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

/// Writes the size of the image the result's boxes refer to: for encoded images, after EXIF orientation.
///
/// # Safety
/// `result` must be a live result; the out-pointers must be valid for writes.
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

/// Releases a result. NULL is a no-op. Passing anything else than a result from `yolo_detect` or
/// `yolo_detect_pixels`, or the same result twice, is undefined behaviour.
///
/// # Safety
/// `result` must be NULL or a live result, not used by any other thread.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_free(result: *mut yolo_result) {
    // SAFETY: forwarded to the caller's contract.
    ffi_boundary!(value(), { unsafe { free_handle(result) } })
}

/// Writes the number of classes the model names. An end-to-end model without `names` metadata reports 0.
/// Thread-safe.
///
/// # Safety
/// `detector` must be a live detector; `out_count` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_class_count(detector: *const yolo_detector, out_count: *mut usize) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live detector by the caller's contract.
        let handle = unsafe { borrow_handle(detector) }?;
        let out = OutParam::new(out_count, "out_count")?;
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(handle.c_names.len()) };
        Ok(())
    })
}

/// Writes the name of class `class_id` as NUL-terminated UTF-8 and its length in bytes (without the NUL).
/// The string is owned by the detector and valid until `yolo_free`. `YOLO_STATUS_OUT_OF_RANGE` when
/// `class_id >= yolo_class_count`. Thread-safe.
///
/// # Safety
/// `detector` must be a live detector; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_class_name(
    detector: *const yolo_detector,
    class_id: u32,
    out_name: *mut *const c_char,
    out_name_len: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live detector by the caller's contract.
        let handle = unsafe { borrow_handle(detector) }?;
        let out_name = OutParam::new(out_name, "out_name")?;
        let out_len = OutParam::new(out_name_len, "out_name_len")?;
        let name = handle.c_names.get(class_id as usize).ok_or_else(|| {
            Error::new(ErrorKind::OutOfRange, format!("class_id {class_id} is out of range: the model has {} classes", handle.c_names.len()))
        })?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_name.write(name.as_ptr());
            out_len.write(name.as_bytes().len());
        }
        Ok(())
    })
}

/// Writes the model's input size in pixels: the fixed input shape, or for a dynamic model the letterbox
/// target, of which each image uses the minimal stride-aligned rectangle. Thread-safe.
///
/// # Safety
/// `detector` must be a live detector; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_input_size(
    detector: *const yolo_detector,
    out_width: *mut u32,
    out_height: *mut u32,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live detector by the caller's contract.
        let handle = unsafe { borrow_handle(detector) }?;
        let out_width = OutParam::new(out_width, "out_width")?;
        let out_height = OutParam::new(out_height, "out_height")?;
        let (height, width) = handle.detector.input_size();
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_width.write(width);
            out_height.write(height);
        }
        Ok(())
    })
}
