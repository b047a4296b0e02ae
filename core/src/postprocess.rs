//! Ultralytics' output decoding, non-maximum suppression and box scaling, reproduced exactly.

use crate::error::Result;
use crate::model::OutputLayout;
use crate::result::Detection;

/// Ultralytics keeps at most this many candidates, by score, before NMS (`max_nms`).
pub const MAX_NMS_CANDIDATES: usize = 30_000;
/// Ultralytics' per-class coordinate offset for class-aware NMS (`max_wh`).
const CLASS_OFFSET: f32 = 7680.0;

/// How one detect call decodes the model's output: the thresholds and limits of NMS, and what the task
/// heads take (`top_k` for classification, `retina_masks` for segmentation). A detector's defaults,
/// overridden per call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeSettings {
    /// Keep boxes whose score is strictly above this, in `[0, 1]`.
    pub conf_threshold: f32,
    /// Suppress boxes whose IoU with a better box is strictly above this, in `[0, 1]`.
    pub iou_threshold: f32,
    /// At most this many detections, at least 1.
    pub max_detections: usize,
    /// Suppress across classes instead of within each class.
    pub class_agnostic: bool,
    /// Segmentation: compute masks at the image's resolution from the prototypes (Ultralytics'
    /// `retina_masks=True`) instead of at the model input's, then scaled.
    pub retina_masks: bool,
    /// Classification: how many of the most probable classes a result lists, at least 1.
    pub top_k: usize,
}

/// How many classes a classification result lists by default, as Ultralytics' `top5`.
pub const DEFAULT_TOP_K: usize = 5;

impl Default for DecodeSettings {
    /// Ultralytics' `predict` defaults.
    fn default() -> Self {
        Self {
            conf_threshold: 0.25,
            iou_threshold: 0.7,
            max_detections: 300,
            class_agnostic: false,
            retina_masks: false,
            top_k: DEFAULT_TOP_K,
        }
    }
}

impl DecodeSettings {
    /// Checks every value, so that NaN or out-of-range thresholds are reported rather than silently giving
    /// no detections or all of them.
    pub fn validate(&self) -> Result<()> {
        crate::settings::threshold("conf_threshold", self.conf_threshold)?;
        crate::settings::threshold("iou_threshold", self.iou_threshold)?;
        crate::settings::at_least_one("max_detections", self.max_detections)?;
        crate::settings::at_least_one("top_k", self.top_k)?;
        Ok(())
    }
}

/// A model output for one image: `rows` x `cols` values in row-major order.
#[derive(Debug, Clone, Copy)]
pub struct OutputView<'a> {
    /// The values.
    pub data: &'a [f32],
    /// Size of the second-to-last dimension.
    pub rows: usize,
    /// Size of the last dimension.
    pub cols: usize,
}

/// Buffers reused across calls.
#[derive(Debug, Default)]
pub struct PostprocessScratch {
    candidates: Vec<Detection>,
    best_score: Vec<f32>,
    best_class: Vec<u32>,
    groups: ClassGroups,
}

/// Decodes `output` laid out as `layout` into detections in model-input pixels, applying the thresholds and
/// NMS exactly as Ultralytics' `non_max_suppression` does. The caller checks that `output` fits `layout`;
/// `class_count` is the number of classes the model names.
///
/// What a trained model never outputs is decided here, so that every detection keeps the header's
/// promise: a candidate whose score or box has a value that is not finite (NaN or an infinity) is dropped
/// before NMS, as a NaN score always was; an end-to-end row whose class is not a number from 0 to
/// `class_count - 1` (NaN, negative, or beyond the model's classes) is dropped; the fractional part of an
/// end-to-end class is dropped, as Ultralytics' `int()` does. [`BoxScaler::apply`] then orders the corners.
pub fn decode_and_suppress(
    layout: OutputLayout,
    output: OutputView<'_>,
    class_count: usize,
    settings: &DecodeSettings,
    scratch: &mut PostprocessScratch,
    out: &mut Vec<Detection>,
) {
    out.clear();
    let conf = settings.conf_threshold;
    match layout {
        OutputLayout::EndToEnd { .. } => {
            // Already selected by the model: filter by score and cap, in the model's order.
            for (anchor, row) in output.data.chunks_exact(output.cols).take(output.rows).enumerate() {
                let &[x1, y1, x2, y2, score, class] = &row[..6] else { unreachable!("cols checked >= 6") };
                // `class < class_count` in f64, where every usize up to 2^53 is exact; NaN fails every compare.
                let known_class = class >= 0.0 && f64::from(class) < class_count as f64;
                if score > conf && score.is_finite() && known_class && finite_box(x1, y1, x2, y2) {
                    let anchor = anchor as u32;
                    out.push(Detection { x1, y1, x2, y2, score, class_id: class as u32, anchor });
                    if out.len() == settings.max_detections {
                        break;
                    }
                }
            }
            return;
        }
        OutputLayout::ChannelsFirst { num_classes, .. } => collect_channels_first(output, num_classes, conf, scratch),
        OutputLayout::AnchorsWithObjectness { num_classes } => {
            collect_with_objectness(output, num_classes, conf, &mut scratch.candidates)
        }
        OutputLayout::Probabilities { .. }
        | OutputLayout::Map { .. }
        | OutputLayout::DetrTopK
        | OutputLayout::DetrScores { .. } => return,
    }
    non_max_suppression(scratch, settings, out);
}

/// Whether every edge of a box is a finite number.
#[inline]
fn finite_box(x1: f32, y1: f32, x2: f32, y2: f32) -> bool {
    x1.is_finite() && y1.is_finite() && x2.is_finite() && y2.is_finite()
}

/// Ultralytics' `xywh2xyxy`, in single precision like the tensors it runs on.
#[inline]
fn xywh_to_xyxy(cx: f32, cy: f32, w: f32, h: f32) -> (f32, f32, f32, f32) {
    let (hw, hh) = (w / 2.0, h / 2.0);
    (cx - hw, cy - hh, cx + hw, cy + hh)
}

/// `[4 + nc, N]`: the best class of each box, kept when its score is strictly above `conf`. The scores are
/// read class by class, each a contiguous row, so the loop streams through memory and vectorises; reading
/// them box by box strides across all the rows (8400 x 80 scattered reads for yolov8n).
fn collect_channels_first(output: OutputView<'_>, num_classes: usize, conf: f32, scratch: &mut PostprocessScratch) {
    let n = output.cols;
    let channel = |c: usize| &output.data[c * n..(c + 1) * n];
    let (best_score, best_class) = (&mut scratch.best_score, &mut scratch.best_class);
    best_score.clear();
    best_score.resize(n, f32::NEG_INFINITY);
    best_class.clear();
    best_class.resize(n, 0);
    // Not compiled for AVX2 as NMS is: that measured 50% slower here.
    best_class_per_anchor(output, num_classes, best_score, best_class);
    scratch.candidates.clear();
    for (i, (&score, &class_id)) in best_score.iter().zip(best_class.iter()).enumerate() {
        if score > conf && score.is_finite() {
            let (x1, y1, x2, y2) = xywh_to_xyxy(channel(0)[i], channel(1)[i], channel(2)[i], channel(3)[i]);
            if finite_box(x1, y1, x2, y2) {
                scratch.candidates.push(Detection { x1, y1, x2, y2, score, class_id, anchor: i as u32 });
            }
        }
    }
}

/// The best class score of each anchor and its class, into `best_score` and `best_class` (filled with
/// -inf and 0 by the caller).
pub(crate) fn best_class_per_anchor(
    output: OutputView<'_>,
    num_classes: usize,
    best_score: &mut [f32],
    best_class: &mut [u32],
) {
    let n = output.cols;
    // Anchors in tiles whose running maxima stay in L1 while every class row of the tile streams past.
    const TILE: usize = 256;
    for (t, (best_score, best_class)) in best_score.chunks_mut(TILE).zip(best_class.chunks_mut(TILE)).enumerate() {
        for c in 0..num_classes {
            let scores = &output.data[(4 + c) * n + t * TILE..][..best_score.len()];
            let c_id = c as u32;
            // Strictly greater: the first maximum wins ties, as torch's `max(dim)` does; NaN never wins.
            // Selects rather than branches, so that the loop compiles to vector compares and blends.
            for ((best, class), &s) in best_score.iter_mut().zip(best_class.iter_mut()).zip(scores) {
                let better = s > *best;
                *best = if better { s } else { *best };
                *class = if better { c_id } else { *class };
            }
        }
    }
}

/// `[N, 5 + nc]`: objectness first filters, then score = objectness x class score.
fn collect_with_objectness(output: OutputView<'_>, num_classes: usize, conf: f32, candidates: &mut Vec<Detection>) {
    candidates.clear();
    for (anchor, row) in output.data.chunks_exact(output.cols).take(output.rows).enumerate() {
        let objectness = row[4];
        if objectness <= conf || objectness.is_nan() {
            continue;
        }
        let mut best = f32::NEG_INFINITY;
        let mut best_class = 0;
        for (c, &s) in row[5..5 + num_classes].iter().enumerate() {
            let s = s * objectness;
            if s > best {
                best = s;
                best_class = c;
            }
        }
        if best > conf && best.is_finite() {
            let (x1, y1, x2, y2) = xywh_to_xyxy(row[0], row[1], row[2], row[3]);
            if finite_box(x1, y1, x2, y2) {
                let (class_id, anchor) = (best_class as u32, anchor as u32);
                candidates.push(Detection { x1, y1, x2, y2, score: best, class_id, anchor });
            }
        }
    }
}

/// Greedy NMS as torchvision's `nms` computes it, on boxes offset by class unless agnostic; stops once
/// `max_detections` are kept, which gives the same result as Ultralytics' `keep[:max_det]`. The offset boxes
/// and their areas are computed once, not once per pair: the same f32 operations, so the same values.
///
/// The candidates are grouped by class (one group when agnostic), each group's boxes stored column by
/// column in score order. A kept box is compared with the later boxes of its own group in one branch-free
/// loop that the compiler vectorises, and with another group only if it overlaps that group's bounding
/// box: no box of a group it does not overlap could have a non-zero intersection with it, and a zero
/// intersection suppresses nothing. The class offset keeps classes apart, so a kept box is compared with
/// about its own class only. A model with random weights has a candidate per anchor: thousands of boxes.
fn non_max_suppression(scratch: &mut PostprocessScratch, settings: &DecodeSettings, out: &mut Vec<Detection>) {
    let candidates = &mut scratch.candidates;
    // A stable sort: equal scores keep their anchor order.
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    candidates.truncate(MAX_NMS_CANDIDATES);
    let groups = &mut scratch.groups;
    groups.fill(candidates, settings.class_agnostic);
    let threshold = settings.iou_threshold;
    for (i, candidate) in candidates.iter().enumerate() {
        let position = groups.position[i];
        if groups.suppressed[position] {
            continue;
        }
        out.push(*candidate);
        if out.len() == settings.max_detections {
            break;
        }
        let a = groups.boxes.get(position);
        let area_a = groups.boxes.area[position];
        let own = group_of(candidate, settings.class_agnostic);
        for &group in &groups.present {
            let (start, end) = (groups.start[group], groups.start[group + 1]);
            if group != own && !may_intersect(&a, &groups.bounds[group]) {
                continue;
            }
            // Only the later candidates need comparing: the earlier ones are kept or suppressed already.
            let from = if group == own {
                position + 1
            } else {
                start + groups.candidate[start..end].partition_point(|&j| (j as usize) < i)
            };
            groups.boxes.suppress_overlapping(&a, area_a, threshold, from..end, &mut groups.suppressed);
        }
    }
}

/// Whether box `a` suppresses box `b` (offset boxes with their areas): its IoU is strictly above
/// `threshold`, computed in torchvision's order of f32 operations.
#[inline(always)]
fn suppresses(a: &[f32; 4], area_a: f32, b: &[f32; 4], area_b: f32, threshold: f32) -> bool {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    inter / (area_a + area_b - inter) > threshold
}

/// Whether a box could have a non-zero intersection, as [`suppresses`] computes it, with some box inside
/// `bounds`. Sound because `min`, `max` and rounded subtraction are monotonic: every box inside the bounds
/// gets a width (height) at most the one computed against the bounds, so when that is not positive, every
/// intersection is zero, which suppresses nothing. A box with a NaN edge, which the bounds ignore, has a NaN
/// area and so a NaN IoU with every box: it never suppresses nor is suppressed, whatever the bounds say.
#[inline]
fn may_intersect(a: &[f32; 4], bounds: &[f32; 4]) -> bool {
    let w = a[2].min(bounds[2]) - a[0].max(bounds[0]);
    let h = a[3].min(bounds[3]) - a[1].max(bounds[1]);
    // Written so that NaN (from infinite edges) counts as a possible intersection.
    !(w <= 0.0 || h <= 0.0)
}

/// Offset boxes and their areas, one column per coordinate, so that a loop over a range of them vectorises.
#[derive(Debug, Default)]
struct BoxColumns {
    x1: Vec<f32>,
    y1: Vec<f32>,
    x2: Vec<f32>,
    y2: Vec<f32>,
    area: Vec<f32>,
}

impl BoxColumns {
    fn resize(&mut self, len: usize) {
        for column in [&mut self.x1, &mut self.y1, &mut self.x2, &mut self.y2, &mut self.area] {
            column.clear();
            column.resize(len, 0.0);
        }
    }

    fn set(&mut self, index: usize, b: [f32; 4]) {
        (self.x1[index], self.y1[index], self.x2[index], self.y2[index]) = (b[0], b[1], b[2], b[3]);
        self.area[index] = (b[2] - b[0]) * (b[3] - b[1]);
    }

    fn get(&self, index: usize) -> [f32; 4] {
        [self.x1[index], self.y1[index], self.x2[index], self.y2[index]]
    }

    /// Marks every box in `range` that `a` suppresses. Branch-free: marking a box twice changes nothing.
    fn suppress_overlapping(
        &self,
        a: &[f32; 4],
        area_a: f32,
        threshold: f32,
        range: std::ops::Range<usize>,
        suppressed: &mut [bool],
    ) {
        let suppressed = &mut suppressed[range.clone()];
        let n = suppressed.len();
        let (x1, y1, x2, y2) = (
            &self.x1[range.start..][..n],
            &self.y1[range.start..][..n],
            &self.x2[range.start..][..n],
            &self.y2[range.start..][..n],
        );
        let area = &self.area[range.start..][..n];
        let columns = [x1, y1, x2, y2, area];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { suppress_columns_avx2(a, area_a, threshold, columns, suppressed) };
        }
        suppress_columns(a, area_a, threshold, columns, suppressed)
    }
}

/// The loop of [`BoxColumns::suppress_overlapping`] over equally long columns `x1, y1, x2, y2, area`.
#[inline(always)]
fn suppress_columns(a: &[f32; 4], area_a: f32, threshold: f32, columns: [&[f32]; 5], suppressed: &mut [bool]) {
    let [x1, y1, x2, y2, area] = columns;
    for k in 0..suppressed.len() {
        suppressed[k] |= suppresses(a, area_a, &[x1[k], y1[k], x2[k], y2[k]], area[k], threshold);
    }
}

/// [`suppress_columns`] compiled for AVX2: 8 lanes instead of SSE2's 4. The same IEEE operations in the
/// same order (no fused multiply-add), so the same decisions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn suppress_columns_avx2(a: &[f32; 4], area_a: f32, threshold: f32, columns: [&[f32]; 5], suppressed: &mut [bool]) {
    suppress_columns(a, area_a, threshold, columns, suppressed)
}

/// The score-sorted candidates grouped by class (or in one group), reused across calls.
#[derive(Debug, Default)]
struct ClassGroups {
    /// Where each group starts in the grouped order, plus the end.
    start: Vec<usize>,
    next: Vec<usize>,
    /// Each candidate's position in the grouped order, and the candidate at each position.
    position: Vec<usize>,
    candidate: Vec<u32>,
    /// Offset boxes in the grouped order, and whether each is suppressed.
    boxes: BoxColumns,
    suppressed: Vec<bool>,
    /// The groups with candidates, and the smallest box holding each group's offset boxes.
    present: Vec<usize>,
    bounds: Vec<[f32; 4]>,
}

impl ClassGroups {
    /// A counting sort of the score-sorted `candidates` by group that keeps score order within each group,
    /// then each group's bounds.
    fn fill(&mut self, candidates: &[Detection], agnostic: bool) {
        let groups = candidates.iter().map(|d| group_of(d, agnostic) + 1).max().unwrap_or(0);
        self.start.clear();
        self.start.resize(groups + 1, 0);
        for d in candidates {
            self.start[group_of(d, agnostic) + 1] += 1;
        }
        for g in 0..groups {
            self.start[g + 1] += self.start[g];
        }
        self.next.clear();
        self.next.extend_from_slice(&self.start[..groups]);
        self.position.clear();
        self.position.resize(candidates.len(), 0);
        self.candidate.clear();
        self.candidate.resize(candidates.len(), 0);
        self.boxes.resize(candidates.len());
        self.suppressed.clear();
        self.suppressed.resize(candidates.len(), false);
        self.bounds.clear();
        self.bounds.resize(groups, [f32::INFINITY, f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY]);
        for (i, d) in candidates.iter().enumerate() {
            let group = group_of(d, agnostic);
            let position = self.next[group];
            self.next[group] += 1;
            self.position[i] = position;
            self.candidate[position] = i as u32;
            let b = offset_box(d, agnostic);
            self.boxes.set(position, b);
            let bound = &mut self.bounds[group];
            *bound = [bound[0].min(b[0]), bound[1].min(b[1]), bound[2].max(b[2]), bound[3].max(b[3])];
        }
        self.present.clear();
        self.present.extend((0..groups).filter(|&g| self.start[g + 1] > self.start[g]));
    }
}

/// A candidate's NMS group: its class, or one group for all when agnostic.
#[inline]
fn group_of(d: &Detection, agnostic: bool) -> usize {
    if agnostic {
        0
    } else {
        d.class_id as usize
    }
}

/// A candidate's box moved by its class's offset, so that boxes of different classes do not overlap
/// (Ultralytics' `c = x[:, 5:6] * max_wh`).
#[inline]
fn offset_box(d: &Detection, agnostic: bool) -> [f32; 4] {
    let off = if agnostic { 0.0 } else { d.class_id as f32 * CLASS_OFFSET };
    [d.x1 + off, d.y1 + off, d.x2 + off, d.y2 + off]
}

/// Ultralytics' `scale_boxes` then `clip_boxes`: from model-input pixels back to original-image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxScaler {
    gain_x: f32,
    gain_y: f32,
    pad_x: f32,
    pad_y: f32,
    width: f32,
    height: f32,
}

impl BoxScaler {
    /// The scaler for an `input_height` x `input_width` model input made from an `orig_height` x `orig_width`
    /// image, computed with Python's double-precision arithmetic and round-half-to-even.
    pub fn new(input_height: usize, input_width: usize, orig_height: usize, orig_width: usize) -> Self {
        let (h1, w1, h0, w0) = (input_height as f64, input_width as f64, orig_height as f64, orig_width as f64);
        let gain = f64::min(h1 / h0, w1 / w0);
        let new_h = (h0 * gain).round_ties_even().max(1.0);
        let new_w = (w0 * gain).round_ties_even().max(1.0);
        Self {
            gain_x: (new_w / w0) as f32,
            gain_y: (new_h / h0) as f32,
            pad_x: ((w1 - new_w) / 2.0 - 0.1).round_ties_even() as f32,
            pad_y: ((h1 - new_h) / 2.0 - 0.1).round_ties_even() as f32,
            width: orig_width as f32,
            height: orig_height as f32,
        }
    }

    /// Scales and clips `d` in place, then orders its corners, so that `0 <= x1 <= x2 <= width` and
    /// `0 <= y1 <= y2 <= height` for any finite box, also one whose corners the model gave swapped (an
    /// end-to-end head) or whose size was negative. For the boxes of trained models the order is already so.
    pub fn apply(&self, d: &mut Detection) {
        let (x1, y1) = self.unclipped(d.x1, d.y1);
        let (x2, y2) = self.unclipped(d.x2, d.y2);
        let (x1, x2) = (x1.clamp(0.0, self.width), x2.clamp(0.0, self.width));
        let (y1, y2) = (y1.clamp(0.0, self.height), y2.clamp(0.0, self.height));
        (d.x1, d.x2) = (x1.min(x2), x1.max(x2));
        (d.y1, d.y2) = (y1.min(y2), y1.max(y2));
    }

    /// A point from model-input pixels to image pixels, not clipped.
    #[inline]
    pub fn unclipped(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.pad_x) / self.gain_x, (y - self.pad_y) / self.gain_y)
    }

    /// A point from model-input pixels to image pixels, clipped to the image: Ultralytics' `scale_coords`,
    /// as keypoints are scaled.
    pub fn point(&self, x: f32, y: f32) -> (f32, f32) {
        let (x, y) = self.unclipped(x, y);
        (x.clamp(0.0, self.width), y.clamp(0.0, self.height))
    }

    /// A size from model-input pixels to image pixels: Ultralytics' `scale_boxes(xywh=True)` for the
    /// width and height of an oriented box, which it does not clip.
    pub fn size(&self, width: f32, height: f32) -> (f32, f32) {
        (width / self.gain_x, height / self.gain_y)
    }

    /// The image size the scaler maps to, `(width, height)`.
    pub fn image_size(&self) -> (f32, f32) {
        (self.width, self.height)
    }
}

/// RT-DETR's queries as Ultralytics' `RTDETRPredictor` keeps them, in the pixels of the `image` (height,
/// width) whose stretched copy was the input: a query's score (with `[B, K, 4 + nc]` outputs, its best class's,
/// the first of equals) must be strictly above the threshold; its normalised centre and size become corners
/// scaled by the image's width and height; the first `max_detections` kept, in the model's order
/// (Ultralytics' export already sorts them by score). Unlike Ultralytics, which leaves these boxes
/// unclipped, the corners are clipped to the image, as the header promises for every box. Queries whose
/// values are not finite or whose class the model does not name are dropped.
pub fn decode_detr(
    layout: OutputLayout,
    output: &OutputView<'_>,
    class_count: usize,
    settings: &DecodeSettings,
    image: (usize, usize),
    out: &mut Vec<Detection>,
) {
    out.clear();
    let (image_h, image_w) = (image.0 as f32, image.1 as f32);
    for (anchor, row) in output.data.chunks_exact(output.cols).take(output.rows).enumerate() {
        let (score, class) = match layout {
            OutputLayout::DetrTopK => (row[4], row[5]),
            OutputLayout::DetrScores { num_classes } => {
                let scores = &row[4..4 + num_classes];
                let (best, score) = scores.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bs), (i, &s)| {
                    if s > bs {
                        (i, s)
                    } else {
                        (bi, bs)
                    }
                });
                (score, best as f32)
            }
            _ => return,
        };
        let known_class = class >= 0.0 && class.fract() == 0.0 && f64::from(class) < class_count as f64;
        if !(score > settings.conf_threshold && score.is_finite() && known_class) {
            continue;
        }
        let (cx, cy, half_w, half_h) = (row[0], row[1], row[2] / 2.0, row[3] / 2.0);
        let (x1, y1, x2, y2) = ((cx - half_w) * image_w, (cy - half_h) * image_h, (cx + half_w) * image_w, (cy + half_h) * image_h);
        if !finite_box(x1, y1, x2, y2) {
            continue;
        }
        // The header's promise: corners ordered, inside the image (Ultralytics leaves RT-DETR's unclipped).
        let (x1, x2) = (x1.min(x2).clamp(0.0, image_w), x1.max(x2).clamp(0.0, image_w));
        let (y1, y2) = (y1.min(y2).clamp(0.0, image_h), y1.max(y2).clamp(0.0, image_h));
        out.push(Detection { x1, y1, x2, y2, score, class_id: class as u32, anchor: anchor as u32 });
        if out.len() == settings.max_detections {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(conf: f32, iou: f32, max_det: usize, agnostic: bool) -> DecodeSettings {
        DecodeSettings {
            conf_threshold: conf,
            iou_threshold: iou,
            max_detections: max_det,
            class_agnostic: agnostic,
            ..DecodeSettings::default()
        }
    }

    /// Builds a `[4 + nc, N]` output from `(cx, cy, w, h, class scores)` boxes.
    fn channels_first(boxes: &[(f32, f32, f32, f32, Vec<f32>)]) -> Vec<f32> {
        let n = boxes.len();
        let nc = boxes[0].4.len();
        let mut data = vec![0.0; (4 + nc) * n];
        for (i, (cx, cy, w, h, scores)) in boxes.iter().enumerate() {
            for (c, v) in [*cx, *cy, *w, *h].into_iter().chain(scores.iter().copied()).enumerate() {
                data[c * n + i] = v;
            }
        }
        data
    }

    fn run(layout: OutputLayout, data: &[f32], rows: usize, cols: usize, s: &DecodeSettings) -> Vec<Detection> {
        let mut out = Vec::new();
        let classes = match layout {
            OutputLayout::EndToEnd { .. } => 999,
            other => other.class_count().unwrap(),
        };
        let view = OutputView { data, rows, cols };
        decode_and_suppress(layout, view, classes, s, &mut PostprocessScratch::default(), &mut out);
        out
    }

    #[test]
    fn class_aware_nms_keeps_overlapping_boxes_of_other_classes() {
        let data = channels_first(&[
            (50.0, 50.0, 20.0, 20.0, vec![0.9, 0.0]),
            (51.0, 50.0, 20.0, 20.0, vec![0.8, 0.0]),
            (50.0, 51.0, 20.0, 20.0, vec![0.0, 0.7]),
            (200.0, 200.0, 10.0, 10.0, vec![0.3, 0.0]),
        ]);
        let layout = OutputLayout::ChannelsFirst { num_classes: 2, extra: 0 };
        let aware = run(layout, &data, 6, 4, &settings(0.25, 0.7, 300, false));
        assert_eq!(aware.iter().map(|d| (d.class_id, d.score)).collect::<Vec<_>>(), [(0, 0.9), (1, 0.7), (0, 0.3)]);
        let agnostic = run(layout, &data, 6, 4, &settings(0.25, 0.7, 300, true));
        assert_eq!(agnostic.iter().map(|d| d.score).collect::<Vec<_>>(), [0.9, 0.3]);
        assert_eq!((aware[0].x1, aware[0].y1, aware[0].x2, aware[0].y2), (40.0, 40.0, 60.0, 60.0));
    }

    #[test]
    fn thresholds_are_strict_and_max_det_caps() {
        let data = channels_first(&[
            (10.0, 10.0, 4.0, 4.0, vec![0.5]),
            (30.0, 10.0, 4.0, 4.0, vec![0.25]),
            (50.0, 10.0, 4.0, 4.0, vec![0.6]),
        ]);
        let layout = OutputLayout::ChannelsFirst { num_classes: 1, extra: 0 };
        assert_eq!(run(layout, &data, 5, 3, &settings(0.25, 0.7, 300, false)).len(), 2);
        let capped = run(layout, &data, 5, 3, &settings(0.0, 0.7, 1, false));
        assert_eq!(capped.len(), 1);
        assert_eq!(capped[0].score, 0.6);
    }

    #[test]
    fn iou_exactly_at_threshold_is_kept_and_ties_keep_anchor_order() {
        // Two 10x10 boxes overlapping by half their width: IoU = 50 / 150 = 1/3.
        let data = channels_first(&[(5.0, 5.0, 10.0, 10.0, vec![0.5]), (10.0, 5.0, 10.0, 10.0, vec![0.5])]);
        let layout = OutputLayout::ChannelsFirst { num_classes: 1, extra: 0 };
        let iou = 50.0f32 / 150.0;
        let kept = run(layout, &data, 5, 2, &settings(0.1, iou, 300, false));
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].x1, 0.0, "equal scores keep the first anchor first");
        assert_eq!(run(layout, &data, 5, 2, &settings(0.1, 0.3, 300, false)).len(), 1);
    }

    #[test]
    fn objectness_multiplies_class_scores() {
        #[rustfmt::skip]
        let data = [
            10.0, 10.0, 4.0, 4.0, 0.9, 0.5, 0.8,   // 0.72 for class 1
            30.0, 10.0, 4.0, 4.0, 0.2, 1.0, 1.0,   // objectness below conf
            50.0, 10.0, 4.0, 4.0, 0.5, 0.4, 0.1,   // 0.2, below conf
        ];
        let out =
            run(OutputLayout::AnchorsWithObjectness { num_classes: 2 }, &data, 3, 7, &settings(0.25, 0.7, 300, false));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class_id, 1);
        assert!((out[0].score - 0.72).abs() < 1e-6);
    }

    #[test]
    fn end_to_end_is_filtered_and_capped_but_never_resorted() {
        #[rustfmt::skip]
        let data = [
            0.0, 0.0, 1.0, 1.0, 0.3, 2.0,
            0.0, 0.0, 1.0, 1.0, 0.9, 1.0,
            0.0, 0.0, 1.0, 1.0, 0.1, 0.0,
            0.0, 0.0, 1.0, 1.0, 0.8, f32::NAN,
            0.0, 0.0, 1.0, 1.0, 0.7, 0.0,
        ];
        let out = run(OutputLayout::EndToEnd { extra: 0 }, &data, 5, 6, &settings(0.25, 0.7, 2, false));
        assert_eq!(out.iter().map(|d| (d.score, d.class_id)).collect::<Vec<_>>(), [(0.3, 2), (0.9, 1)]);
    }

    #[test]
    fn non_finite_scores_and_boxes_are_dropped_in_every_layout() {
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        let data = channels_first(&[
            (5.0, 5.0, 10.0, 10.0, vec![nan, 0.1]),
            (5.0, 5.0, inf, 10.0, vec![0.9, 0.0]),
            (nan, 8.0, 4.0, 4.0, vec![0.9, 0.0]),
            (32.0, 32.0, 4.0, 4.0, vec![inf, 0.0]),
            (40.0, 40.0, 4.0, 4.0, vec![0.0, 0.5]),
        ]);
        let out = run(
            OutputLayout::ChannelsFirst { num_classes: 2, extra: 0 },
            &data,
            6,
            5,
            &settings(0.25, 0.7, 300, false),
        );
        assert_eq!(out.iter().map(|d| (d.x1, d.score, d.class_id)).collect::<Vec<_>>(), [(38.0, 0.5, 1)]);

        #[rustfmt::skip]
        let rows = [
            10.0, 10.0, 4.0, 4.0, inf, 1.0,
            10.0, 10.0, 4.0, 4.0, 1.0, nan,
            10.0, 10.0, nan, 4.0, 0.9, 1.0,
            20.0, 20.0, 4.0, 4.0, 0.9, 1.0,
        ];
        let out =
            run(OutputLayout::AnchorsWithObjectness { num_classes: 1 }, &rows, 4, 6, &settings(0.25, 0.7, 9, false));
        assert_eq!(out.iter().map(|d| (d.x1, d.score)).collect::<Vec<_>>(), [(18.0, 0.9)]);

        #[rustfmt::skip]
        let rows = [
            64.0, 0.0, 0.0, 64.0, inf, 0.0,
            nan, 8.0, nan, 12.0, 0.9, 0.0,
            50.0, 50.0, 10.0, 10.0, 0.9, 2.7,
            0.0, 0.0, 8.0, 8.0, 0.9, 1e10,
            0.0, 0.0, 8.0, 8.0, 0.9, -1.0,
            0.0, 0.0, 8.0, 8.0, 0.9, 3.0,
            0.0, 0.0, inf, 8.0, 0.9, 0.0,
        ];
        let mut out = Vec::new();
        let view = OutputView { data: &rows, rows: 7, cols: 6 };
        let s = settings(0.25, 0.7, 300, false);
        decode_and_suppress(
            OutputLayout::EndToEnd { extra: 0 },
            view,
            3,
            &s,
            &mut PostprocessScratch::default(),
            &mut out,
        );
        assert_eq!(out.len(), 1, "only the swapped box of class 2.7 is a finite box of a known class: {out:?}");
        assert_eq!((out[0].class_id, out[0].x1, out[0].x2), (2, 50.0, 10.0), "corners are ordered when scaled");
        BoxScaler::new(64, 64, 64, 64).apply(&mut out[0]);
        assert_eq!((out[0].x1, out[0].y1, out[0].x2, out[0].y2), (10.0, 10.0, 50.0, 50.0));
    }

    #[test]
    fn more_than_max_nms_candidates_keeps_the_best() {
        let n = MAX_NMS_CANDIDATES + 10;
        let boxes: Vec<_> =
            (0..n).map(|i| (i as f32 * 100.0, 0.0, 1.0, 1.0, vec![0.3 + (i as f32 / n as f32) * 0.5])).collect();
        let out = run(
            OutputLayout::ChannelsFirst { num_classes: 1, extra: 0 },
            &channels_first(&boxes),
            5,
            n,
            &settings(0.25, 0.7, n, false),
        );
        assert_eq!(out.len(), MAX_NMS_CANDIDATES);
        assert!(out.iter().all(|d| d.x1 >= 10.0 * 100.0 - 1.0));
    }

    /// torchvision's `nms` written out plainly: every kept box against every later one.
    fn all_pairs_reference(mut candidates: Vec<Detection>, s: &DecodeSettings) -> Vec<Detection> {
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        candidates.truncate(MAX_NMS_CANDIDATES);
        let boxes: Vec<[f32; 4]> = candidates.iter().map(|d| offset_box(d, s.class_agnostic)).collect();
        let areas: Vec<f32> = boxes.iter().map(|b| (b[2] - b[0]) * (b[3] - b[1])).collect();
        let mut suppressed = vec![false; candidates.len()];
        let mut kept = Vec::new();
        for i in 0..candidates.len() {
            if suppressed[i] {
                continue;
            }
            kept.push(candidates[i]);
            if kept.len() == s.max_detections {
                break;
            }
            for j in i + 1..candidates.len() {
                let (a, b) = (boxes[i], boxes[j]);
                let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
                let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
                let inter = w * h;
                suppressed[j] |= inter / (areas[i] + areas[j] - inter) > s.iou_threshold;
            }
        }
        kept
    }

    #[test]
    fn grouped_vectorised_nms_gives_exactly_the_all_pairs_result() {
        // Random clustered boxes, with tied scores, NaN and infinite coordinates mixed in, sometimes spread
        // wider than the class offset (so that boxes of different classes overlap) or with large class ids,
        // class-aware and agnostic.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f32 / (1u64 << 53) as f32
        };
        for round in 0..400 {
            let n = 1 + (next() * 500.0) as usize;
            let classes = 1 + (next() * 6.0) as u32;
            let class_base = if round % 7 == 0 { 900 } else { 0 };
            let spread = if round % 3 == 0 { 40_000.0 } else { 200.0 };
            let odd = if round % 5 == 0 { 0.02 } else { 0.0 };
            let mut candidates: Vec<Detection> = Vec::with_capacity(n);
            for _ in 0..n {
                let score = (next() * 20.0).round() / 20.0;
                // A twin of an earlier box one class up, moved back by the class offset: the offset boxes
                // of two classes then overlap, which the bounds must not skip.
                if let Some(&twin) = candidates.get((next() * candidates.len() as f32 * 4.0) as usize) {
                    let shift = -CLASS_OFFSET + next() * 4.0;
                    let class_id = twin.class_id + 1;
                    let (x1, y1, x2, y2) = (twin.x1 + shift, twin.y1 + shift, twin.x2 + shift, twin.y2 + shift);
                    candidates.push(Detection { x1, y1, x2, y2, score, class_id, anchor: 0 });
                    continue;
                }
                let (cx, cy) = (next() * spread - spread / 4.0, next() * spread);
                let (w, h) = (5.0 + next() * 60.0, 5.0 + next() * 60.0);
                let mut edges = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
                for edge in &mut edges {
                    if next() < odd {
                        *edge = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][(next() * 3.0) as usize % 3];
                    }
                }
                let [x1, y1, x2, y2] = edges;
                let class_id = class_base + (next() * classes as f32) as u32;
                candidates.push(Detection { x1, y1, x2, y2, score, class_id, anchor: 0 });
            }
            let iou = 0.3 + next() * 0.6;
            let max_det = 1 + (next() * 120.0) as usize;
            let s = settings(0.0, iou, max_det, round % 4 == 1);
            let mut scratch = PostprocessScratch { candidates: candidates.clone(), ..Default::default() };
            let mut grouped = Vec::new();
            non_max_suppression(&mut scratch, &s, &mut grouped);
            let reference = all_pairs_reference(candidates, &s);
            let bits = |v: &Vec<Detection>| {
                v.iter()
                    .map(|d| (d.x1.to_bits(), d.y1.to_bits(), d.x2.to_bits(), d.score.to_bits(), d.class_id))
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&grouped), bits(&reference), "round {round}: {s:?}");
        }
    }

    #[test]
    fn scaler_inverts_the_letterbox_and_clips() {
        // zidane.jpg 1280x720 in a 384x640 input: gain 0.5, 12 rows of padding on top.
        let s = BoxScaler::new(384, 640, 720, 1280);
        let mut d = Detection { x1: 10.0, y1: 12.0, x2: 650.0, y2: 400.0, score: 1.0, class_id: 0, anchor: 0 };
        s.apply(&mut d);
        assert_eq!((d.x1, d.y1, d.x2, d.y2), (20.0, 0.0, 1280.0, 720.0));
        let mut d = Detection { x1: 100.0, y1: 112.0, x2: 200.0, y2: 212.0, score: 1.0, class_id: 0, anchor: 0 };
        s.apply(&mut d);
        assert_eq!((d.x1, d.y1, d.x2, d.y2), (200.0, 200.0, 400.0, 400.0));
    }

    #[test]
    fn settings_reject_nan_and_out_of_range() {
        assert!(DecodeSettings::default().validate().is_ok());
        for bad in [
            settings(f32::NAN, 0.7, 300, false),
            settings(-0.1, 0.7, 300, false),
            settings(0.25, 1.5, 300, false),
            settings(0.25, f32::INFINITY, 300, false),
            settings(0.25, 0.7, 0, false),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
