//! Gives the core the ONNX Runtime versions of `versions.env`, the one file that states them for the
//! Makefile, the scripts and this crate: where the library looks in the user cache depends on them.

use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let file = Path::new(&manifest).join("../versions.env");
    println!("cargo:rerun-if-changed={}", file.display());
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    for key in ["ORT_VERSION", "ORT_GPU_VERSION"] {
        let value = text
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{} has no {key}=", file.display()));
        println!("cargo:rustc-env=YOLO_FFI_{key}={}", value.trim());
    }
}
