//! `yolo_detect_pixels` with arbitrary width, height, stride, pixel format and options against a buffer of
//! arbitrary length: the length and overflow checks, then the letterbox of whatever passes them.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use yolo_ffi::{
    yolo_detect_options_free, yolo_detect_options_new, yolo_detect_options_set_class_agnostic,
    yolo_detect_options_set_conf_threshold, yolo_detect_options_set_iou_threshold,
    yolo_detect_options_set_max_detections, yolo_detect_pixels, yolo_result_free, yolo_status,
};

/// Reads a little-endian value from the front of `data`, or zero when it runs out.
fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut bytes = [0u8; N];
    let n = N.min(data.len());
    bytes[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    bytes
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let width = u32::from_le_bytes(take(&mut data));
    let height = u32::from_le_bytes(take(&mut data));
    let stride = u64::from_le_bytes(take(&mut data)) as usize;
    let format = u32::from_le_bytes(take(&mut data));
    let [use_options] = take(&mut data);
    let (conf, iou) = (f32::from_le_bytes(take(&mut data)), f32::from_le_bytes(take(&mut data)));
    let (max_detections, agnostic) = (u32::from_le_bytes(take(&mut data)), take::<1>(&mut data)[0]);
    let mut options = std::ptr::null_mut();
    if use_options & 1 == 1 {
        // SAFETY: `options` is live from `yolo_detect_options_new` on and freed below. Setters refuse
        // values out of range (NaN, negative, zero) and leave the options as they were, which is checked.
        unsafe {
            assert_eq!(yolo_detect_options_new(&mut options), yolo_status::Ok);
            let statuses = [
                yolo_detect_options_set_conf_threshold(options, conf),
                yolo_detect_options_set_iou_threshold(options, iou),
                yolo_detect_options_set_max_detections(options, max_detections),
                yolo_detect_options_set_class_agnostic(options, agnostic & 1 == 1),
            ];
            assert!(statuses.iter().all(|s| matches!(s, yolo_status::Ok | yolo_status::InvalidArgument)));
        }
    }
    let mut result = std::ptr::null_mut();
    // SAFETY: `data` is readable for its length, `options` is NULL or live, `result` is writable.
    let status = unsafe {
        yolo_detect_pixels(
            common::detector(),
            data.as_ptr(),
            data.len(),
            width,
            height,
            stride,
            format,
            options,
            &mut result,
        )
    };
    // SAFETY: NULL or the live options made above, freed once.
    unsafe { yolo_detect_options_free(options) };
    assert!(common::expected(status), "unexpected status {status:?}");
    if status == yolo_status::Ok {
        // The default threshold is 0.25; a call with options may have set any threshold from 0.
        common::check_promise(result, if use_options & 1 == 1 { 0.0 } else { 0.25 });
        // SAFETY: freed once, by its only owner.
        unsafe { yolo_result_free(result) };
    } else {
        assert!(result.is_null(), "no result is written on failure");
    }
});
