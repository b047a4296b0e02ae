//! Helpers shared by the integration tests. They call the library only through its C ABI.

#![allow(dead_code)]

use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;

use yolo_ffi::*;

/// The variable that makes a missing `../shared/` a failure instead of a skip; `.ci/run` sets it.
pub const REQUIRE_SHARED_ENV: &str = "YOLO_FFI_REQUIRE_SHARED";

/// `../shared/`, the developers' and CI's fixtures; users' clones do not have it.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    dir.join("reference/ultralytics.json").is_file().then_some(dir)
}

/// `../shared/` for a test that needs it: `None` (and a loud SKIPPED naming `what`) in a user's clone,
/// a panic when [`REQUIRE_SHARED_ENV`] is `1`, so that CI cannot lose the coverage without a word.
pub fn shared_or_skip(what: &str) -> Option<PathBuf> {
    let found = shared_dir();
    if found.is_none() {
        assert!(
            std::env::var_os(REQUIRE_SHARED_ENV).is_none_or(|v| v != "1"),
            "{what}: ../shared/ is not beside this clone and {REQUIRE_SHARED_ENV}=1 requires it"
        );
        eprintln!("SKIPPED: {what}: ../shared/ is not beside this clone (developers' and CI's fixtures)");
    }
    found
}

/// The cache that `scripts/fetch.sh` fills (models and images from PyPI).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("YOLO_FFI_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| yolo_ffi_core::runtime::cache_dir().expect("HOME is set"))
}

/// The demo model: from the cache that `make fixtures` fills, else `../shared/`.
pub fn demo_model() -> PathBuf {
    let cached = cache_dir().join("models/nudenet-320n.onnx");
    if cached.is_file() {
        cached
    } else {
        shared_dir().expect("run `make fixtures` first").join("models/nudenet-320n.onnx")
    }
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

/// What a test sets on a detector's config: `None` (the default of every field) calls no setter, so that
/// the library's own defaults apply; [`config_with`] calls the `yolo_config_set_*` function of each field
/// that is set, in the order of the fields.
#[derive(Default)]
pub struct TestConfig {
    pub ort_library_path: Option<CString>,
    pub pool_size: Option<u32>,
    pub threads_per_session: Option<u32>,
    /// Square letterbox size; 0 for the model's.
    pub imgsz: Option<u32>,
    pub conf_threshold: Option<f32>,
    pub iou_threshold: Option<f32>,
    pub max_detections: Option<u32>,
    pub class_agnostic: Option<bool>,
    pub acquire_timeout_ms: Option<u32>,
    pub max_image_pixels: Option<u64>,
    pub async_load: Option<bool>,
    pub load_wait_ms: Option<u32>,
    pub share_weights: Option<bool>,
    pub on_load: yolo_load_callback,
    pub on_load_user_data: *mut std::ffi::c_void,
    /// `(yolo_provider value, device id)`, added in order.
    pub providers: Vec<(u32, u32)>,
    pub provider_fallback: Option<bool>,
    /// Cross-caller batching: 1 is off. With only one of the two set, the other is 1 or
    /// `YOLO_DEFAULT_BATCH_DELAY`.
    pub max_batch: Option<u32>,
    pub max_delay_us: Option<u32>,
    /// A `yolo_io_binding` value.
    pub io_binding: Option<u32>,
    /// `yolo_config_set_provider_library` for OpenVINO.
    pub openvino_plugin: Option<CString>,
}

/// A config owned by a test; freed on drop.
pub struct Config(pub *mut yolo_config);

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: a live config of this test, freed once.
        unsafe { yolo_config_free(self.0) };
    }
}

/// `Ok` for a successful call, else its status and message, read at once (the next successful call would
/// clear it).
fn ok(status: yolo_status) -> Result<(), (yolo_status, String)> {
    if status == yolo_status::Ok {
        Ok(())
    } else {
        Err((status, last_error()))
    }
}

/// A config for `model` with `adjust`'s settings; the first setter that refuses its value gives the error.
pub fn config_with(
    model: &std::path::Path,
    adjust: impl FnOnce(&mut TestConfig),
) -> Result<Config, (yolo_status, String)> {
    let mut settings = TestConfig::default();
    adjust(&mut settings);
    let path = CString::new(model.as_os_str().as_encoded_bytes()).unwrap();
    let mut config = Config(std::ptr::null_mut());
    let c = &settings;
    let library = c.ort_library_path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
    // SAFETY: `config.0` is a live config from the first call on; the strings outlive each call.
    unsafe {
        ok(yolo_config_new(&mut config.0))?;
        let k = config.0;
        ok(yolo_config_set_model_path(k, path.as_ptr()))?;
        if c.ort_library_path.is_some() {
            ok(yolo_config_set_ort_library_path(k, library))?;
        }
        if let Some(v) = c.pool_size {
            ok(yolo_config_set_pool_size(k, v))?;
        }
        if let Some(v) = c.threads_per_session {
            ok(yolo_config_set_threads_per_session(k, v))?;
        }
        if let Some(v) = c.imgsz {
            ok(yolo_config_set_imgsz(k, v, v))?;
        }
        if let Some(v) = c.conf_threshold {
            ok(yolo_config_set_conf_threshold(k, v))?;
        }
        if let Some(v) = c.iou_threshold {
            ok(yolo_config_set_iou_threshold(k, v))?;
        }
        if let Some(v) = c.max_detections {
            ok(yolo_config_set_max_detections(k, v))?;
        }
        if let Some(v) = c.class_agnostic {
            ok(yolo_config_set_class_agnostic(k, v))?;
        }
        if let Some(v) = c.acquire_timeout_ms {
            ok(yolo_config_set_acquire_timeout_ms(k, v))?;
        }
        if let Some(v) = c.max_image_pixels {
            ok(yolo_config_set_max_image_pixels(k, v))?;
        }
        if let Some(v) = c.async_load {
            ok(yolo_config_set_async_load(k, v))?;
        }
        if let Some(v) = c.load_wait_ms {
            ok(yolo_config_set_load_wait_ms(k, v))?;
        }
        if let Some(v) = c.share_weights {
            ok(yolo_config_set_share_weights(k, v))?;
        }
        if c.on_load.is_some() {
            ok(yolo_config_set_on_load(k, c.on_load, c.on_load_user_data))?;
        }
        for &(provider, device) in &c.providers {
            ok(yolo_config_add_provider(k, provider, device))?;
        }
        if let Some(v) = c.provider_fallback {
            ok(yolo_config_set_provider_fallback(k, v))?;
        }
        if c.max_batch.is_some() || c.max_delay_us.is_some() {
            let delay = c.max_delay_us.unwrap_or(YOLO_DEFAULT_BATCH_DELAY);
            ok(yolo_config_set_batching(k, c.max_batch.unwrap_or(1), delay))?;
        }
        if let Some(v) = c.io_binding {
            ok(yolo_config_set_io_binding(k, v))?;
        }
        if let Some(plugin) = &c.openvino_plugin {
            ok(yolo_config_set_provider_library(k, yolo_provider::Openvino as u32, plugin.as_ptr()))?;
        }
    }
    Ok(config)
}

/// A config for `model` with every default.
pub fn config(model: &std::path::Path) -> Config {
    config_with(model, |_| {}).unwrap()
}

pub fn init_with(
    model: &std::path::Path,
    adjust: impl FnOnce(&mut TestConfig),
) -> Result<Detector, (yolo_status, String)> {
    let config = config_with(model, adjust)?;
    let mut out = std::ptr::null_mut();
    // SAFETY: a live config; out is writable.
    let status = unsafe { yolo_init(config.0, &mut out) };
    if status == yolo_status::Ok {
        Ok(Detector(out))
    } else {
        assert!(out.is_null(), "out_detector written on failure");
        Err((status, last_error()))
    }
}

/// Per-call overrides a test sets; `None` inherits the detector's value.
#[derive(Default, Clone, Copy)]
pub struct TestOptions {
    pub conf_threshold: Option<f32>,
    pub iou_threshold: Option<f32>,
    pub max_detections: Option<u32>,
    pub class_agnostic: Option<bool>,
}

/// Options owned by a test; freed on drop.
pub struct Options(pub *mut yolo_detect_options);

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: live options of this test, freed once.
        unsafe { yolo_detect_options_free(self.0) };
    }
}

/// Options with `set`'s overrides; the first setter that refuses its value gives the error.
pub fn try_options(set: TestOptions) -> Result<Options, (yolo_status, String)> {
    let mut options = Options(std::ptr::null_mut());
    // SAFETY: `options.0` is live from the first call on.
    unsafe {
        ok(yolo_detect_options_new(&mut options.0))?;
        if let Some(v) = set.conf_threshold {
            ok(yolo_detect_options_set_conf_threshold(options.0, v))?;
        }
        if let Some(v) = set.iou_threshold {
            ok(yolo_detect_options_set_iou_threshold(options.0, v))?;
        }
        if let Some(v) = set.max_detections {
            ok(yolo_detect_options_set_max_detections(options.0, v))?;
        }
        if let Some(v) = set.class_agnostic {
            ok(yolo_detect_options_set_class_agnostic(options.0, v))?;
        }
    }
    Ok(options)
}

/// Options with `set`'s overrides, which must be valid.
pub fn options(set: TestOptions) -> Options {
    try_options(set).unwrap()
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
    options: Option<&Options>,
) -> Result<Vec<yolo_detection>, (yolo_status, String)> {
    let mut result = std::ptr::null_mut();
    let options = options.map_or(std::ptr::null(), |o| o.0 as *const _);
    // SAFETY: all pointers valid for the call.
    let status = unsafe { yolo_detect(detector.0, bytes.as_ptr(), bytes.len(), options, &mut result) };
    if status == yolo_status::Ok {
        Ok(take_result(result))
    } else {
        assert!(result.is_null(), "out_result written on failure");
        Err((status, last_error()))
    }
}

/// Runs `yolo_detect_batch` over `images`; on failure checks that no result slot was written.
pub fn detect_batch(
    detector: &Detector,
    images: &[Vec<u8>],
) -> Result<Vec<Vec<yolo_detection>>, (yolo_status, String)> {
    let pointers: Vec<*const u8> = images.iter().map(|i| i.as_ptr()).collect();
    let lengths: Vec<usize> = images.iter().map(Vec::len).collect();
    let sentinel = std::ptr::dangling_mut::<yolo_result>();
    let mut results = vec![sentinel; images.len()];
    // SAFETY: arrays of `images.len()` entries, each image readable for its length; results writable.
    let status = unsafe {
        yolo_detect_batch(
            detector.0,
            pointers.as_ptr(),
            lengths.as_ptr(),
            images.len(),
            std::ptr::null(),
            results.as_mut_ptr(),
        )
    };
    if status != yolo_status::Ok {
        assert!(results.iter().all(|r| *r == sentinel), "a failed batch wrote results");
        return Err((status, last_error()));
    }
    Ok(results.into_iter().map(take_result).collect())
}

#[allow(clippy::too_many_arguments)]
pub fn detect_pixels(
    detector: &Detector,
    pixels: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    format: u32,
    options: Option<&Options>,
) -> Result<Vec<yolo_detection>, (yolo_status, String)> {
    let mut result = std::ptr::null_mut();
    let options = options.map_or(std::ptr::null(), |o| o.0 as *const _);
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

/// A class map copied out of a result: `(width, height, element size, ids as u32, pixel counts)`.
pub type CopiedClassMap = (u32, u32, usize, Vec<u32>, Vec<u64>);

/// Everything a result holds, copied out of it.
#[derive(Debug, Clone, Default)]
pub struct TaskResult {
    pub detections: Vec<yolo_detection>,
    pub width: u32,
    pub height: u32,
    /// `(left, top, width, height, bitmap)` per detection.
    pub masks: Vec<(u32, u32, u32, u32, Vec<u8>)>,
    /// Each mask's outline, `(x, y)` points.
    pub polygons: Vec<Vec<[f32; 2]>>,
    pub keypoints: Vec<Vec<yolo_keypoint>>,
    pub oriented: Vec<yolo_oriented_box>,
    pub classes: Vec<yolo_class_probability>,
    /// Semantic segmentation: `(width, height, element size, ids as u32, pixel counts)`.
    pub class_map: Option<CopiedClassMap>,
    /// Depth: `(width, height, depths)`.
    pub depth_map: Option<(u32, u32, Vec<f32>)>,
}

impl TaskResult {
    /// Copies everything out of a live result through the accessors, then frees it.
    pub fn take(result: *mut yolo_result) -> Self {
        let mut out = TaskResult::default();
        // SAFETY: result is live until freed at the end; every out-pointer is a local.
        unsafe {
            assert_eq!(yolo_result_image_size(result, &mut out.width, &mut out.height), yolo_status::Ok);
            let (mut classes, mut count) = (std::ptr::null(), 0usize);
            assert_eq!(yolo_result_classes(result, &mut classes, &mut count), yolo_status::Ok);
            if count > 0 {
                out.classes = std::slice::from_raw_parts(classes, count).to_vec();
            }
            out.detections = {
                let (mut ptr, mut n) = (std::ptr::null(), 0usize);
                assert_eq!(yolo_result_detections(result, &mut ptr, &mut n), yolo_status::Ok);
                if n == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(ptr, n).to_vec()
                }
            };
            let mut map = std::mem::zeroed::<yolo_class_map>();
            if yolo_result_class_map(result, &mut map) == yolo_status::Ok {
                assert_eq!(map.data_len, (map.width * map.height) as usize);
                let ids: Vec<u32> = match map.element_size {
                    1 => std::slice::from_raw_parts(map.data.cast::<u8>(), map.data_len)
                        .iter()
                        .map(|&v| v.into())
                        .collect(),
                    2 => std::slice::from_raw_parts(map.data.cast::<u16>(), map.data_len)
                        .iter()
                        .map(|&v| v.into())
                        .collect(),
                    4 => std::slice::from_raw_parts(map.data.cast::<u32>(), map.data_len).to_vec(),
                    size => panic!("class ids of {size} bytes"),
                };
                let counts = std::slice::from_raw_parts(map.pixel_counts, map.class_count).to_vec();
                out.class_map = Some((map.width, map.height, map.element_size, ids, counts));
            }
            let mut depth = std::mem::zeroed::<yolo_depth_map>();
            if yolo_result_depth_map(result, &mut depth) == yolo_status::Ok {
                assert_eq!(depth.data_len, (depth.width * depth.height) as usize);
                out.depth_map =
                    Some((depth.width, depth.height, std::slice::from_raw_parts(depth.data, depth.data_len).to_vec()));
            }
            for i in 0..out.detections.len() {
                let mut mask = std::mem::zeroed::<yolo_mask>();
                if yolo_result_mask(result, i, &mut mask) == yolo_status::Ok {
                    assert_eq!(mask.data_len, (mask.width * mask.height) as usize);
                    let data = if mask.data_len == 0 {
                        Vec::new()
                    } else {
                        std::slice::from_raw_parts(mask.data, mask.data_len).to_vec()
                    };
                    out.masks.push((mask.left, mask.top, mask.width, mask.height, data));
                    let (mut points, mut n) = (std::ptr::null(), 0usize);
                    assert_eq!(yolo_result_mask_polygon(result, i, &mut points, &mut n), yolo_status::Ok);
                    let flat = if n == 0 { &[][..] } else { std::slice::from_raw_parts(points, 2 * n) };
                    out.polygons.push(flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect());
                }
                let (mut ptr, mut n) = (std::ptr::null(), 0usize);
                if yolo_result_keypoints(result, i, &mut ptr, &mut n) == yolo_status::Ok {
                    out.keypoints.push(std::slice::from_raw_parts(ptr, n).to_vec());
                }
                let mut oriented = std::mem::zeroed::<yolo_oriented_box>();
                if yolo_result_oriented_box(result, i, &mut oriented) == yolo_status::Ok {
                    out.oriented.push(oriented);
                }
            }
            yolo_result_free(result);
        }
        out
    }

    /// Detection `i`'s mask as a full `height` x `width` bitmap of the image.
    pub fn full_mask(&self, i: usize) -> Vec<bool> {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut full = vec![false; w * h];
        let (left, top, mw, mh, data) = &self.masks[i];
        for r in 0..*mh as usize {
            for c in 0..*mw as usize {
                full[(*top as usize + r) * w + *left as usize + c] = data[r * *mw as usize + c] != 0;
            }
        }
        full
    }
}

/// Runs `yolo_detect` and copies the whole result out.
pub fn detect_task(
    detector: &Detector,
    bytes: &[u8],
    options: Option<&Options>,
) -> Result<TaskResult, (yolo_status, String)> {
    let mut result = std::ptr::null_mut();
    let options = options.map_or(std::ptr::null(), |o| o.0 as *const _);
    // SAFETY: all pointers valid for the call.
    let status = unsafe { yolo_detect(detector.0, bytes.as_ptr(), bytes.len(), options, &mut result) };
    if status == yolo_status::Ok {
        Ok(TaskResult::take(result))
    } else {
        assert!(result.is_null(), "out_result written on failure");
        Err((status, last_error()))
    }
}
