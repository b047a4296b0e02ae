//! Opaque handles and the casts between them and the Rust values behind them.
//!
//! Each C handle type is an opaque struct that C only ever sees behind a pointer. A handle is created from a
//! `Box` and freed exactly once, so every handle type here implements [`BoxOwned`]: the one ownership kind
//! the ABI uses so far, with one helper per operation (create, borrow, free).

use crate::error::{Error, Result};

/// A C handle type whose pointer is a `Box<Self::Rust>` handed to C.
pub(crate) trait BoxOwned: Sized {
    /// The Rust value behind the handle.
    type Rust;
    /// The handle's name in error messages.
    const NAME: &'static str;
}

/// Moves `value` to the heap and returns it as an owning C handle.
pub(crate) fn into_handle<C: BoxOwned>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Borrows the value behind a handle; NULL is an invalid-argument error.
///
/// # Safety
/// A non-NULL `handle` must come from [`into_handle`] for the same `C`, and not have been freed.
pub(crate) unsafe fn borrow_handle<'a, C: BoxOwned>(handle: *const C) -> Result<&'a C::Rust> {
    if handle.is_null() {
        return Err(Error::invalid_argument(format!("{} is NULL", C::NAME)));
    }
    // SAFETY: non-null, and by the caller's contract a live `Box<C::Rust>` made by `into_handle`.
    Ok(unsafe { &*handle.cast::<C::Rust>() })
}

/// Frees a handle; NULL is a no-op.
///
/// # Safety
/// A non-NULL `handle` must come from [`into_handle`] for the same `C`, not have been freed, and not be in
/// use by any other thread.
pub(crate) unsafe fn free_handle<C: BoxOwned>(handle: *mut C) {
    if !handle.is_null() {
        // SAFETY: by the caller's contract this is the `Box` made by `into_handle`, freed only here.
        drop(unsafe { Box::from_raw(handle.cast::<C::Rust>()) });
    }
}
