//! Ultralytics' `LetterBox` and input normalisation, reproduced exactly.
//!
//! The resize reproduces OpenCV's `INTER_LINEAR` for 8-bit images bit for bit: half-pixel centres, 11-bit
//! fixed-point weights, and the rounding of OpenCV's vectorised vertical pass. Matching it is what makes the
//! model see the same pixels as under Ultralytics, and so give the same scores.

use half::f16;

use crate::image_input::PixelView;

/// The grey Ultralytics pads with.
pub const PAD_VALUE: u8 = 114;

/// Where the resized image sits inside the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LetterboxGeometry {
    /// Model input width (resized image plus padding).
    pub input_width: usize,
    /// Model input height.
    pub input_height: usize,
    /// Width of the resized image.
    pub resized_width: usize,
    /// Height of the resized image.
    pub resized_height: usize,
    /// Padding columns on the left.
    pub left: usize,
    /// Padding rows on the top.
    pub top: usize,
}

impl LetterboxGeometry {
    /// Computes Ultralytics' letterbox of a `src_width` x `src_height` image into `target_height` x
    /// `target_width`. With `minimal_rect_stride`, the padding is reduced modulo the stride, which is what
    /// Ultralytics does for dynamic-shape models (`auto=True`).
    pub fn new(
        src_width: usize,
        src_height: usize,
        target_height: usize,
        target_width: usize,
        minimal_rect_stride: Option<usize>,
    ) -> Self {
        let r = f64::min(target_height as f64 / src_height as f64, target_width as f64 / src_width as f64);
        let resized_width = ((src_width as f64 * r).round_ties_even() as usize).max(1);
        let resized_height = ((src_height as f64 * r).round_ties_even() as usize).max(1);
        let mut dw = target_width.saturating_sub(resized_width);
        let mut dh = target_height.saturating_sub(resized_height);
        if let Some(stride) = minimal_rect_stride.filter(|&s| s > 0) {
            dw %= stride;
            dh %= stride;
        }
        let (half_w, half_h) = (dw as f64 / 2.0, dh as f64 / 2.0);
        let split = |half: f64| ((half - 0.1).round_ties_even() as usize, (half + 0.1).round_ties_even() as usize);
        let (left, right) = split(half_w);
        let (top, bottom) = split(half_h);
        Self {
            input_width: resized_width + left + right,
            input_height: resized_height + top + bottom,
            resized_width,
            resized_height,
            left,
            top,
        }
    }
}

impl LetterboxGeometry {
    /// The image stretched to fill `target_height` x `target_width`, with no padding: Ultralytics'
    /// `LetterBox(scale_fill=True)`, which its depth predictor uses.
    pub fn stretched(target_height: usize, target_width: usize) -> Self {
        Self {
            input_width: target_width,
            input_height: target_height,
            resized_width: target_width,
            resized_height: target_height,
            left: 0,
            top: 0,
        }
    }
}

/// An element type the model input can have.
pub trait InputElement: Copy + Default + Send + 'static {
    /// The normalised value `v / 255`, computed as Ultralytics does for this precision.
    fn from_u8(v: u8) -> Self;

    /// Normalises a row: `dst[i] = from_u8(src[i])`, where `lut[v]` holds `from_u8(v)`.
    #[inline(always)]
    fn normalise_row(src: &[u8], dst: &mut [Self], lut: &[Self; 256]) {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = lut[usize::from(v)];
        }
    }
}

impl InputElement for f32 {
    fn from_u8(v: u8) -> Self {
        f32::from(v) / 255.0
    }

    // Computed rather than looked up: the division vectorises, a table lookup does not.
    #[inline(always)]
    fn normalise_row(src: &[u8], dst: &mut [Self], _lut: &[Self; 256]) {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = Self::from_u8(v);
        }
    }
}

impl InputElement for f16 {
    fn from_u8(v: u8) -> Self {
        f16::from_f32(f32::from(v) / 255.0)
    }
}

const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;

/// Source index pair and fixed-point weights for one output coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    first: usize,
    second: usize,
    w_first: i32,
    w_second: i32,
}

/// OpenCV's `INTER_LINEAR` taps for resizing `src` samples to `dst` samples.
fn linear_taps(src: usize, dst: usize, taps: &mut Vec<Tap>) {
    taps.clear();
    // OpenCV derives the scale from the inverse ratio, in double precision, then works in single precision.
    let scale = 1.0 / (dst as f64 / src as f64);
    for d in 0..dst {
        let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
        let mut s = f.floor() as isize;
        f -= s as f32;
        if s < 0 {
            s = 0;
            f = 0.0;
        }
        if s as usize >= src - 1 {
            s = src as isize - 1;
            f = 0.0;
        }
        let s = s as usize;
        taps.push(Tap {
            first: s,
            second: (s + 1).min(src - 1),
            w_first: ((1.0 - f) * COEF_SCALE).round_ties_even() as i32,
            w_second: (f * COEF_SCALE).round_ties_even() as i32,
        });
    }
}

/// Buffers reused from call to call, so that steady-state preprocessing allocates nothing.
///
/// A scratch made [`with_threads`](LetterboxScratch::with_threads)`(n)` letterboxes a large image in `n`
/// horizontal bands at once, on scoped threads started for the call: a session with `n` intra-op threads
/// leaves those cores idle while its input is prepared. Threads started per call, rather than kept, leave
/// nothing behind that a `fork()` could break. The bands give exactly the single-threaded result.
#[derive(Debug)]
pub struct LetterboxScratch {
    /// Source width, height and bytes per pixel, and resized width and height, the taps were made for.
    key: Option<(usize, usize, usize, usize, usize)>,
    x_taps: Vec<Tap>,
    /// `x_taps` as the AVX2 horizontal pass reads them.
    x_gather: GatherTaps,
    y_taps: Vec<Tap>,
    /// One per band, at least one.
    bands: Vec<BandScratch>,
}

impl Default for LetterboxScratch {
    fn default() -> Self {
        Self::with_threads(1)
    }
}

/// Below this many resized pixels per band, starting a thread costs more than the band saves.
const MIN_BAND_PIXELS: usize = 32 * 1024;

impl LetterboxScratch {
    /// A scratch that uses up to `threads` threads (the caller's included) per image; 0 counts as 1.
    pub fn with_threads(threads: usize) -> Self {
        Self {
            key: None,
            x_taps: Vec::new(),
            x_gather: GatherTaps::default(),
            y_taps: Vec::new(),
            bands: (0..threads.max(1)).map(|_| BandScratch::default()).collect(),
        }
    }

    fn prepare(&mut self, view: &PixelView<'_>, geometry: &LetterboxGeometry) {
        let bpp = view.format().bytes_per_pixel();
        let key = (view.width(), view.height(), bpp, geometry.resized_width, geometry.resized_height);
        if self.key != Some(key) {
            linear_taps(view.width(), geometry.resized_width, &mut self.x_taps);
            linear_taps(view.height(), geometry.resized_height, &mut self.y_taps);
            self.x_gather.prepare(&self.x_taps, bpp, view.width());
            self.key = Some(key);
        }
        for band in &mut self.bands {
            band.prepare(geometry.resized_width);
        }
    }
}

/// The buffers of one band of rows.
#[derive(Debug, Default)]
struct BandScratch {
    /// Two horizontally resampled rows, one plane per channel, already divided by 16 as OpenCV's vertical
    /// pass divides them: what is left fits 16 bits, which lets the vertical pass run 8 lanes wide.
    rows: [Vec<i16>; 2],
    row_source: [Option<usize>; 2],
    /// One resized output row of one channel, before normalisation.
    blended: Vec<u8>,
}

impl BandScratch {
    fn prepare(&mut self, resized_width: usize) {
        for row in &mut self.rows {
            row.resize(resized_width * 3, 0);
        }
        self.blended.resize(resized_width, 0);
        self.row_source = [None, None];
    }

    /// Horizontally resamples source row `y` into one of the two row buffers and returns its slot. `AVX2`:
    /// the caller runs with AVX2 enabled, checked at run time ([`resample_band`]).
    #[inline(always)]
    fn horizontal_row<const AVX2: bool>(&mut self, source: &BandSource<'_>, y: usize) -> usize {
        if let Some(slot) = self.row_source.iter().position(|&s| s == Some(y)) {
            return slot;
        }
        // Evict the buffer holding the older row; rows are visited in increasing order.
        let slot = match self.row_source {
            [None, _] => 0,
            [_, None] => 1,
            [Some(a), Some(b)] => usize::from(b < a),
        };
        let (view, x_taps) = (&source.view, source.x_taps);
        let src = view.row(y);
        let offsets = view.format().rgb_offsets();
        let (red, rest) = self.rows[slot].split_at_mut(x_taps.len());
        let (green, blue) = rest.split_at_mut(x_taps.len());
        let planes = [red, green, blue];
        // One copy of the loop per pixel size, so that the compiler sees constant offsets.
        match view.format().bytes_per_pixel() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 is only set by `resample_band_avx2`, which runs once the CPU is known to have it.
            3 if AVX2 => unsafe { resample_pixels_avx2::<3>(x_taps, source.x_gather, src, offsets, planes) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            4 if AVX2 => unsafe { resample_pixels_avx2::<4>(x_taps, source.x_gather, src, offsets, planes) },
            1 => resample_pixels::<1>(x_taps, src, offsets, planes),
            2 => resample_pixels::<2>(x_taps, src, offsets, planes),
            3 => resample_pixels::<3>(x_taps, src, offsets, planes),
            _ => resample_pixels::<4>(x_taps, src, offsets, planes),
        }
        self.row_source[slot] = Some(y);
        slot
    }
}

/// The horizontal taps laid out for the AVX2 pass: byte offsets of both source pixels, and both weights in
/// one 32-bit word (first in the low half), which is what `pmaddwd` multiplies pairwise.
#[derive(Debug, Default)]
struct GatherTaps {
    first: Vec<i32>,
    second: Vec<i32>,
    /// Each of the three holds as many values as the leading taps the AVX2 pass takes, a multiple of 8:
    /// those whose 4-byte loads stay inside a row. The rest go through [`resample_pixels`]. None for pixels
    /// other than 3 or 4 bytes.
    weights: Vec<i32>,
    /// The row length in bytes that the offsets were kept inside of.
    row_bytes: usize,
}

impl GatherTaps {
    fn prepare(&mut self, taps: &[Tap], bpp: usize, src_width: usize) {
        self.first.clear();
        self.second.clear();
        self.weights.clear();
        let row_bytes = src_width * bpp;
        self.row_bytes = row_bytes;
        if !matches!(bpp, 3 | 4) || i32::try_from(row_bytes).is_err() {
            return;
        }
        // Taps never decrease, so the pixels whose loads fit the row are a prefix.
        let fits = taps.iter().take_while(|t| t.first.max(t.second) * bpp + 4 <= row_bytes).count();
        for tap in &taps[..fits / 8 * 8] {
            // In range: both are below `row_bytes`, which fits an i32; the weights are at most 2048.
            self.first.push((tap.first * bpp) as i32);
            self.second.push((tap.second * bpp) as i32);
            self.weights.push((tap.w_second << 16) | tap.w_first);
        }
    }
}

/// The horizontal pass for the pixels of `taps` (`BPP`-byte source pixels), into one slice per channel (red,
/// green, blue), divided by 16 as [`blend_vertical`] expects.
#[inline(always)]
fn resample_pixels<const BPP: usize>(taps: &[Tap], src: &[u8], offsets: [usize; 3], planes: [&mut [i16]; 3]) {
    let [red, green, blue] = planes;
    for (((tap, r), g), b) in taps.iter().zip(red).zip(green).zip(blue) {
        let first: &[u8; BPP] = src[tap.first * BPP..][..BPP].try_into().expect("BPP bytes");
        let second: &[u8; BPP] = src[tap.second * BPP..][..BPP].try_into().expect("BPP bytes");
        // At most 255 * 2048 >> 4 = 32640, so the value fits an i16.
        let sample = |offset: usize| {
            ((i32::from(first[offset]) * tap.w_first + i32::from(second[offset]) * tap.w_second) >> 4) as i16
        };
        (*r, *g, *b) = (sample(offsets[0]), sample(offsets[1]), sample(offsets[2]));
    }
}

/// [`resample_pixels`] for 3- and 4-byte pixels with AVX2: eight output pixels at a time, each source
/// pixel read as one 32-bit word by a gather, each channel's two samples weighted by one `pmaddwd`. The same
/// integer arithmetic, so the same values; the pixels past `gather`'s taps take the scalar loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn resample_pixels_avx2<const BPP: usize>(
    taps: &[Tap],
    gather: &GatherTaps,
    src: &[u8],
    offsets: [usize; 3],
    planes: [&mut [i16]; 3],
) {
    use std::arch::x86_64::*;
    let vector_len = gather.first.len();
    // The gathers read 4 bytes at each offset; `GatherTaps::prepare` kept those inside a row of this width.
    assert!(vector_len <= taps.len() && planes.iter().all(|p| p.len() == taps.len()));
    assert!(src.len() >= gather.row_bytes);
    // Per channel, pshufb masks that move its byte of each 32-bit word to bits 0-7 (first pixel) or 16-23
    // (second pixel), zeroing the rest, so that the two OR into the i16 pair `pmaddwd` wants.
    let mask = |offset: usize, shift: usize| {
        let mut bytes = [-128i8; 32];
        for lane in 0..8 {
            bytes[lane * 4 + shift] = ((lane % 4) * 4 + offset) as i8;
        }
        // SAFETY: 32 readable bytes; unaligned loads are allowed.
        unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
    };
    let first_masks = offsets.map(|o| mask(o, 0));
    let second_masks = offsets.map(|o| mask(o, 2));
    for j in (0..vector_len).step_by(8) {
        // SAFETY: `first`, `second` and `weights` hold `vector_len` values, a multiple of 8 (`prepare`),
        // so 8 are readable from `j`. Each offset plus 4 is within `src` (a row of the width `prepare` saw,
        // at least `first.max(second) * BPP + 4` bytes long), so every gathered word is inside `src`. The
        // stores write 8 i16 at `j`, below the taps' count, the length of each plane (asserted above).
        unsafe {
            let first_offsets = _mm256_loadu_si256(gather.first.as_ptr().add(j).cast());
            let second_offsets = _mm256_loadu_si256(gather.second.as_ptr().add(j).cast());
            let weights = _mm256_loadu_si256(gather.weights.as_ptr().add(j).cast());
            let first = _mm256_i32gather_epi32::<1>(src.as_ptr().cast(), first_offsets);
            let second = _mm256_i32gather_epi32::<1>(src.as_ptr().cast(), second_offsets);
            for c in 0..3 {
                let pairs = _mm256_or_si256(
                    _mm256_shuffle_epi8(first, first_masks[c]),
                    _mm256_shuffle_epi8(second, second_masks[c]),
                );
                let sums = _mm256_srai_epi32::<4>(_mm256_madd_epi16(pairs, weights));
                // packs works per 128-bit lane; the permute puts the eight results in order.
                let packed = _mm256_permute4x64_epi64::<0b1000>(_mm256_packs_epi32(sums, sums));
                _mm_storeu_si128(planes[c].as_mut_ptr().add(j).cast(), _mm256_castsi256_si128(packed));
            }
        }
    }
    let [red, green, blue] = planes;
    resample_pixels::<BPP>(
        &taps[vector_len..],
        src,
        offsets,
        [&mut red[vector_len..], &mut green[vector_len..], &mut blue[vector_len..]],
    );
}

/// OpenCV's vectorised vertical blend of two horizontally resampled rows (already divided by 16):
/// multiplied keeping the high 16 bits, summed, then rounded by 2 bits.
#[inline(always)]
fn blend_vertical(top: i16, bottom: i16, w_top: i16, w_bottom: i16) -> u8 {
    let high = |v: i16, w: i16| ((i32::from(v) * i32::from(w)) >> 16) as i16;
    let v = high(top, w_top).wrapping_add(high(bottom, w_bottom));
    ((v.wrapping_add(2)) >> 2).clamp(0, 255) as u8
}

/// Letterboxes `view` into `out`, a planar RGB tensor of `geometry.input_height` x `geometry.input_width`,
/// normalised to `[0, 1]`. `out` is resized as needed and reused across calls. For the benches, which time
/// the stage on its own.
#[cfg(any(test, feature = "internals"))]
pub fn letterbox_into<T: InputElement>(
    view: &PixelView<'_>,
    geometry: &LetterboxGeometry,
    scratch: &mut LetterboxScratch,
    out: &mut Vec<T>,
) {
    out.resize(3 * geometry.input_width * geometry.input_height, T::from_u8(PAD_VALUE));
    letterbox_into_slice(view, geometry, scratch, out);
}

/// [`letterbox_into`] for one image of a batch: `out` is exactly that image's `3 x height x width` values.
pub fn letterbox_into_slice<T: InputElement>(
    view: &PixelView<'_>,
    geometry: &LetterboxGeometry,
    scratch: &mut LetterboxScratch,
    out: &mut [T],
) {
    let (in_w, in_h) = (geometry.input_width, geometry.input_height);
    let plane = in_w * in_h;
    assert_eq!(out.len(), 3 * plane, "the output must hold exactly one letterboxed image");
    fill_padding(out, geometry, T::from_u8(PAD_VALUE));
    let (rw, rh) = (geometry.resized_width, geometry.resized_height);
    let resize = view.width() != rw || view.height() != rh;
    if resize {
        scratch.prepare(view, geometry);
    }
    let bands = band_count(scratch.bands.len(), rw, rh);
    // The rows of the resized image in each plane, handed out band by band.
    let (red, rest) = out.split_at_mut(plane);
    let (green, blue) = rest.split_at_mut(plane);
    let image_rows = geometry.top * in_w..(geometry.top + rh) * in_w;
    let mut planes = [&mut red[image_rows.clone()], &mut green[image_rows.clone()], &mut blue[image_rows]];
    let LetterboxScratch { x_taps, x_gather, y_taps, bands: band_scratches, .. } = scratch;
    let source = BandSource { view: *view, geometry, x_taps, x_gather, y_taps };
    let band = |scratch: &mut BandScratch, rows: std::ops::Range<usize>, planes: [&mut [T]; 3]| {
        if resize {
            resample_band(&source, scratch, rows, planes)
        } else {
            copy_band(view, geometry, rows, planes)
        }
    };
    if bands == 1 {
        // Without a scope, which would allocate.
        return band(&mut band_scratches[0], 0..rh, planes);
    }
    std::thread::scope(|threads| {
        let mut first_row = 0;
        for (index, scratch) in band_scratches.iter_mut().take(bands).enumerate() {
            let end_row = rh * (index + 1) / bands;
            let len = (end_row - first_row) * in_w;
            let band_planes = planes.each_mut().map(|p| {
                let (head, tail) = std::mem::take(p).split_at_mut(len);
                *p = tail;
                head
            });
            let rows = first_row..end_row;
            // The calling thread takes the last band rather than waiting idle.
            if index + 1 == bands {
                band(scratch, rows, band_planes);
            } else {
                threads.spawn(move || band(scratch, rows, band_planes));
            }
            first_row = end_row;
        }
    });
}

/// How many bands a `resized_width` x `resized_height` image is cut into with up to `threads` threads.
fn band_count(threads: usize, resized_width: usize, resized_height: usize) -> usize {
    threads.min(resized_width * resized_height / MIN_BAND_PIXELS).clamp(1, resized_height)
}

/// Normalises rows `rows` of an image already at the resized size into `planes`, which start at the first
/// of those rows.
fn copy_band<T: InputElement>(
    view: &PixelView<'_>,
    geometry: &LetterboxGeometry,
    rows: std::ops::Range<usize>,
    mut planes: [&mut [T]; 3],
) {
    let lut: [T; 256] = std::array::from_fn(|v| T::from_u8(v as u8));
    let (bpp, offsets, in_w) = (view.format().bytes_per_pixel(), view.format().rgb_offsets(), geometry.input_width);
    for (i, y) in rows.enumerate() {
        let src = view.row(y);
        let row_start = i * in_w + geometry.left;
        for (plane, &offset) in planes.iter_mut().zip(&offsets) {
            let dst = &mut plane[row_start..row_start + geometry.resized_width];
            for (d, px) in dst.iter_mut().zip(src.chunks_exact(bpp)) {
                *d = lut[usize::from(px[offset])];
            }
        }
    }
}

/// What every band of one letterbox reads: the image, where it goes, and the resampling taps.
#[derive(Clone, Copy)]
struct BandSource<'a> {
    view: PixelView<'a>,
    geometry: &'a LetterboxGeometry,
    x_taps: &'a [Tap],
    /// The AVX2 path's gather of the horizontal taps (x86-64 only).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    x_gather: &'a GatherTaps,
    y_taps: &'a [Tap],
}

/// Resizes rows `rows` of the resized image into `planes`, which start at the first of those rows; with
/// AVX2 where the CPU has it.
fn resample_band<T: InputElement>(
    source: &BandSource<'_>,
    band: &mut BandScratch,
    rows: std::ops::Range<usize>,
    planes: [&mut [T]; 3],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { resample_band_avx2(source, band, rows, planes) };
    }
    resample_band_portable::<T, false>(source, band, rows, planes)
}

/// [`resample_band_portable`] compiled for AVX2, with the gathering horizontal pass: twice the lanes, the
/// same integer and IEEE arithmetic, so the same values (the golden and differential tests run whichever
/// this CPU takes, and a unit test compares the two).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn resample_band_avx2<T: InputElement>(
    source: &BandSource<'_>,
    band: &mut BandScratch,
    rows: std::ops::Range<usize>,
    planes: [&mut [T]; 3],
) {
    resample_band_portable::<T, true>(source, band, rows, planes)
}

/// The resampling of [`resample_band`], for any instruction set; `AVX2` when the caller has it enabled.
#[inline(always)]
fn resample_band_portable<T: InputElement, const AVX2: bool>(
    source: &BandSource<'_>,
    band: &mut BandScratch,
    rows: std::ops::Range<usize>,
    mut planes: [&mut [T]; 3],
) {
    let BandSource { geometry, y_taps, .. } = source;
    let lut: [T; 256] = std::array::from_fn(|v| T::from_u8(v as u8));
    let (rw, in_w) = (geometry.resized_width, geometry.input_width);
    for (i, dy) in rows.enumerate() {
        let tap = y_taps[dy];
        let first = band.horizontal_row::<AVX2>(source, tap.first);
        let second = band.horizontal_row::<AVX2>(source, tap.second);
        let (row_a, row_b) = (&band.rows[first], &band.rows[second]);
        let (w_a, w_b) = (tap.w_first as i16, tap.w_second as i16);
        let row_start = i * in_w + geometry.left;
        for (c, plane) in planes.iter_mut().enumerate() {
            // Rows are kept one plane per channel, so these loops read and write contiguous memory.
            let (a, b) = (&row_a[c * rw..(c + 1) * rw], &row_b[c * rw..(c + 1) * rw]);
            for ((v, &a), &b) in band.blended.iter_mut().zip(a).zip(b) {
                *v = blend_vertical(a, b, w_a, w_b);
            }
            T::normalise_row(&band.blended, &mut plane[row_start..row_start + rw], &lut);
        }
    }
}

/// Writes `pad` around the resized image only: above, below, and left and right of it, in each plane. The
/// resized area is written once, by the resampling.
fn fill_padding<T: Copy>(out: &mut [T], geometry: &LetterboxGeometry, pad: T) {
    let (in_w, in_h) = (geometry.input_width, geometry.input_height);
    let (left, top) = (geometry.left, geometry.top);
    let (right, bottom) = (left + geometry.resized_width, top + geometry.resized_height);
    for plane in out.chunks_exact_mut(in_w * in_h) {
        plane[..top * in_w].fill(pad);
        plane[bottom * in_w..].fill(pad);
        for row in plane[top * in_w..bottom * in_w].chunks_exact_mut(in_w) {
            row[..left].fill(pad);
            row[right..].fill(pad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_input::PixelFormat;

    #[test]
    fn geometry_matches_ultralytics_examples() {
        // bus.jpg (810x1080) at 640 on a dynamic model: the minimal rectangle is 480x640.
        let g = LetterboxGeometry::new(810, 1080, 640, 640, Some(32));
        assert_eq!(
            (g.input_width, g.input_height, g.resized_width, g.resized_height, g.left, g.top),
            (480, 640, 480, 640, 0, 0)
        );
        // zidane.jpg (1280x720) at 640: resized to 640x360, padding 280 % 32 = 24 rows split 12/12.
        let g = LetterboxGeometry::new(1280, 720, 640, 640, Some(32));
        assert_eq!((g.input_width, g.input_height, g.resized_height, g.top), (640, 384, 360, 12));
        // Fixed 640x640: the full padding, split with Ultralytics' -0.1/+0.1 rounding.
        let g = LetterboxGeometry::new(1280, 720, 640, 640, None);
        assert_eq!((g.input_width, g.input_height, g.top), (640, 640, 140));
        let g = LetterboxGeometry::new(100, 33, 64, 64, None);
        // r = 0.64, resized 64x21 (21.12), dh = 43: top round(21.4) = 21, bottom round(21.6) = 22.
        assert_eq!((g.resized_height, g.top, g.input_height), (21, 21, 64));
    }

    #[test]
    fn geometry_keeps_thin_images_one_pixel_wide() {
        let g = LetterboxGeometry::new(1, 3000, 640, 640, None);
        assert_eq!((g.resized_width, g.resized_height, g.input_width), (1, 640, 640));
        let g = LetterboxGeometry::new(1, 3000, 640, 640, Some(32));
        assert_eq!((g.resized_width, g.input_width, g.input_height), (1, 1 + 31, 640));
    }

    #[test]
    fn taps_follow_half_pixel_centres_and_clamp_at_edges() {
        let mut taps = Vec::new();
        linear_taps(4, 2, &mut taps);
        // Downscale by 2: centres at 0.5 and 2.5, equal weights.
        assert_eq!(taps[0], Tap { first: 0, second: 1, w_first: 1024, w_second: 1024 });
        assert_eq!(taps[1], Tap { first: 2, second: 3, w_first: 1024, w_second: 1024 });
        linear_taps(2, 4, &mut taps);
        // Upscale by 2: the first sample lies left of pixel 0 and clamps, the last right of pixel 1.
        assert_eq!(taps[0], Tap { first: 0, second: 1, w_first: 2048, w_second: 0 });
        assert_eq!(taps[1], Tap { first: 0, second: 1, w_first: 1536, w_second: 512 });
        assert_eq!(taps[3], Tap { first: 1, second: 1, w_first: 2048, w_second: 0 });
    }

    #[test]
    fn constant_images_stay_constant_and_padding_is_114() {
        let data = vec![200u8; 7 * 5 * 3];
        let view = PixelView::new(&data, 7, 5, 21, PixelFormat::Rgb8).unwrap();
        let g = LetterboxGeometry::new(7, 5, 16, 16, None);
        let mut out: Vec<f32> = Vec::new();
        letterbox_into(&view, &g, &mut LetterboxScratch::default(), &mut out);
        assert_eq!(out.len(), 3 * 16 * 16);
        let at = |c: usize, y: usize, x: usize| out[c * 256 + y * 16 + x];
        assert_eq!(at(0, 0, 0), 114.0 / 255.0);
        assert_eq!(at(2, g.top + 1, 3), 200.0 / 255.0);
        assert_eq!(at(1, g.top + g.resized_height, 3), 114.0 / 255.0);
    }

    #[test]
    fn channel_order_is_rgb_for_every_format() {
        let g = LetterboxGeometry::new(1, 1, 1, 1, None);
        let mut out: Vec<f32> = Vec::new();
        for (format, px) in [
            (PixelFormat::Rgb8, &[10u8, 20, 30][..]),
            (PixelFormat::Bgr8, &[30, 20, 10]),
            (PixelFormat::Rgba8, &[10, 20, 30, 0]),
            (PixelFormat::Bgra8, &[30, 20, 10, 255]),
        ] {
            let view = PixelView::new(px, 1, 1, px.len(), format).unwrap();
            letterbox_into(&view, &g, &mut LetterboxScratch::default(), &mut out);
            assert_eq!(out, [10.0 / 255.0, 20.0 / 255.0, 30.0 / 255.0], "{format:?}");
        }
        let view = PixelView::new(&[77], 1, 1, 1, PixelFormat::Gray8).unwrap();
        letterbox_into(&view, &g, &mut LetterboxScratch::default(), &mut out);
        assert_eq!(out, [77.0 / 255.0; 3]);
    }

    /// A xorshift generator: deterministic pseudo-random test data without a dependency.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// OpenCV's `INTER_LINEAR` for one output value, written out directly from its definition: horizontal
    /// sums in 11-bit fixed point, then the vertical pass of `blend_vertical` in 32-bit arithmetic.
    fn reference_value(view: &PixelView<'_>, geometry: &LetterboxGeometry, c: usize, y: usize, x: usize) -> u8 {
        let (mut x_taps, mut y_taps) = (Vec::new(), Vec::new());
        linear_taps(view.width(), geometry.resized_width, &mut x_taps);
        linear_taps(view.height(), geometry.resized_height, &mut y_taps);
        let bpp = view.format().bytes_per_pixel();
        let offset = view.format().rgb_offsets()[c];
        let horizontal = |row: usize| {
            let (t, src) = (x_taps[x], view.row(row));
            i32::from(src[t.first * bpp + offset]) * t.w_first + i32::from(src[t.second * bpp + offset]) * t.w_second
        };
        let t = y_taps[y];
        let v = (((horizontal(t.first) >> 4) * t.w_first) >> 16) + (((horizontal(t.second) >> 4) * t.w_second) >> 16);
        ((v + 2) >> 2).clamp(0, 255) as u8
    }

    #[test]
    fn resize_matches_the_direct_formula_for_every_format_and_stride() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15u64);
        let formats =
            [PixelFormat::Rgb8, PixelFormat::Bgr8, PixelFormat::Rgba8, PixelFormat::Bgra8, PixelFormat::Gray8];
        let mut scratch = LetterboxScratch::default();
        let mut out: Vec<f32> = Vec::new();
        for case in 0..60 {
            let format = formats[case % formats.len()];
            let (width, height) = (1 + (next() % 97) as usize, 1 + (next() % 97) as usize);
            let stride = width * format.bytes_per_pixel() + (next() % 4) as usize;
            let data: Vec<u8> = (0..stride * height).map(|_| next() as u8).collect();
            let view = PixelView::new(&data, width, height, stride, format).unwrap();
            let target = [16, 48, 64, 160][case % 4];
            let geometry = LetterboxGeometry::new(width, height, target, target, (case % 2 == 0).then_some(32));
            if (geometry.resized_width, geometry.resized_height) == (width, height) {
                continue;
            }
            // The scratch is shared across cases on purpose: a stale buffer must not leak into the next.
            letterbox_into(&view, &geometry, &mut scratch, &mut out);
            let plane = geometry.input_width * geometry.input_height;
            for c in 0..3 {
                for y in 0..geometry.resized_height {
                    for x in 0..geometry.resized_width {
                        let at = c * plane + (y + geometry.top) * geometry.input_width + x + geometry.left;
                        let expected = f32::from(reference_value(&view, &geometry, c, y, x)) / 255.0;
                        assert_eq!(out[at], expected, "case {case} {format:?} {width}x{height} c{c} y{y} x{x}");
                    }
                }
            }
        }
    }

    #[test]
    fn bands_on_several_threads_give_exactly_the_single_threaded_result() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1Du64);
        // Downscaled, upscaled, and already at the resized size (copied, not resampled).
        for (width, height, target, format) in [
            (810, 1080, 640, PixelFormat::Rgb8),
            (300, 200, 640, PixelFormat::Bgra8),
            (480, 640, 640, PixelFormat::Gray8),
            (1000, 333, 320, PixelFormat::Rgba8),
        ] {
            let stride = width * format.bytes_per_pixel() + 3;
            let data: Vec<u8> = (0..stride * height).map(|_| next() as u8).collect();
            let view = PixelView::new(&data, width, height, stride, format).unwrap();
            let geometry = LetterboxGeometry::new(width, height, target, target, Some(32));
            let mut single: Vec<f32> = Vec::new();
            letterbox_into(&view, &geometry, &mut LetterboxScratch::default(), &mut single);
            for threads in [2, 3, 7] {
                let bands = band_count(threads, geometry.resized_width, geometry.resized_height);
                assert!(bands > 1 || geometry.resized_width * geometry.resized_height < 2 * MIN_BAND_PIXELS);
                let mut scratch = LetterboxScratch::with_threads(threads);
                let mut banded: Vec<f16> = Vec::new();
                letterbox_into(&view, &geometry, &mut scratch, &mut banded);
                let mut banded_f32: Vec<f32> = Vec::new();
                letterbox_into(&view, &geometry, &mut scratch, &mut banded_f32);
                assert_eq!(banded_f32, single, "{width}x{height} -> {target} on {threads} threads ({bands} bands)");
                let single_f16: Vec<f16> = single.iter().map(|&v| f16::from_u8((v * 255.0).round() as u8)).collect();
                assert_eq!(banded, single_f16, "f16, {width}x{height} -> {target} on {threads} threads");
            }
        }
        assert_eq!(band_count(8, 100_000, 3), 3, "never more bands than rows");
        assert_eq!(band_count(8, 100, 100), 1, "small images stay on one thread");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_avx2_build_of_the_resampling_gives_the_portable_values() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: only the portable build runs");
            return;
        }
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15u64);
        // Downscales and upscales, padded and exact strides (the last row then ends the buffer, where a
        // gather reading past a row would leave it), widths below one vector and with a scalar tail.
        let cases = [
            (333, 517, PixelFormat::Rgb8, 1, 160),
            (901, 77, PixelFormat::Bgra8, 1, 160),
            (810, 1080, PixelFormat::Rgb8, 0, 640),
            (641, 479, PixelFormat::Bgr8, 0, 640),
            (50, 40, PixelFormat::Rgba8, 0, 160),
            (5, 9, PixelFormat::Rgb8, 0, 64),
            (77, 3, PixelFormat::Gray8, 0, 160),
        ];
        for (width, height, format, padding, target) in cases {
            let stride = width * format.bytes_per_pixel() + padding;
            let data: Vec<u8> = (0..stride * height).map(|_| next() as u8).collect();
            let view = PixelView::new(&data, width, height, stride, format).unwrap();
            let geometry = LetterboxGeometry::new(width, height, target, target, None);
            let (rw, rh, in_w) = (geometry.resized_width, geometry.resized_height, geometry.input_width);
            let mut scratch = LetterboxScratch::default();
            scratch.prepare(&view, &geometry);
            let mut outputs = Vec::new();
            for avx2 in [false, true] {
                let mut planes = vec![vec![0.0f32; rh * in_w]; 3];
                let [r, g, b] = &mut planes[..] else { unreachable!() };
                let band = &mut scratch.bands[0];
                band.prepare(rw);
                let source = BandSource {
                    view,
                    geometry: &geometry,
                    x_taps: &scratch.x_taps,
                    x_gather: &scratch.x_gather,
                    y_taps: &scratch.y_taps,
                };
                if avx2 {
                    // SAFETY: AVX2 was detected above.
                    unsafe { resample_band_avx2(&source, band, 0..rh, [r, g, b]) };
                } else {
                    resample_band_portable::<f32, false>(&source, band, 0..rh, [r, g, b]);
                }
                outputs.push(planes);
            }
            assert_eq!(outputs[0], outputs[1], "{width}x{height} {format:?} -> {target}");
        }
    }

    #[test]
    fn f16_input_rounds_like_torch_half() {
        assert_eq!(f16::from_u8(255), f16::ONE);
        assert_eq!(f16::from_u8(1), f16::from_f32(1.0 / 255.0));
    }
}
