//! What the library knows about a loaded model: its input, its output layout and its classes.

mod layout;
pub mod metadata;
pub mod proto;
mod task;

#[cfg(feature = "internals")]
pub use layout::detection_layout;
pub use layout::{recognise_head, OutputLayout};
pub use metadata::ModelMetadata;
pub use task::{Head, Task};

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};

use crate::error::{Error, Result};

/// The element type of the model's image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPrecision {
    /// 32-bit floats.
    F32,
    /// 16-bit floats (half-precision exports).
    F16,
}

/// How the letterbox target is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputShape {
    /// The model's input has a fixed `(height, width)`; every image is letterboxed to exactly that.
    Fixed {
        /// Input height.
        height: u32,
        /// Input width.
        width: u32,
    },
    /// Height and width are dynamic: letterbox to `(height, width)`, then shrink the padding modulo `stride`
    /// (Ultralytics' minimal rectangle).
    Dynamic {
        /// Target height before the minimal rectangle.
        height: u32,
        /// Target width before the minimal rectangle.
        width: u32,
        /// Padding is reduced modulo this.
        stride: u32,
    },
}

impl InputShape {
    /// The largest input this shape produces, `(height, width)`.
    pub fn target(&self) -> (u32, u32) {
        match *self {
            Self::Fixed { height, width } | Self::Dynamic { height, width, .. } => (height, width),
        }
    }

    /// The stride for the minimal rectangle, for dynamic shapes.
    pub fn minimal_rect_stride(&self) -> Option<u32> {
        match *self {
            Self::Fixed { .. } => None,
            Self::Dynamic { stride, .. } => Some(stride),
        }
    }
}

/// The model as the detector uses it. The output layout is decided later, from a real output.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// Name of the image input.
    pub input_name: String,
    /// Element type of the image input.
    pub precision: InputPrecision,
    /// Letterbox target.
    pub shape: InputShape,
    /// Whether the batch dimension is dynamic, so that one run can take several images.
    pub dynamic_batch: bool,
    /// Parsed metadata.
    pub metadata: ModelMetadata,
}

/// The largest side of a model input, from the config, the metadata or the model's fixed shape: 16384
/// pixels, over ten times any YOLO export, so that a crafted value cannot ask for hundreds of gigabytes.
pub const MAX_IMGSZ: u32 = 16384;

/// The default image size when neither the config nor the metadata names one.
pub const DEFAULT_IMGSZ: u32 = 640;
/// The default stride when the metadata names none.
pub const DEFAULT_STRIDE: u32 = 32;

impl ModelSpec {
    /// Inspects a session: one image input `[batch, 3, height, width]` of float or half, at most
    /// [`MAX_IMGSZ`] on a side, and a tensor output; `metadata` is the model's. `imgsz` (height, width)
    /// overrides the metadata for dynamic models.
    pub fn from_session(session: &Session, metadata: ModelMetadata, imgsz: Option<(u32, u32)>) -> Result<Self> {
        let [input] = session.inputs() else {
            return Err(Error::invalid_model(format!(
                "expected one image input, the model has {}",
                session.inputs().len()
            )));
        };
        let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
            return Err(Error::invalid_model(format!("input '{}' is not a tensor", input.name())));
        };
        let precision = match ty {
            TensorElementType::Float32 => InputPrecision::F32,
            TensorElementType::Float16 => InputPrecision::F16,
            other => {
                return Err(Error::invalid_model(format!(
                    "input '{}' has element type {other}, expected float or float16",
                    input.name()
                )))
            }
        };
        let dims: &[i64] = shape;
        let &[batch, channels, height, width] = dims else {
            return Err(Error::invalid_model(format!(
                "input '{}' has shape {dims:?}, expected [batch, 3, height, width]",
                input.name()
            )));
        };
        if !(batch == -1 || batch == 1) || !(channels == -1 || channels == 3) {
            return Err(Error::invalid_model(format!(
                "input '{}' has shape {dims:?}, expected [batch, 3, height, width]",
                input.name()
            )));
        }
        let Some(output) = session.outputs().first() else {
            return Err(Error::invalid_model("the model has no outputs"));
        };
        // Float outputs for every task; integers for a semantic model's class ids (an in-graph ArgMax).
        let class_ids = metadata.task.as_deref().is_some_and(|t| t.trim() == Task::Semantic.name());
        let float = matches!(
            output.dtype(),
            ValueType::Tensor { ty: TensorElementType::Float32 | TensorElementType::Float16, .. }
        );
        let integer = matches!(
            output.dtype(),
            ValueType::Tensor { ty: TensorElementType::Uint8 | TensorElementType::Int32 | TensorElementType::Int64, .. }
        );
        if !(float || class_ids && integer) {
            return Err(Error::invalid_model(format!(
                "output '{}' is not a float tensor{}",
                output.name(),
                if class_ids { " or a tensor of class ids (uint8, int32, int64)" } else { "" }
            )));
        }
        let stride = metadata.stride.unwrap_or(DEFAULT_STRIDE);
        let shape = if height > 0 && width > 0 {
            let fixed = |v: i64| {
                u32::try_from(v).ok().filter(|&v| v <= MAX_IMGSZ).ok_or_else(|| {
                    Error::invalid_model(format!(
                        "input '{}' has shape {dims:?}: a side of {v} exceeds the maximum of {MAX_IMGSZ}",
                        input.name()
                    ))
                })
            };
            InputShape::Fixed { height: fixed(height)?, width: fixed(width)? }
        } else {
            let (h, w) = imgsz.or(metadata.imgsz).unwrap_or((DEFAULT_IMGSZ, DEFAULT_IMGSZ));
            // Ultralytics' check_imgsz rounds each side up to a multiple of the stride.
            let round_up = |v: u32| v.div_ceil(stride).saturating_mul(stride);
            let (h, w) = (round_up(h), round_up(w));
            // A dimension the model fixes wins over the requested size.
            let pick = |fixed: i64, requested: u32| if fixed > 0 { fixed as u32 } else { requested };
            let (h, w) = (pick(height, h), pick(width, w));
            if h > MAX_IMGSZ || w > MAX_IMGSZ {
                return Err(Error::invalid_model(format!(
                    "input '{}' has shape {dims:?} and an image size of {h}x{w}, above the maximum of {MAX_IMGSZ}",
                    input.name()
                )));
            }
            InputShape::Dynamic { height: h, width: w, stride }
        };
        Ok(Self { input_name: input.name().to_owned(), precision, shape, dynamic_batch: batch == -1, metadata })
    }
}
