//! An ONNX Runtime older than the C API version the library needs is refused with a status and a message
//! naming it, not a crash. Its own test binary: a process can load only one ONNX Runtime.
//! Needs `scripts/fetch.sh old-ort` (the Makefile's `test-rust` runs it).

mod common;

use std::ffi::CString;

use common::*;
use yolo_ffi::*;

#[test]
fn an_onnx_runtime_older_than_the_api_version_is_refused() {
    let old = cache_dir().join("onnxruntime-1.20.1/libonnxruntime.so.1.20.1");
    assert!(old.is_file(), "{} is missing: run `scripts/fetch.sh old-ort`", old.display());
    let library = CString::new(old.as_os_str().as_encoded_bytes()).unwrap();
    let config = config_with(&synthetic_dir().join("v8_fixed.onnx"), |c| c.ort_library_path = Some(library)).unwrap();
    let mut out = std::ptr::null_mut();
    // SAFETY: a live config and a valid out-pointer.
    let status = unsafe { yolo_init(config.0, &mut out) };
    assert_eq!(status, yolo_status::RuntimeUnavailable, "{}", last_error());
    assert!(out.is_null());
    let message = last_error();
    assert!(message.contains("libonnxruntime.so.1.20.1"), "{message}");
    assert!(message.to_lowercase().contains("version"), "{message}");
    // The failure is not sticky in a way that crashes: a second try reports the same.
    // SAFETY: as above.
    assert_eq!(unsafe { yolo_init(config.0, &mut out) }, yolo_status::RuntimeUnavailable);
}
