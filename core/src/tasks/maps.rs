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
    /// A plane at the input's size, when the model's grid is not.
    input_plane: Vec<f32>,
    /// A plane at the image's size.
    image_plane: Vec<f32>,
    /// The best logit of each image pixel so far.
    best: Vec<f32>,
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
    out.extend(ids.iter().map(|&id| {
        counts[id as usize] += 1;
        T::try_from(id).unwrap_or_default()
    }));
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

/// The class of each image pixel from logits into `scratch.ids`: each plane resized to the input if it is
/// not at its size, its content resized to the image (bilinear, half-pixel centres), then the largest.
fn logit_classes(output: &OutputView<'_>, planes: usize, sizes: Sizes, scratch: &mut MapScratch) -> Result<()> {
    let ((input_h, input_w), (image_h, image_w)) = (sizes.input, sizes.image);
    let (grid_h, grid_w) = (output.rows, output.cols);
    let (top, left, content_h, content_w) = crop(sizes);
    let MapScratch { rows, cols, across, input_plane, image_plane, best, ids, .. } = scratch;
    // The image's taps into the input, the same for every plane.
    let (mut image_rows, mut image_cols) = (Vec::new(), Vec::new());
    taps(0..image_h, content_h, image_h, &mut image_rows);
    taps(0..image_w, content_w, image_w, &mut image_cols);
    image_rows.iter_mut().for_each(|t| *t = t.shifted(top));
    image_cols.iter_mut().for_each(|t| *t = t.shifted(left));
    room(best, image_h * image_w, "a class map")?;
    room(image_plane, image_h * image_w, "a class map")?;
    ids.fill(0);
    for (plane_index, plane) in output.data.chunks_exact(grid_h * grid_w).take(planes).enumerate() {
        let source: &[f32] = if (grid_h, grid_w) == (input_h, input_w) {
            plane
        } else {
            room(input_plane, input_h * input_w, "a class map")?;
            taps(0..input_h, grid_h, input_h, rows);
            taps(0..input_w, grid_w, input_w, cols);
            interpolate(plane, grid_w, rows, cols, across, input_plane);
            input_plane
        };
        if plane_index == 0 {
            // The first plane is the best so far everywhere (class 0), but where it is NaN.
            interpolate(source, input_w, &image_rows, &image_cols, across, best);
            if planes == 1 {
                for (id, &v) in ids.iter_mut().zip(best.iter()) {
                    *id = u32::from(v > 0.0);
                }
            } else {
                best.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = f32::NEG_INFINITY);
            }
            continue;
        }
        interpolate(source, input_w, &image_rows, &image_cols, across, image_plane);
        // The first of equal logits wins, as PyTorch's CPU `max(0)` picks it; a NaN never wins.
        let class = plane_index as u32;
        for ((id, best), &v) in ids.iter_mut().zip(best.iter_mut()).zip(image_plane.iter()) {
            if v > *best {
                *best = v;
                *id = class;
            }
        }
    }
    Ok(())
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
