//! The status every call returns: its values, names and descriptions, and the version constants of the
//! header.

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use yolo_ffi_core::ErrorKind;

/// The outcome of a call. Values are stable: a value is never reused for another meaning, and new
/// statuses only get new values. On any status but `YOLO_STATUS_OK`, `yolo_last_error()` describes the
/// failure and no out-parameter was written.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum yolo_status {
    /// Success.
    Ok = 0,
    /// An argument was NULL, out of range, NaN, or inconsistent with another argument.
    InvalidArgument = 1,
    /// No usable ONNX Runtime library was found; the message lists every path tried.
    RuntimeUnavailable = 2,
    /// The model file is missing, unreadable, a directory, or not a valid ONNX model.
    ModelLoadFailed = 3,
    /// The model is valid ONNX but not a YOLO model this library understands, or its outputs do not fit
    /// its task; the message names the shapes.
    InvalidModel = 4,
    /// The encoded image is truncated, corrupt, or in an unsupported format.
    ImageDecodeFailed = 5,
    /// The image has more pixels than `max_image_pixels` allows.
    ImageTooLarge = 6,
    /// Every session stayed busy for `acquire_timeout_ms`.
    Timeout = 7,
    /// ONNX Runtime failed while running the model.
    InferenceFailed = 8,
    /// An index (such as a class id) is out of range.
    OutOfRange = 9,
    /// A bug in yolo-ffi was caught before it could crash the caller; please report the message.
    InternalError = 10,
    /// The model is still loading in the background (`async_load`), and the detector's `load_wait_ms`
    /// ran out.
    NotReady = 11,
    /// The model failed to load in the background; the message gives the reason. The detector stays valid
    /// (and must still be freed): every call reports the same failure.
    LoadFailed = 12,
    /// The handle was freed already, or never came from this library: a detector after `yolo_free`, or
    /// something that is not a live result passed to a `yolo_result_*` function.
    InvalidHandle = 13,
    /// Memory ran out while loading the model or running it: a buffer for the model's input size, or an
    /// allocation inside ONNX Runtime, could not be made. The model may be valid but too large for this
    /// machine's memory (or the process's limit) at its input size.
    OutOfMemory = 14,
    /// An execution provider the config asks for is not there: the loaded ONNX Runtime was built without it,
    /// or it failed to start (a missing CUDA or cuDNN library, no such device). The message names the
    /// provider and the reason. With `yolo_config_set_provider_fallback(config, true)` the next provider of
    /// the list is tried instead, and this status means none was there.
    ProviderUnavailable = 15,
    /// The object is in use by another thread's call that must not overlap this one: a tracker updated by
    /// two threads at once (one stream, one caller at a time), or a reload of a detector while one of its
    /// reloads is still running. Nothing was changed; retry after the other call, or give each stream its
    /// own tracker.
    Busy = 16,
}

impl From<ErrorKind> for yolo_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => Self::InvalidArgument,
            ErrorKind::RuntimeUnavailable => Self::RuntimeUnavailable,
            ErrorKind::ModelLoadFailed => Self::ModelLoadFailed,
            ErrorKind::InvalidModel => Self::InvalidModel,
            ErrorKind::ImageDecodeFailed => Self::ImageDecodeFailed,
            ErrorKind::ImageTooLarge => Self::ImageTooLarge,
            ErrorKind::Timeout => Self::Timeout,
            ErrorKind::InferenceFailed => Self::InferenceFailed,
            ErrorKind::Internal => Self::InternalError,
            ErrorKind::NotReady => Self::NotReady,
            ErrorKind::LoadFailed => Self::LoadFailed,
            ErrorKind::OutOfMemory => Self::OutOfMemory,
            ErrorKind::ProviderUnavailable => Self::ProviderUnavailable,
            ErrorKind::Busy => Self::Busy,
        }
    }
}

impl yolo_status {
    /// Every status, for `yolo_status_string` and the tests.
    pub const ALL: [yolo_status; 17] = [
        Self::Ok,
        Self::InvalidArgument,
        Self::RuntimeUnavailable,
        Self::ModelLoadFailed,
        Self::InvalidModel,
        Self::ImageDecodeFailed,
        Self::ImageTooLarge,
        Self::Timeout,
        Self::InferenceFailed,
        Self::OutOfRange,
        Self::InternalError,
        Self::NotReady,
        Self::LoadFailed,
        Self::InvalidHandle,
        Self::OutOfMemory,
        Self::ProviderUnavailable,
        Self::Busy,
    ];

    /// The status's name without its prefix (`INVALID_ARGUMENT` for `YOLO_STATUS_INVALID_ARGUMENT`), for
    /// `yolo_status_name`. Derived from the variant's name by the rule cbindgen applies to the header
    /// (cbindgen.toml: `ScreamingSnakeCase`), so that the names are written once, in this enum.
    pub fn name(self) -> &'static CStr {
        static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
        let names =
            NAMES.get_or_init(|| Self::ALL.iter().map(|status| screaming_snake(&format!("{status:?}"))).collect());
        // ALL is in value order from 0 (a test holds it), so a value is its index.
        &names[self as usize]
    }

    /// The status of a raw value, if it is one.
    pub fn from_raw(value: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u32 == value)
    }

    /// A short, static, NUL-terminated description.
    pub fn description(self) -> &'static CStr {
        match self {
            Self::Ok => c"ok",
            Self::InvalidArgument => c"invalid argument",
            Self::RuntimeUnavailable => c"ONNX Runtime unavailable",
            Self::ModelLoadFailed => c"model load failed",
            Self::InvalidModel => c"invalid model",
            Self::ImageDecodeFailed => c"image decode failed",
            Self::ImageTooLarge => c"image too large",
            Self::Timeout => c"timed out waiting for a session",
            Self::InferenceFailed => c"inference failed",
            Self::OutOfRange => c"out of range",
            Self::InternalError => c"internal error",
            Self::NotReady => c"model not ready yet",
            Self::LoadFailed => c"model load failed",
            Self::InvalidHandle => c"invalid handle",
            Self::OutOfMemory => c"out of memory",
            Self::ProviderUnavailable => c"execution provider unavailable",
            Self::Busy => c"in use by another call",
        }
    }
}

/// `InvalidArgument` as `INVALID_ARGUMENT`: cbindgen's `ScreamingSnakeCase` for an enum variant.
fn screaming_snake(camel: &str) -> CString {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    CString::new(out).expect("identifiers hold no NUL")
}

/// The major version of the library this header was generated for. A program compiled against this header
/// works with a library of the same major version whose minor version is at least
/// `YOLO_FFI_VERSION_MINOR`; before 1.0 (major 0) the minor version must be the same, as the SONAME
/// (`libyolo_ffi.so.0.MINOR`) says. `yolo_version()` gives the version of the library actually loaded.
pub const YOLO_FFI_VERSION_MAJOR: u32 = 0;

/// The minor version of the library this header was generated for.
pub const YOLO_FFI_VERSION_MINOR: u32 = 1;

/// The patch version of the library this header was generated for.
pub const YOLO_FFI_VERSION_PATCH: u32 = 0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::{yolo_provider, yolo_task};
    use yolo_ffi_core::provider::ProviderKind;
    use yolo_ffi_core::Task;

    #[test]
    fn the_header_version_is_the_crate_version() {
        let parse = |v: &str| v.parse::<u32>().unwrap();
        assert_eq!(
            (YOLO_FFI_VERSION_MAJOR, YOLO_FFI_VERSION_MINOR, YOLO_FFI_VERSION_PATCH),
            (
                parse(env!("CARGO_PKG_VERSION_MAJOR")),
                parse(env!("CARGO_PKG_VERSION_MINOR")),
                parse(env!("CARGO_PKG_VERSION_PATCH"))
            ),
            "update the YOLO_FFI_VERSION_* constants with Cargo.toml's version"
        );
    }

    #[test]
    fn every_error_kind_has_its_own_listed_status() {
        // Stats count errors by `kind as usize`, and `yolo_stats` reports them by status: both lists must
        // hold every kind and status once, in order.
        for (index, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, index, "ErrorKind::ALL is in declaration order");
            assert!(yolo_status::ALL.contains(&yolo_status::from(*kind)), "{kind:?} maps to an unlisted status");
        }
        let mut mapped: Vec<u32> = ErrorKind::ALL.iter().map(|k| yolo_status::from(*k) as u32).collect();
        mapped.sort_unstable();
        mapped.dedup();
        assert_eq!(mapped.len(), ErrorKind::ALL.len(), "two kinds share a status");
        // The statuses no core error maps to are the C surface's own (crate::error::Error).
        let own = [yolo_status::Ok, yolo_status::OutOfRange, yolo_status::InvalidHandle];
        assert_eq!(yolo_status::ALL.len(), ErrorKind::ALL.len() + own.len(), "every other status has its kind");
        for status in own {
            assert!(!mapped.contains(&(status as u32)), "{status:?} is the C surface's own");
        }
        for status in yolo_status::ALL {
            assert_ne!(status.description().to_bytes(), b"unknown status");
        }
    }

    /// The header's `PREFIX_NAME = VALUE` lines.
    fn header_constants(prefix: &str) -> Vec<(String, u32)> {
        include_str!("../include/yolo_ffi.h")
            .lines()
            .filter_map(|line| {
                let (name, value) = line.trim().trim_end_matches(',').split_once(" = ")?;
                Some((name.strip_prefix(prefix)?.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn the_exported_names_are_the_header_s() {
        let statuses: Vec<(String, u32)> =
            yolo_status::ALL.iter().map(|s| (s.name().to_str().unwrap().to_owned(), *s as u32)).collect();
        assert_eq!(statuses, header_constants("YOLO_STATUS_"));
        let tasks: Vec<(String, u32)> =
            Task::ALL.iter().map(|t| (t.name().to_ascii_uppercase(), yolo_task::from(*t) as u32)).collect();
        assert_eq!(tasks, header_constants("YOLO_TASK_"));
        let providers: Vec<(String, u32)> =
            [yolo_provider::Cpu, yolo_provider::Cuda, yolo_provider::Tensorrt, yolo_provider::Openvino]
                .iter()
                .map(|p| (ProviderKind::from(*p).name().to_ascii_uppercase(), *p as u32))
                .collect();
        assert_eq!(providers, header_constants("YOLO_PROVIDER_"));
        for value in [0, 8, 99] {
            assert_eq!(yolo_task::task_from_raw(value), None);
        }
        assert_eq!(yolo_status::from_raw(17), None);
    }

    #[test]
    fn status_values_are_stable() {
        let values: Vec<u32> = yolo_status::ALL.iter().map(|s| *s as u32).collect();
        assert_eq!(values, (0..=16).collect::<Vec<u32>>());
    }
}
