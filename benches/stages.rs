//! Criterion benchmarks of the library's own stages, which do not involve ONNX Runtime: JPEG decoding, the
//! letterbox and output decoding with NMS. `cargo bench --features simd-jpeg --bench stages`.
//!
//! The side-by-side comparison with raw ONNX Runtime is `benches/bench.rs`, which interleaves every variant
//! in one process (criterion measures one function at a time). The image is bus.jpg from the fixture cache
//! (`make fixtures`), else the small test fixture.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use yolo_ffi_core::image_input::decode;
use yolo_ffi_core::model::OutputLayout;
use yolo_ffi_core::postprocess::{decode_and_suppress, DecodeSettings, OutputView, PostprocessScratch};
use yolo_ffi_core::preprocess::{letterbox_into, LetterboxGeometry, LetterboxScratch};

fn jpeg() -> Vec<u8> {
    let cached = yolo_ffi_core::runtime::cache_dir().map(|dir| dir.join("images/bus.jpg"));
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/rgb.jpg");
    let path = cached.filter(|p| p.is_file()).unwrap_or(fixture);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A YOLOv8-shaped output (`[84, 8400]`, channels first) of pseudo-random boxes in which about 3% of the
/// anchors score above 0.25: the many-candidate NMS of an untrained model, deterministic.
fn channels_first_output() -> Vec<f32> {
    let (rows, anchors) = (84usize, 8400usize);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut out = vec![0.0f32; rows * anchors];
    for a in 0..anchors {
        out[a] = next() * 640.0;
        out[anchors + a] = next() * 640.0;
        out[2 * anchors + a] = 8.0 + next() * 120.0;
        out[3 * anchors + a] = 8.0 + next() * 120.0;
        for c in 4..rows {
            let r = next();
            out[c * anchors + a] = if r > 0.9996 { 0.25 + next() * 0.75 } else { r * 0.2 };
        }
    }
    out
}

/// The output of a YOLOv8 with random weights, in shape: every anchor scores above 0.25, each stride level
/// for one class, with boxes centred on their anchors and many times the stride wide, so that thousands of
/// overlapping candidates of one class reach NMS.
fn every_anchor_a_candidate() -> Vec<f32> {
    let (rows, mut anchors) = (84usize, Vec::new());
    for (stride, class, size) in [(8usize, 44usize, 120.0f32), (16, 40, 240.0), (32, 53, 480.0)] {
        for gy in 0..640 / stride {
            for gx in 0..640 / stride {
                let centre = |g: usize| (g * stride + stride / 2) as f32;
                anchors.push((centre(gx), centre(gy), size, class));
            }
        }
    }
    let n = anchors.len();
    let mut out = vec![0.1f32; rows * n];
    for (a, &(cx, cy, size, class)) in anchors.iter().enumerate() {
        out[a] = cx;
        out[n + a] = cy;
        out[2 * n + a] = size;
        out[3 * n + a] = size;
        // Scores that fall slowly from the centre of the image, as a smooth random network's do.
        out[(4 + class) * n + a] = 0.9 - ((cx - 320.0).abs() + (cy - 320.0).abs()) / 2000.0;
    }
    out
}

fn stages(c: &mut Criterion) {
    let bytes = jpeg();
    c.bench_function("decode JPEG (libjpeg-turbo)", |b| b.iter(|| decode(black_box(&bytes), u64::MAX).unwrap()));

    let image = decode(&bytes, u64::MAX).unwrap();
    let view = image.view();
    for (name, target, stride) in
        [("letterbox to 640x640", 640, None), ("letterbox to the 320 minimal rectangle", 320, Some(32))]
    {
        let geometry = LetterboxGeometry::new(view.width(), view.height(), target, target, stride);
        let (mut scratch, mut tensor) = (LetterboxScratch::default(), Vec::<f32>::new());
        c.bench_function(name, |b| b.iter(|| letterbox_into(black_box(&view), &geometry, &mut scratch, &mut tensor)));
        // As a session of one intra-op thread per core prepares its input: in bands, on every core.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut scratch = LetterboxScratch::with_threads(cores);
        c.bench_function(&format!("{name}, {cores} threads"), |b| {
            b.iter(|| letterbox_into(black_box(&view), &geometry, &mut scratch, &mut tensor))
        });
    }

    let settings = DecodeSettings::default();
    let (mut scratch, mut detections) = (PostprocessScratch::default(), Vec::new());
    let (layout, classes) = (OutputLayout::ChannelsFirst { num_classes: 80, extra: 0 }, 80);
    for (name, output) in [
        ("decode + NMS, 84 x 8400", channels_first_output()),
        ("decode + NMS, 84 x 8400, every anchor a candidate", every_anchor_a_candidate()),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let view = OutputView { data: black_box(&output), rows: 84, cols: 8400 };
                decode_and_suppress(layout, view, classes, &settings, &mut scratch, &mut detections);
            })
        });
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
