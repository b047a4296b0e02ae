//! Replacing a detector's model while it serves: `yolo_reload`, its asynchronous form, and its counters.

use crate::boundary::OutParam;
use crate::config::{config_values, yolo_config};
use crate::detector::{detector_from, yolo_detector, LoadNotifier};
use crate::error::{Error, Result};
use crate::status::yolo_status;
use yolo_ffi_core::ReloadChecks;

/// What a reload must keep of the model it replaces, for the `flags` of `yolo_reload` and
/// `yolo_reload_async` (OR them; 0 keeps nothing: any model of any task may follow). Values are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_reload_flag {
    /// Refuse a model of another task (`YOLO_STATUS_INVALID_MODEL`).
    KeepTask = 1,
    /// Refuse a model with another number of classes (`YOLO_STATUS_INVALID_MODEL`).
    KeepClassCount = 2,
}

/// The checks `flags` asks for; unknown bits are an error.
fn reload_checks(flags: u32) -> Result<ReloadChecks> {
    let known = yolo_reload_flag::KeepTask as u32 | yolo_reload_flag::KeepClassCount as u32;
    if flags & !known != 0 {
        return Err(Error::invalid_argument(format!("{flags:#x} holds bits that are no yolo_reload_flag")));
    }
    Ok(ReloadChecks {
        keep_task: flags & yolo_reload_flag::KeepTask as u32 != 0,
        keep_class_count: flags & yolo_reload_flag::KeepClassCount as u32 != 0,
    })
}

/// Replaces the detector's model and settings with `config`'s without stopping its calls: reads the model
/// afresh (even from the same file, so a file replaced on disk is picked up), builds and warms its sessions
/// beside the current ones, then swaps: detect calls that start after the swap run on the new model, calls
/// in flight finish whole on the model they started with, and the replaced model's sessions are freed
/// after the last of them returns. Results name their classes as the model that made them does
/// (`yolo_result_class_name`). The detector's counters (`yolo_stats`) go on; `yolo_class_name`,
/// `yolo_model_task` and the other model queries describe the new model.
///
/// Other detectors that shared the replaced model (opened on the same model settings) keep it until they
/// are reloaded or freed; detectors opened after the reload with the same model settings share the new
/// model. A child forked after the reload gets the new model.
///
/// Blocks until the reload ends (the config's `async_load` and `on_load` are not used: see
/// `yolo_reload_async`). On failure (the load's status: a missing file, a bad model, no memory; or
/// `YOLO_STATUS_INVALID_MODEL` for a model `flags` refuses) nothing changed: the current model keeps
/// serving, `yolo_last_error()` says why, `yolo_stats_reload` counts it and the log reports it.
/// `YOLO_STATUS_BUSY` while another reload of this detector runs. `config` is only read during the call.
/// Thread-safe.
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_reload(
    detector: *const yolo_detector,
    config: *const yolo_config,
    flags: u32,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        // SAFETY: NULL or a live config by the caller's contract.
        let config = unsafe { config_values(config) }?;
        Ok(handle.detector.reload(&config.core, reload_checks(flags)?)?)
    })
}

/// As `yolo_reload`, on a background thread: returns at once, `YOLO_STATUS_OK` once the reload has started
/// (or the error found before it starts: a bad config or flags, `YOLO_STATUS_BUSY`). When it ends, the
/// config's `on_load` callback (`yolo_config_set_on_load`), if set, runs on the reloading thread with the
/// outcome, under the same rule as for a load: never once `yolo_free` on the detector has returned. Until
/// then the current model serves, and `yolo_stats_reload` says a reload is running. Thread-safe.
///
/// Safety: `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn yolo_reload_async(
    detector: *const yolo_detector,
    config: *const yolo_config,
    flags: u32,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        // SAFETY: NULL or a live config by the caller's contract.
        let config = unsafe { config_values(config) }?;
        let notifier = LoadNotifier::from_config(config, handle.callback_gate()).map(LoadNotifier::into_reload_callback);
        Ok(handle.detector.reload_async(&config.core, reload_checks(flags)?, notifier)?)
    })
}

/// The reloads of one detector, from `yolo_stats_reload`. Owned by the caller.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct yolo_reload_stats {
    /// Reloads that replaced the model.
    pub reloads: u64,
    /// Reloads that failed and left the model serving.
    pub failures: u64,
    /// How long the last reload that ended took, either way, in microseconds; 0 if none ended.
    pub last_duration_us: u64,
    /// The `yolo_status` of the last reload that ended: `YOLO_STATUS_OK` if it succeeded or none ended.
    pub last_status: u32,
    /// Whether a reload of this detector is running now.
    pub running: bool,
}

/// Writes the detector's reload counters. Cheap: fit for a health check. Thread-safe.
///
/// Safety: `out_stats` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_stats_reload(
    detector: *const yolo_detector,
    out_stats: *mut yolo_reload_stats,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out = OutParam::new(out_stats, "out_stats")?;
        let reloads = handle.detector.reload_stats();
        let stats = yolo_reload_stats {
            reloads: reloads.succeeded,
            failures: reloads.failed,
            last_duration_us: reloads.last_duration.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            last_status: reloads.last_error.map_or(yolo_status::Ok, |e| yolo_status::from(e.kind())) as u32,
            running: reloads.running,
        };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(stats) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_checks_and_unknown_bits_are_refused() {
        assert_eq!(reload_checks(0).unwrap(), ReloadChecks::default());
        assert_eq!(reload_checks(3).unwrap(), ReloadChecks { keep_task: true, keep_class_count: true });
        assert_eq!(reload_checks(2).unwrap(), ReloadChecks { keep_task: false, keep_class_count: true });
        let error = reload_checks(4).unwrap_err();
        assert_eq!(error.status(), yolo_status::InvalidArgument);
        assert!(error.message().contains("0x4"), "{}", error.message());
    }
}
