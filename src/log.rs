//! The log callback: where the library's events go.

use std::ffi::{c_char, c_void};

use yolo_ffi_core::log::Level;

use crate::boundary::c_string_lossy;
use crate::status::yolo_status;

/// Receives the library's events (loads, load failures, fork rebuilds, warnings) with a level: 1 error,
/// 2 warning, 3 info. Called on the thread where the event happens; the message is valid only during the
/// call. It must not call back into the library, and must not unwind.
pub type yolo_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut std::ffi::c_void, level: u32, message: *const c_char)>;

/// Routes the library's events to `callback` (NULL: drop them again, the default), with `user_data`
/// passed back as is. Nothing is ever printed to stdout or stderr. Process-wide; thread-safe. Returns once
/// no thread is still running the previous callback, so its `user_data` may be freed then. The library
/// holds no lock while a callback runs, so a callback that blocks (a Python callback waiting for the GIL)
/// never leaves a lock held in a child forked meanwhile.
#[no_mangle]
pub extern "C" fn yolo_set_log_callback(callback: yolo_log_callback, user_data: *mut c_void) -> yolo_status {
    ffi_boundary!(status {
        let sink = callback.map(|callback| {
            let target = LogTarget { callback, user_data };
            Box::new(move |level: Level, message: &str| target.send(level, message)) as yolo_ffi_core::log::Sink
        });
        yolo_ffi_core::log::set_sink(sink);
        Ok(())
    })
}

/// A C log callback with its user data.
struct LogTarget {
    callback: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the header documents that the log callback runs on whichever thread the event happens; the
// caller hands `user_data` over on that condition, and the library never dereferences it.
unsafe impl Send for LogTarget {}

// SAFETY: as above; the library only copies the pointer.
unsafe impl Sync for LogTarget {}

impl LogTarget {
    fn send(&self, level: Level, message: &str) {
        let message = c_string_lossy(message);
        // SAFETY: a C function pointer registered for exactly this; the message lives until it returns.
        unsafe { (self.callback)(self.user_data, level as u32, message.as_ptr()) };
    }
}
