//! `yolo_detect_pixels` with arbitrary width, height, stride, pixel format and options against a buffer of
//! arbitrary length: the length and overflow checks, then the letterbox of whatever passes them.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use yolo_ffi::{
    yolo_detect_options, yolo_detect_options_default, yolo_detect_pixels, yolo_result_free, yolo_status,
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
    let options = yolo_detect_options {
        conf_threshold: f32::from_le_bytes(take(&mut data)),
        iou_threshold: f32::from_le_bytes(take(&mut data)),
        max_detections: u32::from_le_bytes(take(&mut data)),
        class_agnostic: i32::from_le_bytes(take(&mut data)),
        ..yolo_detect_options_default()
    };
    let options_ptr = if use_options & 1 == 1 { &options as *const _ } else { std::ptr::null() };
    let mut result = std::ptr::null_mut();
    // SAFETY: `data` is readable for its length, `options_ptr` is NULL or valid, `result` is writable.
    let status = unsafe {
        yolo_detect_pixels(
            common::detector(),
            data.as_ptr(),
            data.len(),
            width,
            height,
            stride,
            format,
            options_ptr,
            &mut result,
        )
    };
    assert!(common::expected(status), "unexpected status {status:?}");
    if status == yolo_status::Ok {
        // The default threshold is 0.25; a call with options may have set any threshold from 0.
        common::check_promise(result, if options_ptr.is_null() { 0.25 } else { 0.0 });
        // SAFETY: freed once, by its only owner.
        unsafe { yolo_result_free(result) };
    } else {
        assert!(result.is_null(), "no result is written on failure");
    }
});
