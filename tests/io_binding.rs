//! IO binding (`yolo_config_set_io_binding`) through the C ABI on the CPU provider, where the bound input
//! and outputs live in ordinary host memory: every task, f16 input, input shapes that change from call to
//! call, batches and cross-caller batching give exactly the unbound results, bit for bit; the setting is
//! reported and checked. On a GPU the same code binds CUDA's pinned memory (`scripts/gpu-check.sh`).

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use yolo_ffi::*;

const AUTO: u32 = yolo_io_binding::Auto as u32;
const ON: u32 = yolo_io_binding::On as u32;
const OFF: u32 = yolo_io_binding::Off as u32;

fn bound(detector: &Detector) -> bool {
    let mut bound = false;
    // SAFETY: a live detector; the out-pointer is writable.
    let status = unsafe { yolo_model_io_binding(detector.0, &mut bound) };
    assert_eq!(status, yolo_status::Ok, "{}", last_error());
    bound
}

fn png(width: u32, height: u32, value: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([value.wrapping_add(x as u8), (value / 2) ^ y as u8, 255 - value])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Images whose letterboxed inputs have three different shapes, in an order that changes the shape at
/// every call and comes back to each: the bound input tensor is made again each time.
fn images() -> Vec<Vec<u8>> {
    vec![
        image("bus.jpg"),
        image("zidane.jpg"),
        png(300, 200, 40),
        image("bus.jpg"),
        png(300, 200, 90),
        image("zidane.jpg"),
    ]
}

/// Everything of every result, as text: floats print as the shortest string that reads back to the same
/// bits, so equal text is equal bits.
fn everything(detector: &Detector, images: &[Vec<u8>]) -> Vec<String> {
    images
        .iter()
        .map(|i| {
            let r = detect_task(detector, i, None).unwrap();
            format!(
                "{:?} {}x{} {:?} {:?} {:?} {:?} {:?}",
                r.detections, r.width, r.height, r.masks, r.polygons, r.keypoints, r.oriented, r.classes
            )
        })
        .collect()
}

#[test]
fn the_setting_is_checked_and_the_model_reports_what_it_got() {
    let model = synthetic_dir().join("v8_fixed.onnx");
    for value in [0, 4, u32::MAX] {
        let (status, message) = config_with(&model, |c| c.io_binding = Some(value)).err().unwrap();
        assert_eq!(status, yolo_status::InvalidArgument, "{message}");
        assert!(message.contains("is not a yolo_io_binding value"), "{message}");
    }
    // On the CPU the default is not to bind: a run reads the input where it is.
    assert!(!bound(&init_with(&model, |c| c.io_binding = Some(AUTO)).unwrap()));
    assert!(!bound(&init_with(&model, |c| c.io_binding = Some(OFF)).unwrap()));
    assert!(bound(&init_with(&model, |c| c.io_binding = Some(ON)).unwrap()));
    // SAFETY: NULL detector and NULL out-pointer are the cases under test.
    unsafe {
        assert_eq!(yolo_model_io_binding(std::ptr::null(), &mut false), yolo_status::InvalidArgument);
        let detector = init(&model);
        assert_eq!(yolo_model_io_binding(detector.0, std::ptr::null_mut()), yolo_status::InvalidArgument);
    }
}

#[test]
fn bound_sessions_give_the_unbound_results_bit_for_bit_on_every_task_and_precision() {
    let models = [
        // f32, dynamic input: the shape changes with the image.
        (cache_dir().join("models/nudenet-320n.onnx"), 320),
        // f16 input and output: letterboxed straight into an f16 tensor.
        (synthetic_dir().join("v8_f16_dynamic.onnx"), 0),
        // Two outputs (the prototypes), fixed input.
        (synthetic_dir().join("seg_fixed.onnx"), 0),
        (synthetic_dir().join("pose_fixed.onnx"), 0),
        (synthetic_dir().join("obb_fixed.onnx"), 0),
        (synthetic_dir().join("classify_task.onnx"), 0),
    ];
    let images = images();
    for (model, imgsz) in models {
        // Two sessions: calls alternate between them, each with its own bound tensors.
        let plain =
            init_with(&model, |c| (c.io_binding, c.imgsz, c.pool_size) = (Some(OFF), Some(imgsz), Some(2))).unwrap();
        let with =
            init_with(&model, |c| (c.io_binding, c.imgsz, c.pool_size) = (Some(ON), Some(imgsz), Some(2))).unwrap();
        assert!(bound(&with) && !bound(&plain));
        let (want, got) = (everything(&plain, &images), everything(&with, &images));
        assert!(want.iter().any(|r| r.len() > 60), "{}: nothing found to compare", model.display());
        assert_eq!(got, want, "{}", model.display());
    }
}

#[test]
fn real_task_models_give_the_unbound_results_when_bound() {
    let Some(shared) = shared_or_skip("IO binding on the trained task models") else {
        return;
    };
    let tasks = shared.join("images/tasks");
    let mut images: Vec<Vec<u8>> = std::fs::read_dir(&tasks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .take(4)
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    images.push(image("bus.jpg"));
    for name in ["shapes-seg.onnx", "shapes-pose.onnx", "shapes-obb.onnx", "shapes-cls.onnx", "yolo11n-seg.onnx"] {
        let model = shared.join("models").join(name);
        let plain = init_with(&model, |c| c.io_binding = Some(OFF)).unwrap();
        let with = init_with(&model, |c| c.io_binding = Some(ON)).unwrap();
        assert_eq!(everything(&with, &images), everything(&plain, &images), "{name}");
    }
}

#[test]
fn batches_and_cross_caller_batches_are_the_same_bound() {
    let model = cache_dir().join("models/nudenet-320n.onnx");
    let images = images();
    let plain = init_with(&model, |c| (c.io_binding, c.imgsz) = (Some(OFF), Some(320))).unwrap();
    let with = init_with(&model, |c| (c.io_binding, c.imgsz) = (Some(ON), Some(320))).unwrap();
    // One batch of mixed sizes (the full input size), then one of a single size (the minimal rectangle),
    // then a batch of one: three input shapes in a row.
    for images in [&images[..], &[images[0].clone(), images[3].clone()][..], &images[1..2]] {
        assert_eq!(
            format!("{:?}", detect_batch(&with, images).unwrap()),
            format!("{:?}", detect_batch(&plain, images).unwrap())
        );
    }

    let gathered = Arc::new(
        init_with(&model, |c| {
            (c.io_binding, c.imgsz, c.max_batch, c.max_delay_us) = (Some(ON), Some(320), Some(8), Some(20_000))
        })
        .unwrap(),
    );
    assert!(bound(&gathered));
    let start = Arc::new(Barrier::new(images.len()));
    let threads: Vec<_> = images
        .iter()
        .cloned()
        .map(|bytes| {
            let (detector, start) = (Arc::clone(&gathered), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                format!("{:?}", detect(&detector, &bytes, None).unwrap())
            })
        })
        .collect();
    let got: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let want: Vec<String> = images.iter().map(|i| format!("{:?}", detect(&plain, i, None).unwrap())).collect();
    assert_eq!(got, want);
}
