//! Output decoding, NMS and box scaling on arbitrary tensors: any shape the layout check accepts, values
//! including NaN, infinities, negative sizes and huge coordinates, and any thresholds the API accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yolo_ffi_core::model::metadata::ModelMetadata;
use yolo_ffi_core::model::{detection_layout, OutputLayout};
use yolo_ffi_core::postprocess::{decode_and_suppress, BoxScaler, DecodeSettings, OutputView, PostprocessScratch};

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<12>() else { return };
    let rows = 1 + usize::from(u16::from_le_bytes([head[0], head[1]])) % 2048;
    let cols = 1 + usize::from(head[2]) % 96;
    let (input_h, input_w) = (1 + u32::from(head[3]) * 4, 1 + u32::from(head[4]) * 4);
    let (orig_h, orig_w) = (1 + usize::from(u16::from_le_bytes([head[5], head[6]])), 1 + usize::from(head[7]) * 16);
    let settings = DecodeSettings {
        conf_threshold: f32::from(head[8]) / 255.0,
        iou_threshold: f32::from(head[9]) / 255.0,
        max_detections: 1 + usize::from(head[10]) * 2,
        class_agnostic: head[11] & 1 == 1,
        ..DecodeSettings::default()
    };
    let meta = ModelMetadata { end2end: Some(head[11] & 2 == 2).filter(|_| head[11] & 4 == 4), ..Default::default() };
    let Ok(layout) = detection_layout(&[1, rows as i64, cols as i64], input_h, input_w, &meta) else { return };
    // The body's floats, repeated to fill the tensor: any bit pattern, NaN and infinities included.
    let floats: Vec<f32> = body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    if floats.is_empty() {
        return;
    }
    let tensor: Vec<f32> = floats.iter().copied().cycle().take(rows * cols).collect();
    let output = OutputView { data: &tensor, rows, cols };
    // The classes the model names: as many as the output has, or any count for an end-to-end head.
    let class_count = match layout {
        OutputLayout::EndToEnd { .. } => usize::from(head[10]),
        other => other.class_count().expect("a layout with classes"),
    };
    let mut detections = Vec::new();
    decode_and_suppress(layout, output, class_count, &settings, &mut PostprocessScratch::default(), &mut detections);
    assert!(detections.len() <= settings.max_detections);
    let scaler = BoxScaler::new(input_h as usize, input_w as usize, orig_h, orig_w);
    for detection in &mut detections {
        scaler.apply(detection);
        // The header's promise, with no exception: a finite score above the threshold, a class the model
        // names, and a box inside the image with ordered corners.
        let d = *detection;
        assert!(d.score > settings.conf_threshold && d.score.is_finite(), "score {} kept", d.score);
        assert!((d.class_id as usize) < class_count, "class {} of {class_count}", d.class_id);
        let (w, h) = (orig_w as f32, orig_h as f32);
        assert!(0.0 <= d.x1 && d.x1 <= d.x2 && d.x2 <= w, "x {} {} outside 0..={w}", d.x1, d.x2);
        assert!(0.0 <= d.y1 && d.y1 <= d.y2 && d.y2 <= h, "y {} {} outside 0..={h}", d.y1, d.y2);
    }
});
