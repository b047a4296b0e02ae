//! A session's input and outputs bound to it once ([`IoBinding`]), in host memory its execution provider
//! reads and writes directly: CUDA's pinned (page-locked) memory on a GPU, from which the input's copy to
//! the device is one DMA transfer with no staging copy, and into which the outputs come back the same way.
//! The pipeline letterboxes straight into the bound input, in the model's precision (an f16 model's input
//! is written as f16, never converted afterwards), and copies the outputs out once, as f32.
//!
//! The input's memory is one block of the provider's allocator, grown when a larger input comes and reused
//! for every smaller one: inputs change shape with the image's aspect (Ultralytics' minimal rectangle) and
//! with the size of a batch, and a fresh tensor per shape would be allocated and cleared each time.

use std::ffi::CString;
use std::fmt::Debug;
use std::ptr::NonNull;

use half::f16;
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session, SessionOutputs};
use ort::value::{PrimitiveTensorElementType, Shape, TensorRefMut};

use crate::engine::{self, RunKind};
use crate::error::{Error, ErrorKind, Result};
use crate::model::InputPrecision;
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

/// The values of a model input, for the pipeline to write, in the model's precision.
pub enum InputValues<'a> {
    /// An f32 model's.
    F32(&'a mut [f32]),
    /// An f16 model's.
    F16(&'a mut [f16]),
}

/// A block of the binding's allocator.
struct Block {
    ptr: NonNull<u8>,
    bytes: usize,
}

/// One session's binding: its outputs bound to host memory of its provider, and its input in a block of
/// that memory, reused while it is large enough.
pub struct BoundIo {
    binding: IoBinding,
    allocator: Allocator,
    input_memory: MemoryInfo<'static>,
    input_name: CString,
    output_names: Vec<String>,
    output_memory: MemoryInfo<'static>,
    precision: InputPrecision,
    block: Option<Block>,
    /// The input's shape, set by [`Self::reserve`]; its values are the block's first ones.
    shape: Option<[usize; 4]>,
}

// SAFETY: the block is memory of `allocator`, owned by this value alone and only touched through `&mut self`;
// the ONNX Runtime objects (binding, allocator) are `Send` themselves.
unsafe impl Send for BoundIo {}

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
        let (input_memory, output_memory) = memory_for(provider).map_err(unavailable)?;
        let (mut binding, allocator) = engine::bind(session, &input_memory, unavailable)?;
        let input_name = session
            .inputs()
            .first()
            .and_then(|i| CString::new(i.name()).ok())
            .ok_or_else(|| Error::invalid_model("the model has no input with a name"))?;
        let output_names: Vec<String> = session.outputs().iter().map(|o| o.name().to_owned()).collect();
        // Bound once here too, so that memory the provider cannot put its outputs in fails the binding at
        // once, before the first run, and the default can go without.
        engine::rebind(&mut binding, &output_names, &output_memory, unavailable)?;
        Ok(Self {
            binding,
            allocator,
            input_memory,
            input_name,
            output_names,
            output_memory,
            precision,
            block: None,
            shape: None,
        })
    }

    fn element_bytes(&self) -> usize {
        match self.precision {
            InputPrecision::F32 => std::mem::size_of::<f32>(),
            InputPrecision::F16 => std::mem::size_of::<f16>(),
        }
    }

    /// Makes the input `shape`: with the outputs bound afresh when the shape changes (their shapes follow
    /// the input's), and a larger block when the current one is too small (zeroed once, then reused).
    pub fn reserve(&mut self, shape: [usize; 4]) -> Result<()> {
        if self.shape == Some(shape) {
            return Ok(());
        }
        let bytes = shape
            .iter()
            .try_fold(self.element_bytes(), |n, &d| n.checked_mul(d))
            .ok_or_else(|| Error::out_of_memory("the model's bound input tensor", usize::MAX))?;
        let rebind_failed = |e: ort::Error| {
            Error::new(
                ErrorKind::InferenceFailed,
                format!("cannot bind the model's outputs: {}", e.to_string().trim_end()),
            )
        };
        // Also lets go of the input bound last, which may point into the block about to be freed.
        engine::rebind(&mut self.binding, &self.output_names, &self.output_memory, rebind_failed)?;
        self.shape = None;
        if self.block.as_ref().is_none_or(|b| b.bytes < bytes) {
            self.free_block();
            self.block = Some(self.allocate(bytes)?);
        }
        self.shape = Some(shape);
        Ok(())
    }

    /// A zeroed block of `bytes` from the allocator, aligned for any input element.
    fn allocate(&self, bytes: usize) -> Result<Block> {
        let out_of_memory = |detail: String| {
            Error::new(
                ErrorKind::OutOfMemory,
                format!("cannot allocate the model's bound input tensor ({bytes} bytes): {detail}"),
            )
        };
        let block = self.allocator.alloc::<u8>(bytes).map_err(|e| out_of_memory(e.to_string()))?;
        let ptr = NonNull::new(block.into_raw().cast::<u8>()).ok_or_else(|| out_of_memory("no memory".into()))?;
        let block = Block { ptr, bytes };
        if ptr.as_ptr().align_offset(std::mem::align_of::<f32>()) != 0 {
            // SAFETY: the block came from this allocator and is not used anywhere.
            unsafe { self.allocator.free(block.ptr.as_ptr()) };
            return Err(Error::new(ErrorKind::Internal, "internal error: the provider's allocator misaligned"));
        }
        // SAFETY: `bytes` writable bytes of the block just allocated; zeroed once so that every value read
        // through `values` is initialised.
        unsafe { block.ptr.as_ptr().write_bytes(0, bytes) };
        Ok(block)
    }

    /// Frees the block; the binding must no longer hold an input in it.
    fn free_block(&mut self) {
        if let Some(block) = self.block.take() {
            // SAFETY: the block came from this allocator, and nothing refers to it any more: the binding
            // was cleared and `values` borrows end with the `&mut self` that made them.
            unsafe { self.allocator.free(block.ptr.as_ptr()) };
        }
    }

    /// The input's values, as the last [`Self::reserve`] shaped them (none before).
    pub fn values(&mut self) -> InputValues<'_> {
        let (Some(shape), Some(block)) = (self.shape, &self.block) else {
            return InputValues::F32(&mut []);
        };
        let len = shape.iter().product::<usize>();
        // SAFETY: `reserve` made the block hold at least `len` elements of the model's precision, aligned
        // for them and initialised (zeroed, then only ever written as such elements); `&mut self` makes this
        // the only reference to it, since the binding reads it only during `run`, which takes `&mut self`.
        unsafe {
            match self.precision {
                InputPrecision::F32 => InputValues::F32(std::slice::from_raw_parts_mut(block.ptr.as_ptr().cast(), len)),
                InputPrecision::F16 => InputValues::F16(std::slice::from_raw_parts_mut(block.ptr.as_ptr().cast(), len)),
            }
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
        let (Some(shape), Some(block)) = (self.shape, &self.block) else {
            return Err(Error::new(ErrorKind::Internal, "internal error: a bound run without an input"));
        };
        let dims = Shape::new(shape.iter().map(|&d| d as i64));
        let ptr = block.ptr.as_ptr().cast();
        match self.precision {
            InputPrecision::F32 => self.run_as::<f32, T>(ptr, dims, session, kind, failed, read),
            InputPrecision::F16 => self.run_as::<f16, T>(ptr, dims, session, kind, failed, read),
        }
    }

    fn run_as<E: PrimitiveTensorElementType + Debug + Clone + 'static, T>(
        &mut self,
        ptr: *mut std::ffi::c_void,
        shape: Shape,
        session: &mut Session,
        kind: RunKind,
        failed: fn(ort::Error) -> Error,
        read: impl FnOnce(&SessionOutputs<'_>) -> Result<T>,
    ) -> Result<T> {
        // SAFETY: `ptr` is the block, memory of the allocator `input_memory` describes, holding `shape`'s
        // elements of type `E` (see `values`). The view ends with this call, and the binding holds it only
        // during the run (`engine::run_bound`), both before the block can be freed.
        let input = unsafe { TensorRefMut::<E>::from_raw(self.input_memory.clone(), ptr, shape) }.map_err(failed)?;
        engine::run_bound(session, &mut self.binding, &self.input_name, &input, kind, failed, read)
    }
}

impl Drop for BoundIo {
    fn drop(&mut self) {
        // The binding lets go of the input view before its memory goes back.
        self.binding.clear();
        self.free_block();
    }
}
