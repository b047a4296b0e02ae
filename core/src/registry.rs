//! One model per process: a registry of loaded (or loading) models, shared by every handle opened on the
//! same file with the same session settings, and the background load with its outcome.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::fork;
use crate::loaded_model::{LoadedModel, ModelConfig};
use crate::log::{self, Level};

/// Where a model's load stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadState {
    /// Loading on a background thread.
    Loading,
    /// Loaded: detect calls run.
    Ready,
    /// The load failed; every detect call reports why.
    Failed,
}

/// Called once when a load ends, with its outcome. Runs on the loading thread.
pub type LoadCallback = Box<dyn FnOnce(std::result::Result<&LoadedModel, &Error>) + Send>;

/// A model being loaded or loaded, shared through the registry.
pub struct SharedModel {
    key: ModelConfig,
    outcome: OnceLock<Result<LoadedModel>>,
    pending: Mutex<Vec<LoadCallback>>,
    finished: Condvar,
    load_time: OnceLock<Duration>,
    /// What to load, as given (the key is its canonical form); loaded again if a `fork()` leaves the load
    /// without its thread.
    config: ModelConfig,
    /// The fork epoch of the process whose thread runs the load.
    loader_epoch: AtomicU64,
    /// This model, for starting a loading thread from `&self`.
    me: Weak<SharedModel>,
}

impl std::fmt::Debug for SharedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedModel").field("key", &self.key).field("state", &self.state()).finish_non_exhaustive()
    }
}

impl SharedModel {
    /// A model not loaded yet, under `key` (the canonical form of `config`).
    fn unloaded(key: ModelConfig, config: &ModelConfig) -> Arc<Self> {
        Arc::new_cyclic(|me| SharedModel {
            key,
            outcome: OnceLock::new(),
            pending: Mutex::new(Vec::new()),
            finished: Condvar::new(),
            load_time: OnceLock::new(),
            config: config.clone(),
            loader_epoch: AtomicU64::new(fork::epoch()),
            me: me.clone(),
        })
    }

    /// The loaded model, if the load ended well.
    pub fn loaded(&self) -> Option<&LoadedModel> {
        self.outcome.get().and_then(|outcome| outcome.as_ref().ok())
    }

    /// The model's file as resolved.
    pub fn model_path(&self) -> &std::path::Path {
        &self.key.model_path
    }

    /// Where the load stands. Never blocks.
    pub fn state(&self) -> LoadState {
        self.resume_if_orphaned();
        match self.outcome.get() {
            None => LoadState::Loading,
            Some(Ok(_)) => LoadState::Ready,
            Some(Err(_)) => LoadState::Failed,
        }
    }

    /// The outcome, waiting up to `timeout` (`None`: for ever) while loading. `None` if still loading.
    pub fn wait(&self, timeout: Option<Duration>) -> Option<&Result<LoadedModel>> {
        if let Some(outcome) = self.outcome.get() {
            return Some(outcome);
        }
        self.resume_if_orphaned();
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut guard = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(outcome) = self.outcome.get() {
                return Some(outcome);
            }
            guard = match deadline {
                None => self.finished.wait(guard).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    self.finished.wait_timeout(guard, deadline - now).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    /// How long the load took, once it ended.
    pub fn load_time(&self) -> Option<Duration> {
        self.load_time.get().copied()
    }

    /// Restarts a load that a `fork()` cut off. A child inherits the parent's unfinished load but not the
    /// thread running it (servers such as `gunicorn --preload` fork workers while an `async_load` is still
    /// going), so the first look at the model in the child starts the load again there, in the background.
    fn resume_if_orphaned(&self) {
        if self.outcome.get().is_some() {
            return;
        }
        let epoch = fork::epoch();
        let started = self.loader_epoch.load(Ordering::Acquire);
        if started == epoch
            || self.loader_epoch.compare_exchange(started, epoch, Ordering::AcqRel, Ordering::Acquire).is_err()
        {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        log::emit(Level::Warn, || {
            format!(
                "fork() interrupted the load of {}; loading it again in this process",
                self.key.model_path.display()
            )
        });
        if let Err(error) = me.start_loading_thread() {
            self.finish(Err(error));
        }
    }

    fn start_loading_thread(self: Arc<Self>) -> Result<()> {
        let counted = fork::runtime_thread_starting();
        std::thread::Builder::new()
            .name("yolo-ffi-load".into())
            .spawn(move || {
                counted.adopt();
                self.run_load()
            })
            .map(drop)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the loading thread: {e}")))
    }

    /// Runs `callback` when the load ends, or now if it already has.
    fn on_finished(&self, callback: LoadCallback) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match self.outcome.get() {
            Some(outcome) => {
                drop(pending);
                callback(outcome.as_ref());
            }
            None => pending.push(callback),
        }
    }

    fn run_load(&self) {
        let started = Instant::now();
        log::emit(Level::Info, || format!("loading {}", self.key.model_path.display()));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| LoadedModel::load(&self.config)))
            .unwrap_or_else(|_| Err(Error::new(ErrorKind::Internal, "internal error: the model load panicked")));
        let elapsed = started.elapsed();
        let _ = self.load_time.set(elapsed);
        match &outcome {
            Ok(model) => log::emit(Level::Info, || {
                format!(
                    "loaded {} in {} ms on {}: sessions x threads {}{}",
                    self.key.model_path.display(),
                    elapsed.as_millis(),
                    model.provider(),
                    crate::loaded_model::describe_tiers(model.session_tiers()),
                    if model.io_bound() { ", input and outputs bound" } else { "" }
                )
            }),
            Err(error) => {
                log::emit(Level::Error, || format!("loading {} failed: {error}", self.key.model_path.display()))
            }
        }
        self.finish(outcome);
    }

    /// Records the outcome, wakes the waiters and runs the callbacks.
    fn finish(&self, outcome: Result<LoadedModel>) {
        let callbacks = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = self.outcome.set(outcome);
            self.finished.notify_all();
            std::mem::take(&mut *pending)
        };
        let outcome = self.outcome.get().expect("set above");
        for callback in callbacks {
            // A panicking callback must not take the loading thread's other callbacks with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(outcome.as_ref())));
        }
    }
}

static REGISTRY: Mutex<Option<HashMap<ModelConfig, Weak<SharedModel>>>> = Mutex::new(None);

/// Gives the model for `config`: the one already loaded or loading in this process when there is one (a
/// failed load is retried), else a new one, loaded on a background thread with `background`, else right
/// here. `on_finished` runs once when the load ends (at once if it already has).
pub fn obtain(config: &ModelConfig, background: bool, on_finished: Option<LoadCallback>) -> Result<Arc<SharedModel>> {
    // Before any load starts: a fork() during the load must be seen by the child (see `resume_if_orphaned`).
    fork::watch();
    fork::watch_exits_from_this_thread();
    let key = config.canonical();
    let (shared, created) = {
        let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        let map = registry.get_or_insert_with(HashMap::new);
        map.retain(|_, weak| weak.strong_count() > 0);
        match map.get(&key).and_then(Weak::upgrade).filter(|m| m.state() != LoadState::Failed) {
            Some(existing) => (existing, false),
            None => {
                let fresh = SharedModel::unloaded(key.clone(), config);
                map.insert(key, Arc::downgrade(&fresh));
                (fresh, true)
            }
        }
    };
    if let Some(callback) = on_finished {
        shared.on_finished(callback);
    }
    if created {
        if background {
            // ONNX Runtime itself is loaded here, on the caller's thread (tens of milliseconds, once per
            // process), so that no background thread is ever inside its loading when the process exits:
            // the exit guard (`fork::guard_exit`) only exists once the runtime is loaded. A runtime that
            // cannot be loaded fails this model's load like any other cause.
            let started = crate::runtime::environment(config.ort_library_path.as_deref(), config.providers.wants_gpu())
                .and_then(|_| Arc::clone(&shared).start_loading_thread());
            if let Err(error) = started {
                log::emit(Level::Error, || format!("loading {} failed: {error}", shared.key.model_path.display()));
                shared.finish(Err(error));
            }
        } else {
            shared.run_load();
        }
    }
    Ok(shared)
}

/// Models that a reload replaced in the registry while handles still held them: alive, but no longer shared
/// with new handles.
static SUPERSEDED: Mutex<Vec<Weak<SharedModel>>> = Mutex::new(Vec::new());

/// Every model alive in this process.
pub fn live_models() -> Vec<Arc<SharedModel>> {
    let mut live: Vec<Arc<SharedModel>> = {
        let registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        registry.iter().flat_map(|map| map.values().filter_map(Weak::upgrade)).collect()
    };
    let mut superseded = SUPERSEDED.lock().unwrap_or_else(PoisonError::into_inner);
    superseded.retain(|weak| weak.strong_count() > 0);
    live.extend(superseded.iter().filter_map(Weak::upgrade));
    live
}

/// Loads `config`'s model afresh on this thread, reading its file again even when a model of the same
/// settings is loaded (a reload picks up a file replaced on disk), without sharing it yet: the caller
/// checks it, then [`publish`]es it. The load's error when it fails.
pub fn load_fresh(config: &ModelConfig) -> Result<Arc<SharedModel>> {
    fork::watch();
    fork::watch_exits_from_this_thread();
    let fresh = SharedModel::unloaded(config.canonical(), config);
    fresh.run_load();
    match fresh.wait(Some(Duration::ZERO)) {
        Some(Ok(_)) => Ok(fresh),
        Some(Err(error)) => Err(error.clone()),
        None => Err(Error::new(ErrorKind::Internal, "internal error: a finished load left no outcome")),
    }
}

/// Makes `model` the one that later [`obtain`]s of its settings share, in place of the one loaded before
/// (which lives on while handles hold it).
pub fn publish(model: &Arc<SharedModel>) {
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    let map = registry.get_or_insert_with(HashMap::new);
    map.retain(|_, weak| weak.strong_count() > 0);
    if let Some(replaced) = map.insert(model.key.clone(), Arc::downgrade(model)) {
        let mut superseded = SUPERSEDED.lock().unwrap_or_else(PoisonError::into_inner);
        superseded.retain(|weak| weak.strong_count() > 0);
        superseded.push(replaced);
    }
}
