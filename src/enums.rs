//! The C enums other than the status (pixel formats, load states, tasks, providers, IO binding), with
//! their conversions to the core's types and the functions that name them.

use std::ffi::c_char;

use crate::error::{Error, Result};
use yolo_ffi_core::provider::ProviderKind;
use yolo_ffi_core::{LoadState, PixelFormat, Task};

/// Ultralytics' name of a `yolo_task` value (`"detect"`, `"segment"`, `"pose"`, `"obb"`, `"classify"`), as
/// a static NUL-terminated string; NULL for a value that is no task (0 included). Never freed. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_task_name(task: u32) -> *const c_char {
    ffi_boundary!(value std::ptr::null(), {
        yolo_task::task_from_raw(task).map_or(std::ptr::null(), |t| t.c_name().as_ptr())
    })
}

/// The short name of a `yolo_provider` value (`"cpu"`, `"cuda"`, `"tensorrt"`, `"openvino"`), as a static
/// NUL-terminated string, the name the Python package and the bindings take; NULL for a value that is no
/// provider (0 included). Never freed. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_provider_name(provider: u32) -> *const c_char {
    ffi_boundary!(value std::ptr::null(), {
        yolo_provider::from_raw(provider).map_or(std::ptr::null(), |p| ProviderKind::from(p).c_name().as_ptr())
    })
}

/// The layout of one pixel in a buffer passed to `yolo_detect_pixels`. Values are stable; 0 is never valid,
/// so a zeroed struct is caught.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_pixel_format {
    /// Red, green, blue: 3 bytes per pixel (PIL, numpy from most decoders).
    Rgb8 = 1,
    /// Blue, green, red: 3 bytes per pixel (OpenCV's `cv::Mat` and `cv2.imread`).
    Bgr8 = 2,
    /// Red, green, blue, alpha: 4 bytes per pixel. Alpha is ignored.
    Rgba8 = 3,
    /// Blue, green, red, alpha: 4 bytes per pixel. Alpha is ignored.
    Bgra8 = 4,
    /// One grey byte per pixel.
    Gray8 = 5,
}

/// Where a detector's model load stands, from `yolo_state`. Values are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_load_state {
    /// Loading on a background thread (`async_load`).
    Loading = 1,
    /// Loaded: detect calls run.
    Ready = 2,
    /// The load failed: every call reports `YOLO_STATUS_LOAD_FAILED`; `yolo_load_error` says why.
    Failed = 3,
}

/// An ONNX Runtime execution provider, for `yolo_config_add_provider` and `yolo_model_provider`. Values
/// are stable; 0 is never valid.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_provider {
    /// ONNX Runtime's CPU kernels: always there.
    Cpu = 1,
    /// NVIDIA CUDA: needs the `onnxruntime-gpu` build of ONNX Runtime with its CUDA and cuDNN libraries.
    Cuda = 2,
    /// NVIDIA TensorRT: the `onnxruntime-gpu` build with TensorRT's libraries.
    Tensorrt = 3,
    /// Intel OpenVINO: an ONNX Runtime 1.31 or later built with it.
    Openvino = 4,
}

impl yolo_provider {
    /// The provider of a raw value, or `None` for a value that names none.
    pub fn from_raw(value: u32) -> Option<Self> {
        [Self::Cpu, Self::Cuda, Self::Tensorrt, Self::Openvino].into_iter().find(|p| *p as u32 == value)
    }
}

impl From<yolo_provider> for ProviderKind {
    fn from(provider: yolo_provider) -> Self {
        match provider {
            yolo_provider::Cpu => Self::Cpu,
            yolo_provider::Cuda => Self::Cuda,
            yolo_provider::Tensorrt => Self::TensorRt,
            yolo_provider::Openvino => Self::OpenVino,
        }
    }
}

impl From<ProviderKind> for yolo_provider {
    fn from(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::Cpu => Self::Cpu,
            ProviderKind::Cuda => Self::Cuda,
            ProviderKind::TensorRt => Self::Tensorrt,
            ProviderKind::OpenVino => Self::Openvino,
        }
    }
}

/// Whether each session's input and outputs are bound to it once (ONNX Runtime's IO binding), for
/// `yolo_config_set_io_binding`. Values are stable; 0 is never valid.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_io_binding {
    /// Bound on GPU providers (CUDA, TensorRT), in pinned host memory that the GPU copies from and to
    /// directly; on a provider that offers no pinned memory the model runs unbound, with a warning. Not
    /// bound on the CPU, where a run reads the input where it is.
    Auto = 1,
    /// Bound on every provider, in its host memory; the load fails when that memory is not there.
    On = 2,
    /// Never bound: every run hands ONNX Runtime an ordinary host buffer.
    Off = 3,
}

impl yolo_io_binding {
    /// The setting of a raw value (`None`: automatic, `Some(on)`); an invalid argument for a value that
    /// names none.
    pub fn setting(value: u32) -> Result<Option<bool>> {
        match value {
            v if v == Self::Auto as u32 => Ok(None),
            v if v == Self::On as u32 => Ok(Some(true)),
            v if v == Self::Off as u32 => Ok(Some(false)),
            _ => Err(Error::invalid_argument(format!("{value} is not a yolo_io_binding value"))),
        }
    }
}

/// What a detector's model does, from `yolo_model_task`: Ultralytics' `task`. Values are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_task {
    /// Boxes with a class and a score (`yolo_result_detections`).
    Detect = 1,
    /// Boxes plus one instance mask each (`yolo_result_mask`).
    Segment = 2,
    /// Boxes plus keypoints each (`yolo_result_keypoints`, `yolo_keypoint_shape`).
    Pose = 3,
    /// Oriented boxes (`yolo_result_oriented_box`); the detections hold their axis-aligned bounds.
    Obb = 4,
    /// Class probabilities for the whole image (`yolo_result_classes`); no detections.
    Classify = 5,
    /// A class for every pixel of the image (`yolo_result_class_map`); no detections.
    Semantic = 6,
    /// A depth for every pixel of the image (`yolo_result_depth_map`); no detections.
    Depth = 7,
}

impl yolo_task {
    /// The core's task of a raw `yolo_task` value, if it is one.
    pub fn task_from_raw(value: u32) -> Option<Task> {
        Task::ALL.into_iter().find(|task| yolo_task::from(*task) as u32 == value)
    }
}

impl From<Task> for yolo_task {
    fn from(task: Task) -> Self {
        match task {
            Task::Detect => Self::Detect,
            Task::Segment => Self::Segment,
            Task::Pose => Self::Pose,
            Task::Obb => Self::Obb,
            Task::Classify => Self::Classify,
            Task::Semantic => Self::Semantic,
            Task::Depth => Self::Depth,
        }
    }
}

impl From<LoadState> for yolo_load_state {
    fn from(state: LoadState) -> Self {
        match state {
            LoadState::Loading => Self::Loading,
            LoadState::Ready => Self::Ready,
            LoadState::Failed => Self::Failed,
        }
    }
}

/// Converts the raw `uint32_t` a C caller passed, which may be any value.
pub(crate) fn pixel_format_from_raw(raw: u32) -> Result<PixelFormat> {
    const RGB8: u32 = yolo_pixel_format::Rgb8 as u32;
    const BGR8: u32 = yolo_pixel_format::Bgr8 as u32;
    const RGBA8: u32 = yolo_pixel_format::Rgba8 as u32;
    const BGRA8: u32 = yolo_pixel_format::Bgra8 as u32;
    const GRAY8: u32 = yolo_pixel_format::Gray8 as u32;
    match raw {
        RGB8 => Ok(PixelFormat::Rgb8),
        BGR8 => Ok(PixelFormat::Bgr8),
        RGBA8 => Ok(PixelFormat::Rgba8),
        BGRA8 => Ok(PixelFormat::Bgra8),
        GRAY8 => Ok(PixelFormat::Gray8),
        other => {
            Err(Error::invalid_argument(format!("pixel_format {other} is not a yolo_pixel_format value (1 to 5)")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_binding_values_are_auto_on_off_and_others_are_rejected() {
        assert_eq!(yolo_io_binding::setting(yolo_io_binding::Auto as u32).unwrap(), None);
        assert_eq!(yolo_io_binding::setting(yolo_io_binding::On as u32).unwrap(), Some(true));
        assert_eq!(yolo_io_binding::setting(yolo_io_binding::Off as u32).unwrap(), Some(false));
        assert!(yolo_io_binding::setting(0).is_err());
        assert!(yolo_io_binding::setting(4).is_err());
    }

    #[test]
    fn every_provider_value_round_trips_and_others_are_rejected() {
        for provider in [yolo_provider::Cpu, yolo_provider::Cuda, yolo_provider::Tensorrt, yolo_provider::Openvino] {
            assert_eq!(yolo_provider::from_raw(provider as u32), Some(provider));
            assert_eq!(yolo_provider::from(ProviderKind::from(provider)), provider);
        }
        assert_eq!((yolo_provider::Cpu as u32, yolo_provider::Openvino as u32), (1, 4), "values are stable");
        for bad in [0, 5, u32::MAX] {
            assert_eq!(yolo_provider::from_raw(bad), None);
        }
    }

    #[test]
    fn every_pixel_format_value_maps_to_its_own_format_and_others_are_rejected() {
        let every = [
            (yolo_pixel_format::Rgb8, PixelFormat::Rgb8),
            (yolo_pixel_format::Bgr8, PixelFormat::Bgr8),
            (yolo_pixel_format::Rgba8, PixelFormat::Rgba8),
            (yolo_pixel_format::Bgra8, PixelFormat::Bgra8),
            (yolo_pixel_format::Gray8, PixelFormat::Gray8),
        ];
        for (raw, format) in every {
            assert_eq!(pixel_format_from_raw(raw as u32).unwrap(), format, "{raw:?}");
        }
        let values: Vec<u32> = every.iter().map(|(raw, _)| *raw as u32).collect();
        assert_eq!(values, (1..=5).collect::<Vec<u32>>(), "values are stable");
        for bad in [0, 6, u32::MAX] {
            assert!(pixel_format_from_raw(bad).is_err());
        }
    }
}
