//! A session's input and outputs bound to it once ([`IoBinding`]), in host memory its execution provider
//! reads and writes directly: CUDA's pinned (page-locked) memory on a GPU, from which the input's copy to
//! the device is one DMA transfer with no staging copy, and into which the outputs come back the same way.
//! The pipeline letterboxes straight into the bound input tensor, in the model's precision (an f16 model's
//! input is written as f16, never converted afterwards), and copies the outputs out once, as f32.

use std::fmt::Debug;

use half::f16;
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session, SessionOutputs};
use ort::value::{PrimitiveTensorElementType, Tensor};

use crate::engine::{self, RunKind};
use crate::error::{Error, ErrorKind, Result};
use crate::model::InputPrecision;
use crate::preprocess::{InputElement, PAD_VALUE};
use crate::provider::{Provider, ProviderKind};

/// Where a provider's bound input and outputs live: `(input, outputs)`.
fn memory_for(provider: Provider) -> ort::Result<(MemoryInfo<'static>, MemoryInfo<'static>)> {
    match provider.kind {
        ProviderKind::Cuda | ProviderKind::TensorRt => Ok((
            MemoryInfo::new(AllocationDevice::CUDA_PINNED, 0, AllocatorType::Device, MemoryType::CPUInput)?,
            MemoryInfo::new(AllocationDevice::CUDA_PINNED, 0, AllocatorType::Device, MemoryType::CPUOutput)?,
        )),
        ProviderKind::Cpu | ProviderKind::OpenVino => {
            let host = MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::Default)?;
            Ok((host.clone(), host))
        }
    }
}

/// The input tensor, of one shape at a time, in the model's precision.
enum BoundTensor {
    F32(Tensor<f32>),
    F16(Tensor<f16>),
}

/// The values of a model input, for the pipeline to write, in the model's precision.
pub enum InputValues<'a> {
    /// An f32 model's.
    F32(&'a mut [f32]),
    /// An f16 model's.
    F16(&'a mut [f16]),
}

/// One session's binding: its outputs bound to host memory of its provider, and an input tensor allocated
/// there, made again only when the input's shape changes (the session's arena keeps the memory).
pub struct BoundIo {
    binding: IoBinding,
    allocator: Allocator,
    input_name: String,
    output_names: Vec<String>,
    output_memory: MemoryInfo<'static>,
    precision: InputPrecision,
    tensor: Option<([usize; 4], BoundTensor)>,
}

impl BoundIo {
    /// Binds `session`'s input and outputs in the host memory of `provider`: an error when that memory is
    /// not there (a CUDA session without its pinned allocator).
    pub fn new(session: &Session, provider: Provider, precision: InputPrecision) -> Result<Self> {
        let unavailable = |e: ort::Error| {
            Error::new(
                ErrorKind::ProviderUnavailable,
                format!("cannot bind the inputs and outputs of a {provider} session: {}", e.to_string().trim_end()),
            )
        };
        let (input, output_memory) = memory_for(provider).map_err(unavailable)?;
        let (mut binding, allocator) = engine::bind(session, &input, unavailable)?;
        let input_name = session
            .inputs()
            .first()
            .map(|i| i.name().to_owned())
            .ok_or_else(|| Error::invalid_model("the model has no input"))?;
        let output_names: Vec<String> = session.outputs().iter().map(|o| o.name().to_owned()).collect();
        // Bound once here too, so that memory the provider cannot put its outputs in fails the binding at
        // once, before the first run, and the default can go without.
        engine::rebind(&mut binding, &output_names, &output_memory, unavailable)?;
        Ok(Self { binding, allocator, input_name, output_names, output_memory, precision, tensor: None })
    }

    /// Makes the input tensor `shape`: the same one as the last run's, or a new one (zeroed by ONNX Runtime)
    /// with the outputs bound afresh, since their shapes follow the input's.
    pub fn reserve(&mut self, shape: [usize; 4]) -> Result<()> {
        if matches!(&self.tensor, Some((current, _)) if *current == shape) {
            return Ok(());
        }
        let rebind_failed = |e: ort::Error| {
            Error::new(
                ErrorKind::InferenceFailed,
                format!("cannot bind the model's outputs: {}", e.to_string().trim_end()),
            )
        };
        engine::rebind(&mut self.binding, &self.output_names, &self.output_memory, rebind_failed)?;
        // No longer bound, the old tensor goes back to the arena now, so that the new one can take its memory.
        self.tensor = None;
        let failed = |e: ort::Error| {
            let element = match self.precision {
                InputPrecision::F32 => 4,
                InputPrecision::F16 => 2,
            };
            let bytes = shape.iter().product::<usize>().saturating_mul(element);
            Error::new(
                ErrorKind::OutOfMemory,
                format!("cannot allocate the model's bound input tensor ({bytes} bytes): {}", e.to_string().trim_end()),
            )
        };
        let tensor = match self.precision {
            InputPrecision::F32 => BoundTensor::F32(Tensor::new(&self.allocator, shape).map_err(failed)?),
            InputPrecision::F16 => BoundTensor::F16(Tensor::new(&self.allocator, shape).map_err(failed)?),
        };
        self.tensor = Some((shape, tensor));
        Ok(())
    }

    /// The input tensor's values, empty before [`Self::reserve`].
    pub fn values(&mut self) -> InputValues<'_> {
        match &mut self.tensor {
            Some((_, BoundTensor::F32(t))) => InputValues::F32(t.extract_tensor_mut().1),
            Some((_, BoundTensor::F16(t))) => InputValues::F16(t.extract_tensor_mut().1),
            None => InputValues::F32(&mut []),
        }
    }

    /// Fills the input with the padding grey (the warm-up run's blank image).
    pub fn fill_blank(&mut self) {
        fn blank<T: InputElement>(values: &mut [T]) {
            values.fill(T::from_u8(PAD_VALUE));
        }
        match self.values() {
            InputValues::F32(values) => blank(values),
            InputValues::F16(values) => blank(values),
        }
    }

    /// Runs `session` on the bound input (reserved and written) and hands every output to `read`.
    pub fn run<T>(
        &mut self,
        session: &mut Session,
        kind: RunKind,
        failed: fn(ort::Error) -> Error,
        read: impl FnOnce(&SessionOutputs<'_>) -> Result<T>,
    ) -> Result<T> {
        fn run<E: PrimitiveTensorElementType + Debug + Clone + 'static, T>(
            binding: &mut IoBinding,
            name: &str,
            tensor: &Tensor<E>,
            session: &mut Session,
            kind: RunKind,
            failed: fn(ort::Error) -> Error,
            read: impl FnOnce(&SessionOutputs<'_>) -> Result<T>,
        ) -> Result<T> {
            engine::run_bound(session, binding, name, tensor, kind, failed, read)
        }
        let Self { binding, input_name, tensor, .. } = self;
        match tensor {
            Some((_, BoundTensor::F32(t))) => run(binding, input_name, t, session, kind, failed, read),
            Some((_, BoundTensor::F16(t))) => run(binding, input_name, t, session, kind, failed, read),
            None => Err(Error::new(ErrorKind::Internal, "internal error: a bound run without an input")),
        }
    }
}
