//! Resampling as PyTorch's `F.interpolate` computes it on the CPU (bilinear with half-pixel centres or
//! with aligned corners, and nearest), and where the image sits in a letterboxed plane, as Ultralytics'
//! `scale_masks` finds it: what instance masks, class maps and depth maps are resized with.

/// One output sample of a bilinear resize: two input indices and their weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tap {
    pub(crate) lo: usize,
    pub(crate) hi: usize,
    pub(crate) w_lo: f32,
    pub(crate) w_hi: f32,
}

impl Tap {
    /// PyTorch's `upsample_bilinear2d` (`align_corners=False`) source of output index `dst` for an input of
    /// `input` samples, with `scale` = input / output in single precision.
    pub(crate) fn bilinear(dst: usize, scale: f32, input: usize) -> Self {
        let real = (scale * (dst as f32 + 0.5) - 0.5).max(0.0);
        let lo = (real.floor() as usize).min(input - 1);
        let hi = if lo < input - 1 { lo + 1 } else { lo };
        let w_hi = (real - lo as f32).clamp(0.0, 1.0);
        Self { lo, hi, w_lo: 1.0 - w_hi, w_hi }
    }

    /// Output index `dst` read as is (no resize).
    pub(crate) fn identity(dst: usize) -> Self {
        Self { lo: dst, hi: dst, w_lo: 1.0, w_hi: 0.0 }
    }

    /// The tap with both indices moved by `-origin`, for a window starting there.
    pub(crate) fn rebased(self, origin: usize) -> Self {
        Self { lo: self.lo - origin, hi: self.hi - origin, ..self }
    }
}

/// The taps of the output indices `range` of a resize from `input` samples to `output`, or the identity
/// when they are equal.
pub(crate) fn taps(range: std::ops::Range<usize>, input: usize, output: usize, out: &mut Vec<Tap>) {
    out.clear();
    if input == output {
        out.extend(range.map(Tap::identity));
    } else {
        let scale = input as f32 / output as f32;
        out.extend(range.map(|dst| Tap::bilinear(dst, scale, input)));
    }
}

/// The input window `[first, end)` the taps read.
pub(crate) fn window(taps: &[Tap]) -> (usize, usize) {
    match (taps.first(), taps.last()) {
        (Some(first), Some(last)) => (first.lo, last.hi + 1),
        _ => (0, 0),
    }
}

/// Bilinear interpolation of `src` (row-major, `src_cols` wide) at `rows` x `cols` taps (indices within
/// `src`), in PyTorch's order of operations: across each source row first, then between two such rows. The
/// rows across are computed once each into `across` (the taps are monotonic, so each source row is needed
/// by a run of consecutive output rows), which makes the second step a loop over whole rows.
pub(crate) fn interpolate(src: &[f32], src_cols: usize, rows: &[Tap], cols: &[Tap], across: &mut Vec<f32>, out: &mut Vec<f32>) {
    let width = cols.len();
    let (first, end) = window(rows);
    across.clear();
    across.reserve((end - first) * width);
    for row in src.chunks_exact(src_cols).skip(first).take(end - first) {
        across.extend(cols.iter().map(|c| c.w_lo * row[c.lo] + c.w_hi * row[c.hi]));
    }
    out.clear();
    out.reserve(rows.len() * width);
    for r in rows {
        let upper = &across[(r.lo - first) * width..][..width];
        let lower = &across[(r.hi - first) * width..][..width];
        out.extend(upper.iter().zip(lower).map(|(u, l)| r.w_lo * u + r.w_hi * l));
    }
}

/// Python's `round()`: half to even.
pub(crate) fn round(v: f64) -> i64 {
    v.round_ties_even() as i64
}

/// Where the image sits in a letterboxed plane of `plane_h` x `plane_w` made from an `image_h` x `image_w`
/// image, as Ultralytics' `scale_masks` computes it: `(top, left, content_h, content_w)`.
pub(crate) fn content(plane_h: usize, plane_w: usize, image_h: usize, image_w: usize) -> (usize, usize, usize, usize) {
    let gain = f64::min(plane_h as f64 / image_h as f64, plane_w as f64 / image_w as f64);
    let content_h = round(image_h as f64 * gain).max(1);
    let content_w = round(image_w as f64 * gain).max(1);
    let pad_h = (plane_h as f64 - content_h as f64) / 2.0;
    let pad_w = (plane_w as f64 - content_w as f64) / 2.0;
    let top = round(pad_h - 0.1).max(0) as usize;
    let left = round(pad_w - 0.1).max(0) as usize;
    let content_h = (content_h as usize).min(plane_h - top);
    let content_w = (content_w as usize).min(plane_w - left);
    (top, left, content_h, content_w)
}


impl Tap {
    /// PyTorch's `upsample_bilinear2d` (`align_corners=True`) source of output index `dst` for an input of
    /// `input` samples, with `scale` = (input - 1) / (output - 1) in single precision.
    pub(crate) fn aligned(dst: usize, scale: f32, input: usize) -> Self {
        let real = scale * dst as f32;
        let lo = (real.floor() as usize).min(input - 1);
        let hi = if lo < input - 1 { lo + 1 } else { lo };
        let w_hi = (real - lo as f32).clamp(0.0, 1.0);
        Self { lo, hi, w_lo: 1.0 - w_hi, w_hi }
    }

    /// The tap with both indices moved by `offset`, for a window that starts there in a larger plane.
    pub(crate) fn shifted(self, offset: usize) -> Self {
        Self { lo: self.lo + offset, hi: self.hi + offset, ..self }
    }
}

/// The taps of the output indices `range` of an `align_corners=True` resize from `input` samples to
/// `output`, or the identity when they are equal.
pub(crate) fn aligned_taps(range: std::ops::Range<usize>, input: usize, output: usize, out: &mut Vec<Tap>) {
    out.clear();
    if input == output {
        out.extend(range.map(Tap::identity));
    } else {
        let scale = if output > 1 { (input - 1) as f32 / (output - 1) as f32 } else { 0.0 };
        out.extend(range.map(|dst| Tap::aligned(dst, scale, input)));
    }
}

/// PyTorch's `nearest` source of output index `dst` of a resize from `input` samples to `output`:
/// `floor(dst * input / output)` in single precision, at most the last index.
pub(crate) fn nearest(dst: usize, input: usize, output: usize) -> usize {
    if input == output {
        return dst;
    }
    let scale = input as f32 / output as f32;
    ((dst as f32 * scale).floor() as usize).min(input - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_taps_put_the_corners_on_the_corners() {
        // 3 -> 5: sources 0, 0.5, 1, 1.5, 2.
        let mut t = Vec::new();
        aligned_taps(0..5, 3, 5, &mut t);
        assert_eq!((t[0].lo, t[0].w_hi), (0, 0.0));
        assert_eq!((t[1].lo, t[1].hi, t[1].w_hi), (0, 1, 0.5));
        assert_eq!((t[3].lo, t[3].hi, t[3].w_hi), (1, 2, 0.5));
        assert_eq!((t[4].lo, t[4].hi, t[4].w_hi), (2, 2, 0.0));
        // One output sample reads the first input.
        aligned_taps(0..1, 4, 1, &mut t);
        assert_eq!((t[0].lo, t[0].w_hi), (0, 0.0));
    }

    #[test]
    fn nearest_floors_in_single_precision() {
        // 3 -> 7: floor(d * 3/7) = 0 0 0 1 1 2 2.
        assert_eq!((0..7).map(|d| nearest(d, 3, 7)).collect::<Vec<_>>(), [0, 0, 0, 1, 1, 2, 2]);
        // 5 -> 2: floor(d * 2.5) = 0 2.
        assert_eq!((0..2).map(|d| nearest(d, 5, 2)).collect::<Vec<_>>(), [0, 2]);
    }
}
