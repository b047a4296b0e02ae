//! The session factory: how a model's sessions are built (execution provider, threads, shared weights,
//! IO binding), kept so that a forked child can build its own.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;
use ort::value::DynValue;

use crate::batcher::{BatchSettings, Batcher};
use crate::bound_io::BoundIo;
use crate::engine::{self};
use crate::error::{ErrorKind, Result};
use crate::model::InputPrecision;
use crate::pool::Pool;
use crate::provider::{Provider, ProviderChoice};

use super::sessions::Sessions;
use super::tiers::{gpu_tiers, idle_threads, IdleThreads, SessionTier};
use super::worker::{runtime_error, InputBuffer, Worker};

/// Builds the sessions of one model; kept so that a forked child can build its own.
pub(super) struct SessionFactory {
    pub(super) environment: &'static Environment,
    pub(super) model_bytes: memmap2::Mmap,
    pub(super) model_name: String,
    /// Where ONNX Runtime reads the model's external data from (the model's own folder), when it has any.
    pub(super) external_data_folder: Option<std::path::PathBuf>,
    /// The sessions to build, widest first ([`session_tiers`]).
    pub(super) tiers: Vec<SessionTier>,
    pub(super) cores: usize,
    /// One copy of the model's large weights, handed to every session (`share_weights`).
    pub(super) shared_weights: Vec<(String, Arc<DynValue>)>,
    /// The execution providers to try, in order.
    pub(super) providers: ProviderChoice,
    /// The provider the first session got, which every later one gets too.
    pub(super) provider: OnceLock<Provider>,
    /// Cross-caller batching, when asked for and the model has a dynamic batch dimension.
    pub(super) batching: Option<BatchSettings>,
    /// The caller's choice of IO binding; `None`: on GPU providers.
    pub(super) io_binding: Option<bool>,
    /// Whether the sessions' input and outputs are bound: decided by the first worker, kept by the others.
    pub(super) bound: OnceLock<bool>,
}

impl SessionFactory {
    /// How the sessions' idle intra-op threads wait for work ([`idle_threads`]).
    pub(super) fn idle_threads(&self) -> IdleThreads {
        idle_threads(self.session_count())
    }

    pub(super) fn session_count(&self) -> usize {
        self.tiers.iter().map(|tier| tier.sessions).sum()
    }

    /// The narrowest width, which the warm-up session gets.
    pub(super) fn narrowest(&self) -> usize {
        self.tiers.last().map_or(1, |tier| tier.threads)
    }

    /// The threads a session's letterbox may use: as many as it has intra-op threads, which sit idle while
    /// it prepares the input; one when they spin the ONNX Runtime way, since they then keep their cores
    /// busy for tens of milliseconds after each run. On a GPU, where the cores do nothing but prepare
    /// inputs and decode outputs, each session's share of them.
    pub(super) fn letterbox_threads(&self, threads: usize) -> usize {
        if self.on_gpu() {
            return (self.cores / self.session_count().max(1)).max(1);
        }
        match self.idle_threads() {
            IdleThreads::Spin => 1,
            IdleThreads::SpinFor { .. } => threads,
        }
    }

    /// Whether the sessions run on a GPU provider (known once the first session is built).
    pub(super) fn on_gpu(&self) -> bool {
        self.provider.get().is_some_and(|p| p.kind.is_gpu())
    }

    /// A worker over `session`, of `threads` intra-op threads, its input bound to the session when the
    /// caller asked for IO binding or, by default, on a GPU. When the default cannot bind (the provider
    /// offers no pinned memory), the model runs without binding, saying so once; when the caller asked
    /// for it, the load fails.
    pub(super) fn worker(&self, session: Session, threads: usize, precision: InputPrecision) -> Result<Worker> {
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
    pub(super) fn host_input(precision: InputPrecision) -> InputBuffer {
        match precision {
            InputPrecision::F32 => InputBuffer::F32(Vec::new()),
            InputPrecision::F16 => InputBuffer::F16(Vec::new()),
        }
    }

    /// The pool's shape on a GPU provider, when the caller left it automatic: [`GPU_SESSIONS`] sessions of
    /// one intra-op thread (the provider runs the model; the cores prepare inputs). Called once the first
    /// session has decided the provider.
    pub(super) fn fit_tiers_to_provider(&mut self, automatic: bool) {
        if automatic && self.on_gpu() {
            self.tiers = gpu_tiers(self.cores);
        }
    }

    /// A session with `threads` intra-op threads whose idle threads wait as [`Self::idle_threads`] says, on
    /// the execution provider the first session got (the first of the caller's list that is there).
    pub(super) fn build(&self, threads: usize) -> Result<Session> {
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
    pub(super) fn build_sessions(&self, precision: InputPrecision, mut first: Option<Worker>) -> Result<Sessions> {
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
