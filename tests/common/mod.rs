//! Helpers shared by the integration tests. They call the library only through its C ABI.

#![allow(dead_code)]

use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;

use yolo_ffi::*;

/// `../shared/`, the developers' and CI's fixtures; users' clones do not have it.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    dir.join("reference/ultralytics.json").is_file().then_some(dir)
}

/// The cache that `scripts/fetch.sh` fills (models and images from PyPI).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("YOLO_FFI_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| yolo_ffi_core::runtime::cache_dir().expect("HOME is set"))
}

/// Where `scripts/make_test_models.py` wrote the synthetic models.
pub fn synthetic_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("build/test-models")
}

/// A fixture image by name, from the cache or `../shared/images`.
pub fn image(name: &str) -> Vec<u8> {
    let cached = cache_dir().join("images").join(name);
    let path = if cached.is_file() {
        cached
    } else {
        shared_dir().expect("run `make fixtures` first").join("images").join(name)
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn last_error() -> String {
    // SAFETY: yolo_last_error never returns NULL and the string lives until the next call on this thread.
    unsafe { CStr::from_ptr(yolo_last_error()) }.to_string_lossy().into_owned()
}

/// A detector owned by a test; freed on drop.
pub struct Detector(pub *mut yolo_detector);

// SAFETY: the C API documents detectors as thread-safe.
unsafe impl Send for Detector {}
// SAFETY: as above.
unsafe impl Sync for Detector {}

impl Drop for Detector {
    fn drop(&mut self) {
        yolo_free(self.0);
    }
}

pub fn config(model: &std::path::Path) -> (yolo_config, CString) {
    let path = CString::new(model.as_os_str().as_encoded_bytes()).unwrap();
    let mut config = yolo_config_default();
    config.model_path = path.as_ptr();
    (config, path)
}

pub fn init_with(
    model: &std::path::Path,
    adjust: impl FnOnce(&mut yolo_config),
) -> Result<Detector, (yolo_status, String)> {
    let (mut config, _path) = config(model);
    adjust(&mut config);
    let mut out = std::ptr::null_mut();
    // SAFETY: config and its path are valid for the call; out is writable.
    let status = unsafe { yolo_init(&config, &mut out) };
    if status == yolo_status::Ok {
        Ok(Detector(out))
    } else {
        assert!(out.is_null(), "out_detector written on failure");
        Err((status, last_error()))
    }
}

pub fn init(model: &std::path::Path) -> Detector {
    init_with(model, |_| {}).unwrap_or_else(|(s, m)| panic!("yolo_init({}) = {s:?}: {m}", model.display()))
}

/// Copies a result's detections out and frees it.
pub fn take_result(result: *mut yolo_result) -> Vec<yolo_detection> {
    let mut ptr = std::ptr::null();
    let mut count = 0usize;
    // SAFETY: result is live; out-pointers are locals.
    let status = unsafe { yolo_result_detections(result, &mut ptr, &mut count) };
    assert_eq!(status, yolo_status::Ok);
    let out = if count == 0 {
        Vec::new()
    } else {
        // SAFETY: the result owns `count` detections at `ptr` until freed below.
        unsafe { std::slice::from_raw_parts(ptr, count) }.to_vec()
    };
    // SAFETY: freed once.
    unsafe { yolo_result_free(result) };
    out
}

pub fn detect(
    detector: &Detector,
    bytes: &[u8],
    options: Option<&yolo_detect_options>,
) -> Result<Vec<yolo_detection>, (yolo_status, String)> {
    let mut result = std::ptr::null_mut();
    let options = options.map_or(std::ptr::null(), |o| o as *const _);
    // SAFETY: all pointers valid for the call.
    let status = unsafe { yolo_detect(detector.0, bytes.as_ptr(), bytes.len(), options, &mut result) };
    if status == yolo_status::Ok {
        Ok(take_result(result))
    } else {
        assert!(result.is_null(), "out_result written on failure");
        Err((status, last_error()))
    }
}

#[allow(clippy::too_many_arguments)]
pub fn detect_pixels(
    detector: &Detector,
    pixels: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    format: u32,
    options: Option<&yolo_detect_options>,
) -> Result<Vec<yolo_detection>, (yolo_status, String)> {
    let mut result = std::ptr::null_mut();
    let options = options.map_or(std::ptr::null(), |o| o as *const _);
    // SAFETY: all pointers valid for the call.
    let status = unsafe {
        yolo_detect_pixels(
            detector.0,
            pixels.as_ptr(),
            pixels.len(),
            width,
            height,
            stride,
            format,
            options,
            &mut result,
        )
    };
    if status == yolo_status::Ok {
        Ok(take_result(result))
    } else {
        assert!(result.is_null(), "out_result written on failure");
        Err((status, last_error()))
    }
}

pub fn class_name(detector: &Detector, id: u32) -> Result<String, yolo_status> {
    let mut name: *const c_char = std::ptr::null();
    let mut len = 0usize;
    // SAFETY: live detector, local out-pointers.
    let status = unsafe { yolo_class_name(detector.0, id, &mut name, &mut len) };
    if status != yolo_status::Ok {
        return Err(status);
    }
    // SAFETY: NUL-terminated, owned by the detector.
    let s = unsafe { CStr::from_ptr(name) }.to_str().unwrap().to_owned();
    assert_eq!(s.len(), len);
    Ok(s)
}

pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
}
