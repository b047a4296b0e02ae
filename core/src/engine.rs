//! The one way the pipeline calls ONNX Runtime on a session: building it and running it. Each function
//! holds the guards that `fork()` and `exit()` need (see [`crate::fork`]), so that no caller can forget one:
//!
//! - Every call counts as one in progress ([`fork::runtime_call`]): the exit guard ends the process before
//!   ONNX Runtime's static destructors while one runs.
//! - Building a session, and its first run, initialise ONNX Runtime's process-wide registries under its
//!   locks: a `fork()` waits for them ([`fork::no_fork`]), and the exit guard is registered again after
//!   them ([`fork::guard_exit_again`]), since they register exit-time destructors of their own.

use std::ffi::CStr;
use std::fmt::Debug;

use ort::memory::{Allocator, MemoryInfo};
use ort::session::builder::SessionBuilder;
use ort::session::{IoBinding, Session, SessionOutputs};
use ort::value::{PrimitiveTensorElementType, TensorRef, Value, ValueTypeMarker};
use ort::AsPointer;

use crate::error::{Error, Result};
use crate::fork;

/// Builds a session from `model` with the options and execution provider `configure` sets; `failed` turns
/// ONNX Runtime's errors into the caller's. Registering a provider loads its libraries, so it runs under
/// the same guards as the build.
pub fn build_session(
    configure: impl FnOnce() -> Result<SessionBuilder>,
    model: &[u8],
    failed: impl FnOnce(ort::Error) -> Error,
) -> Result<Session> {
    let _no_fork = fork::no_fork();
    let _in_runtime = fork::runtime_call();
    let session = configure().and_then(|mut builder| builder.commit_from_memory(model).map_err(failed));
    fork::guard_exit_again();
    session
}

/// Whether a run is a session's first, which initialises kernels under ONNX Runtime's process-wide locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The warm-up run at load.
    First,
    /// Any later run.
    Later,
}

/// Runs `session` on one input tensor of `shape` over `input`, and hands the outputs to `read`, which
/// copies out what it needs while the guards still hold (reading an output is a call into ONNX Runtime
/// too). `failed` turns ONNX Runtime's errors into the caller's.
pub fn run<E: PrimitiveTensorElementType + Debug + Clone + 'static, T>(
    session: &mut Session,
    shape: [usize; 4],
    input: &[E],
    kind: RunKind,
    failed: fn(ort::Error) -> Error,
    read: impl FnOnce(&SessionOutputs<'_>) -> Result<T>,
) -> Result<T> {
    guarded(kind, || {
        TensorRef::from_array_view((shape, input))
            .and_then(|tensor| session.run(ort::inputs![tensor]))
            .map_err(failed)
            .and_then(|outputs| read(&outputs))
    })
}

/// `run` under the guards a run of `kind` needs.
fn guarded<T>(kind: RunKind, run: impl FnOnce() -> Result<T>) -> Result<T> {
    let _no_fork = (kind == RunKind::First).then(fork::no_fork);
    let _in_runtime = fork::runtime_call();
    let result = run();
    if kind == RunKind::First {
        fork::guard_exit_again();
    }
    result
}

/// A binding of `session` and an allocator of `input` memory for the input tensor the caller will bind;
/// `failed` turns ONNX Runtime's errors into the caller's. The provider decides where the input may live:
/// CUDA's pinned host memory, which it copies from without staging, is only there on a CUDA session.
pub fn bind(
    session: &Session,
    input: &MemoryInfo<'_>,
    failed: impl Fn(ort::Error) -> Error,
) -> Result<(IoBinding, Allocator)> {
    let _in_runtime = fork::runtime_call();
    let allocator = Allocator::new(session, input.clone()).map_err(&failed)?;
    let binding = session.create_binding().map_err(&failed)?;
    Ok((binding, allocator))
}

/// Clears `binding` and binds the outputs `names` to `memory`, where ONNX Runtime allocates them at each
/// run. Needed again whenever the input's shape changes: a bound output keeps the value of its first run,
/// whose shape a run with another input shape no longer fits; and the input the binding holds must let go
/// of its tensor before a tensor of the new shape takes that memory.
pub fn rebind(
    binding: &mut IoBinding,
    names: &[String],
    memory: &MemoryInfo<'_>,
    failed: impl Fn(ort::Error) -> Error,
) -> Result<()> {
    let _in_runtime = fork::runtime_call();
    binding.clear();
    names.iter().try_for_each(|name| binding.bind_output_to_device(name.as_str(), memory).map_err(&failed))
}

/// [`run`] over a session's [`IoBinding`]: `input` is bound to the input `name` for this run only (on the
/// device the session wants it on, ONNX Runtime reads it where it is; elsewhere, as a GPU session, it
/// queues the copy to the device now), then the session runs and `read` gets every output, in the session's
/// order. `input` may be a view of memory the caller owns: it is bound through the C API as it is, where
/// ort's `bind_input` would copy a borrowed tensor first, and unbound again before this returns.
pub fn run_bound<V: ValueTypeMarker + ?Sized, T>(
    session: &mut Session,
    binding: &mut IoBinding,
    name: &CStr,
    input: &Value<V>,
    kind: RunKind,
    failed: fn(ort::Error) -> Error,
    read: impl FnOnce(&SessionOutputs<'_>) -> Result<T>,
) -> Result<T> {
    guarded(kind, || {
        // SAFETY: both pointers are live ONNX Runtime objects and `name` is NUL-terminated; the binding
        // holds the value only until `clear_inputs` below, while `input` is still borrowed.
        let bound = unsafe {
            ort::Error::result_from_status((ort::api().BindInput)(binding.ptr_mut(), name.as_ptr(), input.ptr()))
        };
        let result = match bound {
            Ok(()) => session.run_binding(binding).map_err(failed).and_then(|outputs| read(&outputs)),
            Err(e) => Err(failed(e)),
        };
        binding.clear_inputs();
        result
    })
}
