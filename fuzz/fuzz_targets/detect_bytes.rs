//! `yolo_detect` on arbitrary bytes: format sniffing, every decoder the library enables, EXIF orientation,
//! the pixel limit, the letterbox and a real ONNX Runtime run, through the C ABI.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use yolo_ffi::{yolo_detect, yolo_result_free, yolo_status};

fuzz_target!(|data: &[u8]| {
    let detector = common::detector();
    let mut result = std::ptr::null_mut();
    // SAFETY: `data` is readable for its length; NULL options; `result` is a valid out-pointer.
    let status = unsafe { yolo_detect(detector, data.as_ptr(), data.len(), std::ptr::null(), &mut result) };
    assert!(common::expected(status), "unexpected status {status:?}");
    if status == yolo_status::Ok {
        common::check_promise(result, 0.25);
        // SAFETY: freed once, by its only owner.
        unsafe { yolo_result_free(result) };
    } else {
        assert!(result.is_null(), "no result is written on failure");
    }
});
