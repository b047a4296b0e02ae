//! The task heads on arbitrary outputs: segmentation (coefficients and prototypes), pose, oriented boxes
//! and classification, channels-first or end-to-end, with values including NaN, infinities and huge
//! coordinates, any image and input size, and any settings the API accepts. Each result must keep the
//! header's promise: boxes inside the image, masks inside it with one 0 or 1 byte per pixel, keypoints
//! inside it with a confidence in [0, 1], finite rotated boxes, finite class probabilities best first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yolo_ffi_core::model::metadata::ModelMetadata;
use yolo_ffi_core::model::recognise_head;
use yolo_ffi_core::postprocess::DecodeSettings;
use yolo_ffi_core::tasks::segment::Sizes;
use yolo_ffi_core::tasks::{HeadScratch, ModelHead, RunOutputs};

const TASKS: [&str; 4] = ["segment", "pose", "obb", "classify"];

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<16>() else { return };
    let task = TASKS[usize::from(head[0]) % 4];
    let classes = 1 + usize::from(head[1]) % 6;
    let boxes = 1 + usize::from(u16::from_le_bytes([head[2], head[3]])) % 700;
    let end_to_end = head[4] & 1 == 1;
    let (mask_dim, proto_h, proto_w) = (1 + usize::from(head[5]) % 8, 1 + usize::from(head[6]) % 40, 1 + usize::from(head[7]) % 40);
    let (keypoints, dims) = (1 + usize::from(head[5]) % 6, 2 + usize::from(head[4] >> 1 & 1));
    let (input_h, input_w) = (1 + usize::from(head[8]) * 2, 1 + usize::from(head[9]) * 2);
    let (image_h, image_w) = (1 + usize::from(head[10]) * 5, 1 + usize::from(head[11]) * 5);
    let settings = DecodeSettings {
        conf_threshold: f32::from(head[12]) / 255.0,
        iou_threshold: f32::from(head[13]) / 255.0,
        max_detections: 1 + usize::from(head[14]) * 2,
        class_agnostic: head[15] & 1 == 1,
        retina_masks: head[15] & 2 == 2,
        top_k: 1 + usize::from(head[15] >> 2),
    };
    let extra = match task {
        "segment" => mask_dim,
        "pose" => keypoints * dims,
        "obb" => 1,
        _ => 0,
    };
    let first: Vec<i64> = match (task, end_to_end) {
        ("classify", _) => vec![1, classes as i64],
        (_, true) => vec![1, boxes as i64, (6 + extra) as i64],
        (_, false) => vec![1, (4 + classes + extra) as i64, boxes as i64],
    };
    let second = vec![1, mask_dim as i64, proto_h as i64, proto_w as i64];
    let names = (0..classes).map(|i| format!("c{i}")).collect();
    let meta = ModelMetadata {
        names: Some(names),
        task: Some(task.to_owned()),
        end2end: Some(end_to_end),
        kpt_shape: Some((keypoints, dims)),
        ..Default::default()
    };
    let shapes = if task == "segment" { vec![first.clone(), second.clone()] } else { vec![first.clone()] };
    let (model_head, layout) = recognise_head(&shapes, input_h as u32, input_w as u32, &meta).expect("fitting outputs");
    // The body's floats, repeated to fill the tensors: any bit pattern, NaN and infinities included.
    let floats: Vec<f32> = body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    if floats.is_empty() {
        return;
    }
    let len = |shape: &[i64]| shape.iter().product::<i64>() as usize;
    let output: Vec<f32> = floats.iter().copied().cycle().take(len(&first)).collect();
    let protos: Vec<f32> = floats.iter().rev().copied().cycle().take(len(&second)).collect();
    let outputs = RunOutputs {
        first: (&first, &output),
        second: if task == "segment" { (&second, &protos) } else { (&[], &[]) },
        index: 0,
    };
    let model = ModelHead { head: model_head, layout, class_count: classes };
    let sizes = Sizes { input: (input_h, input_w), image: (image_h, image_w) };
    let found = model.decode(&outputs, sizes, &settings, &mut HeadScratch::default()).expect("outputs fit");
    let (w, h) = (image_w as f32, image_h as f32);
    assert!(found.detections.len() <= settings.max_detections);
    for d in &found.detections {
        assert!(d.score > settings.conf_threshold && d.score.is_finite(), "score {}", d.score);
        assert!((d.class_id as usize) < classes);
        assert!(0.0 <= d.x1 && d.x1 <= d.x2 && d.x2 <= w, "x {} {} outside 0..={w}", d.x1, d.x2);
        assert!(0.0 <= d.y1 && d.y1 <= d.y2 && d.y2 <= h, "y {} {} outside 0..={h}", d.y1, d.y2);
    }
    match task {
        "segment" => {
            assert_eq!(found.masks.len(), found.detections.len());
            for m in &found.masks {
                assert_eq!(m.data.len(), (m.width * m.height) as usize);
                assert!(m.left + m.width <= image_w as u32 && m.top + m.height <= image_h as u32, "{m:?}");
                assert!(m.data.iter().all(|&v| v <= 1));
            }
        }
        "pose" => {
            assert_eq!(found.keypoints.len(), found.detections.len() * keypoints);
            for k in &found.keypoints {
                assert!((0.0..=w).contains(&k.x) && (0.0..=h).contains(&k.y), "{k:?}");
                assert!((0.0..=1.0).contains(&k.confidence), "{k:?}: the header promises a confidence in [0, 1]");
            }
        }
        "obb" => {
            assert_eq!(found.oriented_boxes.len(), found.detections.len());
            for o in &found.oriented_boxes {
                let values = [o.cx, o.cy, o.width, o.height, o.angle];
                assert!(values.iter().chain(o.corners.iter().flatten()).all(|v| v.is_finite()), "{o:?}");
            }
        }
        _ => {
            assert!(found.classes.len() <= settings.top_k.min(classes));
            assert!(found.classes.windows(2).all(|p| p[0].probability >= p[1].probability));
            assert!(found.classes.iter().all(|c| c.probability.is_finite() && (c.class_id as usize) < classes));
        }
    }
});
