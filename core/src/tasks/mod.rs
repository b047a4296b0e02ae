//! What the Ultralytics tasks add to the boxes, decoded as Ultralytics' predictors decode them: instance
//! masks ([`segment`]), keypoints ([`pose`]), oriented boxes ([`obb`]) and class probabilities
//! ([`classify`]), and the per-pixel tasks, class maps and depth maps ([`maps`]). Detection itself is
//! `postprocess`; each task here starts from its boxes or, for oriented boxes, classification and the
//! per-pixel tasks, replaces them.

pub mod classify;
pub mod maps;
pub mod contour;
pub mod obb;
pub mod pose;
pub(crate) mod resample;
pub mod segment;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Head, OutputLayout};
use crate::postprocess::{decode_and_suppress, decode_detr, BoxScaler, DecodeSettings, OutputView, PostprocessScratch};
use crate::result::{Detection, Detections};
use segment::{Prototypes, SegmentScratch, Sizes};

/// Value `index` of the task's values of box `anchor` (those after the class scores, or after the class of
/// an end-to-end row). The caller checked that the layout has them.
#[inline]
pub(crate) fn task_value(output: &OutputView<'_>, layout: OutputLayout, anchor: usize, index: usize) -> f32 {
    match layout {
        OutputLayout::ChannelsFirst { num_classes, .. } => {
            output.data[(4 + num_classes + index) * output.cols + anchor]
        }
        OutputLayout::EndToEnd { .. } => output.data[anchor * output.cols + 6 + index],
        OutputLayout::AnchorsWithObjectness { .. }
        | OutputLayout::Probabilities { .. }
        | OutputLayout::Map { .. }
        | OutputLayout::DetrTopK
        | OutputLayout::DetrScores { .. } => {
            unreachable!("no task values in this layout")
        }
    }
}

/// A model's head as found at load: what to decode, from which layout, for how many classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelHead {
    /// What the outputs carry.
    pub head: Head,
    /// The first output's layout.
    pub layout: OutputLayout,
    /// The classes the model names.
    pub class_count: usize,
}

/// The outputs of one run, as copied out of ONNX Runtime, and the image of the batch to decode.
#[derive(Debug, Clone, Copy)]
pub struct RunOutputs<'a> {
    /// The first output's shape and values.
    pub first: (&'a [i64], &'a [f32]),
    /// The second output's (a segmentation model's prototypes); empty when the model has none.
    pub second: (&'a [i64], &'a [f32]),
    /// Which image of the batch.
    pub index: usize,
}

/// Buffers the head reuses from call to call.
#[derive(Debug, Default)]
pub struct HeadScratch {
    postprocess: PostprocessScratch,
    detections: Vec<Detection>,
    segment: SegmentScratch,
    obb: obb::ObbScratch,
    maps: maps::MapScratch,
}

impl ModelHead {
    /// Image `outputs.index` of a run decoded into what the task gives, in the pixels of the image
    /// (`sizes.image`) that became the model input (`sizes.input`). Outputs that no longer fit the layout
    /// found at load are an inference failure.
    pub fn decode(
        &self,
        outputs: &RunOutputs<'_>,
        sizes: Sizes,
        settings: &DecodeSettings,
        scratch: &mut HeadScratch,
    ) -> Result<Detections> {
        let (input, image) = (sizes.input, sizes.image);
        let output = self.output_view(outputs)?;
        let mut found = Detections { image_width: image.1, image_height: image.0, ..Detections::default() };
        let scaler = BoxScaler::new(input.0, input.1, image.0, image.1);
        let detections = &mut scratch.detections;
        match self.head {
            Head::Classify => {
                classify::top_k(output.data, settings.top_k, &mut found.classes);
                return Ok(found);
            }
            Head::Obb => {
                obb::decode(self.layout, &output, self.class_count, settings, &scaler, &mut scratch.obb, &mut found);
                return Ok(found);
            }
            Head::Semantic { logits } => {
                let OutputLayout::Map { planes } = self.layout else { unreachable!("recognise_head pairs them") };
                let map = maps::class_map(&output, planes, logits, Some(self.class_count), sizes, &mut scratch.maps)?;
                found.class_map = Some(map);
                return Ok(found);
            }
            Head::Depth => {
                found.depth_map = Some(maps::depth_map(&output, sizes, &mut scratch.maps)?);
                return Ok(found);
            }
            Head::Detect if self.layout.is_detr() => {
                decode_detr(self.layout, &output, self.class_count, settings, image, &mut found.detections);
                return Ok(found);
            }
            Head::Detect | Head::Segment { .. } | Head::Pose { .. } => {
                decode_and_suppress(
                    self.layout,
                    output,
                    self.class_count,
                    settings,
                    &mut scratch.postprocess,
                    detections,
                );
            }
        }
        let scaled = |d: &Detection| {
            let mut d = *d;
            scaler.apply(&mut d);
            d
        };
        match self.head {
            Head::Segment { mask_dim } => {
                let protos = prototypes(outputs, mask_dim)?;
                found.detections.extend_from_slice(detections);
                segment::masks(
                    &output,
                    self.layout,
                    protos,
                    sizes,
                    settings.retina_masks,
                    |d| scaler.apply(d),
                    &mut found.detections,
                    &mut found.masks,
                    &mut scratch.segment,
                );
            }
            Head::Pose { keypoints, dims } => {
                found.keypoints_per_detection = keypoints;
                pose::keypoints(&output, self.layout, (keypoints, dims), detections, &scaler, &mut found.keypoints);
                found.detections.extend(detections.iter().map(scaled));
            }
            _ => found.detections.extend(detections.iter().map(scaled)),
        }
        Ok(found)
    }

    /// Checks that a run's first output still fits the layout found at load, and returns its image.
    fn output_view<'a>(&self, outputs: &RunOutputs<'a>) -> Result<OutputView<'a>> {
        let (shape, data) = outputs.first;
        let (data, rows, cols) = self.layout.image_output(shape, data, outputs.index).ok_or_else(|| {
            Error::new(
                ErrorKind::InferenceFailed,
                format!("output shape {shape:?} does not match the layout {:?} found at load", self.layout),
            )
        })?;
        Ok(OutputView { data, rows, cols })
    }
}

/// The image's prototypes, checked against the mask coefficients found at load.
fn prototypes<'a>(outputs: &RunOutputs<'a>, mask_dim: usize) -> Result<Prototypes<'a>> {
    let (shape, data) = outputs.second;
    let index = outputs.index;
    let fits = match *shape {
        [batch, dim, height, width]
            if usize::try_from(dim).ok() == Some(mask_dim)
                && height > 0
                && width > 0
                && usize::try_from(batch).is_ok_and(|batch| index < batch) =>
        {
            let (height, width) = (height as usize, width as usize);
            let plane = mask_dim.checked_mul(height).and_then(|n| n.checked_mul(width));
            plane
                .and_then(|plane| data.get(index.checked_mul(plane)?..index.checked_add(1)?.checked_mul(plane)?))
                .map(|data| Prototypes { data, mask_dim, height, width })
        }
        _ => None,
    };
    fits.ok_or_else(|| {
        Error::new(
            ErrorKind::InferenceFailed,
            format!("prototype shape {shape:?} does not match the {mask_dim} mask coefficients found at load"),
        )
    })
}
