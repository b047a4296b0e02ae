//! yolo-ffi's core: YOLO detection with Ultralytics' pre- and post-processing over a pool of ONNX Runtime
//! sessions, in plain Rust. The C ABI (the `yolo-ffi` crate) is a thin layer over it; a Rust program can
//! use it directly through [`Detector`] and [`DetectorConfig`].
//!
//! Imports go one way: [`detector`] (per-handle settings) → [`registry`] (one model per process) →
//! [`loaded_model`] (the session pool and the pipeline) → [`engine`] (every session build and run, with the
//! fork and exit guards) → [`runtime`] (loading ONNX Runtime) → [`log`] → [`fork`], with [`preprocess`],
//! [`postprocess`], [`model`] and [`image_input`] beside them.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod detector;
pub mod engine;
pub mod error;
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
