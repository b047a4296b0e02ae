//! The task heads on arbitrary outputs: segmentation (coefficients and prototypes), pose, oriented boxes
//! and classification, channels-first or end-to-end; semantic segmentation (class ids or logits, at any
//! grid size), depth, and RT-DETR's queries (both forms); with values including NaN, infinities and huge
//! coordinates, any image and input size, and any settings the API accepts. Each result must keep the
//! header's promise: boxes inside the image, masks inside it with one 0 or 1 byte per pixel, keypoints
//! inside it with a confidence in [0, 1], finite rotated boxes, finite class probabilities best first, a
//! class map or depth map of the image's size whose ids are classes of the model and whose counts add up
//! (or, for values no class map can hold, an inference failure).
#![no_main]

use libfuzzer_sys::fuzz_target;
use yolo_ffi_core::model::metadata::ModelMetadata;
use yolo_ffi_core::model::recognise_head;
use yolo_ffi_core::postprocess::DecodeSettings;
use yolo_ffi_core::tasks::segment::Sizes;
use yolo_ffi_core::tasks::{HeadScratch, ModelHead, RunOutputs};

// The seeds' first byte picks the task: new tasks go at the end.
const TASKS: [&str; 7] = ["segment", "pose", "obb", "classify", "semantic", "depth", "rtdetr"];

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<16>() else { return };
    let task = TASKS[usize::from(head[0]) % TASKS.len()];
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
    // The per-pixel tasks' grid: class ids ([1, H, W], `end_to_end` set) or logits ([1, C, H, W]).
    let (grid_h, grid_w) = (proto_h, proto_w);
    let first: Vec<i64> = match (task, end_to_end) {
        ("classify", _) => vec![1, classes as i64],
        ("semantic", true) => vec![1, grid_h as i64, grid_w as i64],
        ("semantic", false) => vec![1, classes as i64, grid_h as i64, grid_w as i64],
        ("depth", _) => vec![1, 1, grid_h as i64, grid_w as i64],
        ("rtdetr", true) => vec![1, boxes as i64, 6],
        ("rtdetr", false) => vec![1, boxes as i64, (4 + classes) as i64],
        (_, true) => vec![1, boxes as i64, (6 + extra) as i64],
        (_, false) => vec![1, (4 + classes + extra) as i64, boxes as i64],
    };
    let second = vec![1, mask_dim as i64, proto_h as i64, proto_w as i64];
    let names = (0..classes).map(|i| format!("c{i}")).collect();
    let rtdetr = task == "rtdetr";
    let meta = ModelMetadata {
        names: Some(names),
        task: Some(if rtdetr { "detect" } else { task }.to_owned()),
        end2end: Some(end_to_end && !rtdetr),
        kpt_shape: Some((keypoints, dims)),
        // Ultralytics 8.4 names the head and gives the top-k form; earlier exports give class scores.
        head: (rtdetr && end_to_end).then(|| "RTDETRDecoder".to_owned()),
        rtdetr,
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
    let found = match model.decode(&outputs, sizes, &settings, &mut HeadScratch::default()) {
        Ok(found) => found,
        // Class ids that are not whole numbers below the class count fail the call, naming the value.
        Err(e) if task == "semantic" && end_to_end => {
            assert_eq!(e.kind(), yolo_ffi_core::ErrorKind::InferenceFailed, "{e:?}");
            return;
        }
        Err(e) => panic!("outputs fit, yet {e:?}"),
    };
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
        "semantic" => {
            let map = found.class_map.as_ref().expect("a class map");
            assert_eq!((map.width as usize, map.height as usize), (image_w, image_h));
            assert_eq!(map.ids.len(), image_w * image_h);
            assert_eq!(map.counts.len(), classes.max(2));
            assert_eq!(map.counts.iter().sum::<u64>(), (image_w * image_h) as u64);
            assert!((0..map.ids.len()).all(|i| (map.ids.get(i).unwrap() as usize) < map.counts.len()));
            assert!(found.detections.is_empty());
        }
        "depth" => {
            let map = found.depth_map.as_ref().expect("a depth map");
            assert_eq!((map.width as usize, map.height as usize, map.values.len()), (image_w, image_h, image_w * image_h));
        }
        "rtdetr" => {}
        _ => {
            assert!(found.classes.len() <= settings.top_k.min(classes));
            assert!(found.classes.windows(2).all(|p| p[0].probability >= p[1].probability));
            assert!(found.classes.iter().all(|c| c.probability.is_finite() && (c.class_id as usize) < classes));
        }
    }
});
