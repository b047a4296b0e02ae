//! The panic boundary, the thread-local last error, and the NULL-policy helpers every exported function uses.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::status::yolo_status;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

// The last error is reached with `try_with`: a program may call the library from an exit handler, and
// the thread that calls `exit()` has had its thread-locals destroyed by then. Such a call keeps no message.

/// Stores `message` as this thread's last error. Interior NULs, which C cannot see past, become `?`.
pub(crate) fn set_last_error(message: &str) {
    let bytes: Vec<u8> = message.bytes().map(|b| if b == 0 { b'?' } else { b }).collect();
    let message = CString::new(bytes).expect("NULs were replaced");
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = message);
}

fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if !slot.is_empty() {
            *slot = CString::default();
        }
    });
}

/// A pointer to this thread's last error message, valid until the next call into the library on this thread.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.try_with(|slot| slot.borrow().as_ptr()).unwrap_or(c"".as_ptr())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (a bug in yolo-ffi, please report it): {detail}")
}

/// Runs the body of a status-returning function: `Ok` clears the last error, `Err` sets it, a panic is
/// caught and reported as [`yolo_status::InternalError`].
#[doc(hidden)]
pub fn run_status(body: impl FnOnce() -> Result<()>) -> yolo_status {
    let status = run_release(body);
    if status == yolo_status::Ok {
        clear_last_error();
    }
    status
}

/// Runs the body of a function that releases an object: as [`run_status`], except that success leaves this
/// thread's last error as it was, so that a caller may free its config (or anything else) before reading
/// why the call before failed.
#[doc(hidden)]
pub fn run_release(body: impl FnOnce() -> Result<()>) -> yolo_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => yolo_status::Ok,
        Ok(Err(error)) => {
            set_last_error(error.message());
            error.status()
        }
        Err(payload) => {
            set_last_error(&panic_message(payload.as_ref()));
            yolo_status::InternalError
        }
    }
}

/// Runs the body of a function that returns a plain value; a panic yields `fallback` and sets the last error.
#[doc(hidden)]
pub fn run_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        set_last_error(&panic_message(payload.as_ref()));
        fallback
    })
}

/// The one panic boundary. `ffi_boundary!(status { ... })` wraps a body that evaluates to
/// `Result<()>`; `ffi_boundary!(release { ... })` the same for a function that releases an object (its
/// success keeps the last error); `ffi_boundary!(value FALLBACK, { ... })` a body that returns a plain value.
macro_rules! ffi_boundary {
    (status $body:block) => {
        $crate::boundary::run_status(|| -> $crate::error::Result<()> { $body })
    };
    (release $body:block) => {
        $crate::boundary::run_release(|| -> $crate::error::Result<()> { $body })
    };
    (value $fallback:expr, $body:block) => {
        $crate::boundary::run_value($fallback, || $body)
    };
}

/// Rejects a NULL required pointer with an invalid-argument error naming the parameter.
pub(crate) fn non_null<T>(ptr: *const T, name: &str) -> Result<*const T> {
    if ptr.is_null() {
        Err(Error::invalid_argument(format!("{name} is NULL")))
    } else {
        Ok(ptr)
    }
}

/// A required out-parameter, checked before any work is done and written only on success.
pub(crate) struct OutParam<T>(*mut T);

impl<T> OutParam<T> {
    /// Checks `ptr` is not NULL.
    pub(crate) fn new(ptr: *mut T, name: &str) -> Result<Self> {
        non_null(ptr, name).map(|p| Self(p.cast_mut()))
    }

    /// Writes `value`.
    ///
    /// # Safety
    /// The pointer given to [`OutParam::new`] must be valid for a write of `T` (the caller's contract).
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-null by construction, valid and aligned by the caller's contract; `write` does not drop
        // whatever uninitialised bytes were there before.
        unsafe { self.0.write(value) }
    }
}

/// A byte buffer from C: `ptr` must not be NULL, even when `len` is 0.
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes for `'a`, and not mutated meanwhile.
pub(crate) unsafe fn input_bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    // SAFETY: forwarded to the caller's contract.
    unsafe { input_array(ptr, len, name) }
}

/// An array of `len` values from C: `ptr` must not be NULL, even when `len` is 0.
///
/// # Safety
/// `ptr` must be valid and aligned for reads of `len` values of `T` for `'a`, and not mutated meanwhile.
pub(crate) unsafe fn input_array<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    non_null(ptr, name)?;
    if len.checked_mul(std::mem::size_of::<T>()).is_none_or(|bytes| bytes > isize::MAX as usize) {
        return Err(Error::invalid_argument(format!("{name} length {len} is larger than any buffer can be")));
    }
    // SAFETY: non-null, `len` values fit an allocation, and the caller promises them readable.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An optional NUL-terminated path: `None` for NULL or the empty string. Any bytes but NUL are accepted,
/// as the operating system does.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn optional_path(ptr: *const c_char) -> Option<PathBuf> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    (!bytes.is_empty()).then(|| PathBuf::from(OsStr::from_bytes(bytes)))
}

/// A C string of `text`, NULs replaced by `?`.
pub(crate) fn c_string_lossy(text: &str) -> CString {
    CString::new(text.replace('\0', "?")).expect("NULs were replaced")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: the thread's last error is a live NUL-terminated string.
        unsafe { CStr::from_ptr(last_error_ptr()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn status_bodies_set_and_clear_the_last_error_and_catch_panics() {
        assert_eq!(run_status(|| Err(Error::invalid_argument("bad \0 value"))), yolo_status::InvalidArgument);
        assert_eq!(last_error(), "bad ? value");
        assert_eq!(run_status(|| Ok(())), yolo_status::Ok);
        assert_eq!(last_error(), "");
        let status = run_status(|| panic!("boom"));
        assert_eq!(status, yolo_status::InternalError);
        assert!(last_error().contains("boom"), "{}", last_error());
        assert_eq!(run_value(7, || panic!("again")), 7);
        assert!(last_error().contains("again"));
        assert_eq!(run_release(|| Ok(())), yolo_status::Ok);
        assert!(last_error().contains("again"), "a successful release keeps the message");
        assert_eq!(run_release(|| Err(Error::invalid_argument("not a config"))), yolo_status::InvalidArgument);
        assert_eq!(last_error(), "not a config");
    }

    #[test]
    fn buffers_and_out_params_check_null_and_size() {
        let data = [1u8, 2, 3];
        // SAFETY: `data` is readable for 3 bytes; the NULL and huge-length cases are rejected before reading.
        unsafe {
            assert_eq!(input_bytes(data.as_ptr(), 3, "data").unwrap(), &data);
            assert_eq!(input_bytes(data.as_ptr(), 0, "data").unwrap(), &[] as &[u8]);
            assert!(input_bytes(std::ptr::null(), 0, "data").unwrap_err().message().contains("data is NULL"));
            let words = [0u64; 2];
            let huge = input_array(words.as_ptr(), usize::MAX / 4, "words").unwrap_err();
            assert!(huge.message().contains("larger than any buffer"), "{}", huge.message());
        }
        let mut slot = 0u32;
        let out = OutParam::new(&mut slot, "out").unwrap();
        // SAFETY: `slot` is writable.
        unsafe { out.write(42) };
        assert_eq!(slot, 42);
        assert!(OutParam::<u32>::new(std::ptr::null_mut(), "out_x").err().unwrap().message().contains("out_x"));
    }

    #[test]
    fn paths_keep_every_byte_but_nul() {
        let raw = c"/tmp/caf\xe9.onnx";
        // SAFETY: NUL-terminated literals, and NULL.
        unsafe {
            assert_eq!(optional_path(raw.as_ptr()).unwrap().as_os_str().as_bytes(), b"/tmp/caf\xe9.onnx");
            assert_eq!(optional_path(c"".as_ptr()), None);
            assert_eq!(optional_path(std::ptr::null()), None);
        }
    }
}
