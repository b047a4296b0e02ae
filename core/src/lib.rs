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
//!     let name = &found.class_names[d.class_id as usize]; // the names of the model that made `found`
//!     println!("{name} {:.2} [{} {} {} {}]", d.score, d.x1, d.y1, d.x2, d.y2);
//! }
//! # Ok::<(), yolo_ffi_core::Error>(())
//! ```
//!
//! The API is what the crate root re-exports, with the modules [`batcher`], [`log`], [`provider`],
//! [`result`], [`settings`] and [`track`]; the C crate uses nothing else. The other modules are the crate's own
//! (`pub(crate)`); the `internals` feature makes them public, hidden from the documentation, for the
//! benches, the fuzz targets and the integration tests: they may change in any release.
//!
//! Imports go one way: `detector` (per-handle settings) → `registry` (one model per process) →
//! `loaded_model` (the session pool and the pipeline) → `bound_io` (inputs and outputs bound in a
//! provider's memory) → `engine` (every session build and run, with the
//! fork and exit guards) → `runtime` (loading ONNX Runtime) → [`log`] → `fork`, with `preprocess`,
//! `postprocess`, `model` and `image_input` beside them.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

/// Declares modules that are the crate's own: `pub(crate)`, or, with the `internals` feature that the
/// benches, the fuzz targets and the integration tests turn on, `pub` and hidden from the documentation.
/// Nothing in them is API: they may change in any release.
macro_rules! internal_modules {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(feature = "internals")]
            #[doc(hidden)]
            pub mod $name;
            #[cfg(not(feature = "internals"))]
            pub(crate) mod $name;
        )*
    };
}

internal_modules!(
    bound_io,
    detector,
    engine,
    error,
    fork,
    image_input,
    loaded_model,
    model,
    pool,
    postprocess,
    preprocess,
    registry,
    runtime,
    stats,
    tasks,
);

/// Cross-caller batching: concurrent calls gathered into one run.
pub mod batcher;
pub mod log;
/// Execution providers: CPU, CUDA, TensorRT, OpenVINO.
pub mod provider;
/// What a detect call gives: detections, masks, keypoints, oriented boxes, class probabilities.
pub mod result;
/// The rule of every setting: limits checked in one place, by the core and the C setters alike.
pub mod settings;
pub mod track;

pub use detector::{
    refresh_all_after_fork, Detector, DetectorConfig, ModelRef, ReloadCallback, ReloadChecks, ReloadStats,
};
pub use error::{Error, ErrorKind, Result};
pub use image_input::{PixelFormat, PixelView};
pub use loaded_model::LoadedModel;
pub use model::Task;
pub use postprocess::DecodeSettings;
pub use registry::{LoadCallback, LoadState};
pub use result::{ClassIds, ClassMap, ClassProbability, DepthMap, Detection, Detections, Keypoint, Mask, OrientedBox};
pub use stats::Stage;

#[cfg(test)]
mod architecture {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`.
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn onnx_runtime_is_called_only_from_the_modules_the_design_names() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let design = std::fs::read_to_string(root.join("../docs/design.md")).unwrap();
        let named: Vec<&str> = design
            .split("<!-- ort-modules:")
            .nth(1)
            .and_then(|rest| rest.split("-->").next())
            .expect("docs/design.md names the modules that call ONNX Runtime in an ort-modules comment")
            .split_whitespace()
            .collect();
        let mut files = Vec::new();
        sources(&root.join("src"), &mut files);
        let mut calling = std::collections::BTreeSet::new();
        // lib.rs declares the modules (and holds this test, whose text names `ort`).
        for file in files.into_iter().filter(|f| !f.ends_with("src/lib.rs")) {
            let text = std::fs::read_to_string(&file).unwrap();
            let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
            if code.contains("ort::") {
                let relative = file.strip_prefix(root.join("src")).unwrap();
                let module = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
                calling.insert(module);
            }
        }
        let named: std::collections::BTreeSet<String> = named.iter().map(|s| s.to_string()).collect();
        assert_eq!(calling, named, "the modules that use `ort` are not those docs/design.md names");
    }
}
