//! The detector the C-ABI targets share: one per process, on the small synthetic model, so that each input
//! runs in microseconds. `YOLO_FUZZ_MODEL` overrides the model.

use std::ffi::CString;
use std::ptr::null_mut;
use std::sync::OnceLock;

use yolo_ffi::{
    yolo_class_count, yolo_config_free, yolo_config_new, yolo_config_set_max_image_pixels, yolo_config_set_model_path,
    yolo_config_set_pool_size, yolo_config_set_threads_per_session, yolo_detector, yolo_init, yolo_last_error,
    yolo_result, yolo_result_detections, yolo_result_image_size, yolo_status,
};

/// A live detector handle; the library's handles may be used from any thread.
pub struct Shared(pub *mut yolo_detector);
// SAFETY: detector handles are thread-safe by the library's contract (documented in the header).
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

/// libfuzzer-sys aborts on every panic, even one that is caught. libjpeg reports a corrupt stream by
/// unwinding through the mozjpeg crate, which catches it and returns an error; that is how the library is
/// meant to work, so the hook is replaced by one that only prints. A panic that reaches the fuzz target is
/// still a crash: libfuzzer-sys aborts when the target unwinds.
pub fn quiet_caught_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        std::panic::set_hook(Box::new(|info| {
            if !info.location().is_some_and(|l| l.file().contains("mozjpeg")) {
                eprintln!("{info}");
            }
        }))
    });
}

/// The process's detector, created on first use. Panics (a fuzzer setup error, not a finding) when the model
/// or ONNX Runtime cannot be loaded.
pub fn detector() -> *mut yolo_detector {
    static DETECTOR: OnceLock<Shared> = OnceLock::new();
    DETECTOR
        .get_or_init(|| {
            quiet_caught_panics();
            let model = std::env::var("YOLO_FUZZ_MODEL")
                .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../build/test-models/v8_fixed.onnx").into());
            let model = CString::new(model).expect("model path without NUL");
            let (mut config, mut out) = (null_mut(), null_mut());
            // SAFETY: `config` is live from `yolo_config_new` on; the path outlives the calls; `out` is a
            // valid out-pointer. The config is freed once, after the message is read.
            let status = unsafe {
                [
                    yolo_config_new(&mut config),
                    yolo_config_set_model_path(config, model.as_ptr()),
                    yolo_config_set_pool_size(config, 1),
                    yolo_config_set_threads_per_session(config, 1),
                    // Small enough that no input of libFuzzer's default length limit makes a run slow.
                    yolo_config_set_max_image_pixels(config, 4_000_000),
                    yolo_init(config, &mut out),
                ]
                .into_iter()
                .find(|s| *s != yolo_status::Ok)
                .unwrap_or(yolo_status::Ok)
            };
            if status != yolo_status::Ok {
                // SAFETY: the library's last-error string is NUL-terminated and valid until the next call.
                let message = unsafe { std::ffi::CStr::from_ptr(yolo_last_error()) };
                panic!("fuzz setup: yolo_init failed ({status:?}): {message:?}; run `make test-models` first");
            }
            // SAFETY: the live config from above, freed once.
            unsafe { yolo_config_free(config) };
            Shared(out)
        })
        .0
}

/// Statuses a detect call may return for hostile input. Anything else (a panic caught at the boundary, a
/// runtime failure on a valid tensor) is a finding.
pub fn expected(status: yolo_status) -> bool {
    matches!(
        status,
        yolo_status::Ok | yolo_status::InvalidArgument | yolo_status::ImageDecodeFailed | yolo_status::ImageTooLarge
    )
}

/// Checks the header's promise on every detection of `result`, with no exception: inside the image with
/// ordered corners, a finite score above `threshold` (at most the call's), a class the model names.
pub fn check_promise(result: *const yolo_result, threshold: f32) {
    let (mut detections, mut count) = (std::ptr::null(), 0usize);
    let (mut width, mut height, mut classes) = (0u32, 0u32, 0usize);
    // SAFETY: `result` is a live result of this process's detector; the out-pointers are local.
    unsafe {
        assert_eq!(yolo_result_detections(result, &mut detections, &mut count), yolo_status::Ok);
        assert_eq!(yolo_result_image_size(result, &mut width, &mut height), yolo_status::Ok);
        assert_eq!(yolo_class_count(detector(), &mut classes), yolo_status::Ok);
    }
    let found = if count == 0 {
        &[][..]
    } else {
        // SAFETY: the result owns `count` detections at `detections` until it is freed.
        unsafe { std::slice::from_raw_parts(detections, count) }
    };
    let (w, h) = (width as f32, height as f32);
    for d in found {
        assert!(0.0 <= d.x1 && d.x1 <= d.x2 && d.x2 <= w, "x {} {} outside 0..={w}", d.x1, d.x2);
        assert!(0.0 <= d.y1 && d.y1 <= d.y2 && d.y2 <= h, "y {} {} outside 0..={h}", d.y1, d.y2);
        assert!(d.score.is_finite() && d.score > threshold, "score {}", d.score);
        assert!((d.class_id as usize) < classes, "class {} of {classes}", d.class_id);
    }
}
