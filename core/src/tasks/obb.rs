//! Oriented boxes: Ultralytics' rotated non-maximum suppression (fast NMS over the probabilistic IoU of
//! the boxes' Gaussians) and the scaling of `xywhr` boxes to the image.

use super::task_value;
use crate::model::OutputLayout;
use crate::postprocess::{best_class_per_anchor, BoxScaler, DecodeSettings, OutputView, MAX_NMS_CANDIDATES};
use crate::result::{Detection, Detections, OrientedBox};

/// Ultralytics' per-class offset of the box centres for class-aware NMS (`max_wh`).
const CLASS_OFFSET: f32 = 7680.0;
/// The `eps` of Ultralytics' `batch_probiou`.
const EPS: f32 = 1e-7;

/// A rotated candidate in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    cx: f32,
    cy: f32,
    w: f32,
    h: f32,
    angle: f32,
    score: f32,
    class_id: u32,
    anchor: u32,
}

/// Buffers reused across calls.
#[derive(Debug, Default)]
pub struct ObbScratch {
    best_score: Vec<f32>,
    best_class: Vec<u32>,
    candidates: Vec<Candidate>,
    /// The candidates as NMS sees them: centres offset by class, the covariance terms of each box.
    gaussians: Vec<Gaussian>,
    kept: Vec<Candidate>,
}

/// Decodes an oriented-box output (`[4 + nc + 1, N]`, or end-to-end rows `cx, cy, w, h, score, class,
/// angle`) as Ultralytics' `non_max_suppression(rotated=True)` and OBB predictor do, and appends each kept
/// box to `found.detections` (as its axis-aligned bounds in the image, clipped to it) and
/// `found.oriented_boxes` (scaled to the image, not clipped). A candidate with a value that is not finite,
/// in the model's pixels or once scaled, is dropped.
pub fn decode(
    layout: OutputLayout,
    output: &OutputView<'_>,
    class_count: usize,
    settings: &DecodeSettings,
    scaler: &BoxScaler,
    scratch: &mut ObbScratch,
    found: &mut Detections,
) {
    let (detections, oriented) = (&mut found.detections, &mut found.oriented_boxes);
    let conf = settings.conf_threshold;
    scratch.kept.clear();
    match layout {
        OutputLayout::ChannelsFirst { num_classes, .. } => {
            collect(output, num_classes, conf, scratch);
            fast_nms(scratch, settings);
        }
        OutputLayout::EndToEnd { .. } => {
            for (anchor, row) in output.data.chunks_exact(output.cols).take(output.rows).enumerate() {
                let &[cx, cy, w, h, score, class] = &row[..6] else { unreachable!("cols checked >= 7") };
                let angle = row[6];
                let known_class = class >= 0.0 && f64::from(class) < class_count as f64;
                let finite = [cx, cy, w, h, angle].iter().all(|v| v.is_finite());
                if score > conf && score.is_finite() && known_class && finite {
                    let (class_id, anchor) = (class as u32, anchor as u32);
                    scratch.kept.push(Candidate { cx, cy, w, h, angle, score, class_id, anchor });
                    if scratch.kept.len() == settings.max_detections {
                        break;
                    }
                }
            }
        }
        OutputLayout::AnchorsWithObjectness { .. }
        | OutputLayout::Probabilities { .. }
        | OutputLayout::Map { .. }
        | OutputLayout::DetrTopK
        | OutputLayout::DetrScores { .. } => return,
    }
    let (image_width, image_height) = scaler.image_size();
    for c in &scratch.kept {
        let (cx, cy) = scaler.unclipped(c.cx, c.cy);
        let (width, height) = scaler.size(c.w, c.h);
        let corners = corners(cx, cy, width, height, c.angle);
        // Finite in the model's pixels, a box can still overflow when scaled up to a huge image.
        if !corners.iter().flatten().chain(&[cx, cy, width, height]).all(|v| v.is_finite()) {
            continue;
        }
        let (mut x1, mut y1, mut x2, mut y2) = (f32::INFINITY, f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY);
        for [x, y] in corners {
            (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x), y2.max(y));
        }
        let clip = |v: f32, max: f32| v.clamp(0.0, max);
        detections.push(Detection {
            x1: clip(x1, image_width),
            y1: clip(y1, image_height),
            x2: clip(x2, image_width),
            y2: clip(y2, image_height),
            score: c.score,
            class_id: c.class_id,
            anchor: c.anchor,
        });
        oriented.push(OrientedBox { cx, cy, width, height, angle: c.angle, corners });
    }
}

/// Ultralytics' `xywhr2xyxyxyxy`: the corners of a rotated box, in its order.
pub fn corners(cx: f32, cy: f32, w: f32, h: f32, angle: f32) -> [[f32; 2]; 4] {
    let (sin, cos) = angle.sin_cos();
    let (v1x, v1y) = (w / 2.0 * cos, w / 2.0 * sin);
    let (v2x, v2y) = (-h / 2.0 * sin, h / 2.0 * cos);
    [
        [cx + v1x + v2x, cy + v1y + v2y],
        [cx + v1x - v2x, cy + v1y - v2y],
        [cx - v1x - v2x, cy - v1y - v2y],
        [cx - v1x + v2x, cy - v1y + v2y],
    ]
}

/// The candidates of a channels-first output: the best class of each box, kept when its score is strictly
/// above `conf` and every value of the box is finite, sorted by descending score (stable), at most
/// [`MAX_NMS_CANDIDATES`].
fn collect(output: &OutputView<'_>, num_classes: usize, conf: f32, scratch: &mut ObbScratch) {
    let n = output.cols;
    let layout = OutputLayout::ChannelsFirst { num_classes, extra: 1 };
    scratch.best_score.clear();
    scratch.best_score.resize(n, f32::NEG_INFINITY);
    scratch.best_class.clear();
    scratch.best_class.resize(n, 0);
    best_class_per_anchor(*output, num_classes, &mut scratch.best_score, &mut scratch.best_class);
    scratch.candidates.clear();
    let channel = |c: usize, i: usize| output.data[c * n + i];
    for (i, (&score, &class_id)) in scratch.best_score.iter().zip(&scratch.best_class).enumerate() {
        if score > conf && score.is_finite() {
            let (cx, cy, w, h) = (channel(0, i), channel(1, i), channel(2, i), channel(3, i));
            let angle = task_value(output, layout, i, 0);
            if [cx, cy, w, h, angle].iter().all(|v| v.is_finite()) {
                scratch.candidates.push(Candidate { cx, cy, w, h, angle, score, class_id, anchor: i as u32 });
            }
        }
    }
    scratch.candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    scratch.candidates.truncate(MAX_NMS_CANDIDATES);
}

/// A candidate as the probabilistic IoU sees it: its (class-offset) centre and the terms of its covariance
/// matrix `[[a, c], [c, b]]`.
#[derive(Debug, Clone, Copy)]
struct Gaussian {
    x: f32,
    y: f32,
    a: f32,
    b: f32,
    c: f32,
    /// `w^2 + h^2`, for the far-apart test.
    spread: f32,
}

impl Gaussian {
    /// Ultralytics' `_get_covariance_matrix` of a box, in single precision.
    fn new(c: &Candidate, offset: f32) -> Self {
        let (a, b) = (c.w.powi(2) / 12.0, c.h.powi(2) / 12.0);
        let (sin, cos) = (c.angle.sin(), c.angle.cos());
        let (cos2, sin2) = (cos.powi(2), sin.powi(2));
        Self {
            x: c.cx + offset,
            y: c.cy + offset,
            a: a * cos2 + b * sin2,
            b: a * sin2 + b * cos2,
            c: (a - b) * cos * sin,
            spread: c.w * c.w + c.h * c.h,
        }
    }
}

/// Ultralytics' `batch_probiou` of two `[cx, cy, w, h, angle]` boxes (the trackers' overlap of rotated
/// boxes).
pub(crate) fn probiou_xywhr(a: [f32; 5], b: [f32; 5]) -> f32 {
    let gaussian = |v: [f32; 5]| {
        Gaussian::new(&Candidate { cx: v[0], cy: v[1], w: v[2], h: v[3], angle: v[4], score: 0.0, class_id: 0, anchor: 0 }, 0.0)
    };
    probiou(&gaussian(a), &gaussian(b))
}

/// Ultralytics' `batch_probiou` of two boxes, in its order of single-precision operations.
fn probiou(g1: &Gaussian, g2: &Gaussian) -> f32 {
    let (a, b, c) = (g1.a + g2.a, g1.b + g2.b, g1.c + g2.c);
    let (dx, dy) = (g1.x - g2.x, g1.y - g2.y);
    let denominator = a * b - c.powi(2) + EPS;
    let t1 = ((a * dy.powi(2) + b * dx.powi(2)) / denominator) * 0.25;
    let t2 = ((c * (g2.x - g1.x) * dy) / denominator) * 0.5;
    let det1 = (g1.a * g1.b - g1.c.powi(2)).max(0.0);
    let det2 = (g2.a * g2.b - g2.c.powi(2)).max(0.0);
    let t3 = ((a * b - c.powi(2)) / (4.0 * (det1 * det2).sqrt() + EPS) + EPS).ln() * 0.5;
    let bd = (t1 + t2 + t3).clamp(EPS, 100.0);
    let hd = (1.0 - (-bd).exp() + EPS).sqrt();
    1.0 - hd
}

/// Whether two boxes are so far apart that their Bhattacharyya distance reaches the clamp of 100, which
/// gives them an IoU of 0 (or, by rounding, a hair below): `t1 + t2` is an eighth of the squared
/// Mahalanobis distance between the centres, at least `|d|^2 / (4 trace)`, and `t3` is not negative.
/// Checked with a factor of 2 to spare for rounding, so that skipping such a pair changes no decision.
#[inline]
fn far_apart(g1: &Gaussian, g2: &Gaussian) -> bool {
    let (dx, dy) = (g1.x - g2.x, g1.y - g2.y);
    let trace = (g1.spread + g2.spread) / 12.0;
    (dx * dx + dy * dy) > 800.0 * trace
}

/// Ultralytics' `TorchNMS.fast_nms` with `batch_probiou`: in descending score order, a box is dropped when
/// any box before it, kept or not, has an IoU strictly above the threshold with it. Stops once
/// `max_detections` are kept, which gives Ultralytics' `i[:max_det]`.
fn fast_nms(scratch: &mut ObbScratch, settings: &DecodeSettings) {
    let threshold = settings.iou_threshold;
    let offset = |c: &Candidate| if settings.class_agnostic { 0.0 } else { c.class_id as f32 * CLASS_OFFSET };
    scratch.gaussians.clear();
    scratch.gaussians.extend(scratch.candidates.iter().map(|c| Gaussian::new(c, offset(c))));
    for (j, candidate) in scratch.candidates.iter().enumerate() {
        let g = &scratch.gaussians[j];
        let dropped =
            scratch.gaussians[..j].iter().any(|earlier| !far_apart(earlier, g) && probiou(earlier, g) > threshold);
        if !dropped {
            scratch.kept.push(*candidate);
            if scratch.kept.len() == settings.max_detections {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(cx: f32, cy: f32, w: f32, h: f32, angle: f32, score: f32, class_id: u32) -> Candidate {
        Candidate { cx, cy, w, h, angle, score, class_id, anchor: 0 }
    }

    #[test]
    fn probiou_of_a_box_with_itself_is_one_and_falls_with_distance() {
        let a = Gaussian::new(&candidate(50.0, 50.0, 40.0, 10.0, 0.3, 0.9, 0), 0.0);
        assert!((probiou(&a, &a) - 1.0).abs() < 1e-3);
        let mut last = 1.0;
        for shift in [2.0, 5.0, 10.0, 20.0, 40.0] {
            let b = Gaussian::new(&candidate(50.0 + shift, 50.0, 40.0, 10.0, 0.3, 0.9, 0), 0.0);
            let iou = probiou(&a, &b);
            assert!(iou < last, "{shift}: {iou}");
            last = iou;
        }
        // The same rectangle described with width and height swapped and the angle turned by pi/2.
        let turned = Gaussian::new(&candidate(50.0, 50.0, 10.0, 40.0, 0.3 + std::f32::consts::FRAC_PI_2, 0.9, 0), 0.0);
        assert!(probiou(&a, &turned) > 0.99);
    }

    #[test]
    fn far_apart_pairs_have_no_overlap_to_skip() {
        // Every pair the test skips has an IoU that suppresses nothing, however low the threshold.
        let base = candidate(0.0, 0.0, 30.0, 8.0, 0.7, 0.9, 0);
        for step in 0..400 {
            let d = step as f32 * 0.5;
            let other = candidate(d, d * 0.3, 12.0 + d * 0.1, 50.0, 1.1, 0.9, 0);
            let (g1, g2) = (Gaussian::new(&base, 0.0), Gaussian::new(&other, 0.0));
            if far_apart(&g1, &g2) {
                assert!(probiou(&g1, &g2) <= 0.0, "{d}: {}", probiou(&g1, &g2));
            }
        }
    }

    #[test]
    fn fast_nms_drops_boxes_overlapping_any_earlier_box_even_a_dropped_one() {
        // b overlaps a and is dropped; c overlaps b only: fast NMS drops it too, unlike greedy NMS.
        let a = candidate(100.0, 100.0, 40.0, 20.0, 0.0, 0.9, 0);
        let b = candidate(108.0, 100.0, 40.0, 20.0, 0.0, 0.8, 0);
        let c = candidate(116.0, 100.0, 40.0, 20.0, 0.0, 0.7, 0);
        let other_class = candidate(100.0, 100.0, 40.0, 20.0, 0.0, 0.6, 1);
        let (ga, gb, gc) = (Gaussian::new(&a, 0.0), Gaussian::new(&b, 0.0), Gaussian::new(&c, 0.0));
        let threshold = (probiou(&ga, &gb).min(probiou(&gb, &gc)) + probiou(&ga, &gc)) / 2.0;
        assert!(probiou(&ga, &gc) < threshold && probiou(&gb, &gc) > threshold);
        let settings = DecodeSettings { iou_threshold: threshold, ..DecodeSettings::default() };
        let mut scratch = ObbScratch { candidates: vec![a, b, c, other_class], ..Default::default() };
        fast_nms(&mut scratch, &settings);
        assert_eq!(scratch.kept, [a, other_class]);
        let agnostic = DecodeSettings { class_agnostic: true, ..settings };
        scratch.kept.clear();
        fast_nms(&mut scratch, &agnostic);
        assert_eq!(scratch.kept, [a]);
    }

    #[test]
    fn corners_follow_ultralytics_order() {
        let c = corners(10.0, 20.0, 4.0, 2.0, 0.0);
        assert_eq!(c, [[12.0, 21.0], [12.0, 19.0], [8.0, 19.0], [8.0, 21.0]]);
    }
}
