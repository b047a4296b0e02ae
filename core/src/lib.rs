//! yolo-ffi's core: YOLO detection with Ultralytics' pre- and post-processing over a pool of ONNX Runtime
//! sessions, in plain Rust. The C ABI (the `yolo-ffi` crate) is a thin layer over it; a Rust program can
//! use it directly:
//!
//! ```no_run
//! use yolo_ffi_core::{Detector, DetectorConfig};
//!
//! let mut config = DetectorConfig::new("nudenet-320n.onnx");
//! config.imgsz = Some((320, 320));
//! let detector = Detector::new(&config)?; // loads once; share it between threads (it is Send + Sync)
//! let found = detector.detect_encoded(&std::fs::read("bus.jpg").unwrap(), None)?;
//! for d in &found.detections {
//!     let name = &detector.model()?.class_names()[d.class_id as usize];
//!     println!("{name} {:.2} [{} {} {} {}]", d.score, d.x1, d.y1, d.x2, d.y2);
//! }
//! # Ok::<(), yolo_ffi_core::Error>(())
//! ```
//!
//! The API is what the crate root re-exports, with [`log`] for events. The other modules are public for the
//! C crate, the benches and the fuzz targets, and hidden from the documentation: they may change in any
//! release.
//!
//! Imports go one way: `detector` (per-handle settings) → `registry` (one model per process) →
//! `loaded_model` (the session pool and the pipeline) → `bound_io` (inputs and outputs bound in a
//! provider's memory) → `engine` (every session build and run, with the
//! fork and exit guards) → `runtime` (loading ONNX Runtime) → [`log`] → `fork`, with `preprocess`,
//! `postprocess`, `model` and `image_input` beside them.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

/// Cross-caller batching: concurrent calls gathered into one run.
pub mod batcher;
#[doc(hidden)]
pub mod bound_io;
#[doc(hidden)]
pub mod detector;
#[doc(hidden)]
pub mod engine;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod fork;
#[doc(hidden)]
pub mod image_input;
#[doc(hidden)]
pub mod loaded_model;
pub mod log;
#[doc(hidden)]
pub mod model;
#[doc(hidden)]
pub mod pool;
#[doc(hidden)]
pub mod postprocess;
#[doc(hidden)]
pub mod preprocess;
/// Execution providers: CPU, CUDA, TensorRT, OpenVINO.
pub mod provider;
#[doc(hidden)]
pub mod registry;
#[doc(hidden)]
pub mod runtime;
/// The rule of every setting: limits checked in one place, by the core and the C setters alike.
pub mod settings;
#[doc(hidden)]
pub mod stats;
pub mod tasks;

pub use detector::{Detector, DetectorConfig};
pub use error::{Error, ErrorKind, Result};
pub use image_input::{PixelFormat, PixelView};
pub use loaded_model::LoadedModel;
pub use model::Task;
pub use postprocess::{Detection, Detections, NmsSettings};
pub use registry::LoadState;
