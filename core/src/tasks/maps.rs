//! Per-pixel tasks: semantic segmentation's class map and depth estimation's depth map, at the image's
//! size, as Ultralytics' `SemanticSegmentationPredictor` and `DepthPredictor` compute them.
//!
//! Semantic segmentation (letterboxed input): class ids (`[H, W]`, an export ending in an ArgMax) are
//! resized to the input by nearest neighbour if they are not at its size, then the letterbox padding is cut
//! off and the rest resized to the image by nearest neighbour (`scale_masks(mode="nearest")`). Logits
//! (`[C, H, W]`) take the same path with bilinear resizes (half-pixel centres), then the class of a pixel
//! is its largest logit (the first of equals), or, for one plane, whether the logit is above 0.
//!
//! Depth (input stretched to the model's size, no padding): the map is resized to the input, then to the
//! image, both bilinear with aligned corners, as the predictor does it.

use super::resample::{aligned_taps, content, interpolate, nearest, taps, Tap};
use super::segment::Sizes;
use crate::error::{try_resize, Error, ErrorKind, Result};
use crate::postprocess::OutputView;
use crate::result::{ClassIds, ClassMap, DepthMap};

/// Buffers reused across calls.
#[derive(Debug, Default)]
pub struct MapScratch {
    rows: Vec<Tap>,
    cols: Vec<Tap>,
    across: Vec<f32>,
    /// A plane at the input's size, or every plane (logits), when the model's grid is not.
    input_plane: Vec<f32>,
    /// One plane at the input's size, resized from the grid.
    plane: Vec<f32>,
    /// Per input pixel, the best and second-best logit so far.
    best: Vec<f32>,
    second: Vec<f32>,
    /// Per input pixel, the class it settles; per input column, the class two input rows settle; per
    /// image column, the class the four input pixels it reads settle, and the columns they do not.
    labels: Vec<u32>,
    pair: Vec<u32>,
    settled_row: Vec<u32>,
    unsettled: Vec<usize>,
    /// The class of each image pixel.
    ids: Vec<u32>,
    /// Per axis, the model-grid index of each image pixel (class ids).
    row_source: Vec<usize>,
    col_source: Vec<usize>,
}

/// The class map of one image from the model's `planes` planes of `output` (`rows` x `cols` each): class
/// ids when `logits` is false, else logits. `class_count` is the number of classes the model names (`None`
/// when it names none): an id at or past it is an inference failure. A one-class model's map has two
/// classes, background (0) and its class (1), as Ultralytics' `> 0` on one plane of logits gives them.
pub fn class_map(
    output: &OutputView<'_>,
    planes: usize,
    logits: bool,
    class_count: Option<usize>,
    sizes: Sizes,
    scratch: &mut MapScratch,
) -> Result<ClassMap> {
    let (image_h, image_w) = sizes.image;
    let pixels = image_h.checked_mul(image_w).ok_or_else(|| Error::out_of_memory("a class map", usize::MAX))?;
    if !logits {
        return id_class_map(output, class_count, sizes, scratch);
    }
    try_resize(&mut scratch.ids, pixels, 0, "a class map")?;
    logit_classes(output, planes, sizes, scratch)?;
    let classes = class_count.unwrap_or(planes).max(if planes == 1 { 2 } else { planes });
    let mut counts = Vec::new();
    try_resize(&mut counts, classes, 0u64, "a class map's counts")?;
    let ids = match id_width(classes) {
        1 => ClassIds::U8(narrowed(&scratch.ids, &mut counts)?),
        2 => ClassIds::U16(narrowed(&scratch.ids, &mut counts)?),
        _ => ClassIds::U32(narrowed(&scratch.ids, &mut counts)?),
    };
    Ok(ClassMap { width: image_w as u32, height: image_h as u32, ids, counts })
}

/// The bytes of a class id for a model of `classes` classes.
fn id_width(classes: usize) -> usize {
    if classes <= 1 << 8 {
        1
    } else if classes <= 1 << 16 {
        2
    } else {
        4
    }
}

/// A class map from class ids: the model's grid checked once (whole numbers below the class count), then
/// the image's rows gathered from it through the two nearest-neighbour resizes (model grid to input, input
/// content to image) composed per axis. Consecutive image rows that read the same grid row are copies, so
/// each distinct row is gathered and counted once.
fn id_class_map(
    output: &OutputView<'_>,
    class_count: Option<usize>,
    sizes: Sizes,
    scratch: &mut MapScratch,
) -> Result<ClassMap> {
    let ((input_h, input_w), (image_h, image_w)) = (sizes.input, sizes.image);
    let grid = &output.data[..output.rows * output.cols];
    let mut most = 0u32;
    for &value in grid {
        // Exact for every id below 2^24, far past any model's class count.
        if !((0.0..16_777_216.0).contains(&value) && value.fract() == 0.0) {
            let message = format!("the model gave {value} where a class id belongs");
            return Err(Error::new(ErrorKind::InferenceFailed, message));
        }
        most = most.max(value as u32);
    }
    // A one-class model's map is background and foreground, 0 and 1, as its logits' `> 0` gives.
    let classes = match class_count.map(|count| count.max(2)) {
        Some(count) if most as usize >= count => {
            return Err(Error::new(
                ErrorKind::InferenceFailed,
                format!("the model gave class {most}, past the {count} classes it names"),
            ))
        }
        Some(count) => count,
        None => (most as usize + 1).max(2),
    };
    let (top, left, content_h, content_w) = crop(sizes);
    let source = |out: &mut Vec<usize>, image: usize, content: usize, offset: usize, input: usize, grid: usize| {
        out.clear();
        out.extend((0..image).map(|i| nearest(nearest(i, content, image) + offset, grid, input)));
    };
    source(&mut scratch.row_source, image_h, content_h, top, input_h, output.rows);
    source(&mut scratch.col_source, image_w, content_w, left, input_w, output.cols);
    let mut counts = Vec::new();
    try_resize(&mut counts, classes, 0u64, "a class map's counts")?;
    let gather = GatherIds { grid, grid_cols: output.cols, rows: &scratch.row_source, cols: &scratch.col_source };
    let ids = match id_width(classes) {
        1 => ClassIds::U8(gather.ids(&mut counts)?),
        2 => ClassIds::U16(gather.ids(&mut counts)?),
        _ => ClassIds::U32(gather.ids(&mut counts)?),
    };
    Ok(ClassMap { width: image_w as u32, height: image_h as u32, ids, counts })
}

/// The grid of checked class ids and, per image row and column, the grid row and column it reads.
struct GatherIds<'a> {
    grid: &'a [f32],
    grid_cols: usize,
    rows: &'a [usize],
    cols: &'a [usize],
}

impl GatherIds<'_> {
    /// The image's ids in `T` (each fits: the grid was checked against the class count that chose `T`),
    /// counted into `counts`.
    fn ids<T: Copy + Default + TryFrom<u32> + Into<u32>>(&self, counts: &mut [u64]) -> Result<Vec<T>> {
        let (height, width) = (self.rows.len(), self.cols.len());
        let mut out: Vec<T> = Vec::new();
        out.try_reserve_exact(height * width)
            .map_err(|_| Error::out_of_memory("a class map", height * width * std::mem::size_of::<T>()))?;
        // The grid in `T` first: it is smaller than the image, and each of its values is read many times.
        let mut grid: Vec<T> = Vec::new();
        grid.try_reserve_exact(self.grid.len())
            .map_err(|_| Error::out_of_memory("a class map", self.grid.len() * std::mem::size_of::<T>()))?;
        grid.extend(self.grid.iter().map(|&v| T::try_from(v as u32).unwrap_or_default()));
        let mut y = 0;
        while y < height {
            let grid_row = &grid[self.rows[y] * self.grid_cols..][..self.grid_cols];
            let repeats = self.rows[y..].iter().take_while(|&&r| r == self.rows[y]).count();
            let start = out.len();
            out.extend(self.cols.iter().map(|&c| grid_row[c]));
            for &id in &out[start..] {
                counts[id.into() as usize] += repeats as u64;
            }
            for _ in 1..repeats {
                out.extend_from_within(start..start + width);
            }
            y += repeats;
        }
        Ok(out)
    }
}

/// The ids in the type the map hands out (each fits: they are below the class count that chose it),
/// counted into `counts` on the way.
fn narrowed<T: TryFrom<u32> + Clone + Default>(ids: &[u32], counts: &mut [u64]) -> Result<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(ids.len())
        .map_err(|_| Error::out_of_memory("a class map", ids.len() * std::mem::size_of::<T>()))?;
    // Counted by runs: neighbours mostly share a class, and one increment per pixel would wait on the last.
    for run in ids.chunk_by(|a, b| a == b) {
        counts[run[0] as usize] += run.len() as u64;
    }
    out.extend(ids.iter().map(|&id| T::try_from(id).unwrap_or_default()));
    Ok(out)
}

/// Where the image sits in the input: `(top, left, height, width)` of the content (the whole input when
/// it is the image's size, which `scale_masks` returns unchanged).
fn crop(sizes: Sizes) -> (usize, usize, usize, usize) {
    let ((input_h, input_w), (image_h, image_w)) = (sizes.input, sizes.image);
    if sizes.input == sizes.image {
        (0, 0, input_h, input_w)
    } else {
        content(input_h, input_w, image_h, image_w)
    }
}

/// Room for `len` values in `buf` without an infallible allocation later (`interpolate` reserves).
fn room(buf: &mut Vec<f32>, len: usize, what: &str) -> Result<()> {
    buf.clear();
    buf.try_reserve_exact(len).map_err(|_| Error::out_of_memory(what, len.saturating_mul(4)))
}

/// No label: the pixel's class is not settled by its input pixels' (`decide`).
const UNSETTLED: u32 = u32::MAX;

/// The class of each image pixel from logits into `scratch.ids`: each plane resized to the input if it is
/// not at its size, its content resized to the image (bilinear, half-pixel centres), then the largest (the
/// first of equals; a NaN never wins), or, for one plane, whether it is above 0.
///
/// Bilinear weights are non-negative and the same for every plane, so where one class leads at all four
/// input pixels an image pixel reads, it leads at the image pixel too. The lead is trusted only where it
/// exceeds the rounding of the float interpolation many times over (`settled_margin`), so that those
/// pixels get the class the full computation would give; every other pixel is interpolated plane by plane
/// in PyTorch's order of operations (`pixel_class`). Most pixels are inside a region and cost a lookup.
fn logit_classes(output: &OutputView<'_>, planes: usize, sizes: Sizes, scratch: &mut MapScratch) -> Result<()> {
    let ((input_h, input_w), (image_h, image_w)) = (sizes.input, sizes.image);
    let (grid_h, grid_w) = (output.rows, output.cols);
    let (top, left, content_h, content_w) = crop(sizes);
    let MapScratch {
        rows, cols, across, input_plane, plane: resized, best, second, labels, pair, settled_row, unsettled, ids, ..
    } = scratch;
    // The logits at the input's size, plane after plane.
    let input_len = input_h * input_w;
    let source: &[f32] = if (grid_h, grid_w) == (input_h, input_w) {
        &output.data[..planes * input_len]
    } else {
        room(input_plane, planes * input_len, "a class map")?;
        taps(0..input_h, grid_h, input_h, rows);
        taps(0..input_w, grid_w, input_w, cols);
        for plane in output.data.chunks_exact(grid_h * grid_w).take(planes) {
            interpolate(plane, grid_w, rows, cols, across, resized);
            input_plane.extend_from_slice(resized);
        }
        input_plane
    };
    // The class each input pixel settles, and per pair of input rows the class both settle.
    try_resize(labels, input_len, UNSETTLED, "a class map")?;
    if planes > 1 {
        try_resize(best, input_len, f32::NEG_INFINITY, "a class map")?;
        try_resize(second, input_len, f32::NEG_INFINITY, "a class map")?;
    }
    decide(source, planes, labels, best, second);
    try_resize(pair, input_w, UNSETTLED, "a class map")?;
    try_resize(settled_row, image_w, UNSETTLED, "a class map")?;
    // The image's taps into the input.
    taps(0..image_h, content_h, image_h, rows);
    taps(0..image_w, content_w, image_w, cols);
    rows.iter_mut().for_each(|t| *t = t.shifted(top));
    cols.iter_mut().for_each(|t| *t = t.shifted(left));
    // Consecutive image rows read the same two input rows: what those settle is found once per pair, and
    // each image row is that, with its unsettled pixels computed in full.
    let mut pair_rows = None;
    for (r, out) in rows.iter().zip(ids.chunks_exact_mut(image_w)) {
        if pair_rows != Some((r.lo, r.hi)) {
            pair_rows = Some((r.lo, r.hi));
            let (upper, lower) = (&labels[r.lo * input_w..][..input_w], &labels[r.hi * input_w..][..input_w]);
            for ((both, &u), &l) in pair.iter_mut().zip(upper).zip(lower) {
                *both = if u == l { u } else { UNSETTLED };
            }
            unsettled.clear();
            for (x, (settled, c)) in settled_row.iter_mut().zip(cols.iter()).enumerate() {
                let (a, b) = (pair[c.lo], pair[c.hi]);
                *settled = if a == b { a } else { UNSETTLED };
                if *settled == UNSETTLED {
                    unsettled.push(x);
                }
            }
        }
        out.copy_from_slice(settled_row);
        for &x in unsettled.iter() {
            out[x] = pixel_class(source, planes, input_len, input_w, r, &cols[x]);
        }
    }
    Ok(())
}

/// How far the leading logit of an input pixel must be above every other (or, for one plane, from 0)
/// for the image pixels it feeds to be settled: 2^-16 of the largest finite logit. An interpolated
/// value's rounding error is a few units in the last place of that largest magnitude (under 2^-21 of it),
/// so a lead of this size cannot be reversed by rounding.
fn settled_margin(source: &[f32]) -> f32 {
    let largest = source.iter().filter(|v| v.is_finite()).fold(0.0f32, |m, v| m.max(v.abs()));
    (largest * (1.0 / 65536.0)).max(f32::MIN_POSITIVE)
}

/// Into `labels`, per input pixel, the class whose logit leads every other by the settled margin, or
/// `UNSETTLED` (a NaN, an infinity, or a lead too small). One plane: 1 above the margin, 0 below its
/// negative. `best` and `second` (as long as `labels`, several planes only) are working space.
fn decide(source: &[f32], planes: usize, labels: &mut [u32], best: &mut [f32], second: &mut [f32]) {
    let margin = settled_margin(source);
    let len = labels.len();
    if planes == 1 {
        for (label, &v) in labels.iter_mut().zip(&source[..len]) {
            *label = if v > margin && v.is_finite() {
                1
            } else if v < -margin && v.is_finite() {
                0
            } else {
                UNSETTLED
            };
        }
        return;
    }
    // Plane by plane over all pixels (the planes are contiguous): the best and second-best so far.
    best.fill(f32::NEG_INFINITY);
    second.fill(f32::NEG_INFINITY);
    labels.fill(0);
    for (class, plane) in source.chunks_exact(len).take(planes).enumerate() {
        for (((label, best), second), &v) in labels.iter_mut().zip(best.iter_mut()).zip(second.iter_mut()).zip(plane) {
            if !v.is_finite() {
                *label = UNSETTLED;
            } else if v > *best {
                *second = *best;
                *best = v;
                if *label != UNSETTLED {
                    *label = class as u32;
                }
            } else if v > *second {
                *second = v;
            }
        }
    }
    for ((label, &best), &second) in labels.iter_mut().zip(best.iter()).zip(second.iter()) {
        if best - second <= margin {
            *label = UNSETTLED;
        }
    }
}

/// One image pixel's class, each plane interpolated as `interpolate` does it (across the two input rows,
/// then between them), the first of equal logits winning and a NaN never winning.
fn pixel_class(source: &[f32], planes: usize, plane_len: usize, width: usize, r: &Tap, c: &Tap) -> u32 {
    let value = |plane: &[f32]| {
        let (upper, lower) = (&plane[r.lo * width..][..width], &plane[r.hi * width..][..width]);
        let u = c.w_lo * upper[c.lo] + c.w_hi * upper[c.hi];
        let l = c.w_lo * lower[c.lo] + c.w_hi * lower[c.hi];
        r.w_lo * u + r.w_hi * l
    };
    let mut planes_iter = source.chunks_exact(plane_len).take(planes);
    let first = value(planes_iter.next().expect("a class map has a plane"));
    if planes == 1 {
        return u32::from(first > 0.0);
    }
    let (mut best, mut class) = (if first.is_nan() { f32::NEG_INFINITY } else { first }, 0);
    for (index, plane) in planes_iter.enumerate() {
        let v = value(plane);
        if v > best {
            best = v;
            class = index as u32 + 1;
        }
    }
    class
}

/// The depth map of one image from the model's one plane of `output`: resized to the input if it is not at
/// its size, then to the image (bilinear, aligned corners; the input is the image stretched, no padding).
pub fn depth_map(output: &OutputView<'_>, sizes: Sizes, scratch: &mut MapScratch) -> Result<DepthMap> {
    let ((input_h, input_w), (image_h, image_w)) = (sizes.input, sizes.image);
    let (grid_h, grid_w) = (output.rows, output.cols);
    let MapScratch { rows, cols, across, input_plane, .. } = scratch;
    let plane = &output.data[..grid_h * grid_w];
    let source: &[f32] = if (grid_h, grid_w) == (input_h, input_w) {
        plane
    } else {
        room(input_plane, input_h * input_w, "a depth map")?;
        aligned_taps(0..input_h, grid_h, input_h, rows);
        aligned_taps(0..input_w, grid_w, input_w, cols);
        interpolate(plane, grid_w, rows, cols, across, input_plane);
        input_plane
    };
    aligned_taps(0..image_h, input_h, image_h, rows);
    aligned_taps(0..image_w, input_w, image_w, cols);
    let pixels = image_h.checked_mul(image_w).ok_or_else(|| Error::out_of_memory("a depth map", usize::MAX))?;
    let mut values = Vec::new();
    room(&mut values, pixels, "a depth map")?;
    interpolate(source, input_w, rows, cols, across, &mut values);
    Ok(DepthMap { width: image_w as u32, height: image_h as u32, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class map computed the long way: every plane resized to the image in full, then compared
    /// pixel by pixel (the first of equals wins, a NaN never does; one plane: above 0).
    fn plane_by_plane(output: &OutputView<'_>, planes: usize, sizes: Sizes) -> Vec<u32> {
        let ((input_h, input_w), (image_h, image_w)) = (sizes.input, sizes.image);
        let (top, left, content_h, content_w) = crop(sizes);
        let (mut rows, mut cols, mut across) = (Vec::new(), Vec::new(), Vec::new());
        let (mut image_rows, mut image_cols) = (Vec::new(), Vec::new());
        taps(0..image_h, content_h, image_h, &mut image_rows);
        taps(0..image_w, content_w, image_w, &mut image_cols);
        image_rows.iter_mut().for_each(|t| *t = t.shifted(top));
        image_cols.iter_mut().for_each(|t| *t = t.shifted(left));
        let mut best = vec![f32::NEG_INFINITY; image_h * image_w];
        let mut ids = vec![0u32; image_h * image_w];
        let (mut input_plane, mut image_plane) = (Vec::new(), Vec::new());
        for (class, plane) in output.data.chunks_exact(output.rows * output.cols).take(planes).enumerate() {
            let source: &[f32] = if (output.rows, output.cols) == (input_h, input_w) {
                plane
            } else {
                taps(0..input_h, output.rows, input_h, &mut rows);
                taps(0..input_w, output.cols, input_w, &mut cols);
                interpolate(plane, output.cols, &rows, &cols, &mut across, &mut input_plane);
                &input_plane
            };
            interpolate(source, input_w, &image_rows, &image_cols, &mut across, &mut image_plane);
            for ((id, best), &v) in ids.iter_mut().zip(&mut best).zip(&image_plane) {
                if planes == 1 {
                    *id = u32::from(v > 0.0);
                } else if class == 0 {
                    *best = if v.is_nan() { f32::NEG_INFINITY } else { v };
                } else if v > *best {
                    *best = v;
                    *id = class as u32;
                }
            }
        }
        ids
    }

    /// A small deterministic generator (xorshift).
    struct Numbers(u64);

    impl Numbers {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn settled_pixels_get_the_class_the_full_computation_gives() {
        let mut numbers = Numbers(0x9e37_79b9_7f4a_7c15);
        let mut compared = 0usize;
        for case in 0..300 {
            let planes = 1 + numbers.below(5) as usize;
            let (grid_h, grid_w) = (1 + numbers.below(12) as usize, 1 + numbers.below(12) as usize);
            let (input_h, input_w) = if case % 3 == 0 { (grid_h, grid_w) } else { (grid_h * 4, grid_w * 4) };
            let (image_h, image_w) = (1 + numbers.below(90) as usize, 1 + numbers.below(90) as usize);
            // Logits from a few levels, so that equal and nearly equal values are common; a few NaNs and
            // infinities; or, one case in four, all within a few units in the last place.
            let ulps = case % 4 == 1;
            let data: Vec<f32> = (0..planes * grid_h * grid_w)
                .map(|i| match numbers.below(100) {
                    // Large logits a few units in the last place apart, where rounding decides.
                    _ if ulps => 1000.0 + numbers.below(8) as f32 * 6.103_515_6e-5,
                    0 if case % 5 == 0 => f32::NAN,
                    1 if case % 7 == 0 => f32::INFINITY,
                    2 if case % 7 == 0 => f32::NEG_INFINITY,
                    3..=40 => (numbers.below(5) as f32 - 2.0) * 0.5,
                    41..=60 => (i % 7) as f32 * 1e-6,
                    _ => (numbers.below(20_000) as f32 - 10_000.0) / 997.0,
                })
                .collect();
            let output = OutputView { data: &data, rows: grid_h, cols: grid_w };
            let sizes = Sizes { input: (input_h, input_w), image: (image_h, image_w) };
            let expected = plane_by_plane(&output, planes, sizes);
            let mut scratch = MapScratch::default();
            scratch.ids.resize(image_h * image_w, 0);
            logit_classes(&output, planes, sizes, &mut scratch).unwrap();
            assert_eq!(scratch.ids, expected, "case {case}: {planes} planes, grid {grid_h}x{grid_w}, input {input_h}x{input_w}, image {image_h}x{image_w}");
            compared += expected.len();
        }
        assert!(compared > 100_000);
    }
}
