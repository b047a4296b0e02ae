//! One session of the pool with everything a call needs beside it: its input buffer (host or bound), its
//! outputs and the scratch of pre- and post-processing, reused from call to call.

use half::f16;
use ort::session::{Session, SessionOutputs};
use ort::value::{DynValue, TensorElementType};

use crate::bound_io::{BoundIo, InputValues};
use crate::engine::{self, RunKind};
use crate::error::{try_resize, Error, ErrorKind, Result};
use crate::image_input::PixelView;
use crate::postprocess::DecodeSettings;
use crate::preprocess::{letterbox_into_slice, InputElement, LetterboxGeometry, LetterboxScratch, PAD_VALUE};
use crate::tasks::classify::{classify_input, ClassifyScratch};
use crate::tasks::HeadScratch;

/// The model input buffer, in the model's precision: a host buffer handed to each run, or a tensor bound
/// to the session ([`BoundIo`]).
pub(super) enum InputBuffer {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bound(Box<BoundIo>),
}

impl InputBuffer {
    /// Makes the input hold `shape`'s values, reporting an allocation that fails instead of aborting: the
    /// input size comes from the model, and a crafted one can ask for more memory than there is. A host
    /// buffer's new values are the padding grey.
    pub(super) fn reserve(&mut self, shape: [usize; 4]) -> Result<()> {
        fn reserve<T: InputElement>(buf: &mut Vec<T>, len: usize) -> Result<()> {
            try_resize(buf, len, T::from_u8(PAD_VALUE), "the model's input tensor")
        }
        let len = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| Error::out_of_memory("the model's input tensor", usize::MAX))?;
        match self {
            Self::F32(buf) => reserve(buf, len),
            Self::F16(buf) => reserve(buf, len),
            Self::Bound(bound) => bound.reserve(shape),
        }
    }

    /// The input's values, as the last [`Self::reserve`] shaped them.
    pub(super) fn values(&mut self) -> InputValues<'_> {
        match self {
            Self::F32(buf) => InputValues::F32(buf),
            Self::F16(buf) => InputValues::F16(buf),
            Self::Bound(bound) => bound.values(),
        }
    }

    /// Whether the input and outputs are bound to the session.
    pub(super) fn is_bound(&self) -> bool {
        matches!(self, Self::Bound(_))
    }
}

/// What [`fill`] writes into a model input: images, where each goes, the scratch space, the input size.
pub(super) struct Fill<'a> {
    pub(super) views: &'a [PixelView<'a>],
    pub(super) geometries: &'a [LetterboxGeometry],
    pub(super) letterbox: &'a mut LetterboxScratch,
    /// A classifier's images are resized and cropped instead of letterboxed.
    pub(super) classify: Option<&'a mut ClassifyScratch>,
    pub(super) size: (usize, usize),
}

/// Writes each image of `f` into its slot of `buf`, one `3 x size` image after the other.
pub(super) fn fill<T: InputElement>(buf: &mut [T], f: Fill<'_>) {
    let (height, width) = f.size;
    let images = f.views.iter().zip(f.geometries).zip(buf.chunks_exact_mut(3 * height * width));
    match f.classify {
        Some(scratch) => images.for_each(|((view, _), out)| classify_input(view, height, width, scratch, out)),
        None => images.for_each(|((view, geometry), out)| letterbox_into_slice(view, geometry, f.letterbox, out)),
    }
}

/// One caller's input, waiting for a batched run ([`Batcher`]).
pub(super) struct BatchRequest {
    /// The prepared input of one image, `3 x size`.
    pub(super) input: InputBuffer,
    /// The image's height and width, to scale the results back to.
    pub(super) image: (usize, usize),
    /// The input's height and width: requests of one size share a run.
    pub(super) size: (usize, usize),
    pub(super) settings: DecodeSettings,
}

/// One session with the buffers it reuses from call to call.
pub(super) struct Worker {
    pub(super) session: Session,
    pub(super) input: InputBuffer,
    /// Where each image of the current run sits in the input.
    pub(super) geometries: Vec<LetterboxGeometry>,
    pub(super) letterbox: LetterboxScratch,
    pub(super) output: Vec<f32>,
    pub(super) output_shape: Vec<i64>,
    /// The second output (a segmentation model's prototypes), empty when the model has none.
    pub(super) second_output: Vec<f32>,
    pub(super) second_shape: Vec<i64>,
    pub(super) head: HeadScratch,
    pub(super) classify: ClassifyScratch,
}

impl Worker {
    /// A worker over `session` and its `input`, whose letterbox uses up to `letterbox_threads` threads.
    pub(super) fn new(session: Session, input: InputBuffer, letterbox_threads: usize) -> Self {
        Self {
            session,
            input,
            geometries: Vec::new(),
            letterbox: LetterboxScratch::with_threads(letterbox_threads),
            output: Vec::new(),
            output_shape: Vec::new(),
            second_output: Vec::new(),
            second_shape: Vec::new(),
            head: HeadScratch::default(),
            classify: ClassifyScratch::default(),
        }
    }

    /// Runs the model on the prepared input of `batch` images of `height` x `width` and copies the first
    /// output out, as f32, before the session can be used again; with `second`, the second output too
    /// (the warm-up, which decides the head, and segmentation models, whose prototypes it holds).
    pub(super) fn infer(
        &mut self,
        batch: usize,
        height: usize,
        width: usize,
        kind: RunKind,
        second: bool,
    ) -> Result<()> {
        let shape = [batch, 3, height, width];
        let (output_shape, output) = (&mut self.output_shape, &mut self.output);
        let (second_shape, second_output) = (&mut self.second_shape, &mut self.second_output);
        let read = |outputs: &SessionOutputs<'_>| {
            copy_output(&outputs[0], output_shape, output)?;
            second_shape.clear();
            second_output.clear();
            match second && outputs.len() > 1 && is_float(&outputs[1]) {
                true => copy_output(&outputs[1], second_shape, second_output),
                false => Ok(()),
            }
        };
        match &mut self.input {
            InputBuffer::F32(buf) => engine::run(&mut self.session, shape, buf, kind, inference_failed, read),
            InputBuffer::F16(buf) => engine::run(&mut self.session, shape, buf, kind, inference_failed, read),
            InputBuffer::Bound(bound) => bound.run(&mut self.session, kind, inference_failed, read),
        }
    }

    /// A blank (padding-grey) input of one `height` x `width` image, for the warm-up run.
    pub(super) fn fill_blank(&mut self, height: usize, width: usize) -> Result<()> {
        fn blank<T: InputElement>(values: &mut [T]) {
            values.fill(T::from_u8(PAD_VALUE));
        }
        self.input.reserve([1, 3, height, width])?;
        match self.input.values() {
            InputValues::F32(values) => blank(values),
            InputValues::F16(values) => blank(values),
        }
        Ok(())
    }
}

/// An error of ONNX Runtime during a run, as a detect call reports it.
pub(super) fn inference_failed(e: ort::Error) -> Error {
    runtime_error(ErrorKind::InferenceFailed, "ONNX Runtime failed to run the model", &e)
}

/// An error of ONNX Runtime as `kind` with `context`, unless ONNX Runtime ran out of memory: that is
/// [`ErrorKind::OutOfMemory`], whatever the step, since the model may be fine on a larger machine.
pub(super) fn runtime_error(kind: ErrorKind, context: &str, e: &ort::Error) -> Error {
    let message = e.to_string();
    // ONNX Runtime's allocators say "Failed to allocate memory"; a C++ allocation that throws says
    // "bad_alloc" or "bad allocation", depending on the standard library.
    let out_of_memory =
        ["Failed to allocate memory", "bad_alloc", "bad allocation"].iter().any(|m| message.contains(m));
    let kind = if out_of_memory { ErrorKind::OutOfMemory } else { kind };
    Error::new(kind, format!("{context}: {}", message.trim_end()))
}

/// Whether an output is a float or half tensor.
pub(super) fn is_float(value: &DynValue) -> bool {
    matches!(value.dtype().tensor_type(), Some(TensorElementType::Float32 | TensorElementType::Float16))
}

/// Copies one output of a run into `shape` and `values`, as f32 (converting f16 and integer outputs), so
/// that the session can be used again.
pub(super) fn copy_output(value: &DynValue, shape: &mut Vec<i64>, values: &mut Vec<f32>) -> Result<()> {
    shape.clear();
    values.clear();
    let reserve = |values: &mut Vec<f32>, len: usize| {
        values.try_reserve_exact(len).map_err(|_| Error::out_of_memory("a copy of the model's output", len * 4))
    };
    match value.dtype().tensor_type() {
        Some(TensorElementType::Float16) => {
            let (dims, data) = value.try_extract_tensor::<f16>().map_err(inference_failed)?;
            shape.extend_from_slice(dims);
            reserve(values, data.len())?;
            values.extend(data.iter().map(|v| v.to_f32()));
        }
        // Class ids of a semantic model whose export ends in an ArgMax: exact in f32 below 2^24.
        Some(TensorElementType::Uint8) => {
            let (dims, data) = value.try_extract_tensor::<u8>().map_err(inference_failed)?;
            shape.extend_from_slice(dims);
            reserve(values, data.len())?;
            values.extend(data.iter().map(|&v| f32::from(v)));
        }
        Some(TensorElementType::Int32) => {
            let (dims, data) = value.try_extract_tensor::<i32>().map_err(inference_failed)?;
            shape.extend_from_slice(dims);
            reserve(values, data.len())?;
            values.extend(data.iter().map(|&v| v as f32));
        }
        Some(TensorElementType::Int64) => {
            let (dims, data) = value.try_extract_tensor::<i64>().map_err(inference_failed)?;
            shape.extend_from_slice(dims);
            reserve(values, data.len())?;
            values.extend(data.iter().map(|&v| v as f32));
        }
        _ => {
            let (dims, data) = value.try_extract_tensor::<f32>().map_err(inference_failed)?;
            shape.extend_from_slice(dims);
            reserve(values, data.len())?;
            values.extend_from_slice(data);
        }
    }
    Ok(())
}
