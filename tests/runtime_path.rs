//! An explicit ONNX Runtime path that is not ONNX Runtime is refused with a status and a message naming it;
//! once a runtime is loaded, the process keeps it and an explicit path is ignored, as the header documents.
//! Its own test binary, with one test: the first load of the process must be the bad path, and no other test
//! may have loaded ONNX Runtime before it.

mod common;

use std::ffi::CString;
use std::ptr::null_mut;

use common::*;
use yolo_ffi::*;

fn init(config: &Config) -> (yolo_status, *mut yolo_detector) {
    let mut out = null_mut();
    // SAFETY: a live config and a valid out-pointer.
    let status = unsafe { yolo_init(config.0, &mut out) };
    (status, out)
}

#[test]
fn a_path_that_is_not_onnx_runtime_is_refused_and_once_loaded_the_runtime_is_kept() {
    let model = synthetic_dir().join("v8_fixed.onnx");
    let not_ort = || Some(CString::new("/etc/hostname").unwrap());
    let bad = config_with(&model, |c| c.ort_library_path = not_ort()).unwrap();

    assert!(!yolo_ffi_core::runtime::is_loaded(), "nothing in this binary loads ONNX Runtime before this test");
    let (status, out) = init(&bad);
    assert_eq!(status, yolo_status::RuntimeUnavailable, "{}", last_error());
    assert!(out.is_null(), "no handle on failure");
    assert!(last_error().contains("/etc/hostname"), "{}", last_error());
    assert!(!yolo_ffi_core::runtime::is_loaded());

    // The failure is not sticky: the default runtime loads next.
    let good = config_with(&model, |_| {}).unwrap();
    let (status, out) = init(&good);
    assert_eq!(status, yolo_status::Ok, "{}", last_error());
    let detector = Detector(out);
    assert!(yolo_ffi_core::runtime::is_loaded());

    // Loaded once per process: the same bad path is now ignored.
    let (status, out) = init(&bad);
    assert_eq!(status, yolo_status::Ok, "{}", last_error());
    drop(Detector(out));
    drop(detector);
}
