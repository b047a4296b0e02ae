//! Images as the detector receives them: borrowed pixel buffers and encoded files.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::error::{Error, ErrorKind, Result};

/// The memory layout of one pixel in a caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Red, green, blue; 3 bytes.
    Rgb8,
    /// Blue, green, red (OpenCV's default); 3 bytes.
    Bgr8,
    /// Red, green, blue, alpha; 4 bytes. Alpha is ignored.
    Rgba8,
    /// Blue, green, red, alpha; 4 bytes. Alpha is ignored.
    Bgra8,
    /// One grey byte, used for all three colour channels.
    Gray8,
    /// Grey then alpha; 2 bytes. Only produced by decoding; alpha is ignored.
    GrayAlpha8,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            Self::Gray8 => 1,
            Self::GrayAlpha8 => 2,
            Self::Rgb8 | Self::Bgr8 => 3,
            Self::Rgba8 | Self::Bgra8 => 4,
        }
    }

    /// Byte offsets of red, green and blue inside one pixel.
    pub fn rgb_offsets(self) -> [usize; 3] {
        match self {
            Self::Rgb8 | Self::Rgba8 => [0, 1, 2],
            Self::Bgr8 | Self::Bgra8 => [2, 1, 0],
            Self::Gray8 | Self::GrayAlpha8 => [0, 0, 0],
        }
    }
}

/// A validated, borrowed view of a caller's pixel buffer: rows of `width` pixels, `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct PixelView<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
    format: PixelFormat,
}

impl<'a> PixelView<'a> {
    /// Checks that `data` holds `height` rows of `width` pixels, `stride` bytes apart. The last row needs only
    /// its pixels, not a whole stride, so that views into larger images (numpy slices) are accepted.
    pub fn new(data: &'a [u8], width: usize, height: usize, stride: usize, format: PixelFormat) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::invalid_argument(format!("image size {width}x{height} is empty")));
        }
        let row_bytes = width
            .checked_mul(format.bytes_per_pixel())
            .ok_or_else(|| Error::invalid_argument(format!("width {width} overflows")))?;
        if stride < row_bytes {
            return Err(Error::invalid_argument(format!(
                "stride {stride} is smaller than width {width} x {} bytes per pixel = {row_bytes}",
                format.bytes_per_pixel()
            )));
        }
        let needed = (height - 1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(row_bytes))
            .ok_or_else(|| Error::invalid_argument(format!("height {height} x stride {stride} overflows")))?;
        if data.len() < needed {
            return Err(Error::invalid_argument(format!(
                "buffer of {} bytes is too small for {width}x{height} pixels with stride {stride} (needs {needed})",
                data.len()
            )));
        }
        Ok(Self { data, width, height, stride, format })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// The bytes of row `y`, exactly `width` pixels long.
    pub fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width * self.format.bytes_per_pixel()]
    }

    /// Number of pixels.
    pub fn pixel_count(&self) -> u64 {
        self.width as u64 * self.height as u64
    }
}

/// An image decoded from a file format, owning its pixels.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pixels: Vec<u8>,
    width: usize,
    height: usize,
    format: PixelFormat,
}

impl DecodedImage {
    /// A view over the decoded pixels.
    pub fn view(&self) -> PixelView<'_> {
        let stride = self.width * self.format.bytes_per_pixel();
        PixelView::new(&self.pixels, self.width, self.height, stride, self.format).expect("decoded image is consistent")
    }
}

/// Decodes JPEG, PNG, BMP, WebP, GIF (first frame) or TIFF bytes as OpenCV's `imread` would for Ultralytics:
/// the EXIF orientation is applied, alpha is kept but later ignored, grey stays grey, and 16-bit samples keep
/// their high byte. Images over `max_pixels` are rejected before their pixels are allocated.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DecodedImage> {
    let decode_error = |e: image::ImageError| match e {
        image::ImageError::Limits(limit) => {
            Error::new(ErrorKind::ImageTooLarge, format!("image exceeds a decoder limit: {limit}"))
        }
        other => Error::new(ErrorKind::ImageDecodeFailed, format!("cannot decode image: {other}")),
    };
    if bytes.is_empty() {
        return Err(Error::invalid_argument("the encoded image is empty (length 0)"));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::new(ErrorKind::ImageDecodeFailed, format!("cannot read image: {e}")))?;
    let Some(format) = reader.format() else {
        return Err(Error::new(
            ErrorKind::ImageDecodeFailed,
            "unrecognised image format: expected JPEG, PNG, BMP, WebP, GIF or TIFF",
        ));
    };
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(Error::new(
            ErrorKind::ImageTooLarge,
            format!("image of {width}x{height} = {pixels} pixels exceeds the limit of {max_pixels} pixels"),
        ));
    }
    if pixels == 0 {
        return Err(Error::new(ErrorKind::ImageDecodeFailed, format!("image size {width}x{height} is empty")));
    }
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = match format {
        // libjpeg-turbo's output, not zune-jpeg's, is what OpenCV hands Ultralytics. Streams libjpeg cannot
        // convert to RGB (CMYK, YCCK) fall back to the image crate's decoder.
        ImageFormat::Jpeg => match decode_jpeg_like_opencv(bytes)? {
            Some(rgb) => DynamicImage::ImageRgb8(rgb),
            None => DynamicImage::from_decoder(decoder).map_err(decode_error)?,
        },
        _ => DynamicImage::from_decoder(decoder).map_err(decode_error)?,
    };
    image.apply_orientation(orientation);
    Ok(into_8bit(image))
}

/// Decodes a JPEG to RGB with libjpeg-turbo's defaults (accurate integer IDCT, fancy upsampling), as
/// OpenCV's `imdecode` does. `Ok(None)` when libjpeg cannot produce RGB from this stream.
fn decode_jpeg_like_opencv(bytes: &[u8]) -> Result<Option<image::RgbImage>> {
    if !has_end_of_image(bytes) {
        return Err(Error::new(
            ErrorKind::ImageDecodeFailed,
            "truncated JPEG: the last scan has no end-of-image marker",
        ));
    }
    let decoded = std::panic::catch_unwind(|| -> std::io::Result<(usize, usize, Vec<u8>)> {
        let mut started = mozjpeg::Decompress::new_mem(bytes)?.rgb()?;
        let (width, height) = (started.width(), started.height());
        let pixels = started.read_scanlines::<u8>()?;
        started.finish()?;
        Ok((width, height, pixels))
    });
    let Ok(Ok((width, height, pixels))) = decoded else {
        return Ok(None);
    };
    Ok(image::RgbImage::from_raw(width as u32, height as u32, pixels))
}

/// Whether an end-of-image marker (FF D9) follows the last start-of-scan marker (FF DA). Entropy-coded
/// data escapes every FF, so neither marker can appear inside a scan: a stream cut inside its last scan
/// lacks the EOI, which libjpeg would otherwise paper over with grey.
fn has_end_of_image(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xff, 0xda]);
    match last_sos {
        Some(pos) => bytes[pos..].windows(2).any(|w| w == [0xff, 0xd9]),
        None => false,
    }
}

/// Converts any decoded image into one of the 8-bit layouts the letterbox reads.
fn into_8bit(image: DynamicImage) -> DecodedImage {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let high_bytes = |samples: &[u16]| samples.iter().map(|v| (v >> 8) as u8).collect::<Vec<u8>>();
    let (pixels, format) = match image {
        DynamicImage::ImageLuma8(buf) => (buf.into_raw(), PixelFormat::Gray8),
        DynamicImage::ImageLumaA8(buf) => (buf.into_raw(), PixelFormat::GrayAlpha8),
        DynamicImage::ImageRgb8(buf) => (buf.into_raw(), PixelFormat::Rgb8),
        DynamicImage::ImageRgba8(buf) => (buf.into_raw(), PixelFormat::Rgba8),
        // OpenCV's IMREAD_COLOR reduces 16-bit samples to their high byte.
        DynamicImage::ImageLuma16(buf) => (high_bytes(buf.as_raw()), PixelFormat::Gray8),
        DynamicImage::ImageLumaA16(buf) => (high_bytes(buf.as_raw()), PixelFormat::GrayAlpha8),
        DynamicImage::ImageRgb16(buf) => (high_bytes(buf.as_raw()), PixelFormat::Rgb8),
        DynamicImage::ImageRgba16(buf) => (high_bytes(buf.as_raw()), PixelFormat::Rgba8),
        other => (other.into_rgb8().into_raw(), PixelFormat::Rgb8),
    };
    DecodedImage { pixels, width, height, format }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(image: DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn view_checks_stride_and_length_without_overflow() {
        let data = [0u8; 12];
        assert!(PixelView::new(&data, 2, 2, 6, PixelFormat::Rgb8).is_ok());
        assert!(PixelView::new(&data, 2, 2, 5, PixelFormat::Rgb8).is_err());
        assert!(PixelView::new(&data, 3, 2, 9, PixelFormat::Rgb8).is_err());
        assert!(PixelView::new(&data, 0, 2, 6, PixelFormat::Rgb8).is_err());
        assert!(PixelView::new(&data, usize::MAX, 2, usize::MAX, PixelFormat::Rgba8).is_err());
        assert!(PixelView::new(&data, 1, usize::MAX, usize::MAX, PixelFormat::Gray8).is_err());
        // The last row may be shorter than the stride.
        assert!(PixelView::new(&data[..9], 1, 2, 6, PixelFormat::Rgb8).is_ok());
    }

    #[test]
    fn decodes_png_and_reduces_16_bit_to_high_byte() {
        let mut img = image::ImageBuffer::<image::Rgb<u16>, _>::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([0x1234, 0xff00, 0x00ff]));
        let png = encode(DynamicImage::ImageRgb16(img), image::ImageFormat::Png);
        let decoded = decode(&png, 100).unwrap();
        assert_eq!(decoded.view().format(), PixelFormat::Rgb8);
        assert_eq!(&decoded.view().row(0)[..3], &[0x12, 0xff, 0x00]);
    }

    #[test]
    fn rejects_garbage_empty_and_oversized() {
        assert_eq!(decode(b"", 100).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(decode(b"not an image at all", 100).unwrap_err().kind(), ErrorKind::ImageDecodeFailed);
        let png = encode(DynamicImage::new_rgb8(20, 20), image::ImageFormat::Png);
        assert_eq!(decode(&png, 399).unwrap_err().kind(), ErrorKind::ImageTooLarge);
        assert!(decode(&png, 400).is_ok());
        assert_eq!(decode(&png[..png.len() / 2], 400).unwrap_err().kind(), ErrorKind::ImageDecodeFailed);
    }

    #[test]
    fn jpeg_decodes_and_truncation_is_an_error() {
        let mut img = image::RgbImage::new(64, 48);
        img.pixels_mut().enumerate().for_each(|(i, p)| *p = image::Rgb([(i % 251) as u8, (i % 13) as u8 * 19, 200]));
        let jpeg = encode(DynamicImage::ImageRgb8(img), ImageFormat::Jpeg);
        let decoded = decode(&jpeg, 10_000).unwrap();
        assert_eq!((decoded.view().width(), decoded.view().height()), (64, 48));
        for cut in [jpeg.len() - 2, jpeg.len() / 2, 600] {
            let err = decode(&jpeg[..cut], 10_000).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ImageDecodeFailed, "cut at {cut}: {err}");
        }
    }
}
