//! Segmentation: one mask per kept box from the prototypes and the box's mask coefficients, computed as
//! Ultralytics' `process_mask` (the default) or `process_mask_native` (`retina_masks=True`) computes it,
//! but only over the pixels the box can cover, and handed out cropped.
//!
//! Ultralytics builds every mask at full resolution: the product of coefficients and prototypes at the
//! prototypes' resolution, upsampled (bilinear, half-pixel centres) to the model input, thresholded at 0,
//! cropped to the box; then, for the image, the letterbox padding cut off and the mask resized (bilinear)
//! to the image, where a pixel belongs to the object when the value is above 0.5. Here each step runs on
//! the window of pixels that can reach the box, so a mask costs in proportion to its box, not to the image.

use super::resample::{content, interpolate, round, taps, window, Tap};
use super::task_value;
use crate::result::{Detection, Mask};
use crate::model::OutputLayout;
use crate::postprocess::OutputView;

/// The prototypes of one image: `mask_dim` planes of `height` x `width`.
#[derive(Debug, Clone, Copy)]
pub struct Prototypes<'a> {
    /// `mask_dim * height * width` values.
    pub data: &'a [f32],
    /// Number of planes (mask coefficients per box).
    pub mask_dim: usize,
    /// Rows of each plane.
    pub height: usize,
    /// Columns of each plane.
    pub width: usize,
}

/// The pixel indices `[first, end)` a box edge pair `lo..hi` covers in a plane of `size`: Ultralytics'
/// `crop_mask` keeps index `i` when `lo <= i < hi`.
fn covered(lo: f32, hi: f32, size: usize) -> (usize, usize) {
    let first = lo.ceil().max(0.0).min(size as f32) as usize;
    let end = hi.ceil().max(0.0).min(size as f32) as usize;
    (first, end.max(first))
}

/// Buffers reused across calls.
#[derive(Debug, Default)]
pub struct SegmentScratch {
    coefficients: Vec<f32>,
    logits: Vec<f32>,
    upsampled: Vec<f32>,
    /// Source rows interpolated across, by `interpolate`.
    across: Vec<f32>,
    values: Vec<f32>,
    binary: Vec<u8>,
    rows: Vec<Tap>,
    cols: Vec<Tap>,
    plane_rows: Vec<Tap>,
    plane_cols: Vec<Tap>,
}

/// The sizes of one image's pass: the model input and the image.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Model input `(height, width)`.
    pub input: (usize, usize),
    /// Image `(height, width)`.
    pub image: (usize, usize),
}

/// Computes the mask of each detection and keeps, as Ultralytics does, only the detections whose mask has
/// a pixel (at the input's resolution, or the image's with `retina`). `detections` are in model-input
/// pixels on entry; `scale` moves a detection to image pixels (and is applied here, before the masks with
/// `retina`, after them without, in Ultralytics' order). On return `detections` holds the kept ones, in
/// image pixels, and `masks` their masks.
#[allow(clippy::too_many_arguments)]
pub fn masks(
    output: &OutputView<'_>,
    layout: OutputLayout,
    protos: Prototypes<'_>,
    sizes: Sizes,
    retina: bool,
    scale: impl Fn(&mut Detection),
    detections: &mut Vec<Detection>,
    masks: &mut Vec<Mask>,
    scratch: &mut SegmentScratch,
) {
    masks.clear();
    let mut kept = 0;
    for i in 0..detections.len() {
        let mut d = detections[i];
        scratch.coefficients.clear();
        scratch.coefficients.extend((0..protos.mask_dim).map(|k| task_value(output, layout, d.anchor as usize, k)));
        let mask = if retina {
            scale(&mut d);
            native_mask(&d, protos, sizes.image, scratch)
        } else {
            let mask = input_mask(&d, protos, sizes, scratch);
            scale(&mut d);
            mask
        };
        if let Some(mask) = mask {
            detections[kept] = d;
            kept += 1;
            masks.push(mask);
        }
    }
    detections.truncate(kept);
}

/// The logits of the prototype window `rows` x `cols`: the coefficients times the prototypes.
fn logits(protos: Prototypes<'_>, rows: (usize, usize), cols: (usize, usize), scratch: &mut SegmentScratch) {
    let (height, width) = (rows.1 - rows.0, cols.1 - cols.0);
    let plane = protos.height * protos.width;
    scratch.logits.clear();
    scratch.logits.resize(height * width, 0.0);
    for (k, &coefficient) in scratch.coefficients.iter().enumerate() {
        let proto = &protos.data[k * plane..][..plane];
        for (y, out) in scratch.logits.chunks_exact_mut(width).enumerate() {
            let row = &proto[(rows.0 + y) * protos.width + cols.0..][..width];
            for (o, &p) in out.iter_mut().zip(row) {
                *o += coefficient * p;
            }
        }
    }
}

/// The mask logits of the pixels `rows` x `cols` of a plane of `size` (height, width) that the prototypes
/// are upsampled to (bilinear), into `scratch.upsampled`: only the prototypes those pixels read are
/// multiplied out.
fn upsampled_logits(
    protos: Prototypes<'_>,
    (rows, cols): (std::ops::Range<usize>, std::ops::Range<usize>),
    (height, width): (usize, usize),
    scratch: &mut SegmentScratch,
) {
    taps(rows, protos.height, height, &mut scratch.rows);
    taps(cols, protos.width, width, &mut scratch.cols);
    let (rows, cols) = (window(&scratch.rows), window(&scratch.cols));
    logits(protos, rows, cols, scratch);
    scratch.rows.iter_mut().for_each(|t| *t = t.rebased(rows.0));
    scratch.cols.iter_mut().for_each(|t| *t = t.rebased(cols.0));
    let (source_rows, source_cols) = (&scratch.rows, &scratch.cols);
    interpolate(
        &scratch.logits,
        cols.1 - cols.0,
        source_rows,
        source_cols,
        &mut scratch.across,
        &mut scratch.upsampled,
    );
}

/// `process_mask(upsample=True)` for one box (model-input pixels), then the mask at the image's size as
/// `scale_masks(...) > 0.5` gives it. `None` when the mask has no pixel at the input's resolution.
fn input_mask(d: &Detection, protos: Prototypes<'_>, sizes: Sizes, scratch: &mut SegmentScratch) -> Option<Mask> {
    let (input_h, input_w) = sizes.input;
    let (r0, r1) = covered(d.y1, d.y2, input_h);
    let (c0, c1) = covered(d.x1, d.x2, input_w);
    if r0 == r1 || c0 == c1 {
        return None;
    }
    // Input pixels of the box, from the prototypes.
    upsampled_logits(protos, (r0..r1, c0..c1), (input_h, input_w), scratch);
    std::mem::swap(&mut scratch.upsampled, &mut scratch.values);
    let (box_h, box_w) = (r1 - r0, c1 - c0);
    scratch.binary.clear();
    scratch.binary.extend(scratch.values.iter().map(|&v| u8::from(v > 0.0)));
    if !scratch.binary.contains(&1) {
        return None;
    }
    let (image_h, image_w) = sizes.image;
    if sizes.input == sizes.image {
        return Some(trimmed(&scratch.binary, box_w, r0, c0, |&v| v != 0));
    }
    // The image's pixels from the content of the input-resolution mask, zero outside the box.
    let (top, left, content_h, content_w) = content(input_h, input_w, image_h, image_w);
    taps(0..image_h, content_h, image_h, &mut scratch.plane_rows);
    taps(0..image_w, content_w, image_w, &mut scratch.plane_cols);
    // The image rows and columns whose taps reach the box; the taps are monotonic.
    let reach = |taps: &[Tap], offset: usize, first: usize, end: usize| {
        let start = taps.partition_point(|t| t.hi + offset < first);
        let stop = taps.partition_point(|t| t.lo + offset < end);
        start..stop.max(start)
    };
    let (ys, xs) = (reach(&scratch.plane_rows, top, r0, r1), reach(&scratch.plane_cols, left, c0, c1));
    // Separably, as PyTorch's bilinear kernel computes it: each box row across the image's columns first
    // (`upsampled`), then each image row from its two rows; rows and columns outside the box are 0.
    let width = xs.len();
    let (box_rows, box_cols) = (r0..r1, c0..c1);
    scratch.upsampled.clear();
    scratch.upsampled.reserve(box_h * width);
    for row in scratch.binary.chunks_exact(box_w) {
        let value = |col: usize| if box_cols.contains(&col) { f32::from(row[col - c0]) } else { 0.0 };
        scratch.upsampled.extend(scratch.plane_cols[xs.clone()].iter().map(|c| {
            let (lo, hi) = (c.lo + left, c.hi + left);
            c.w_lo * value(lo) + c.w_hi * value(hi)
        }));
    }
    scratch.values.clear();
    scratch.values.reserve(ys.len() * width);
    let zeros = vec![0.0f32; width];
    for y in ys.clone() {
        let r = scratch.plane_rows[y];
        let row = |input_row: usize| match box_rows.contains(&input_row) {
            true => &scratch.upsampled[(input_row - r0) * width..][..width],
            false => &zeros[..],
        };
        let (upper, lower) = (row(r.lo + top), row(r.hi + top));
        scratch.values.extend(upper.iter().zip(lower).map(|(u, l)| r.w_lo * u + r.w_hi * l));
    }
    Some(trimmed_values(&scratch.values, xs.len(), ys.start, xs.start, |v| v > 0.5))
}

/// `process_mask_native` for one box (image pixels): the prototypes' logits upsampled by 1, 2 or 4, the
/// letterbox padding cut off, resized to the image, thresholded at 0 and cropped to the box. `None` when
/// the mask has no pixel.
fn native_mask(
    d: &Detection,
    protos: Prototypes<'_>,
    image: (usize, usize),
    scratch: &mut SegmentScratch,
) -> Option<Mask> {
    let (image_h, image_w) = image;
    let (r0, r1) = covered(d.y1, d.y2, image_h);
    let (c0, c1) = covered(d.x1, d.x2, image_w);
    if r0 == r1 || c0 == c1 {
        return None;
    }
    let (ph, pw) = (protos.height, protos.width);
    // Ultralytics upsamples by the smallest factor that makes the input-size letterbox padding whole pixels.
    let gain = f64::min(4.0 * ph as f64 / image_h as f64, 4.0 * pw as f64 / image_w as f64);
    let pad_h = 4 * ph as i64 - round(image_h as f64 * gain).max(1);
    let pad_w = 4 * pw as i64 - round(image_w as f64 * gain).max(1);
    let pad = pad_h | pad_w;
    let factor = 4 / gcd(4, pad | (pad >> 1)) as usize;
    let (up_h, up_w) = (ph * factor, pw * factor);
    // Image pixels of the box, from the upsampled plane (whose padding is cut off first).
    if (up_h, up_w) == (image_h, image_w) {
        taps(r0..r1, up_h, up_h, &mut scratch.plane_rows);
        taps(c0..c1, up_w, up_w, &mut scratch.plane_cols);
    } else {
        let (top, left, content_h, content_w) = content(up_h, up_w, image_h, image_w);
        taps(r0..r1, content_h, image_h, &mut scratch.plane_rows);
        taps(c0..c1, content_w, image_w, &mut scratch.plane_cols);
        scratch.plane_rows.iter_mut().for_each(|t| (t.lo, t.hi) = (t.lo + top, t.hi + top));
        scratch.plane_cols.iter_mut().for_each(|t| (t.lo, t.hi) = (t.lo + left, t.hi + left));
    }
    let (up_rows, up_cols) = (window(&scratch.plane_rows), window(&scratch.plane_cols));
    // Upsampled pixels of that window, from the prototypes.
    upsampled_logits(protos, (up_rows.0..up_rows.1, up_cols.0..up_cols.1), (up_h, up_w), scratch);
    scratch.plane_rows.iter_mut().for_each(|t| *t = t.rebased(up_rows.0));
    scratch.plane_cols.iter_mut().for_each(|t| *t = t.rebased(up_cols.0));
    interpolate(
        &scratch.upsampled,
        up_cols.1 - up_cols.0,
        &scratch.plane_rows,
        &scratch.plane_cols,
        &mut scratch.across,
        &mut scratch.values,
    );
    if !scratch.values.iter().any(|&v| v > 0.0) {
        return None;
    }
    Some(trimmed_values(&scratch.values, c1 - c0, r0, c0, |v| v > 0.0))
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// The smallest mask holding every pixel of a `width`-wide window at (`top`, `left`) whose value passes
/// `inside`.
fn trimmed_values(values: &[f32], width: usize, top: usize, left: usize, inside: impl Fn(f32) -> bool) -> Mask {
    trimmed(values, width, top, left, |&v| inside(v))
}

fn trimmed<T: Copy>(values: &[T], width: usize, top: usize, left: usize, inside: impl Fn(&T) -> bool) -> Mask {
    let (mut y0, mut y1, mut x0, mut x1) = (usize::MAX, 0, usize::MAX, 0);
    if width > 0 {
        for (y, row) in values.chunks_exact(width).enumerate() {
            if let Some(first) = row.iter().position(&inside) {
                let last = row.iter().rposition(&inside).unwrap_or(first);
                (y0, y1, x0, x1) = (y0.min(y), y + 1, x0.min(first), x1.max(last + 1));
            }
        }
    }
    if y0 == usize::MAX {
        return Mask { left: left as u32, top: top as u32, ..Mask::default() };
    }
    let (w, h) = (x1 - x0, y1 - y0);
    let mut data = Vec::with_capacity(w * h);
    for row in values.chunks_exact(width).skip(y0).take(h) {
        data.extend(row[x0..x1].iter().map(|v| u8::from(inside(v))));
    }
    Mask { left: (left + x0) as u32, top: (top + y0) as u32, width: w as u32, height: h as u32, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_follow_pytorch_half_pixel_centres() {
        // 2 -> 4: outputs at source -0.25 (clamped to 0), 0.25, 0.75, 1.25 (last index clamps).
        let t: Vec<Tap> = (0..4).map(|d| Tap::bilinear(d, 0.5, 2)).collect();
        assert_eq!((t[0].lo, t[0].hi, t[0].w_hi), (0, 1, 0.0));
        assert_eq!((t[1].lo, t[1].w_hi), (0, 0.25));
        assert_eq!((t[2].lo, t[2].w_hi), (0, 0.75));
        assert_eq!((t[3].lo, t[3].hi, t[3].w_hi), (1, 1, 0.25));
    }

    #[test]
    fn content_cuts_off_ultralytics_padding() {
        // A 320x240 image in a 256x320 input: 8 rows of padding above.
        assert_eq!(content(256, 320, 240, 320), (8, 0, 240, 320));
        assert_eq!(content(320, 320, 320, 256), (0, 32, 320, 256));
    }

    #[test]
    fn a_box_over_a_positive_prototype_gets_a_mask_cropped_to_it() {
        // One prototype plane of 4x4, positive in its left half; input 16x16 = image.
        let plane: Vec<f32> = (0..16).map(|i| if i % 4 < 2 { 1.0 } else { -1.0 }).collect();
        let protos = Prototypes { data: &plane, mask_dim: 1, height: 4, width: 4 };
        let layout = OutputLayout::ChannelsFirst { num_classes: 1, extra: 1 };
        // One anchor whose coefficient is 2.
        let data = [8.0, 8.0, 16.0, 16.0, 0.9, 2.0];
        let output = OutputView { data: &data, rows: 6, cols: 1 };
        let sizes = Sizes { input: (16, 16), image: (16, 16) };
        let d = Detection { x1: 2.0, y1: 3.0, x2: 14.0, y2: 12.5, score: 0.9, class_id: 0, anchor: 0 };
        let (mut detections, mut out) = (vec![d], Vec::new());
        masks(&output, layout, protos, sizes, false, |_| {}, &mut detections, &mut out, &mut SegmentScratch::default());
        let mask = &out[0];
        // Columns 0..8 are positive after upsampling (the edge falls between source columns 1 and 2);
        // the box keeps columns 2..14 and rows 3..13.
        assert_eq!((mask.left, mask.top, mask.width, mask.height), (2, 3, 6, 10));
        assert!(mask.data.iter().all(|&v| v == 1));
        // A negative coefficient gives no pixel: the detection is dropped, as Ultralytics drops it.
        let data = [8.0, 8.0, 16.0, 16.0, 0.9, -2.0];
        let output = OutputView { data: &data, rows: 6, cols: 1 };
        let minus = vec![1.0f32; 16];
        let protos = Prototypes { data: &minus, ..protos };
        let mut detections = vec![d];
        masks(&output, layout, protos, sizes, false, |_| {}, &mut detections, &mut out, &mut SegmentScratch::default());
        assert!(detections.is_empty() && out.is_empty());
    }

    #[test]
    fn nan_coefficients_and_empty_boxes_give_no_mask() {
        let plane = vec![1.0f32; 16];
        let protos = Prototypes { data: &plane, mask_dim: 1, height: 4, width: 4 };
        let layout = OutputLayout::ChannelsFirst { num_classes: 1, extra: 1 };
        let data = [8.0, 8.0, 16.0, 16.0, 0.9, f32::NAN];
        let output = OutputView { data: &data, rows: 6, cols: 1 };
        let sizes = Sizes { input: (16, 16), image: (32, 32) };
        let d = Detection { x1: 2.0, y1: 3.0, x2: 14.0, y2: 12.0, score: 0.9, class_id: 0, anchor: 0 };
        let flat = Detection { y2: 3.0, ..d };
        for retina in [false, true] {
            let (mut detections, mut out) = (vec![d, flat], Vec::new());
            masks(
                &output,
                layout,
                protos,
                sizes,
                retina,
                |_| {},
                &mut detections,
                &mut out,
                &mut SegmentScratch::default(),
            );
            assert!(detections.is_empty(), "{retina}");
        }
    }
}
