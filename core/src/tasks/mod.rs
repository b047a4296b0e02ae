//! What the Ultralytics tasks add to the boxes, decoded as Ultralytics' predictors decode them: instance
//! masks ([`segment`]), keypoints ([`pose`]), oriented boxes ([`obb`]) and class probabilities
//! ([`classify`]). Detection itself is `postprocess`; each task here starts from its boxes or, for oriented
//! boxes and classification, replaces them.

pub mod classify;
pub mod obb;
pub mod pose;
pub mod segment;

use crate::model::OutputLayout;
use crate::postprocess::OutputView;

/// One instance mask, cropped to the pixels it covers: `width` x `height` bytes, row by row, each 1 inside
/// the object and 0 outside, whose first byte is pixel (`left`, `top`) of the image. Every pixel outside
/// this rectangle is outside the object. An object whose mask has no pixel at the image's resolution has
/// `width` and `height` 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mask {
    /// Column of the first byte, in image pixels.
    pub left: u32,
    /// Row of the first byte, in image pixels.
    pub top: u32,
    /// Columns in `data`.
    pub width: u32,
    /// Rows in `data`.
    pub height: u32,
    /// `width * height` bytes, 0 or 1, row-major.
    pub data: Vec<u8>,
}

impl Mask {
    /// Whether image pixel (`x`, `y`) belongs to the object.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        let (Some(col), Some(row)) = (x.checked_sub(self.left), y.checked_sub(self.top)) else { return false };
        col < self.width && row < self.height && self.data[(row * self.width + col) as usize] != 0
    }

    /// The number of pixels in the object.
    pub fn area(&self) -> usize {
        self.data.iter().filter(|&&v| v != 0).count()
    }
}

/// One keypoint of a pose model, in image pixels, clipped to the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
    /// Visibility confidence in `[0, 1]`; 1 for models whose keypoints have no confidence (`kpt_shape`
    /// `[K, 2]`).
    pub confidence: f32,
}

/// A rotated box in image pixels: Ultralytics' `xywhr` and `xyxyxyxy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrientedBox {
    /// Centre column.
    pub cx: f32,
    /// Centre row.
    pub cy: f32,
    /// Width, along the direction of `angle`.
    pub width: f32,
    /// Height, across it.
    pub height: f32,
    /// Rotation in radians, as the model gives it (Ultralytics' heads: from -pi/4 to 3pi/4).
    pub angle: f32,
    /// The four corners as `(x, y)`, in Ultralytics' order; they may lie outside the image.
    pub corners: [[f32; 2]; 4],
}

/// One class of a classification result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassProbability {
    /// Class id, an index into the model's class names.
    pub class_id: u32,
    /// The model's probability for it.
    pub probability: f32,
}

/// Value `index` of the task's values of box `anchor` (those after the class scores, or after the class of
/// an end-to-end row). The caller checked that the layout has them.
#[inline]
pub(crate) fn task_value(output: &OutputView<'_>, layout: OutputLayout, anchor: usize, index: usize) -> f32 {
    match layout {
        OutputLayout::ChannelsFirst { num_classes, .. } => {
            output.data[(4 + num_classes + index) * output.cols + anchor]
        }
        OutputLayout::EndToEnd { .. } => output.data[anchor * output.cols + 6 + index],
        OutputLayout::AnchorsWithObjectness { .. } | OutputLayout::Probabilities { .. } => {
            unreachable!("no task values in this layout")
        }
    }
}
