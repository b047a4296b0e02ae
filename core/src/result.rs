//! What a detect call gives: the detections of one image in its pixels, with what the model's task adds
//! to them (masks, keypoints, oriented boxes, class probabilities), or the image's class map or depth map. Plain data, shared by the decoders
//! (`postprocess`, `tasks`), which fill it, and the API, which hands it out.

/// One detected object, in original-image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
    /// Confidence in `(conf_threshold, 1]` for trained models.
    pub score: f32,
    /// Class id, an index into the model's class names.
    pub class_id: u32,
    /// The box of the model's output this detection comes from (its anchor, or its end-to-end row), where
    /// the task's other values of the box are read.
    pub anchor: u32,
}

/// The outcome of one detect call: the detections of one image, in its pixels, with what the model's task
/// adds to them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detections {
    /// Detections by descending score (end-to-end models: in the model's order), in image pixels. For
    /// oriented boxes, each one's axis-aligned bounds; empty for classification.
    pub detections: Vec<Detection>,
    /// Width of the image the boxes refer to (after EXIF orientation for encoded images).
    pub image_width: usize,
    /// Height of that image.
    pub image_height: usize,
    /// Segmentation: `masks[i]` is the mask of `detections[i]`.
    pub masks: Vec<Mask>,
    /// Pose: `keypoints_per_detection` keypoints for each detection, in order.
    pub keypoints: Vec<Keypoint>,
    /// Pose: keypoints per detection (the model's `kpt_shape`), 0 for other tasks.
    pub keypoints_per_detection: usize,
    /// Oriented boxes: `oriented_boxes[i]` is the rotated box of `detections[i]`.
    pub oriented_boxes: Vec<OrientedBox>,
    /// Classification: the most probable classes, best first.
    pub classes: Vec<ClassProbability>,
    /// Semantic segmentation: the class of every pixel of the image.
    pub class_map: Option<ClassMap>,
    /// Depth estimation: the depth of every pixel of the image.
    pub depth_map: Option<DepthMap>,
    /// The class names of the model that made these detections, by class id (shared with it): after a
    /// reload, a result still names its classes as the model that ran it does.
    pub class_names: std::sync::Arc<[String]>,
    /// The task of the model that made these detections (`None` only for detections made by hand).
    pub task: Option<crate::model::Task>,
}

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
    /// Visibility confidence in `[0, 1]` (a model's value outside it clamped); 1 for models whose keypoints
    /// have no confidence (`kpt_shape` `[K, 2]`).
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

/// The class of every pixel of an image (semantic segmentation), at the image's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMap {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width * height` class ids, row-major, in the smallest unsigned type that holds the model's classes.
    pub ids: ClassIds,
    /// `counts[c]`: how many pixels are of class `c`, for every class of the model.
    pub counts: Vec<u64>,
}

/// The class ids of a [`ClassMap`]: one byte each for models of up to 256 classes, two up to 65,536,
/// else four.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassIds {
    /// Up to 256 classes.
    U8(Vec<u8>),
    /// Up to 65,536 classes.
    U16(Vec<u16>),
    /// More classes.
    U32(Vec<u32>),
}

impl ClassIds {
    /// The bytes of one id: 1, 2 or 4.
    pub fn element_size(&self) -> usize {
        match self {
            Self::U8(_) => 1,
            Self::U16(_) => 2,
            Self::U32(_) => 4,
        }
    }

    /// The id of pixel `index` (row-major).
    pub fn get(&self, index: usize) -> Option<u32> {
        match self {
            Self::U8(v) => v.get(index).map(|&v| u32::from(v)),
            Self::U16(v) => v.get(index).map(|&v| u32::from(v)),
            Self::U32(v) => v.get(index).copied(),
        }
    }

    /// How many ids there are.
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::U16(v) => v.len(),
            Self::U32(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The depth of every pixel of an image, at the image's size, in the model's unit (metres for Ultralytics'
/// depth models).
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMap {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width * height` depths, row-major.
    pub values: Vec<f32>,
}
