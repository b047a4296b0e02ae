//! The C surface's error: the status a call returns and the message it leaves as the thread's last error.
//! The core's errors convert into it; the failures only the C surface can meet (a stale handle, an index
//! out of range) exist only here, so that the core's `ErrorKind` holds only what the core produces.

use std::fmt;

use crate::status::yolo_status;

/// A failed call: its status (never `YOLO_STATUS_OK`) and a message meant for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: yolo_status,
    message: String,
}

impl Error {
    /// An error of `status` with `message`.
    pub fn new(status: yolo_status, message: impl Into<String>) -> Self {
        debug_assert_ne!(status, yolo_status::Ok, "an error has a failing status");
        Self { status, message: message.into() }
    }

    /// `YOLO_STATUS_INVALID_ARGUMENT`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(yolo_status::InvalidArgument, message)
    }

    /// `YOLO_STATUS_INVALID_HANDLE`: a handle that was freed already, or never was one.
    pub fn invalid_handle(message: impl Into<String>) -> Self {
        Self::new(yolo_status::InvalidHandle, message)
    }

    /// `YOLO_STATUS_OUT_OF_RANGE`: an index beyond what the object holds.
    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(yolo_status::OutOfRange, message)
    }

    /// `YOLO_STATUS_BUSY`: an object another thread's call is using.
    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(yolo_status::Busy, message)
    }

    /// The status the call returns.
    pub fn status(&self) -> yolo_status {
        self.status
    }

    /// The message the call leaves as the thread's last error.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<yolo_ffi_core::Error> for Error {
    fn from(error: yolo_ffi_core::Error) -> Self {
        Self { status: yolo_status::from(error.kind()), message: error.message().to_owned() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The C surface's result type.
pub type Result<T> = std::result::Result<T, Error>;
