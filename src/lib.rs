//! yolo-ffi's C ABI, over the plain-Rust core in `yolo-ffi-core`. This crate only checks and converts:
//! every function validates its pointers through the helpers in [`boundary`] and [`handles`], calls the
//! core, and converts the result into a [`yolo_status`] plus a thread-local message. Every exported body
//! runs inside `ffi_boundary!`, so no panic unwinds into C. cbindgen reads this crate alone to write
//! `include/yolo_ffi.h`.

#![allow(non_camel_case_types)]
// The exported functions' doc comments become the C header's, so they are written as C prose: the safety
// contract of each `unsafe` function is a paragraph starting "Safety:", not a rustdoc `# Safety` heading.
#![allow(clippy::missing_safety_doc)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

#[macro_use]
pub mod boundary;
pub mod error;
pub mod handles;

// One module per C object, as the header groups them.
pub mod config;
pub mod detect;
pub mod detector;
pub mod enums;
mod layout;
pub mod library;
pub mod log;
pub mod options;
pub mod reload;
pub mod result;
pub mod status;
pub mod track;

pub use config::*;
pub use detect::*;
pub use detector::*;
pub use enums::*;
pub use library::*;
pub use log::*;
pub use options::*;
pub use reload::*;
pub use result::*;
pub use status::*;
pub use track::*;
