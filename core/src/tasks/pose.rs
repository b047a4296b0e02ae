//! Pose: the keypoints of each kept box, scaled to the image as Ultralytics' `scale_coords` does.

use super::task_value;
use crate::result::{Detection, Keypoint};
use crate::model::OutputLayout;
use crate::postprocess::{BoxScaler, OutputView};

/// Appends the `keypoints` keypoints (of `dims` values: `x, y` and, with 3, a confidence) of each of
/// `detections`, read from the model's `output` and scaled to the image, to `out`. A keypoint whose
/// position is not a finite number gets position (0, 0) and confidence 0; a confidence outside [0, 1] is
/// clamped to it (Ultralytics' heads end in a sigmoid, so theirs never are), and one that is not finite
/// becomes 0: the result holds what the header promises on any model output.
pub fn keypoints(
    output: &OutputView<'_>,
    layout: OutputLayout,
    (keypoints, dims): (usize, usize),
    detections: &[Detection],
    scaler: &BoxScaler,
    out: &mut Vec<Keypoint>,
) {
    out.reserve(detections.len() * keypoints);
    for d in detections {
        let anchor = d.anchor as usize;
        for k in 0..keypoints {
            let value = |i: usize| task_value(output, layout, anchor, k * dims + i);
            let (x, y) = (value(0), value(1));
            let confidence = if dims == 3 { value(2) } else { 1.0 };
            let keypoint = if x.is_finite() && y.is_finite() {
                let (x, y) = scaler.point(x, y);
                Keypoint { x, y, confidence: if confidence.is_finite() { confidence.clamp(0.0, 1.0) } else { 0.0 } }
            } else {
                Keypoint { x: 0.0, y: 0.0, confidence: 0.0 }
            };
            out.push(keypoint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_kept_anchor_and_scales_and_clips() {
        // Two anchors, one class, two keypoints of 3 values: rows 4 + 1 + 6 = 11, columns 2.
        let mut data = vec![0.0f32; 11 * 2];
        let set = |data: &mut Vec<f32>, row: usize, anchor: usize, v: f32| data[row * 2 + anchor] = v;
        for (i, v) in [10.0, 20.0, 0.9, 700.0, -5.0, 0.5].into_iter().enumerate() {
            set(&mut data, 5 + i, 1, v);
        }
        set(&mut data, 5, 0, f32::NAN);
        // Anchor 0's second keypoint: a finite position with confidences out of range.
        for (i, v) in [30.0, 40.0, 2.0].into_iter().enumerate() {
            set(&mut data, 8 + i, 0, v);
        }
        let output = OutputView { data: &data, rows: 11, cols: 2 };
        let layout = OutputLayout::ChannelsFirst { num_classes: 1, extra: 6 };
        let detection = |anchor| Detection { x1: 0.0, y1: 0.0, x2: 1.0, y2: 1.0, score: 0.9, class_id: 0, anchor };
        // A 640x640 input of a 1280x1280 image: gain 0.5, no padding.
        let scaler = BoxScaler::new(640, 640, 1280, 1280);
        let mut out = Vec::new();
        keypoints(&output, layout, (2, 3), &[detection(1), detection(0)], &scaler, &mut out);
        assert_eq!(out[0], Keypoint { x: 20.0, y: 40.0, confidence: 0.9 });
        assert_eq!(out[1], Keypoint { x: 1280.0, y: 0.0, confidence: 0.5 }, "clipped to the image");
        assert_eq!(out[2], Keypoint { x: 0.0, y: 0.0, confidence: 0.0 }, "NaN position");
        assert_eq!(out[3], Keypoint { x: 60.0, y: 80.0, confidence: 1.0 }, "a confidence of 2 is clamped to 1");
        assert_eq!(out.len(), 4);
    }
}
