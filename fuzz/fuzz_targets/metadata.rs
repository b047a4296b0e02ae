//! The metadata parser on arbitrary strings: `names`, `imgsz`, `stride`, `end2end` and `args`, each alone
//! and together, as ONNX Runtime hands them over (any UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use yolo_ffi_core::model::metadata::{parse_imgsz, parse_names, parse_stride, ModelMetadata};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(names) = parse_names(text) {
        // Ids without a name are filled in, so the list can be longer than the input, but not absurdly.
        assert!(names.len() <= 1 << 20, "{} names from {} bytes", names.len(), text.len());
    }
    if let Ok((height, width)) = parse_imgsz(text) {
        assert!(height > 0 && width > 0, "imgsz {height}x{width} accepted");
    }
    if let Ok(stride) = parse_stride(text) {
        assert!(stride > 0, "stride 0 accepted");
    }
    // The same text split into the keys the library reads.
    let fields: Vec<&str> = text.split('\u{1}').collect();
    let keys = ["names", "imgsz", "stride", "task", "end2end", "args"];
    let lookup = |key: &str| keys.iter().position(|k| *k == key).and_then(|i| fields.get(i)).map(|s| s.to_string());
    let _ = ModelMetadata::parse(lookup);
});
