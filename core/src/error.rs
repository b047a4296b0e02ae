//! The one error type of the safe core.
//!
//! The core never knows about C: it reports an [`ErrorKind`] plus a human-readable message, and the FFI layer
//! maps the kind onto a stable status code.

use std::fmt;

/// What went wrong, coarse enough to map one-to-one onto a C status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A caller passed a value the API does not accept (NULL, out of range, NaN, ...).
    InvalidArgument,
    /// No usable ONNX Runtime library could be loaded.
    RuntimeUnavailable,
    /// The model file could not be read or ONNX Runtime could not build a session from it.
    ModelLoadFailed,
    /// The model loaded but is not a YOLO detection model this library understands.
    InvalidModel,
    /// The encoded image could not be decoded.
    ImageDecodeFailed,
    /// The image is larger than the configured pixel limit.
    ImageTooLarge,
    /// No session became free within the acquire timeout.
    Timeout,
    /// ONNX Runtime failed while running the model.
    InferenceFailed,
    /// A bug: a panic was caught at the API boundary.
    Internal,
    /// The model is still loading in the background.
    NotReady,
    /// The model failed to load in the background; the message says why.
    LoadFailed,
    /// Memory ran out: a buffer or an ONNX Runtime allocation for the model's input size could not be made.
    OutOfMemory,
    /// An execution provider the caller asked for is not there (see [`crate::provider`]).
    ProviderUnavailable,
    /// Another call is using the object in a way that excludes this one (a reload while one is running).
    Busy,
}

impl ErrorKind {
    /// Every kind, for tables indexed by `kind as usize`.
    pub const ALL: [ErrorKind; 14] = [
        Self::InvalidArgument,
        Self::RuntimeUnavailable,
        Self::ModelLoadFailed,
        Self::InvalidModel,
        Self::ImageDecodeFailed,
        Self::ImageTooLarge,
        Self::Timeout,
        Self::InferenceFailed,
        Self::Internal,
        Self::NotReady,
        Self::LoadFailed,
        Self::OutOfMemory,
        Self::ProviderUnavailable,
        Self::Busy,
    ];
}

/// An error with its kind and a message meant for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// Builds an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut message = message.into();
        // Some sources (ONNX Runtime, image decoders) end their messages with a newline.
        message.truncate(message.trim_end().len());
        Self { kind, message }
    }

    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// Shorthand for [`ErrorKind::InvalidModel`].
    pub fn invalid_model(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidModel, message)
    }

    /// Shorthand for [`ErrorKind::OutOfMemory`], naming what could not be allocated.
    pub fn out_of_memory(what: impl std::fmt::Display, bytes: usize) -> Self {
        Self::new(ErrorKind::OutOfMemory, format!("out of memory: cannot allocate {bytes} bytes for {what}"))
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Resizes `buf` to `len` elements, filling new ones with `value`, and reports an allocation that fails
/// as [`ErrorKind::OutOfMemory`] instead of aborting the process. For buffers whose size a model or an
/// image decides.
pub fn try_resize<T: Clone>(buf: &mut Vec<T>, len: usize, value: T, what: &str) -> Result<()> {
    if let Some(more) = len.checked_sub(buf.len()) {
        buf.try_reserve_exact(more)
            .map_err(|_| Error::out_of_memory(what, len.saturating_mul(std::mem::size_of::<T>())))?;
    }
    buf.resize(len, value);
    Ok(())
}

/// The core's result type.
pub type Result<T> = std::result::Result<T, Error>;
