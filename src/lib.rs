//! yolo-ffi: YOLO object detection behind a stable C ABI.
//!
//! The crate has two layers. The safe core ([`detector`], [`pool`], [`preprocess`], [`postprocess`],
//! [`model`], [`image_input`], [`runtime`]) is plain Rust. The [`ffi`] module is the C surface: it only checks
//! and converts arguments, then calls the core.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod detector;
pub mod error;
pub mod ffi;
pub mod fork;
pub mod image_input;
pub mod loaded_model;
pub mod log;
pub mod model;
pub mod pool;
pub mod postprocess;
pub mod preprocess;
pub mod registry;
pub mod runtime;
pub mod stats;

pub use detector::{Detections, Detector, DetectorConfig};
pub use error::{Error, ErrorKind, Result};
