//! The per-call options, `yolo_detect_options`, and their setters: overrides of a detector's defaults.

use crate::error::Result;
use yolo_ffi_core::settings::threshold;
use yolo_ffi_core::DecodeSettings;

use crate::boundary::OutParam;
use crate::config::at_least_one;
use crate::handles::{borrow_handle, borrow_handle_mut, free_handle, into_handle, BoxOwned};
use crate::status::yolo_status;

/// Per-call overrides of a detector's default thresholds. Created by `yolo_detect_options_new`, where
/// every value is inherited from the detector; each `yolo_detect_options_set_*` call overrides one value.
/// Released by `yolo_detect_options_free`. Owned by the caller and only read during a detect call; not
/// thread-safe while being changed, and once set, may be shared by any number of threads.
pub struct yolo_detect_options {
    _private: [u8; 0],
}

/// What a `yolo_detect_options` holds: each value, or `None` to inherit the detector's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct OptionValues {
    conf_threshold: Option<f32>,
    iou_threshold: Option<f32>,
    max_detections: Option<usize>,
    class_agnostic: Option<bool>,
    retina_masks: Option<bool>,
    top_k: Option<usize>,
}

impl OptionValues {
    /// These overrides applied to `defaults`.
    pub(crate) fn apply_to(&self, defaults: DecodeSettings) -> DecodeSettings {
        DecodeSettings {
            conf_threshold: self.conf_threshold.unwrap_or(defaults.conf_threshold),
            iou_threshold: self.iou_threshold.unwrap_or(defaults.iou_threshold),
            max_detections: self.max_detections.unwrap_or(defaults.max_detections),
            class_agnostic: self.class_agnostic.unwrap_or(defaults.class_agnostic),
            retina_masks: self.retina_masks.unwrap_or(defaults.retina_masks),
            top_k: self.top_k.unwrap_or(defaults.top_k),
        }
    }
}

impl BoxOwned for yolo_detect_options {
    type Rust = OptionValues;
    const NAME: &'static str = "options";
    /// "yoloOPTS" in ASCII.
    const TAG: u64 = u64::from_be_bytes(*b"yoloOPTS");
}

/// Creates options that inherit every value from the detector. On success writes them to
/// `*out_options`, owned by the caller until `yolo_detect_options_free`. Thread-safe.
///
/// Safety: `out_options` must be NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_options_new(out_options: *mut *mut yolo_detect_options) -> yolo_status {
    ffi_boundary!(status {
        let out = OutParam::new(out_options, "out_options")?;
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(into_handle::<yolo_detect_options>(OptionValues::default())) };
        Ok(())
    })
}

/// Releases options. NULL is a no-op. On success it leaves `yolo_last_error()` as it was.
///
/// Safety: `options` must be NULL or live options from `yolo_detect_options_new`, not in use by another
/// thread.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_options_free(options: *mut yolo_detect_options) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    ffi_boundary!(release { unsafe { free_handle(options) } })
}

/// Applies `change` to live options.
///
/// Safety: `options` must be NULL or live options not used by another thread during the call.
unsafe fn change_options(
    options: *mut yolo_detect_options,
    change: impl FnOnce(&mut OptionValues) -> Result<()>,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: forwarded to the caller's contract.
        let values = unsafe { borrow_handle_mut(options) }?;
        change(values)
    })
}

/// Overrides the confidence threshold, in [0, 1], for calls with these options.
///
/// Safety: `options` must be live options.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_options_set_conf_threshold(
    options: *mut yolo_detect_options,
    conf_threshold: f32,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_options(options, |values| {
            values.conf_threshold = Some(threshold("conf_threshold", conf_threshold)?);
            Ok(())
        })
    }
}

/// Overrides the NMS IoU threshold, in [0, 1], for calls with these options.
///
/// Safety: `options` must be live options.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_options_set_iou_threshold(
    options: *mut yolo_detect_options,
    iou_threshold: f32,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_options(options, |values| {
            values.iou_threshold = Some(threshold("iou_threshold", iou_threshold)?);
            Ok(())
        })
    }
}

/// Overrides the maximum number of detections, at least 1, for calls with these options.
///
/// Safety: `options` must be live options.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_options_set_max_detections(
    options: *mut yolo_detect_options,
    max_detections: u32,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_options(options, |values| {
            values.max_detections = Some(at_least_one("max_detections", max_detections)?);
            Ok(())
        })
    }
}

/// Overrides class-agnostic NMS for calls with these options.
///
/// Safety: `options` must be live options.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_options_set_class_agnostic(
    options: *mut yolo_detect_options,
    class_agnostic: bool,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_options(options, |values| {
            values.class_agnostic = Some(class_agnostic);
            Ok(())
        })
    }
}

/// Overrides how segmentation masks are computed (see `yolo_config_set_retina_masks`) for calls with these
/// options.
///
/// Safety: `options` must be live options.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_options_set_retina_masks(
    options: *mut yolo_detect_options,
    retina_masks: bool,
) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_options(options, |values| {
            values.retina_masks = Some(retina_masks);
            Ok(())
        })
    }
}

/// Overrides how many classes a classification result lists, at least 1, for calls with these options.
///
/// Safety: `options` must be live options.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_options_set_top_k(options: *mut yolo_detect_options, top_k: u32) -> yolo_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        change_options(options, |values| {
            values.top_k = Some(at_least_one("top_k", top_k)?);
            Ok(())
        })
    }
}

/// The values of live options, or `None` for NULL.
///
/// Safety: `options` must be NULL or live options not changed by another thread during the call.
pub(crate) unsafe fn option_values(options: *const yolo_detect_options) -> Result<Option<OptionValues>> {
    if options.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded to the caller's contract.
    unsafe { borrow_handle(options) }.map(|values| Some(*values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_inherit_what_they_do_not_set() {
        let defaults = DecodeSettings::default();
        assert_eq!(OptionValues::default().apply_to(defaults), defaults);
        let custom = OptionValues {
            conf_threshold: Some(0.5),
            iou_threshold: Some(0.0),
            max_detections: Some(3),
            class_agnostic: Some(true),
            retina_masks: Some(true),
            top_k: Some(2),
        };
        let merged = custom.apply_to(defaults);
        assert_eq!(
            (merged.conf_threshold, merged.iou_threshold, merged.max_detections, merged.class_agnostic),
            (0.5, 0.0, 3, true)
        );
        assert_eq!((merged.retina_masks, merged.top_k), (true, 2));
    }

    #[test]
    fn setters_check_their_values_and_leave_the_options_unchanged_on_error() {
        let mut options = std::ptr::null_mut();
        // SAFETY: a valid out-pointer; the options are used by this thread only and freed once.
        unsafe {
            assert_eq!(yolo_detect_options_new(&mut options), yolo_status::Ok);
            assert_eq!(yolo_detect_options_set_conf_threshold(options, -1.0), yolo_status::InvalidArgument);
            assert_eq!(yolo_detect_options_set_conf_threshold(options, 0.5), yolo_status::Ok);
            assert_eq!(option_values(options).unwrap().unwrap().conf_threshold, Some(0.5));
            assert_eq!(yolo_detect_options_free(options), yolo_status::Ok);
            assert_eq!(option_values(std::ptr::null()).unwrap(), None);
        }
    }
}
