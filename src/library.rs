//! The library-wide functions: its version, the names and descriptions of the statuses, and the
//! thread-local last error.

use std::ffi::c_char;

use crate::boundary::last_error_ptr;
use crate::status::yolo_status;

/// The library's version, `MAJOR.MINOR.PATCH`, as a static NUL-terminated string. Never NULL, never freed.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_version() -> *const c_char {
    ffi_boundary!(value c"?".as_ptr(), { concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast() })
}

/// A static, NUL-terminated description of `status`; unknown values give "unknown status". Never NULL,
/// never freed. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_status_string(status: u32) -> *const c_char {
    ffi_boundary!(value c"unknown status".as_ptr(), {
        yolo_status::from_raw(status).map_or(c"unknown status".as_ptr(), |s| s.description().as_ptr())
    })
}

/// The name of a `yolo_status` value without its prefix (`"INVALID_ARGUMENT"` for
/// `YOLO_STATUS_INVALID_ARGUMENT`), as a static NUL-terminated string; NULL for a value that is no status.
/// Never freed. Thread-safe. Bindings build their status tables by asking for every value from 0 until
/// NULL, so that no binding restates one.
#[no_mangle]
pub extern "C" fn yolo_status_name(status: u32) -> *const c_char {
    ffi_boundary!(value std::ptr::null(), {
        yolo_status::from_raw(status).map_or(std::ptr::null(), |s| s.name().as_ptr())
    })
}

/// The message of the last failed call on this thread, as NUL-terminated UTF-8; "" after a successful call,
/// except that the functions that release an object (`yolo_free`, `yolo_result_free`, `yolo_config_free`,
/// `yolo_detect_options_free`) leave it as it was when they succeed.
/// Never NULL. The pointer is owned by the library and valid until the next call into the library on the
/// same thread: copy the message to keep it. Each thread has its own message.
#[no_mangle]
pub extern "C" fn yolo_last_error() -> *const c_char {
    ffi_boundary!(value c"".as_ptr(), { last_error_ptr() })
}
