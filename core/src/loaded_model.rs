//! A loaded model: its pool of ONNX Runtime sessions and the Ultralytics pipeline around them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use half::f16;
use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::{Session, SessionOutputs};
use ort::value::{DynValue, Tensor, TensorElementType};

use crate::batcher::{BatchCounts, BatchSettings, Batcher};
use crate::bound_io::{BoundIo, InputValues};
use crate::engine::{self, RunKind};
use crate::error::{try_resize, Error, ErrorKind, Result};
use crate::fork;
use crate::image_input::PixelView;
use crate::model::{proto, recognise_head, Head, InputPrecision, ModelMetadata, ModelSpec, OutputLayout};
use crate::pool::Pool;
use crate::postprocess::{Detections, NmsSettings};
use crate::preprocess::{letterbox_into_slice, InputElement, LetterboxGeometry, LetterboxScratch, PAD_VALUE};
use crate::provider::{Provider, ProviderChoice};
use crate::runtime;
use crate::tasks::classify::{classify_input, ClassifyScratch};
use crate::tasks::segment::Sizes;
use crate::tasks::{HeadScratch, ModelHead, RunOutputs};

/// What identifies a loaded model: the file and everything that shapes its sessions or its input size. It
/// is what loading takes, and the registry shares one model among the handles whose `ModelConfig`s name
/// the same file with the same values; thresholds, timeouts and limits are per handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelConfig {
    /// The ONNX model file.
    pub model_path: std::path::PathBuf,
    /// The ONNX Runtime library; `None` searches (see `runtime::environment`).
    pub ort_library_path: Option<std::path::PathBuf>,
    /// Sessions in the pool; 0 picks from the core count and `threads_per_session` ([`session_tiers`]).
    pub pool_size: usize,
    /// Intra-op threads per session; 0 picks so that the pool does not oversubscribe the cores.
    pub threads_per_session: usize,
    /// Letterbox size `(height, width)` for models with a dynamic input; `None` uses the metadata, else 640.
    pub imgsz: Option<(u32, u32)>,
    /// Give every session of the pool one shared copy of the model's weights.
    pub share_weights: bool,
    /// The execution providers to try, in order, and whether to fall back.
    pub providers: ProviderChoice,
    /// Gather concurrent calls into batched runs (models with a dynamic batch dimension); `None`: off.
    pub batching: Option<BatchSettings>,
    /// Bind each session's input and outputs once, in host memory of its provider ([`BoundIo`]); `None`:
    /// on GPU providers (pinned memory), off on the CPU, where a run reads the caller's buffer directly.
    pub io_binding: Option<bool>,
}

impl ModelConfig {
    /// The same config with the path resolved, so that two spellings of one file (symlinks, `..`) compare
    /// equal. A path that cannot be resolved is kept as given: loading it fails anyway, naming it.
    pub fn canonical(&self) -> Self {
        let path = std::fs::canonicalize(&self.model_path)
            .or_else(|_| std::path::absolute(&self.model_path))
            .unwrap_or_else(|_| self.model_path.clone());
        Self { model_path: path, ..self.clone() }
    }
}

/// Resolves 0 ("auto") in one of `pool_size` and `threads_per_session` so that sessions x threads stays
/// within `cores`. Returns `(sessions, threads)`. Both automatic is [`automatic_tiers`]' business; here it
/// gives the narrowest tier, one single-threaded session per core: on 2 cores that measured 13.2 img/s
/// against 8.5 for one 2-thread session shared by 2 callers.
pub fn resolve_parallelism(pool_size: usize, threads_per_session: usize, cores: usize) -> (usize, usize) {
    let cores = cores.max(1);
    match (pool_size, threads_per_session) {
        (0, 0) => (cores, 1),
        (0, t) => ((cores / t).max(1), t),
        (p, 0) => (p, (cores / p).max(1)),
        (p, t) => (p, t),
    }
}

/// Sessions of one width in a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTier {
    /// Intra-op threads of each session.
    pub threads: usize,
    /// How many such sessions.
    pub sessions: usize,
}

/// The tiers as `sessions x threads`, joined by ` + ` (`1 x 2 + 2 x 1`), for logs and reports.
pub fn describe_tiers(tiers: &[SessionTier]) -> String {
    tiers.iter().map(|tier| format!("{} x {}", tier.sessions, tier.threads)).collect::<Vec<_>>().join(" + ")
}

/// The sessions a configuration builds, widest first. An explicit `pool_size` or `threads_per_session`
/// gives one tier ([`resolve_parallelism`]); both automatic gives [`automatic_tiers`].
pub fn session_tiers(pool_size: usize, threads_per_session: usize, cores: usize) -> Vec<SessionTier> {
    if pool_size == 0 && threads_per_session == 0 {
        return automatic_tiers(cores);
    }
    let (sessions, threads) = resolve_parallelism(pool_size, threads_per_session, cores);
    vec![SessionTier { threads, sessions }]
}

/// The automatic pool: for each width `cores`, `cores / 2`, `cores / 4`, ... down to 1 thread, as many
/// sessions of that width as fit the cores. A call takes a session as wide as its fair share of the cores
/// (the cores divided by the calls in flight, see `Sessions::checkout`), so that a lone call gets every core
/// and `n` concurrent calls get `cores / n` each. One width does not serve every load: on 16 cores the
/// best pool was 1 x 16 for one caller, 4 x 4 for four and 16 x 1 for sixteen, each 1.6x to 3x the others
/// (docs/benchmarks.md). The price is memory: fewer than twice as many sessions as cores (31 on 16 cores,
/// 2.3 GB resident for yolov8n at 640 once every width has run, against 1.2 GB for 16 x 1). On 2 cores
/// this is 1 x 2 plus 2 x 1.
pub fn automatic_tiers(cores: usize) -> Vec<SessionTier> {
    let cores = cores.max(1);
    std::iter::successors(Some(cores), |&threads| (threads > 1).then_some(threads / 2))
        .map(|threads| SessionTier { threads, sessions: cores / threads })
        .collect()
}

/// The model input buffer, in the model's precision: a host buffer handed to each run, or a tensor bound
/// to the session ([`BoundIo`]).
enum InputBuffer {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bound(Box<BoundIo>),
}

impl InputBuffer {
    /// Makes the input hold `shape`'s values, reporting an allocation that fails instead of aborting: the
    /// input size comes from the model, and a crafted one can ask for more memory than there is. A host
    /// buffer's new values are the padding grey.
    fn reserve(&mut self, shape: [usize; 4]) -> Result<()> {
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
    fn values(&mut self) -> InputValues<'_> {
        match self {
            Self::F32(buf) => InputValues::F32(buf),
            Self::F16(buf) => InputValues::F16(buf),
            Self::Bound(bound) => bound.values(),
        }
    }

    /// Whether the input and outputs are bound to the session.
    fn is_bound(&self) -> bool {
        matches!(self, Self::Bound(_))
    }
}

/// What [`fill`] writes into a model input: images, where each goes, the scratch space, the input size.
struct Fill<'a> {
    views: &'a [PixelView<'a>],
    geometries: &'a [LetterboxGeometry],
    letterbox: &'a mut LetterboxScratch,
    /// A classifier's images are resized and cropped instead of letterboxed.
    classify: Option<&'a mut ClassifyScratch>,
    size: (usize, usize),
}

/// Writes each image of `f` into its slot of `buf`, one `3 x size` image after the other.
fn fill<T: InputElement>(buf: &mut [T], f: Fill<'_>) {
    let (height, width) = f.size;
    let images = f.views.iter().zip(f.geometries).zip(buf.chunks_exact_mut(3 * height * width));
    match f.classify {
        Some(scratch) => images.for_each(|((view, _), out)| classify_input(view, height, width, scratch, out)),
        None => images.for_each(|((view, geometry), out)| letterbox_into_slice(view, geometry, f.letterbox, out)),
    }
}

/// One caller's input, waiting for a batched run ([`Batcher`]).
struct BatchRequest {
    /// The prepared input of one image, `3 x size`.
    input: InputBuffer,
    /// The image's height and width, to scale the results back to.
    image: (usize, usize),
    /// The input's height and width: requests of one size share a run.
    size: (usize, usize),
    settings: NmsSettings,
}

/// One session with the buffers it reuses from call to call.
struct Worker {
    session: Session,
    input: InputBuffer,
    /// Where each image of the current run sits in the input.
    geometries: Vec<LetterboxGeometry>,
    letterbox: LetterboxScratch,
    output: Vec<f32>,
    output_shape: Vec<i64>,
    /// The second output (a segmentation model's prototypes), empty when the model has none.
    second_output: Vec<f32>,
    second_shape: Vec<i64>,
    head: HeadScratch,
    classify: ClassifyScratch,
}

impl Worker {
    /// A worker over `session` and its `input`, whose letterbox uses up to `letterbox_threads` threads.
    fn new(session: Session, input: InputBuffer, letterbox_threads: usize) -> Self {
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
    fn infer(&mut self, batch: usize, height: usize, width: usize, kind: RunKind, second: bool) -> Result<()> {
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
    fn fill_blank(&mut self, height: usize, width: usize) -> Result<()> {
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
fn inference_failed(e: ort::Error) -> Error {
    runtime_error(ErrorKind::InferenceFailed, "ONNX Runtime failed to run the model", &e)
}

/// An error of ONNX Runtime as `kind` with `context`, unless ONNX Runtime ran out of memory: that is
/// [`ErrorKind::OutOfMemory`], whatever the step, since the model may be fine on a larger machine.
fn runtime_error(kind: ErrorKind, context: &str, e: &ort::Error) -> Error {
    let message = e.to_string();
    // ONNX Runtime's allocators say "Failed to allocate memory"; a C++ allocation that throws says
    // "bad_alloc" or "bad allocation", depending on the standard library.
    let out_of_memory =
        ["Failed to allocate memory", "bad_alloc", "bad allocation"].iter().any(|m| message.contains(m));
    let kind = if out_of_memory { ErrorKind::OutOfMemory } else { kind };
    Error::new(kind, format!("{context}: {}", message.trim_end()))
}

/// Whether an output is a float or half tensor.
fn is_float(value: &DynValue) -> bool {
    matches!(value.dtype().tensor_type(), Some(TensorElementType::Float32 | TensorElementType::Float16))
}

/// Copies one output of a run into `shape` and `values`, as f32 (converting f16 outputs), so that the
/// session can be used again.
fn copy_output(value: &DynValue, shape: &mut Vec<i64>, values: &mut Vec<f32>) -> Result<()> {
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
        _ => {
            let (dims, data) = value.try_extract_tensor::<f32>().map_err(inference_failed)?;
            shape.extend_from_slice(dims);
            reserve(values, data.len())?;
            values.extend_from_slice(data);
        }
    }
    Ok(())
}

/// An item of `pool`, waiting up to `timeout` (`None`: for ever).
fn acquire_from<T>(pool: &Pool<T>, timeout: Option<Duration>) -> Result<crate::pool::PoolGuard<'_, T>> {
    pool.acquire(timeout).ok_or_else(|| {
        Error::new(
            ErrorKind::Timeout,
            format!("all {} sessions stayed busy for {:?}", pool.capacity(), timeout.unwrap_or_default()),
        )
    })
}

/// The sessions of one process (generic so that the choice between them can be tested without a model).
struct Sessions<T = Worker> {
    /// Pools of sessions of one width each, widest first, with their intra-op threads.
    tiers: Vec<(usize, Pool<T>)>,
    /// The cores the calls in flight share.
    cores: usize,
    /// Calls holding a session or waiting for one.
    in_flight: AtomicUsize,
    /// Gathers concurrent calls into batched runs, when the model was loaded with batching. Part of the
    /// sessions, so that a forked child starts with a batcher of its own, as it does with sessions.
    batcher: Option<Batcher<BatchRequest, Result<Detections>>>,
}

impl<T> Sessions<T> {
    /// A session for one call: an idle one of the widest tier no wider than this call's fair share of the
    /// cores (the cores divided by the calls in flight, this one included), else an idle narrower one,
    /// else the next of the narrowest tier, waiting up to `timeout` (`None`: for ever). Never a wider one:
    /// that would oversubscribe the cores the other calls use.
    fn checkout(&self, timeout: Option<Duration>) -> Result<Checkout<'_, T>> {
        let calls = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let in_flight = InFlight(&self.in_flight);
        let fair_share = (self.cores / calls).max(1);
        let narrowest = self.tiers.len() - 1;
        let first = self.tiers.iter().position(|(threads, _)| *threads <= fair_share).unwrap_or(narrowest);
        let idle = self.tiers[first..].iter().find_map(|(_, pool)| pool.try_acquire());
        let session = match idle {
            Some(session) => session,
            None => acquire_from(&self.tiers[narrowest].1, timeout)?,
        };
        Ok(Checkout { session, _in_flight: in_flight })
    }

    fn capacity(&self) -> usize {
        self.tiers.iter().map(|(_, pool)| pool.capacity()).sum()
    }

    fn idle(&self) -> usize {
        self.tiers.iter().map(|(_, pool)| pool.idle()).sum()
    }

    /// Acquisitions that had to wait, and their total wait, over every tier.
    fn waits(&self) -> (u64, Duration) {
        self.tiers.iter().map(|(_, pool)| pool.waits()).fold((0, Duration::ZERO), |(n, t), (m, u)| (n + m, t + u))
    }
}

/// Counts a call in flight until dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session checked out for one call. Fields drop in order: the session goes back before the call stops
/// counting as in flight.
struct Checkout<'a, T> {
    session: crate::pool::PoolGuard<'a, T>,
    _in_flight: InFlight<'a>,
}

impl<T> std::ops::Deref for Checkout<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.session
    }
}

impl<T> std::ops::DerefMut for Checkout<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.session
    }
}

/// Most images in one ONNX Runtime run of [`LoadedModel::detect_batch`]; larger batches run in chunks. Each
/// session keeps an input buffer for its largest batch: 8 images at 640x640 in f32 are 39 MB.
pub const MAX_BATCH: usize = 8;

/// Sessions of an automatic pool on a GPU provider. More than one, so that while one call's inference
/// runs on the device other calls prepare their inputs and decode their outputs on the cores; each
/// session holds its own device memory and stream, so not one per core.
pub const GPU_SESSIONS: usize = 4;

/// The automatic pool on a GPU provider: [`GPU_SESSIONS`] single-threaded sessions, at least two even on
/// one core (the device computes while the core prepares the next input), fewer on fewer cores.
pub fn gpu_tiers(cores: usize) -> Vec<SessionTier> {
    vec![SessionTier { threads: 1, sessions: GPU_SESSIONS.min(cores.max(2)) }]
}

/// How long an idle intra-op thread of a session in a pool of several spins before it sleeps, in
/// microseconds. Long enough to bridge the gaps between the operators of one run (so that a wide session
/// does not pay a thread wake-up per operator), short enough that threads sleep soon after a run and leave
/// the cores to the other sessions. On 16 cores (`docs/bench/spin-duration-16core.txt`, `spin-ab-16core.txt`)
/// it took a lone caller of the automatic pool from 28 to 38 img/s (sleeping threads) to 40 to 49, level
/// with one 16-thread session spinning the ONNX Runtime way; saturated callers gained or held, and callers
/// that pause between calls kept their p50. 100 us gained less for a lone caller; 500 and 1000 us no more.
pub const POOLED_SPIN_MICROS: u32 = 250;

/// How the idle intra-op threads of a session wait for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleThreads {
    /// ONNX Runtime's default: spin for a number of iterations, about 45 ms of CPU after a yolov8n run on
    /// 2 cores, then sleep.
    Spin,
    /// Spin for at most `micros` microseconds (`session.intra_op.spin_duration_us`), then sleep.
    SpinFor {
        /// The longest spin.
        micros: u32,
    },
}

/// How idle intra-op threads wait in a pool of `sessions` sessions. A pool of one session has the cores
/// to itself, so its threads spin the ONNX Runtime way. In a pool of several, a session's spinning
/// threads would take the cores of the others' runs. Sleeping at once, the earlier rule, cost a wide
/// session a wake-up per operator (a lone caller on 16 cores got 0.70 to 0.94 of a spinning 1 x 16 pool),
/// and spinning until ONNX Runtime's own limit cost two callers that pause between calls half their p50
/// again (`docs/bench/spin-16core.txt`). So they spin briefly ([`POOLED_SPIN_MICROS`]).
pub fn idle_threads(sessions: usize) -> IdleThreads {
    if sessions == 1 {
        IdleThreads::Spin
    } else {
        IdleThreads::SpinFor { micros: POOLED_SPIN_MICROS }
    }
}

/// Builds the sessions of one model; kept so that a forked child can build its own.
struct SessionFactory {
    environment: &'static Environment,
    model_bytes: memmap2::Mmap,
    model_name: String,
    /// Where ONNX Runtime reads the model's external data from (the model's own folder), when it has any.
    external_data_folder: Option<std::path::PathBuf>,
    /// The sessions to build, widest first ([`session_tiers`]).
    tiers: Vec<SessionTier>,
    cores: usize,
    /// One copy of the model's large weights, handed to every session (`share_weights`).
    shared_weights: Vec<(String, Arc<DynValue>)>,
    /// The execution providers to try, in order.
    providers: ProviderChoice,
    /// The provider the first session got, which every later one gets too.
    provider: OnceLock<Provider>,
    /// Cross-caller batching, when asked for and the model has a dynamic batch dimension.
    batching: Option<BatchSettings>,
    /// The caller's choice of IO binding; `None`: on GPU providers.
    io_binding: Option<bool>,
    /// Whether the sessions' input and outputs are bound: decided by the first worker, kept by the others.
    bound: OnceLock<bool>,
}

impl SessionFactory {
    /// How the sessions' idle intra-op threads wait for work ([`idle_threads`]).
    fn idle_threads(&self) -> IdleThreads {
        idle_threads(self.session_count())
    }

    fn session_count(&self) -> usize {
        self.tiers.iter().map(|tier| tier.sessions).sum()
    }

    /// The narrowest width, which the warm-up session gets.
    fn narrowest(&self) -> usize {
        self.tiers.last().map_or(1, |tier| tier.threads)
    }

    /// The threads a session's letterbox may use: as many as it has intra-op threads, which sit idle while
    /// it prepares the input; one when they spin the ONNX Runtime way, since they then keep their cores
    /// busy for tens of milliseconds after each run. On a GPU, where the cores do nothing but prepare
    /// inputs and decode outputs, each session's share of them.
    fn letterbox_threads(&self, threads: usize) -> usize {
        if self.on_gpu() {
            return (self.cores / self.session_count().max(1)).max(1);
        }
        match self.idle_threads() {
            IdleThreads::Spin => 1,
            IdleThreads::SpinFor { .. } => threads,
        }
    }

    /// Whether the sessions run on a GPU provider (known once the first session is built).
    fn on_gpu(&self) -> bool {
        self.provider.get().is_some_and(|p| p.kind.is_gpu())
    }

    /// A worker over `session`, of `threads` intra-op threads, its input bound to the session when the
    /// caller asked for IO binding or, by default, on a GPU. When the default cannot bind (the provider
    /// offers no pinned memory), the model runs without binding, saying so once; when the caller asked
    /// for it, the load fails.
    fn worker(&self, session: Session, threads: usize, precision: InputPrecision) -> Result<Worker> {
        let provider = self.provider.get().copied().unwrap_or(Provider::CPU);
        let wanted = self.io_binding.unwrap_or_else(|| provider.kind.is_gpu());
        let bind = *self.bound.get().unwrap_or(&wanted);
        let input = match bind.then(|| BoundIo::new(&session, provider, precision)) {
            Some(Ok(bound)) => InputBuffer::Bound(Box::new(bound)),
            Some(Err(e)) if self.io_binding.is_some() || self.bound.get().is_some() => return Err(e),
            Some(Err(e)) => {
                crate::log::emit(crate::log::Level::Warn, || {
                    format!("{}: {}; running without IO binding", self.model_name, e.message())
                });
                let _ = self.bound.set(false);
                Self::host_input(precision)
            }
            None => Self::host_input(precision),
        };
        let _ = self.bound.set(input.is_bound());
        Ok(Worker::new(session, input, self.letterbox_threads(threads)))
    }

    /// An input buffer in ordinary host memory, handed to each run.
    fn host_input(precision: InputPrecision) -> InputBuffer {
        match precision {
            InputPrecision::F32 => InputBuffer::F32(Vec::new()),
            InputPrecision::F16 => InputBuffer::F16(Vec::new()),
        }
    }

    /// The pool's shape on a GPU provider, when the caller left it automatic: [`GPU_SESSIONS`] sessions of
    /// one intra-op thread (the provider runs the model; the cores prepare inputs). Called once the first
    /// session has decided the provider.
    fn fit_tiers_to_provider(&mut self, automatic: bool) {
        if automatic && self.on_gpu() {
            self.tiers = gpu_tiers(self.cores);
        }
    }

    /// A session with `threads` intra-op threads whose idle threads wait as [`Self::idle_threads`] says, on
    /// the execution provider the first session got (the first of the caller's list that is there).
    fn build(&self, threads: usize) -> Result<Session> {
        let load_failed = |e: ort::Error| {
            runtime_error(ErrorKind::ModelLoadFailed, &format!("ONNX Runtime cannot load {}", self.model_name), &e)
        };
        let configure = || -> Result<SessionBuilder> {
            // Layout optimisations (above Level 2) rewrite weights per session, which defeats sharing.
            let level = if self.shared_weights.is_empty() {
                GraphOptimizationLevel::All
            } else {
                GraphOptimizationLevel::Level2
            };
            let options = || -> ort::Result<SessionBuilder> {
                let mut builder = Session::builder(self.environment)?
                    .with_optimization_level(level)?
                    .with_intra_threads(threads)?
                    .with_intra_op_spinning(true)?;
                if let IdleThreads::SpinFor { micros } = self.idle_threads() {
                    builder = builder.with_config_entry("session.intra_op.spin_duration_us", micros.to_string())?;
                }
                // The model reaches ONNX Runtime as bytes, so without this it would resolve external data
                // against the process's working directory.
                if let Some(folder) = &self.external_data_folder {
                    builder = builder.with_config_entry(
                        "session.model_external_initializers_file_folder_path",
                        folder.to_string_lossy(),
                    )?;
                }
                for (name, value) in &self.shared_weights {
                    builder = builder.with_initializer(name, Arc::clone(value))?;
                }
                Ok(builder)
            };
            let mut builder = options().map_err(load_failed)?;
            match self.provider.get() {
                Some(&provider) => self.providers.register_same(provider, self.environment, &mut builder)?,
                None => {
                    let provider = self.providers.register(self.environment, &mut builder)?;
                    let _ = self.provider.set(provider);
                }
            }
            Ok(builder)
        };
        engine::build_session(configure, &self.model_bytes, load_failed)
    }

    /// Every session of the process: `first` (already built and warmed up, of the narrowest width) plus
    /// the rest.
    fn build_sessions(&self, precision: InputPrecision, mut first: Option<Worker>) -> Result<Sessions> {
        let mut tiers = Vec::with_capacity(self.tiers.len());
        for (index, tier) in self.tiers.iter().enumerate() {
            let mut workers = Vec::with_capacity(tier.sessions);
            if index == self.tiers.len() - 1 {
                workers.extend(first.take());
            }
            while workers.len() < tier.sessions {
                workers.push(self.worker(self.build(tier.threads)?, tier.threads, precision)?);
            }
            tiers.push((tier.threads, Pool::new(workers)));
        }
        let batcher = self.batching.map(Batcher::new);
        Ok(Sessions { tiers, cores: self.cores, in_flight: AtomicUsize::new(0), batcher })
    }
}

/// A model loaded in this process, shared by every handle opened on it. `Send + Sync`.
pub struct LoadedModel {
    /// The sessions of this process. Replaced, never dropped, in a forked child (see [`fork`]).
    pool: ArcSwapOption<Sessions>,
    /// The fork epoch `pool` was built in.
    pool_epoch: AtomicU64,
    rebuild: Mutex<()>,
    factory: SessionFactory,
    spec: ModelSpec,
    /// The head found at load: what the outputs carry, their layout and the class count.
    head: ModelHead,
    names: Vec<String>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("spec", &self.spec)
            .field("head", &self.head)
            .field("tiers", &self.factory.tiers)
            .finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// Loads ONNX Runtime if needed, reads the model once, builds every session of the pool and runs one
    /// warm-up inference that decides the output layout.
    pub fn load(config: &ModelConfig) -> Result<Self> {
        fork::watch();
        // The whole load counts as a call into ONNX Runtime, for its calls outside `engine` too: the shared
        // weights' tensors and the session's metadata.
        let _in_runtime = fork::runtime_call();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let tiers = session_tiers(config.pool_size, config.threads_per_session, cores);
        let environment = runtime::environment(config.ort_library_path.as_deref(), config.providers.wants_gpu())?;
        let model_bytes = read_model(&config.model_path)?;
        let external_data_folder = external_data_folder(&config.model_path, &model_bytes)?;
        let metadata = read_metadata(&model_bytes, &config.model_path)?;
        let shared_weights = if config.share_weights { weights_to_share(&model_bytes)? } else { Vec::new() };
        let mut factory = SessionFactory {
            environment,
            shared_weights,
            model_bytes,
            model_name: config.model_path.display().to_string(),
            external_data_folder,
            tiers,
            cores,
            providers: config.providers.clone(),
            provider: OnceLock::new(),
            batching: None,
            io_binding: config.io_binding,
            bound: OnceLock::new(),
        };
        let epoch = fork::epoch();
        let threads = factory.narrowest();
        let first = factory.build(threads)?;
        factory.fit_tiers_to_provider(config.pool_size == 0 && config.threads_per_session == 0);
        let threads = factory.narrowest();
        let spec = ModelSpec::from_session(&first, metadata, config.imgsz)?;
        let mut warm = factory.worker(first, threads, spec.precision)?;
        let (height, width) = spec.shape.target();
        warm.fill_blank(height as usize, width as usize)?;
        warm.infer(1, height as usize, width as usize, RunKind::First, true).map_err(|e| match e.kind() {
            ErrorKind::OutOfMemory => Error::new(
                ErrorKind::OutOfMemory,
                format!("warm-up inference at {height}x{width} ran out of memory: {}", e.message()),
            ),
            _ => Error::invalid_model(format!("warm-up inference failed: {e}")),
        })?;
        let shapes: Vec<Vec<i64>> =
            [&warm.output_shape, &warm.second_shape].into_iter().filter(|s| !s.is_empty()).cloned().collect();
        let (head, layout) = recognise_head(&shapes, height, width, &spec.metadata)?;
        let names = class_names(spec.metadata.names.as_deref(), layout);
        let head = ModelHead { head, layout, class_count: names.len() };
        factory.batching = match config.batching {
            Some(_) if !spec.dynamic_batch => {
                crate::log::emit(crate::log::Level::Warn, || {
                    format!(
                        "{}: batching ignored: the model's batch dimension is fixed (export with dynamic=True)",
                        factory.model_name
                    )
                });
                None
            }
            batching => batching,
        };
        let pool = factory.build_sessions(spec.precision, Some(warm))?;
        Ok(Self {
            pool: ArcSwapOption::from_pointee(pool),
            pool_epoch: AtomicU64::new(epoch),
            rebuild: Mutex::new(()),
            factory,
            spec,
            head,
            names,
        })
    }

    /// The sessions of this process: those built at load, or after a fork fresh ones built on first use.
    fn pool(&self) -> Result<Arc<Sessions>> {
        if self.pool_epoch.load(Ordering::Acquire) == fork::epoch() {
            if let Some(pool) = self.pool.load_full() {
                return Ok(pool);
            }
        }
        self.rebuild_after_fork()
    }

    #[cold]
    fn rebuild_after_fork(&self) -> Result<Arc<Sessions>> {
        let _rebuilding = self.rebuild.lock().unwrap_or_else(PoisonError::into_inner);
        let epoch = fork::epoch();
        if self.pool_epoch.load(Ordering::Acquire) != epoch {
            let fresh = Arc::new(self.factory.build_sessions(self.spec.precision, None)?);
            // The inherited sessions belong to thread pools that no longer exist here: dropping them hangs
            // or crashes, so they are leaked on purpose.
            std::mem::forget(self.pool.swap(Some(fresh)));
            self.pool_epoch.store(epoch, Ordering::Release);
            crate::log::emit(crate::log::Level::Info, || {
                format!(
                    "built {} fresh sessions of {} after fork()",
                    self.factory.session_count(),
                    self.factory.model_name
                )
            });
        }
        self.pool.load_full().ok_or_else(|| Error::new(ErrorKind::Internal, "the session pool is gone"))
    }

    /// The pool of this process as `(sessions, idle, waits, total wait)`, all zero in a forked child whose
    /// sessions are not built yet. Never builds them: a health check must stay cheap.
    pub fn pool_stats(&self) -> (usize, usize, u64, Duration) {
        if self.pool_epoch.load(Ordering::Acquire) != fork::epoch() {
            return (0, 0, 0, Duration::ZERO);
        }
        match self.pool.load_full() {
            Some(pool) => {
                let (waits, waited) = pool.waits();
                (pool.capacity(), pool.idle(), waits, waited)
            }
            None => (0, 0, 0, Duration::ZERO),
        }
    }

    /// Builds this process's sessions now if they were inherited through `fork()`; a no-op otherwise.
    pub fn refresh_after_fork(&self) -> Result<()> {
        self.pool().map(drop)
    }

    /// Whether the sessions' input and outputs are bound to them ([`BoundIo`]).
    pub fn io_bound(&self) -> bool {
        self.factory.bound.get().copied().unwrap_or(false)
    }

    /// The execution provider the model's sessions run on.
    pub fn provider(&self) -> Provider {
        self.factory.provider.get().copied().unwrap_or(Provider::CPU)
    }

    /// Class names by class id. Empty for an end-to-end model without `names` metadata.
    pub fn class_names(&self) -> &[String] {
        &self.names
    }

    /// The largest model input, `(height, width)`: the fixed input shape, or the letterbox target of a
    /// dynamic model (which may shrink to the minimal rectangle per image).
    pub fn input_size(&self) -> (u32, u32) {
        self.spec.shape.target()
    }

    /// The model as inspected at load.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The output layout found at load.
    pub fn layout(&self) -> OutputLayout {
        self.head.layout
    }

    /// What the model's outputs carry besides boxes, found at load.
    pub fn head(&self) -> Head {
        self.head.head
    }

    /// The sessions of the pool, widest first.
    pub fn session_tiers(&self) -> &[SessionTier] {
        &self.factory.tiers
    }

    /// How the pool's idle intra-op threads wait for work ([`idle_threads`]).
    pub fn idle_threads(&self) -> IdleThreads {
        self.factory.idle_threads()
    }

    /// Runs a session of the pool, as a detect call would get it, on an input tensor the caller prepared
    /// (`1 x 3 x height x width` f32 values, already letterboxed and normalised), and copies the first
    /// output into `output`; returns its shape. No pre- or post-processing: raw ONNX Runtime through this
    /// model's own session, the floor against which `benches/bench.rs` measures a detect call's overhead
    /// free of the few percent by which two identically built sessions differ. Models with f16 input are
    /// refused.
    pub fn run_prepared(&self, input: &[f32], height: usize, width: usize, output: &mut Vec<f32>) -> Result<Vec<i64>> {
        if self.spec.precision != InputPrecision::F32 {
            return Err(Error::invalid_argument("run_prepared takes f32 input; this model takes f16"));
        }
        let pool = self.pool()?;
        let mut guard = pool.checkout(None)?;
        let worker = &mut *guard;
        let mut shape = Vec::new();
        let read = |outputs: &SessionOutputs<'_>| copy_output(&outputs[0], &mut shape, output);
        engine::run(&mut worker.session, [1, 3, height, width], input, RunKind::Later, inference_failed, read)?;
        Ok(shape)
    }

    /// Detects objects in a pixel buffer with `settings`, waiting up to `acquire_timeout` (`None`: for
    /// ever) for a session. Boxes are in the buffer's pixels.
    pub fn detect_pixels(
        &self,
        view: &PixelView<'_>,
        settings: &NmsSettings,
        acquire_timeout: Option<Duration>,
    ) -> Result<Detections> {
        settings.validate()?;
        let pool = self.pool()?;
        if let Some(batcher) = &pool.batcher {
            let request = self.prepare_request(view, settings)?;
            return batcher.submit(
                request,
                |r| r.size,
                |batch| self.run_batch(&pool, batch, acquire_timeout),
                || Err(Error::new(ErrorKind::Internal, "internal error: a batched run panicked")),
            );
        }
        let mut found = None;
        self.run_pipeline(std::slice::from_ref(view), settings, acquire_timeout, |d| found = Some(d))?;
        Ok(found.expect("one result per image"))
    }

    /// What cross-caller batching has done in this process's sessions; `None` when it is off.
    pub fn batch_counts(&self) -> Option<BatchCounts> {
        if self.pool_epoch.load(Ordering::Acquire) != fork::epoch() {
            return None;
        }
        self.pool.load_full().and_then(|pool| pool.batcher.as_ref().map(Batcher::counts))
    }

    /// One caller's part of a batched run: its image letterboxed (a classifier's: resized and cropped) on
    /// the caller's thread into an input of its own, exactly as the unbatched pipeline fills a session's.
    fn prepare_request(&self, view: &PixelView<'_>, settings: &NmsSettings) -> Result<BatchRequest> {
        let geometry = self.geometry(view, true);
        let size = self.input_dims(&geometry);
        let classify = self.head.head == Head::Classify;
        fn prepared<T: InputElement>(
            view: &PixelView<'_>,
            geometry: &LetterboxGeometry,
            size: (usize, usize),
            classify: bool,
        ) -> Result<Vec<T>> {
            let mut buf = Vec::new();
            try_resize(&mut buf, 3 * size.0 * size.1, T::from_u8(PAD_VALUE), "the model's input tensor")?;
            let mut classify_scratch = ClassifyScratch::default();
            let f = Fill {
                views: std::slice::from_ref(view),
                geometries: std::slice::from_ref(geometry),
                letterbox: &mut LetterboxScratch::default(),
                classify: if classify { Some(&mut classify_scratch) } else { None },
                size,
            };
            fill(&mut buf, f);
            Ok(buf)
        }
        let input = match self.spec.precision {
            InputPrecision::F32 => InputBuffer::F32(prepared(view, &geometry, size, classify)?),
            InputPrecision::F16 => InputBuffer::F16(prepared(view, &geometry, size, classify)?),
        };
        Ok(BatchRequest { input, image: (view.height(), view.width()), size, settings: *settings })
    }

    /// Where `view` goes in the model input: letterboxed to the minimal rectangle (for a batch, only when
    /// its images all have one size, `minimal`), else to the full target.
    fn geometry(&self, view: &PixelView<'_>, minimal: bool) -> LetterboxGeometry {
        let (target_h, target_w) = self.spec.shape.target();
        let stride = self.spec.shape.minimal_rect_stride().filter(|_| minimal).map(|s| s as usize);
        LetterboxGeometry::new(view.width(), view.height(), target_h as usize, target_w as usize, stride)
    }

    /// The model input's height and width for an image placed by `geometry`. A classifier's is always the
    /// full target: Ultralytics resizes and crops rather than letterboxes.
    fn input_dims(&self, geometry: &LetterboxGeometry) -> (usize, usize) {
        if self.head.head == Head::Classify {
            let (height, width) = self.spec.shape.target();
            (height as usize, width as usize)
        } else {
            (geometry.input_height, geometry.input_width)
        }
    }

    /// Whether a run must copy out the second output: a segmentation model's prototypes.
    fn has_prototypes(&self) -> bool {
        matches!(self.head.head, Head::Segment { .. })
    }

    /// A batch of prepared inputs of one size in one ONNX Runtime run, each decoded with its own settings
    /// in the pixels of its own image: one result per request, in order.
    fn run_batch(
        &self,
        pool: &Sessions,
        batch: Vec<BatchRequest>,
        acquire_timeout: Option<Duration>,
    ) -> Vec<Result<Detections>> {
        let count = batch.len();
        let (height, width) = batch[0].size;
        let run = || -> Result<Vec<Result<Detections>>> {
            let mut guard = pool.checkout(acquire_timeout)?;
            let worker = &mut *guard;
            let per_image = 3 * height * width;
            worker.input.reserve([count, 3, height, width])?;
            let mut values = worker.input.values();
            for (slot, request) in batch.iter().enumerate() {
                let range = slot * per_image..(slot + 1) * per_image;
                match (&mut values, &request.input) {
                    (InputValues::F32(to), InputBuffer::F32(from)) => to[range].copy_from_slice(from),
                    (InputValues::F16(to), InputBuffer::F16(from)) => to[range].copy_from_slice(from),
                    _ => return Err(Error::new(ErrorKind::Internal, "internal error: mixed input precisions")),
                }
            }
            worker.infer(count, height, width, RunKind::Later, self.has_prototypes())?;
            Ok(batch
                .iter()
                .enumerate()
                .map(|(index, r)| self.decode_head(worker, index, r.image, (height, width), &r.settings))
                .collect())
        };
        run().unwrap_or_else(|error| vec![Err(error); count])
    }

    /// Detects objects in several images. On a model with a dynamic batch dimension, up to [`MAX_BATCH`]
    /// images share one ONNX Runtime run, letterboxed as Ultralytics batches them: to the minimal rectangle
    /// when every image has the same size, else to the full input size. Other models run one image at a
    /// time. Results are in the order of `views`; any failure fails the whole call.
    pub fn detect_batch(
        &self,
        views: &[PixelView<'_>],
        settings: &NmsSettings,
        acquire_timeout: Option<Duration>,
    ) -> Result<Vec<Detections>> {
        settings.validate()?;
        let per_run = if self.spec.dynamic_batch { MAX_BATCH } else { 1 };
        let mut all = Vec::with_capacity(views.len());
        for chunk in views.chunks(per_run) {
            self.run_pipeline(chunk, settings, acquire_timeout, |d| all.push(d))?;
        }
        Ok(all)
    }

    /// The pipeline, for one image or a batch of them in one ONNX Runtime run: letterbox each into the
    /// session's input, run, then decode each image's output with the model's head, scale its boxes back
    /// to the image and hand them to `emit`, in the order of `views`. A batch is letterboxed as Ultralytics
    /// batches: to the minimal rectangle when every image has the same size (always, for one image), else
    /// to the full input size. Allocates nothing per call beyond the detections it hands out.
    fn run_pipeline(
        &self,
        views: &[PixelView<'_>],
        settings: &NmsSettings,
        acquire_timeout: Option<Duration>,
        mut emit: impl FnMut(Detections),
    ) -> Result<()> {
        let pool = self.pool()?;
        let mut guard = pool.checkout(acquire_timeout)?;
        let worker = &mut *guard;
        let classify = self.head.head == Head::Classify;
        let same_size = views.windows(2).all(|p| (p[0].width(), p[0].height()) == (p[1].width(), p[1].height()));
        worker.geometries.clear();
        worker.geometries.extend(views.iter().map(|v| self.geometry(v, same_size)));
        // Equal for every image: one size with the minimal rectangle, else the full target.
        let (height, width) = self.input_dims(&worker.geometries[0]);
        worker.input.reserve([views.len(), 3, height, width])?;
        let f = Fill {
            views,
            geometries: &worker.geometries,
            letterbox: &mut worker.letterbox,
            classify: if classify { Some(&mut worker.classify) } else { None },
            size: (height, width),
        };
        match worker.input.values() {
            InputValues::F32(buf) => fill(buf, f),
            InputValues::F16(buf) => fill(buf, f),
        }
        worker.infer(views.len(), height, width, RunKind::Later, self.has_prototypes())?;
        for (index, view) in views.iter().enumerate() {
            emit(self.decode_head(worker, index, (view.height(), view.width()), (height, width), settings)?);
        }
        Ok(())
    }

    /// The model's head: image `index` of the last run's outputs decoded into what the task gives, in the
    /// pixels of the image (`image`: height, width) that became the model input (`input`: height, width).
    fn decode_head(
        &self,
        worker: &mut Worker,
        index: usize,
        image: (usize, usize),
        input: (usize, usize),
        settings: &NmsSettings,
    ) -> Result<Detections> {
        let outputs = RunOutputs {
            first: (&worker.output_shape, &worker.output),
            second: (&worker.second_shape, &worker.second_output),
            index,
        };
        self.head.decode(&outputs, Sizes { input, image }, settings, &mut worker.head)
    }
}

impl Drop for LoadedModel {
    fn drop(&mut self) {
        if self.pool_epoch.load(Ordering::Acquire) != fork::epoch() {
            // Inherited through fork() and never rebuilt: leak, never drop (see `rebuild_after_fork`).
            std::mem::forget(self.pool.swap(None));
        }
    }
}

/// Initializers smaller than this stay in each session's graph: they are shapes and scalars that constant
/// folding needs to see as constants, and sharing them saves nothing.
const SHARE_WEIGHTS_FROM_BYTES: usize = 1024;

/// ONNX Runtime values for the model's large inline weights, to be shared by every session.
fn weights_to_share(model: &[u8]) -> Result<Vec<(String, Arc<DynValue>)>> {
    fn le<const N: usize, T>(raw: &[u8], convert: fn([u8; N]) -> T) -> Vec<T> {
        raw.chunks_exact(N).map(|c| convert(c.try_into().expect("chunks of N"))).collect()
    }
    let failed = |e: ort::Error| Error::new(ErrorKind::ModelLoadFailed, format!("cannot share weights: {e}"));
    let mut out = Vec::new();
    for init in proto::raw_initializers(model)? {
        let elements = init.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?));
        let shape = init.dims.clone();
        let raw = init.raw_data;
        let value: DynValue = match (init.data_type, elements) {
            (_, None) => continue,
            _ if raw.len() < SHARE_WEIGHTS_FROM_BYTES => continue,
            (1, Some(n)) if raw.len() == n * 4 => {
                Tensor::from_array((shape, le(raw, f32::from_le_bytes))).map_err(failed)?.into_dyn()
            }
            (10, Some(n)) if raw.len() == n * 2 => {
                Tensor::from_array((shape, le(raw, |b| f16::from_bits(u16::from_le_bytes(b)))))
                    .map_err(failed)?
                    .into_dyn()
            }
            (7, Some(n)) if raw.len() == n * 8 => {
                Tensor::from_array((shape, le(raw, i64::from_le_bytes))).map_err(failed)?.into_dyn()
            }
            (6, Some(n)) if raw.len() == n * 4 => {
                Tensor::from_array((shape, le(raw, i32::from_le_bytes))).map_err(failed)?.into_dyn()
            }
            (2, Some(n)) if raw.len() == n => Tensor::from_array((shape, raw.to_vec())).map_err(failed)?.into_dyn(),
            (3, Some(n)) if raw.len() == n => {
                Tensor::from_array((shape, le(raw, i8::from_le_bytes))).map_err(failed)?.into_dyn()
            }
            // Other types, or a size that does not add up: ONNX Runtime keeps its own copy.
            _ => continue,
        };
        out.push((init.name, Arc::new(value)));
    }
    Ok(out)
}

/// How many classes an end-to-end model without `names` metadata has: Ultralytics' `default_class_names`,
/// `class0` to `class998`, which its `AutoBackend` gives such a model.
pub const DEFAULT_CLASS_COUNT: usize = 999;

/// The class names by class id: the metadata's (whose count [`classify_output`] checked against the
/// output), else `class{i}` for each class of the output, or [`DEFAULT_CLASS_COUNT`] of them for an
/// end-to-end model, whose output does not say how many classes it has.
fn class_names(metadata: Option<&[String]>, layout: OutputLayout) -> Vec<String> {
    if let Some(names) = metadata {
        return names.to_vec();
    }
    let count = layout.class_count().unwrap_or(DEFAULT_CLASS_COUNT);
    (0..count).map(|i| format!("class{i}")).collect()
}

/// A model file whose protobuf cannot be read, as ONNX Runtime would report it: a file that does not load.
fn not_onnx(path: &std::path::Path, error: &Error) -> Error {
    Error::new(ErrorKind::ModelLoadFailed, format!("cannot read model {}: not an ONNX model: {error}", path.display()))
}

/// The model's metadata, read from its bytes, so that a value that is not valid UTF-8 is decoded with
/// U+FFFD in place of the bad bytes (with a warning) rather than dropped, as ONNX Runtime's reader drops it.
fn read_metadata(model: &[u8], path: &std::path::Path) -> Result<ModelMetadata> {
    let entries = proto::metadata_props(model).map_err(|e| not_onnx(path, &e))?;
    for (key, _, _) in entries.iter().filter(|(_, _, lossy)| *lossy) {
        crate::log::emit(crate::log::Level::Warn, || {
            format!("{}: metadata '{key}' is not valid UTF-8; its bad bytes read as U+FFFD", path.display())
        });
    }
    // A key written twice counts once, as ONNX Runtime's map keeps the last value.
    ModelMetadata::parse(|key| entries.iter().rev().find(|(k, _, _)| k == key).map(|(_, value, _)| value.clone()))
}

/// The folder ONNX Runtime must read the model's external data from, when the model has any: the model
/// file's own folder, symlinks resolved. Every file the model names must be a relative path that stays
/// inside that folder, also once symlinks are resolved; anything else is refused before ONNX Runtime
/// reads a byte, so that an uploaded model cannot make the library read other files of the server.
fn external_data_folder(model_path: &std::path::Path, model: &[u8]) -> Result<Option<std::path::PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Component, Path};
    let locations = proto::external_data_locations(model).map_err(|e| not_onnx(model_path, &e))?;
    if locations.is_empty() {
        return Ok(None);
    }
    let cannot = |what: String, e: std::io::Error| Error::new(ErrorKind::ModelLoadFailed, format!("{what}: {e}"));
    let real = std::fs::canonicalize(model_path)
        .map_err(|e| cannot(format!("cannot resolve the model path {}", model_path.display()), e))?;
    let folder = real.parent().unwrap_or(Path::new("/")).to_path_buf();
    for location in locations {
        let relative = Path::new(std::ffi::OsStr::from_bytes(&location));
        let inside = !relative.as_os_str().is_empty()
            && relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside {
            return Err(Error::invalid_model(format!(
                "external data location {:?} is not a relative path inside the model's folder",
                relative.display()
            )));
        }
        let file = folder.join(relative);
        let resolved = std::fs::canonicalize(&file)
            .map_err(|e| cannot(format!("cannot open the model's external data {}", file.display()), e))?;
        if !resolved.starts_with(&folder) {
            return Err(Error::invalid_model(format!(
                "external data location {:?} leads outside the model's folder {} (to {})",
                relative.display(),
                folder.display(),
                resolved.display()
            )));
        }
    }
    Ok(Some(folder))
}

/// Maps the model file read-only, with errors that say which path and why.
fn read_model(path: &std::path::Path) -> Result<memmap2::Mmap> {
    let failed =
        |why: String| Error::new(ErrorKind::ModelLoadFailed, format!("cannot read model {}: {why}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(Error::invalid_argument("the model path is empty"));
    }
    if path.is_dir() {
        return Err(failed("it is a directory".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    if file.metadata().map_err(|e| failed(e.to_string()))?.len() == 0 {
        return Err(failed("the file is empty".into()));
    }
    // SAFETY: the mapping is read-only and private. Replacing a model file in place while it is being
    // loaded is documented as undefined (as for any mapped file); deployments replace files by rename,
    // which leaves this mapping on the old inode.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sessions named "w<threads>.<index>" for `tiers` on `cores` cores.
    fn sessions(tiers: &[SessionTier], cores: usize) -> Sessions<String> {
        let tiers = tiers
            .iter()
            .map(|tier| {
                (tier.threads, Pool::new((0..tier.sessions).map(|i| format!("w{}.{i}", tier.threads)).collect()))
            })
            .collect();
        Sessions { tiers, cores, in_flight: AtomicUsize::new(0), batcher: None }
    }

    fn width(session: &str) -> usize {
        session[1..].split('.').next().unwrap().parse().unwrap()
    }

    #[test]
    fn each_call_gets_a_session_as_wide_as_its_share_of_the_cores() {
        let all = sessions(&automatic_tiers(16), 16);
        assert_eq!(all.capacity(), 1 + 2 + 4 + 8 + 16);
        {
            let first = all.checkout(None).unwrap();
            assert_eq!(width(&first), 16, "a lone call gets every core");
            let second = all.checkout(None).unwrap();
            assert_eq!(width(&second), 8);
            let third = all.checkout(None).unwrap();
            assert_eq!(width(&third), 4, "16 / 3 rounds down to the 4-thread tier");
            let fourth = all.checkout(None).unwrap();
            assert_eq!(width(&fourth), 4);
            let more: Vec<_> = (0..12).map(|_| all.checkout(None).unwrap()).collect();
            assert!(more.iter().all(|s| width(s) <= 2), "{:?}", more.iter().map(|s| s.as_str()).collect::<Vec<_>>());
            assert_eq!(all.in_flight.load(Ordering::SeqCst), 16);
            drop(first);
            // 15 calls are still in flight: the idle 16-thread session is too wide for a new one.
            let next = all.checkout(None).unwrap();
            assert_eq!(width(&next), 1);
        }
        assert_eq!(all.in_flight.load(Ordering::SeqCst), 0);
        assert_eq!(width(&all.checkout(None).unwrap()), 16, "alone again");
        assert_eq!(all.idle(), all.capacity());
    }

    #[test]
    fn a_call_whose_tier_is_busy_takes_a_narrower_session_never_a_wider_one() {
        let all = sessions(&automatic_tiers(4), 4);
        // Both 2-thread sessions busy without counting as calls in flight.
        let outside: Vec<_> = (0..2).map(|_| all.tiers[1].1.try_acquire().unwrap()).collect();
        assert!(outside.iter().all(|s| width(s) == 2));
        let wide = all.checkout(None).unwrap();
        assert_eq!(width(&wide), 4);
        assert_eq!(width(&all.checkout(None).unwrap()), 1, "share 2, its tier busy: a narrower one");
        let second = all.checkout(None).unwrap();
        drop(wide);
        let third = all.checkout(None).unwrap();
        assert_eq!((width(&second), width(&third)), (1, 1), "the idle 4-thread session is too wide");
        let rest: Vec<_> = (0..2).map(|_| all.checkout(None).unwrap()).collect();
        assert!(rest.iter().all(|s| width(s) == 1));
        let error = all.checkout(Some(Duration::from_millis(5))).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::Timeout, "waits on the narrowest tier rather than oversubscribe");
        assert_eq!(all.idle(), 1, "only the 4-thread session");
    }

    #[test]
    fn one_tier_serves_every_call_and_timeouts_stop_counting() {
        let all = sessions(&session_tiers(1, 1, 8), 8);
        let held = all.checkout(None).unwrap();
        assert_eq!(*held, "w1.0");
        let error = all.checkout(Some(Duration::from_millis(5))).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::Timeout);
        assert_eq!(all.in_flight.load(Ordering::SeqCst), 1, "the timed-out call no longer counts");
        drop(held);
        assert_eq!(all.in_flight.load(Ordering::SeqCst), 0);
        assert_eq!(all.waits().0, 1);
    }

    #[test]
    fn the_automatic_tiers_halve_the_width_and_fill_the_cores_at_each() {
        let tiers = |cores| automatic_tiers(cores).iter().map(|t| (t.threads, t.sessions)).collect::<Vec<_>>();
        assert_eq!(tiers(1), [(1, 1)]);
        assert_eq!(tiers(2), [(2, 1), (1, 2)], "one 2-thread session plus one per core");
        assert_eq!(tiers(6), [(6, 1), (3, 2), (1, 6)]);
        assert_eq!(tiers(16), [(16, 1), (8, 2), (4, 4), (2, 8), (1, 16)]);
        for cores in 1..=300 {
            let all = automatic_tiers(cores);
            assert_eq!((all[0].threads, all[0].sessions), (cores, 1), "{cores}");
            assert_eq!(all.last().map(|t| (t.threads, t.sessions)), Some((1, cores)), "{cores}");
            assert!(all.windows(2).all(|w| w[0].threads > w[1].threads), "{cores}: widest first");
            assert!(all.iter().all(|t| t.threads * t.sessions <= cores), "{cores}: a tier fits the cores");
            assert!(all.iter().map(|t| t.sessions).sum::<usize>() < 2 * cores, "{cores}: under twice the cores");
        }
        assert_eq!(session_tiers(0, 0, 8), automatic_tiers(8));
        assert_eq!(session_tiers(2, 0, 8), [SessionTier { threads: 4, sessions: 2 }], "explicit is kept as asked");
        assert_eq!(session_tiers(0, 1, 8), [SessionTier { threads: 1, sessions: 8 }]);
    }

    #[test]
    fn a_gpu_pool_has_a_few_single_threaded_sessions_whatever_the_cores() {
        let tier = |sessions| vec![SessionTier { threads: 1, sessions }];
        assert_eq!(gpu_tiers(1), tier(2));
        assert_eq!(gpu_tiers(2), tier(2));
        assert_eq!(gpu_tiers(3), tier(3));
        assert_eq!(gpu_tiers(16), tier(GPU_SESSIONS));
        assert_eq!(gpu_tiers(192), tier(GPU_SESSIONS));
    }

    #[test]
    fn only_a_pool_of_one_session_spins_the_onnx_runtime_way() {
        let sessions = |tiers: Vec<SessionTier>| tiers.iter().map(|t| t.sessions).sum::<usize>();
        assert_eq!(idle_threads(sessions(session_tiers(1, 0, 16))), IdleThreads::Spin, "1 x 16");
        assert_eq!(idle_threads(sessions(session_tiers(0, 0, 1))), IdleThreads::Spin, "auto on one core");
        for cores in 2..=64 {
            let automatic = idle_threads(sessions(session_tiers(0, 0, cores)));
            assert_eq!(automatic, IdleThreads::SpinFor { micros: POOLED_SPIN_MICROS }, "auto on {cores} cores");
        }
        assert_eq!(
            idle_threads(sessions(session_tiers(4, 4, 16))),
            IdleThreads::SpinFor { micros: POOLED_SPIN_MICROS }
        );
    }

    #[test]
    fn auto_parallelism_never_oversubscribes() {
        assert_eq!(resolve_parallelism(0, 0, 2), (2, 1));
        assert_eq!(resolve_parallelism(0, 0, 8), (8, 1));
        assert_eq!(resolve_parallelism(1, 0, 8), (1, 8));
        assert_eq!(resolve_parallelism(3, 0, 8), (3, 2));
        assert_eq!(resolve_parallelism(0, 4, 8), (2, 4));
        assert_eq!(resolve_parallelism(0, 16, 8), (1, 16));
        assert_eq!(resolve_parallelism(4, 0, 2), (4, 1));
        assert_eq!(resolve_parallelism(3, 3, 2), (3, 3), "explicit values are kept");
        for cores in 1..=64 {
            for pool in 0..=8 {
                let (p, t) = resolve_parallelism(pool, 0, cores);
                assert!(p >= 1 && t >= 1);
                assert!(p * t <= cores.max(p), "pool {pool} on {cores} cores gave {p}x{t}");
            }
        }
    }

    #[test]
    fn reading_a_directory_or_missing_file_says_so() {
        let dir = std::env::temp_dir();
        let err = read_model(&dir).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ModelLoadFailed);
        assert!(err.message().contains("directory"), "{err}");
        let err = read_model(std::path::Path::new("/nonexistent/model.onnx")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ModelLoadFailed);
        assert!(err.message().contains("/nonexistent/model.onnx"), "{err}");
    }
}
