//! The detect calls: an encoded image, a pixel buffer, or a batch of encoded images, each giving results.

use crate::error::{Error, Result};
use yolo_ffi_core::{DecodeSettings, Detections};

use crate::boundary::{input_array, input_bytes, non_null, OutParam};
use crate::detector::{detector_from, yolo_detector, DetectorHandle};
use crate::enums::pixel_format_from_raw;
use crate::handles::into_handle;
use crate::options::{option_values, yolo_detect_options};
use crate::result::{yolo_result, DetectionResult};
use crate::status::yolo_status;

/// The per-call settings: the detector's defaults with `options` applied, or `None` for NULL options.
///
/// Safety: `options` must be NULL or live options from `yolo_detect_options_new`.
unsafe fn settings_for(handle: &DetectorHandle, options: *const yolo_detect_options) -> Result<Option<DecodeSettings>> {
    // SAFETY: forwarded to the caller's contract.
    let options = unsafe { option_values(options) }?;
    Ok(options.map(|options| options.apply_to(handle.detector.default_settings())))
}

/// Writes detections as a new result.
///
/// Safety: `out` must be valid for a write.
unsafe fn write_result(out: OutParam<*mut yolo_result>, found: Detections) {
    // SAFETY: forwarded to the caller's contract.
    unsafe { out.write(into_handle(DetectionResult::from(found))) };
}

/// Decodes `count` encoded images and detects objects in each: `images[i]` points to `image_lens[i]` bytes.
/// On a model with a dynamic batch dimension, up to 8 images share one ONNX Runtime run (letterboxed as
/// Ultralytics batches them: to the minimal rectangle when all have the same size, else to the full input
/// size); other models run the images one by one. `count` is 1 to `YOLO_BATCH_LIMIT`. `options` may be
/// NULL for the detector's defaults.
///
/// All or nothing: on success, writes `count` new results to `out_results[0..count]`, in the order of
/// `images`, each owned by the caller until `yolo_result_free`; on any failure (one image that does not
/// decode fails the call, and the message names it) nothing is written. The arrays and image bytes are
/// only read during the call. Thread-safe, as `yolo_detect`.
///
/// Safety: `detector` must be a live detector; `images` and `image_lens` must be readable arrays of `count`
/// entries, each `images[i]` readable for `image_lens[i]` bytes; `options` must be NULL or valid;
/// `out_results` must be writable for `count` pointers.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_batch(
    detector: *const yolo_detector,
    images: *const *const u8,
    image_lens: *const usize,
    count: usize,
    options: *const yolo_detect_options,
    out_results: *mut *mut yolo_result,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        if count == 0 || count > YOLO_BATCH_LIMIT {
            return Err(Error::invalid_argument(format!("count is {count}; it must be 1 to {YOLO_BATCH_LIMIT}")));
        }
        // SAFETY: both arrays hold `count` entries by the caller's contract.
        let (pointers, lengths) = unsafe { (input_array(images, count, "images")?, input_array(image_lens, count, "image_lens")?) };
        let encoded = pointers
            .iter()
            .zip(lengths)
            .enumerate()
            // SAFETY: each image is readable for its length by the caller's contract.
            .map(|(i, (&ptr, &len))| unsafe { input_bytes(ptr, len, &format!("images[{i}]")) })
            .collect::<Result<Vec<&[u8]>>>()?;
        non_null(out_results, "out_results")?;
        // SAFETY: NULL or valid by the caller's contract.
        let settings = unsafe { settings_for(&handle, options) }?;
        let found = handle.detector.detect_encoded_batch(&encoded, settings.as_ref())?;
        for (i, detections) in found.into_iter().enumerate() {
            // SAFETY: `out_results` is non-null and writable for `count` pointers, and `i < count`.
            let slot = OutParam::new(unsafe { out_results.add(i) }, "out_results")?;
            // SAFETY: as above.
            unsafe { write_result(slot, detections) };
        }
        Ok(())
    })
}

/// Decodes an encoded image (JPEG, PNG, BMP, WebP, GIF first frame or TIFF; EXIF orientation applied) and
/// detects objects in it. `options` may be NULL for the detector's defaults.
///
/// On success, writes a new result to `*out_result`, owned by the caller until `yolo_result_free`. The
/// image bytes are only read during the call. Thread-safe: call it from any number of threads on the same
/// detector; when every session is busy it waits up to the config's `acquire_timeout_ms`.
///
/// Safety: `detector` must be a live detector; `encoded` must be readable for `encoded_len` bytes; `options` must be
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
        let handle = detector_from(detector)?;
        // SAFETY: readable for `encoded_len` bytes by the caller's contract.
        let bytes = unsafe { input_bytes(encoded, encoded_len, "encoded") }?;
        let out = OutParam::new(out_result, "out_result")?;
        // SAFETY: NULL or valid by the caller's contract.
        let settings = unsafe { settings_for(&handle, options) }?;
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
/// Safety: `detector` must be a live detector; `pixels` must be readable for `pixels_len` bytes; `options` must be
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
        let handle = detector_from(detector)?;
        // SAFETY: readable for `pixels_len` bytes by the caller's contract.
        let bytes = unsafe { input_bytes(pixels, pixels_len, "pixels") }?;
        let out = OutParam::new(out_result, "out_result")?;
        let format = pixel_format_from_raw(pixel_format)?;
        // SAFETY: NULL or valid by the caller's contract.
        let settings = unsafe { settings_for(&handle, options) }?;
        let detections =
            handle.detector.detect_buffer(bytes, width as usize, height as usize, stride_bytes, format, settings.as_ref())?;
        // SAFETY: `out` is writable by the caller's contract.
        unsafe { write_result(out, detections) };
        Ok(())
    })
}

/// The most images one `yolo_detect_batch` call takes.
pub const YOLO_BATCH_LIMIT: usize = 1024;
