//! The C ABI. This layer only checks and converts: every function validates its pointers through the helpers
//! in [`boundary`] and [`handles`], calls the safe core, and converts the result into a [`yolo_status`] plus a
//! thread-local message. Every exported body runs inside [`ffi_boundary!`], so no panic unwinds into C.

#![allow(non_camel_case_types)]

#[macro_use]
pub mod boundary;
mod api;
pub mod handles;
pub mod types;

pub use api::*;
pub use types::*;
