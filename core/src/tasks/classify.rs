//! Classification: Ultralytics' `classify_transforms` for exported models (Pillow's bilinear resize of the
//! shorter side, a centre crop, `/ 255`) and the most probable classes.
//!
//! The resize reproduces Pillow's `Image.resize(..., BILINEAR)` for 8-bit images bit for bit: a triangle
//! filter widened by the scale when shrinking (antialiasing), weights in 22-bit fixed point, and a
//! horizontal pass rounded to 8 bits before the vertical one.

use crate::result::ClassProbability;
use crate::image_input::PixelView;
use crate::preprocess::InputElement;

/// Pillow's fixed-point precision for 8-bit resampling.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// One output sample of a resampling pass: the first input sample and the weights of the following ones.
#[derive(Debug, Clone, Default)]
struct Taps {
    /// First input index of each output sample.
    first: Vec<usize>,
    /// Weights per output sample, `stride` apart, `count[i]` of them used.
    weights: Vec<i32>,
    count: Vec<usize>,
    stride: usize,
}

impl Taps {
    /// Pillow's `precompute_coeffs` with the bilinear filter and `normalize_coeffs_8bpc`, for `input`
    /// samples to `output` samples over the whole input.
    fn bilinear(input: usize, output: usize) -> Self {
        let scale = input as f64 / output as f64;
        let filter_scale = scale.max(1.0);
        let support = filter_scale; // the bilinear filter's support is 1
        let stride = support.ceil() as usize * 2 + 1;
        let mut taps = Self { stride, ..Self::default() };
        let mut weights = vec![0.0f64; stride];
        for out in 0..output {
            let center = (out as f64 + 0.5) * scale;
            // Truncation toward zero, as C's (int) cast.
            let first = ((center - support + 0.5) as i64).max(0) as usize;
            let end = ((center + support + 0.5) as i64).min(input as i64).max(0) as usize;
            let count = end.saturating_sub(first).min(stride);
            let mut total = 0.0;
            for (x, w) in weights.iter_mut().enumerate().take(count) {
                let t = ((x + first) as f64 - center + 0.5) / filter_scale;
                *w = (1.0 - t.abs()).max(0.0);
                total += *w;
            }
            taps.first.push(first);
            taps.count.push(count);
            for &w in weights.iter().take(count) {
                let w = if total != 0.0 { w / total } else { w };
                let fixed = if w < 0.0 {
                    (-0.5 + w * f64::from(1u32 << PRECISION_BITS)) as i32
                } else {
                    (0.5 + w * f64::from(1u32 << PRECISION_BITS)) as i32
                };
                taps.weights.push(fixed);
            }
            taps.weights.extend(std::iter::repeat_n(0, stride - count));
        }
        taps
    }

    /// Output sample `i` of `sample(first + k)` weighted, rounded and clipped to 8 bits as Pillow does.
    #[inline]
    fn apply(&self, i: usize, sample: impl Fn(usize) -> u8) -> u8 {
        let weights = &self.weights[i * self.stride..][..self.count[i]];
        let mut sum: i32 = 1 << (PRECISION_BITS - 1);
        for (k, &w) in weights.iter().enumerate() {
            sum += i32::from(sample(self.first[i] + k)) * w;
        }
        (sum >> PRECISION_BITS).clamp(0, 255) as u8
    }
}

/// The size the shorter side's resize gives (torchvision's `Resize(size)` on a square target), or the
/// target itself when it is not square (`Resize((h, w))`), as `(height, width)`.
pub fn resized_size(width: usize, height: usize, target_height: usize, target_width: usize) -> (usize, usize) {
    if target_height != target_width {
        return (target_height, target_width);
    }
    let size = target_height;
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    // Python's int(size * long / short): a double division, truncated.
    let long = (size as f64 * long as f64 / short as f64) as usize;
    if width <= height {
        (long, size)
    } else {
        (size, long)
    }
}

/// Buffers reused across calls, and the taps of the last sizes seen (a server sees few sizes).
#[derive(Debug, Default)]
pub struct ClassifyScratch {
    /// After the horizontal pass: the rows the vertical pass reads, the crop's columns, RGB.
    horizontal: Vec<u8>,
    horizontal_taps: Option<((usize, usize), Taps)>,
    vertical_taps: Option<((usize, usize), Taps)>,
}

/// The taps for `input` to `output` samples, from `cache` when it holds them.
fn cached(cache: &mut Option<((usize, usize), Taps)>, input: usize, output: usize) -> &Taps {
    if cache.as_ref().is_none_or(|(key, _)| *key != (input, output)) {
        *cache = Some(((input, output), Taps::bilinear(input, output)));
    }
    &cache.as_ref().expect("just filled").1
}

/// Writes Ultralytics' classification input for `view` into `out` (`3 x height x width`, RGB planes,
/// `/ 255`): the shorter side resized to the target with Pillow's bilinear filter, then the centre crop.
/// Only the pixels the crop keeps are resampled, each exactly as Pillow resamples the whole image.
pub fn classify_input<T: InputElement>(
    view: &PixelView<'_>,
    height: usize,
    width: usize,
    scratch: &mut ClassifyScratch,
    out: &mut [T],
) {
    let (src_w, src_h) = (view.width(), view.height());
    let offsets = view.format().rgb_offsets();
    let bpp = view.format().bytes_per_pixel();
    let (new_h, new_w) = resized_size(src_w, src_h, height, width);
    // torchvision's center_crop: int(round((size - crop) / 2.0)); zero padding where the crop is larger.
    let offset = |size: usize, crop: usize| ((size as f64 - crop as f64) / 2.0).round_ties_even() as isize;
    let (top, left) = (offset(new_h, height), offset(new_w, width));
    let clip = |start: isize, len: usize, size: usize| {
        let first = start.clamp(0, size as isize) as usize;
        (first, (start + len as isize).clamp(0, size as isize) as usize)
    };
    let (y0, y1) = clip(top, height, new_h);
    let (x0, x1) = clip(left, width, new_w);
    // Zero padding only where the crop is larger than the resized image (torchvision pads with 0).
    if (y1 - y0, x1 - x0) != (height, width) {
        out.fill(T::from_u8(0));
    }
    if y0 == y1 || x0 == x1 {
        return;
    }
    cached(&mut scratch.horizontal_taps, src_w, new_w);
    cached(&mut scratch.vertical_taps, src_h, new_h);
    let (Some((_, horizontal)), Some((_, vertical))) = (&scratch.horizontal_taps, &scratch.vertical_taps) else {
        unreachable!("both cached above")
    };
    // The source rows the vertical pass reads for the kept rows.
    let (r0, r1) = if new_h == src_h {
        (y0, y1)
    } else {
        (vertical.first[y0], (y0..y1).map(|y| vertical.first[y] + vertical.count[y]).max().unwrap_or(y0))
    };
    let cols = x1 - x0;
    let buffer = &mut scratch.horizontal;
    buffer.clear();
    buffer.resize((r1 - r0) * cols * 3, 0);
    for (r, dst) in (r0..r1).zip(buffer.chunks_exact_mut(cols * 3)) {
        let row = view.row(r);
        for (x, pixel) in (x0..x1).zip(dst.chunks_exact_mut(3)) {
            for (c, value) in pixel.iter_mut().enumerate() {
                let at = |i: usize| row[i * bpp + offsets[c]];
                *value = if new_w == src_w { at(x) } else { horizontal.apply(x, at) };
            }
        }
    }
    let plane = height * width;
    let row_len = cols * 3;
    for y in y0..y1 {
        let out_y = (y as isize - top) as usize;
        for i in 0..row_len {
            let value = if new_h == src_h {
                buffer[(y - r0) * row_len + i]
            } else {
                vertical.apply(y, |r| buffer[(r - r0) * row_len + i])
            };
            let (x, c) = (x0 + i / 3, i % 3);
            let out_x = (x as isize - left) as usize;
            out[c * plane + out_y * width + out_x] = T::from_u8(value);
        }
    }
}

/// The `k` most probable classes of `probabilities`, best first; equal probabilities keep class order.
/// Values that are not finite are left out.
pub fn top_k(probabilities: &[f32], k: usize, out: &mut Vec<ClassProbability>) {
    out.clear();
    out.extend(
        probabilities
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_finite())
            .map(|(i, &p)| ClassProbability { class_id: i as u32, probability: p }),
    );
    out.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    out.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_input::PixelFormat;

    #[test]
    fn shorter_side_resize_truncates_the_longer_side() {
        assert_eq!(resized_size(120, 96, 96, 96), (96, 120));
        assert_eq!(resized_size(96, 128, 96, 96), (128, 96));
        assert_eq!(resized_size(333, 100, 96, 96), (96, 319), "int(96 * 333 / 100) = 319");
        assert_eq!(resized_size(640, 480, 224, 320), (224, 320), "a non-square target is resized to exactly");
    }

    #[test]
    fn pillow_weights_sum_to_one_and_shrinking_widens_the_filter() {
        let same = Taps::bilinear(10, 10);
        assert_eq!(&same.weights[3 * same.stride..][..same.count[3]], [1 << PRECISION_BITS, 0], "scale 1 copies");
        let half = Taps::bilinear(128, 64);
        for i in 0..64 {
            let sum: i64 = half.weights[i * half.stride..][..half.count[i]].iter().map(|&w| i64::from(w)).sum();
            assert!((sum - (1 << PRECISION_BITS)).abs() <= 2, "{i}: {sum}");
        }
        assert_eq!(half.count[10], 4, "a triangle of support 2 covers 4 samples");
    }

    #[test]
    fn a_uniform_image_stays_uniform_and_crops_to_the_centre() {
        let (w, h) = (120, 96);
        let mut pixels = vec![0u8; w * h * 3];
        for (i, p) in pixels.chunks_exact_mut(3).enumerate() {
            // Red 200 everywhere; green marks columns 0..12 (cropped away) with 255.
            p.copy_from_slice(&[200, if i % w < 12 { 255 } else { 10 }, 30]);
        }
        let view = PixelView::new(&pixels, w, h, w * 3, PixelFormat::Rgb8).unwrap();
        let mut out = vec![0.0f32; 3 * 96 * 96];
        classify_input(&view, 96, 96, &mut ClassifyScratch::default(), &mut out);
        let plane = 96 * 96;
        assert!(out[..plane].iter().all(|&v| v == 200.0 / 255.0));
        assert!(out[plane..2 * plane].iter().all(|&v| v == 10.0 / 255.0), "the crop starts at column 12");
        assert!(out[2 * plane..].iter().all(|&v| v == 30.0 / 255.0));
    }

    #[test]
    fn top_k_sorts_stably_and_skips_nan() {
        let mut out = Vec::new();
        top_k(&[0.1, 0.5, f32::NAN, 0.5, 0.2], 3, &mut out);
        let ids: Vec<u32> = out.iter().map(|c| c.class_id).collect();
        assert_eq!(ids, [1, 3, 4]);
    }
}
