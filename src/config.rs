//! The opaque configuration objects, `yolo_config` and `yolo_detect_options`, and their setters.
//!
//! Both are built with setter functions rather than read from a struct the caller lays out, so that a new
//! option in a minor version breaks no compiled caller, and a binding in another language (ctypes, koffi,
//! JNA, cgo) sets options without restating any struct layout. Each setter checks its value at once: a bad
//! value is reported by the setter that received it, and leaves the object as it was.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use crate::error::{Error, Result};
use yolo_ffi_core::provider::{Provider, ProviderKind};
use yolo_ffi_core::settings::{self, threshold, DEFAULT_MAX_IMAGE_PIXELS};
use yolo_ffi_core::DetectorConfig;

use crate::boundary::{optional_path, OutParam};
use crate::enums::{yolo_io_binding, yolo_provider};
use crate::handles::{borrow_handle, borrow_handle_mut, free_handle, into_handle, BoxOwned};
use crate::status::yolo_status;

/// Called once when a detector's model load ends: with `YOLO_STATUS_OK` and an empty message, or with the
/// failure's status and message. It runs on the loading thread (for a synchronous load, inside `yolo_init`;
/// for a model that had already loaded, at once inside `yolo_init`). The message is valid only during the
/// call. The callback must not unwind. It runs after the detector's state has changed and waiters were
/// woken: `yolo_wait_ready` may return while the callback is still running on the loading thread. It is
/// never called once `yolo_free` on its detector has returned (`yolo_free` waits for a callback running
/// at that moment), so `user_data` need only live until then.
pub type yolo_load_callback =
    Option<unsafe extern "C" fn(user_data: *mut std::ffi::c_void, status: yolo_status, message: *const c_char)>;

/// `load_wait_ms` value that makes calls on a loading model wait for ever.
pub const YOLO_WAIT_FOREVER: u32 = u32::MAX;

/// `max_delay_us` value of `yolo_config_set_batching` that keeps the library's default delay (2000 us).
pub const YOLO_DEFAULT_BATCH_DELAY: u32 = u32::MAX;

/// How to load a detector: the model file, the session pool, the default thresholds, limits, timeouts and
/// the background load. Created by `yolo_config_new` with every default set, changed with the
/// `yolo_config_set_*` functions, read by `yolo_init`, released by `yolo_config_free`. The caller owns it;
/// `yolo_init` copies what it needs, so the config may be freed, changed or reused as soon as `yolo_init`
/// returns. Not thread-safe while being changed; once set, any number of threads may pass it to `yolo_init`
/// at the same time.
pub struct yolo_config {
    _private: [u8; 0],
}

/// What a `yolo_config` holds.
pub(crate) struct ConfigValues {
    /// The core's config; its `model_path` is empty until set.
    pub(crate) core: DetectorConfig,
    pub(crate) on_load: yolo_load_callback,
    pub(crate) on_load_user_data: *mut c_void,
}

impl BoxOwned for yolo_config {
    type Rust = ConfigValues;
    const NAME: &'static str = "config";
    /// "yoloCONF" in ASCII.
    const TAG: u64 = u64::from_be_bytes(*b"yoloCONF");
}

/// A count of at least 1, as the core's rule for `name` says.
pub(crate) fn at_least_one(name: &str, value: u32) -> Result<usize> {
    Ok(settings::at_least_one(name, value as usize)?)
}

/// Creates a config with every default set: the pool chosen from the cores, Ultralytics' thresholds
/// (confidence 0.25, IoU 0.7, 300 detections, per class), no acquire timeout, a 100-megapixel image limit,
/// a synchronous load. Set the model path with `yolo_config_set_model_path` before `yolo_init`. On success
/// writes a new config to `*out_config`, owned by the caller until `yolo_config_free`. Thread-safe.
///
/// Safety: `out_config` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_new(out_config: *mut *mut yolo_config) -> yolo_status {
    ffi_boundary!(status {
        let out = OutParam::new(out_config, "out_config")?;
        let values = ConfigValues {
            core: DetectorConfig::new(""),
            on_load: None,
            on_load_user_data: std::ptr::null_mut(),
        };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(into_handle::<yolo_config>(values)) };
        Ok(())
    })
}

/// Releases a config. NULL is a no-op. Detectors made from it are not affected. On success it leaves
/// `yolo_last_error()` as it was, so a program may free the config before reporting why `yolo_init` failed.
///
/// Safety: `config` must be NULL or a live config from `yolo_config_new`, not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_free(config: *mut yolo_config) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    ffi_boundary!(release { unsafe { free_handle(config) } })
}

/// Applies `change` to a live config.
///
/// Safety: `config` must be NULL or a live config not used by another thread during the call.
unsafe fn change_config(config: *mut yolo_config, change: impl FnOnce(&mut ConfigValues) -> Result<()>) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: forwarded to the caller's contract.
        let values = unsafe { borrow_handle_mut(config) }?;
        change(values)
    })
}

/// Sets the ONNX model file: a NUL-terminated path in the operating system's encoding, copied. Required.
///
/// Safety: `config` must be a live config; `model_path` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_model_path(
    config: *mut yolo_config,
    model_path: *const c_char,
) -> yolo_status {
    let change = |values: &mut ConfigValues| {
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        let path = unsafe { optional_path(model_path) };
        values.core.model_path = path.ok_or_else(|| Error::invalid_argument("model_path is NULL or empty"))?;
        Ok(())
    };
    // SAFETY: forwarded to the caller's contract.
    unsafe { change_config(config, change) }
}

/// Sets the ONNX Runtime library to load (`libonnxruntime.so`), copied; NULL or "" searches again (the
/// default): `YOLO_FFI_ORT_LIBRARY`, `ORT_DYLIB_PATH`, when the config asks for CUDA or TensorRT the GPU
/// build in `~/.cache/yolo-ffi/onnxruntime-gpu-VERSION/` (`make gpu`, with the CUDA and cuDNN libraries it
/// needs, which are loaded before the provider starts), the folder of `libyolo_ffi.so`,
/// `~/.cache/yolo-ffi/onnxruntime-VERSION/` (`make ort`), then the system loader. The versions are those
/// of the project's `versions.env`. A process loads ONNX Runtime once:
/// after the first success, later values are ignored (the first model decides: a GPU model loaded after a
/// CPU one finds the CPU build, which has no CUDA).
///
/// Safety: `config` must be a live config; `ort_library_path` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_ort_library_path(
    config: *mut yolo_config,
    ort_library_path: *const c_char,
) -> yolo_status {
    let change = |values: &mut ConfigValues| {
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        values.core.ort_library_path = unsafe { optional_path(ort_library_path) };
        Ok(())
    };
    // SAFETY: forwarded to the caller's contract.
    unsafe { change_config(config, change) }
}

/// Sets the sessions in the pool, at most 256. 0 (default): chosen from the core count and
/// `threads_per_session` so that sessions x threads does not exceed the cores. With both 0 on a machine
/// with several cores, the pool has sessions of several widths: one with a thread per core, two with half
/// the cores each, and so on down to one single-threaded session per core (2 cores: 1 x 2 + 2 x 1;
/// 16 cores: 31 sessions). Each call takes a session as wide as the cores divided by the calls in flight,
/// so one caller and many are both served at full speed, for fewer than twice as many sessions' memory as
/// cores. Set `pool_size` or `threads_per_session` for a smaller pool.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_pool_size(config: *mut yolo_config, pool_size: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.pool_size = settings::pool_size(pool_size as usize)?;
            Ok(())
        })
    }
}

/// Sets the intra-op threads per session. 0 (default): the cores divided by `pool_size`, at least 1.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_threads_per_session(config: *mut yolo_config, threads: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.threads_per_session = threads as usize;
            Ok(())
        })
    }
}

/// Sets the letterbox size for models with a dynamic input, width first like every other size in this API;
/// each side rounded up to the model's stride, at most 16384. 0 x 0 (default): the model's `imgsz`
/// metadata, else 640 x 640. Models with a fixed input size always use that size.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_input_size(config: *mut yolo_config, width: u32, height: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { set_letterbox_size(config, width, height, |w, h| format!("input size {w}x{h} (width x height)")) }
}

/// The same as `yolo_config_set_input_size`, in Ultralytics' `imgsz` order: height first, then width.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_imgsz(config: *mut yolo_config, height: u32, width: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe { set_letterbox_size(config, width, height, |w, h| format!("imgsz {h}x{w} (height x width)")) }
}

/// Sets the letterbox size; `describe` names the value in the caller's own words and order for a message.
///
/// Safety: `config` must be NULL or a live config.
unsafe fn set_letterbox_size(
    config: *mut yolo_config,
    width: u32,
    height: u32,
    describe: impl Fn(u32, u32) -> String,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.imgsz = match (height, width) {
                (0, 0) => None,
                (h, w) => Some(settings::imgsz(h, w, |w, h| format!("{}, or 0x0,", describe(w, h)))?),
            };
            Ok(())
        })
    }
}

/// Sets the default confidence threshold, in [0, 1]: boxes must score strictly above it. Default 0.25.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_conf_threshold(config: *mut yolo_config, conf_threshold: f32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.nms.conf_threshold = threshold("conf_threshold", conf_threshold)?;
            Ok(())
        })
    }
}

/// Sets the default NMS IoU threshold, in [0, 1]. Default 0.7.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_iou_threshold(config: *mut yolo_config, iou_threshold: f32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.nms.iou_threshold = threshold("iou_threshold", iou_threshold)?;
            Ok(())
        })
    }
}

/// Sets the default maximum number of detections per image, at least 1. Default 300.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_max_detections(config: *mut yolo_config, max_detections: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.nms.max_detections = at_least_one("max_detections", max_detections)?;
            Ok(())
        })
    }
}

/// Sets the default for class-agnostic NMS (suppress across classes). Default false.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_class_agnostic(config: *mut yolo_config, class_agnostic: bool) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.nms.class_agnostic = class_agnostic;
            Ok(())
        })
    }
}

/// Sets how segmentation masks are computed by default: `false` (default) as Ultralytics' default, at
/// the model input's resolution then scaled to the image; `true` as Ultralytics' `retina_masks=True`, at the
/// image's resolution from the prototypes (finer edges, slower on large images). Other tasks ignore it.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_retina_masks(config: *mut yolo_config, retina_masks: bool) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.nms.retina_masks = retina_masks;
            Ok(())
        })
    }
}

/// Sets how many of the most probable classes a classification result lists by default, at least 1.
/// Default 5. Other tasks ignore it.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_top_k(config: *mut yolo_config, top_k: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.nms.top_k = at_least_one("top_k", top_k)?;
            Ok(())
        })
    }
}

/// Sets how long a detect call waits for a free session, in milliseconds, before
/// `YOLO_STATUS_TIMEOUT`; 0 (default) waits for ever.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_acquire_timeout_ms(config: *mut yolo_config, timeout_ms: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.acquire_timeout = (timeout_ms != 0).then(|| Duration::from_millis(timeout_ms.into()));
            Ok(())
        })
    }
}

/// Sets the pixel limit: images with more pixels are rejected with `YOLO_STATUS_IMAGE_TOO_LARGE` before
/// being decoded. 0 restores the default, 100000000.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_max_image_pixels(
    config: *mut yolo_config,
    max_image_pixels: u64,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.max_image_pixels =
                if max_image_pixels == 0 { DEFAULT_MAX_IMAGE_PIXELS } else { max_image_pixels };
            Ok(())
        })
    }
}

/// With `true`, `yolo_init` returns at once and the model loads on a background thread: start-up never
/// blocks on the model, and a failed load leaves a valid detector that reports `YOLO_STATUS_LOAD_FAILED`.
/// The first `yolo_init` of a process still loads ONNX Runtime itself before returning (about 50 ms), so
/// that no background thread is inside the runtime's loading if the process exits; a runtime that cannot
/// be loaded also gives a detector in the failed state. Default false: `yolo_init` loads, and fails if the
/// load fails.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_async_load(config: *mut yolo_config, async_load: bool) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.async_load = async_load;
            Ok(())
        })
    }
}

/// Sets how long calls on a detector whose model is still loading wait for it before returning
/// `YOLO_STATUS_NOT_READY`: 0 (default) returns at once, `YOLO_WAIT_FOREVER` waits for ever.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_load_wait_ms(config: *mut yolo_config, load_wait_ms: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.load_wait = match load_wait_ms {
                YOLO_WAIT_FOREVER => None,
                ms => Some(Duration::from_millis(ms.into())),
            };
            Ok(())
        })
    }
}

/// With `true`, every session of the pool gets one shared copy of the model's weights, so that a pool of
/// N costs little more memory than one session. Needs graph optimisation Level 2 instead of All, which
/// makes each inference slower (see docs/servers.md, "Memory"). Default false.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_share_weights(config: *mut yolo_config, share_weights: bool) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.share_weights = share_weights;
            Ok(())
        })
    }
}

/// Appends an execution provider (a `yolo_provider` value) to the config's list, which is tried in order
/// when the model loads; `device_id` picks the GPU for CUDA and TensorRT and must be 0 for the others. With
/// no provider added, the model runs on the CPU. What happens when a provider is not there (the loaded ONNX
/// Runtime was built without it, or it fails to start) is `yolo_config_set_provider_fallback`'s choice:
/// by default the load fails with `YOLO_STATUS_PROVIDER_UNAVAILABLE`, naming it. At most 8 providers; an
/// unknown value or a provider already in the list is `YOLO_STATUS_INVALID_ARGUMENT`.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_add_provider(
    config: *mut yolo_config,
    provider: u32,
    device_id: u32,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            let kind: ProviderKind = yolo_provider::from_raw(provider)
                .ok_or_else(|| Error::invalid_argument(format!("{provider} is not a yolo_provider value")))?
                .into();
            let list = &mut values.core.providers.providers;
            let entry = Provider { kind, device_id };
            settings::add_provider(list, entry)?;
            list.push(entry);
            Ok(())
        })
    }
}

/// Sets the library of an execution provider that comes as an ONNX Runtime plugin, copied; NULL or ""
/// searches again (the default). Only `YOLO_PROVIDER_OPENVINO` has one: the OpenVINO plugin of PyPI's
/// `onnxruntime-ep-openvino` (`libonnxruntime_providers_openvino_plugin.so`), used when the loaded ONNX
/// Runtime was built without OpenVINO. Searched: `YOLO_FFI_OPENVINO_PLUGIN`, then
/// `~/.cache/yolo-ffi/onnxruntime-ep-openvino-1.8.1/` (`scripts/fetch.sh openvino`). The plugin is
/// registered once per process and its CPU device preferred; a plugin that does not load or offers no
/// device here fails the load with `YOLO_STATUS_PROVIDER_UNAVAILABLE` (or falls back, see
/// `yolo_config_set_provider_fallback`). Another provider is `YOLO_STATUS_INVALID_ARGUMENT`.
///
/// Safety: `config` must be a live config; `path` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_provider_library(
    config: *mut yolo_config,
    provider: u32,
    path: *const c_char,
) -> yolo_status {
    let change = |values: &mut ConfigValues| {
        if yolo_provider::from_raw(provider) != Some(yolo_provider::Openvino) {
            return Err(Error::invalid_argument(format!(
                "only YOLO_PROVIDER_OPENVINO comes as a plugin library, not provider {provider}"
            )));
        }
        // SAFETY: NULL or NUL-terminated by the caller's contract.
        values.core.providers.openvino_plugin = unsafe { optional_path(path) };
        Ok(())
    };
    // SAFETY: forwarded to the caller's contract.
    unsafe { change_config(config, change) }
}

/// With `true`, a provider of the list that is not there is logged (a warning) and skipped for the next
/// one; the load fails with `YOLO_STATUS_PROVIDER_UNAVAILABLE` only when none is there. With `false` (the
/// default) the first provider that is not there fails the load: nothing falls back unless asked to.
/// `yolo_model_provider` tells which provider the model got.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_provider_fallback(config: *mut yolo_config, fall_back: bool) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.providers.fall_back = fall_back;
            Ok(())
        })
    }
}

/// Whether each session's input and outputs are bound to it once, in host memory its execution provider
/// reads and writes directly (a `yolo_io_binding` value). `YOLO_IO_BINDING_AUTO` (the default) binds on
/// GPU providers, in pinned memory: the input is letterboxed straight into it and copied to the GPU in one
/// transfer, and the outputs come back into it. `YOLO_IO_BINDING_ON` binds on every provider and fails the
/// load when the provider offers no such memory; `YOLO_IO_BINDING_OFF` never binds. Results are the same
/// either way. `yolo_model_io_binding` tells what the model got. An unknown value is
/// `YOLO_STATUS_INVALID_ARGUMENT`.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_io_binding(config: *mut yolo_config, io_binding: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.core.io_binding = yolo_io_binding::setting(io_binding)?;
            Ok(())
        })
    }
}

/// Gathers concurrent detect calls into batched runs: a call waits up to `max_delay_us` microseconds for
/// others whose input has the same size (up to `max_batch` in all), then they share one ONNX Runtime run;
/// each caller gets exactly its own result, the same as unbatched (bit for bit on the CPU provider). A lone
/// caller waits at most `max_delay_us` longer than it would alone. Pays off where one run of several
/// images costs little more than one (a GPU); on a CPU it mostly adds the delay. Only for models with a
/// dynamic batch dimension (others log a warning and run unbatched); `yolo_detect_batch` is not affected.
/// `max_batch` 1 (the default) turns it off; at most 64. `max_delay_us` at most 1000000, or
/// `YOLO_DEFAULT_BATCH_DELAY` for the library's default (2000). `yolo_batch_stats` reports what it did.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_batching(
    config: *mut yolo_config,
    max_batch: u32,
    max_delay_us: u32,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            let delay = match max_delay_us {
                YOLO_DEFAULT_BATCH_DELAY => settings::DEFAULT_BATCH_DELAY,
                us => Duration::from_micros(us.into()),
            };
            values.core.batching = settings::batching(max_batch as usize, delay)?;
            Ok(())
        })
    }
}

/// Sets the callback run once when the load ends (see `yolo_load_callback`), with `user_data` passed back
/// as is; the library never dereferences it. NULL `on_load` removes the callback.
///
/// Safety: `config` must be a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_config_set_on_load(
    config: *mut yolo_config,
    on_load: yolo_load_callback,
    user_data: *mut c_void,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_config(config, |values| {
            values.on_load = on_load;
            values.on_load_user_data = user_data;
            Ok(())
        })
    }
}

/// The values of a live config, for `yolo_init`.
///
/// Safety: `config` must be NULL or a live config not changed by another thread during the call.
pub(crate) unsafe fn config_values<'a>(config: *const yolo_config) -> Result<&'a ConfigValues> {
    // SAFETY: forwarded to the caller's contract.
    let values = unsafe { borrow_handle(config) }?;
    if values.core.model_path.as_os_str().is_empty() {
        return Err(Error::invalid_argument("the config has no model path: call yolo_config_set_model_path"));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yolo_ffi_core::DecodeSettings;

    #[test]
    fn setters_check_their_values_and_leave_the_object_unchanged_on_error() {
        let mut config = std::ptr::null_mut();
        // SAFETY: valid out-pointers; the objects are used by this thread only and freed once.
        unsafe {
            assert_eq!(yolo_config_new(&mut config), yolo_status::Ok);
            assert_eq!(yolo_config_set_conf_threshold(config, f32::NAN), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_iou_threshold(config, 1.5), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_max_detections(config, 0), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_top_k(config, 0), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_pool_size(config, 257), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_imgsz(config, 0, 640), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_imgsz(config, 16385, 640), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_model_path(config, std::ptr::null()), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_model_path(config, c"".as_ptr()), yolo_status::InvalidArgument);
            assert_eq!(
                config_values(config).err().map(|e| e.status()),
                Some(yolo_status::InvalidArgument),
                "no model path yet"
            );
            assert_eq!(yolo_config_set_imgsz(config, 480, 640), yolo_status::Ok);
            assert_eq!(yolo_config_set_model_path(config, c"/models/m.onnx".as_ptr()), yolo_status::Ok);
            let values = config_values(config).unwrap();
            assert_eq!(values.core.nms, DecodeSettings::default(), "the bad values changed nothing");
            assert_eq!(values.core.imgsz, Some((480, 640)));
            assert_eq!(values.core.model_path, std::path::Path::new("/models/m.onnx"));
            // The reference above is not used past this point: the setters below change the config.
            assert_eq!(yolo_config_set_input_size(config, 640, 480), yolo_status::Ok);
            assert_eq!(config_values(config).unwrap().core.imgsz, Some((480, 640)), "width first");
            assert_eq!(yolo_config_set_input_size(config, 640, 16385), yolo_status::InvalidArgument);
            assert_eq!(yolo_config_set_input_size(config, 0, 0), yolo_status::Ok);
            assert_eq!(config_values(config).unwrap().core.imgsz, None, "0 x 0: the model's own size");
            assert_eq!(yolo_config_free(config), yolo_status::Ok);
        }
    }
}
