//! The detector handle: per-handle settings over a model shared through the registry.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::batcher::BatchSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::image_input::{self, PixelFormat, PixelView};
use crate::loaded_model::{LoadedModel, ModelConfig};
pub use crate::result::Detections;
use crate::postprocess::DecodeSettings;
use crate::provider::ProviderChoice;
use crate::fork;
use crate::log::{self, Level};
use crate::registry::{self, LoadCallback, LoadState, SharedModel};
use crate::settings;
use crate::stats::{self, CallStats, CallStatsSnapshot, Stage};

pub use crate::settings::DEFAULT_MAX_IMAGE_PIXELS;

/// Everything that configures a [`Detector`].
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// The ONNX model file.
    pub model_path: PathBuf,
    /// The ONNX Runtime library; `None` searches (see `runtime::environment`).
    pub ort_library_path: Option<PathBuf>,
    /// Sessions in the pool; 0 picks from the core count and `threads_per_session`.
    pub pool_size: usize,
    /// Intra-op threads per session; 0 picks so that the pool does not oversubscribe the cores.
    pub threads_per_session: usize,
    /// Letterbox size `(height, width)` for models with a dynamic input; `None` uses the metadata, else 640.
    pub imgsz: Option<(u32, u32)>,
    /// Default thresholds, overridable per call.
    pub nms: DecodeSettings,
    /// How long a detect call waits for a free session; `None` waits for ever.
    pub acquire_timeout: Option<Duration>,
    /// Images with more pixels are rejected before decoding.
    pub max_image_pixels: u64,
    /// Return from [`Detector::open`] at once and load on a background thread.
    pub async_load: bool,
    /// Give every session of the pool one shared copy of the model's weights. Sharing needs graph
    /// optimisation at Level 2 instead of All, which costs latency (docs/servers.md, "Memory"); off by default.
    pub share_weights: bool,
    /// How long a detect call waits for a model still loading: `Some(ZERO)` fails at once with
    /// [`ErrorKind::NotReady`], `None` waits for ever.
    pub load_wait: Option<Duration>,
    /// The execution providers to try, in order (empty: the CPU), and whether to fall back.
    pub providers: ProviderChoice,
    /// Gather concurrent calls into batched runs; `None` (the default): every call runs alone.
    pub batching: Option<BatchSettings>,
    /// Bind each session's input and outputs once in its provider's host memory; `None` (the default): on
    /// GPU providers, in pinned memory.
    pub io_binding: Option<bool>,
}

impl DetectorConfig {
    /// The defaults for `model_path`: auto pool, Ultralytics' thresholds, no timeout, 100 MP limit, a
    /// synchronous load.
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            model_path: model_path.into(),
            ort_library_path: None,
            pool_size: 0,
            threads_per_session: 0,
            imgsz: None,
            nms: DecodeSettings::default(),
            acquire_timeout: None,
            max_image_pixels: DEFAULT_MAX_IMAGE_PIXELS,
            async_load: false,
            share_weights: false,
            load_wait: Some(Duration::ZERO),
            providers: ProviderChoice::default(),
            batching: None,
            io_binding: None,
        }
    }
}

impl DetectorConfig {
    /// What identifies the model these settings load: the part of the config that the handles sharing a
    /// model must agree on.
    pub fn model(&self) -> ModelConfig {
        ModelConfig {
            model_path: self.model_path.clone(),
            ort_library_path: self.ort_library_path.clone(),
            pool_size: self.pool_size,
            threads_per_session: self.threads_per_session,
            imgsz: self.imgsz,
            share_weights: self.share_weights,
            providers: self.providers.clone(),
            batching: self.batching,
            io_binding: self.io_binding,
        }
    }

    /// Checks every value against its rule in [`settings`], as the C setters do one by one: the values that
    /// can be checked without touching the model.
    pub fn validate(&self) -> Result<()> {
        self.nms.validate()?;
        if self.model_path.as_os_str().is_empty() {
            return Err(Error::invalid_argument("the model path is empty"));
        }
        settings::pool_size(self.pool_size)?;
        settings::at_least_one("max_image_pixels", self.max_image_pixels)?;
        if let Some((h, w)) = self.imgsz {
            settings::imgsz(h, w, |w, h| format!("imgsz {h}x{w}"))?;
        }
        if let Some(batching) = self.batching {
            settings::batching(batching.max_batch, batching.max_delay)?;
        }
        let mut seen = Vec::with_capacity(self.providers.providers.len());
        for provider in &self.providers.providers {
            settings::add_provider(&seen, *provider)?;
            seen.push(*provider);
        }
        Ok(())
    }
}

/// A handle on a model: its own thresholds, timeouts and limits over a model that every handle opened on
/// the same file and session settings shares. `Send + Sync`: call it from any number of threads. The model
/// is released when the last handle on it is dropped and the last call on it has returned.
///
/// [`Detector::reload`] replaces the handle's model and settings while calls run: each call runs whole on
/// the model it started with.
#[derive(Debug)]
pub struct Detector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The model and settings calls start on; replaced whole by a reload.
    active: ArcSwap<Active>,
    reloads: ReloadRecord,
    stats: CallStats,
}

/// A model with the settings it was opened or reloaded with.
#[derive(Debug)]
struct Active {
    shared: Arc<SharedModel>,
    config: DetectorConfig,
}

impl Active {
    fn new(shared: Arc<SharedModel>, config: &DetectorConfig) -> Arc<Self> {
        Arc::new(Self { shared, config: config.clone() })
    }

    /// The loaded model, waiting for it up to `timeout` (`None`: for ever).
    fn wait_ready(&self, timeout: Option<Duration>) -> Result<&LoadedModel> {
        match self.shared.wait(timeout) {
            Some(Ok(model)) => Ok(model),
            Some(Err(error)) => Err(Error::new(ErrorKind::LoadFailed, format!("the model failed to load: {error}"))),
            None => Err(Error::new(
                ErrorKind::NotReady,
                format!("the model is still loading (waited {:?})", timeout.unwrap_or_default()),
            )),
        }
    }

    /// The loaded model, waiting as the handle's `load_wait` says.
    fn model(&self) -> Result<&LoadedModel> {
        self.wait_ready(self.config.load_wait)
    }

    fn defaults<'a>(&'a self, settings: Option<&'a DecodeSettings>) -> &'a DecodeSettings {
        settings.unwrap_or(&self.config.nms)
    }
}

/// A loaded model, held for as long as the caller keeps it: a reload meanwhile does not free it.
#[derive(Debug, Clone)]
pub struct ModelRef {
    shared: Arc<SharedModel>,
}

impl std::ops::Deref for ModelRef {
    type Target = LoadedModel;

    fn deref(&self) -> &LoadedModel {
        self.shared.loaded().expect("a ModelRef is only made of a loaded model")
    }
}

/// What a reload must keep of the model it replaces; by default, nothing: any model of any task may follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadChecks {
    /// Refuse a model of another task.
    pub keep_task: bool,
    /// Refuse a model with another number of classes.
    pub keep_class_count: bool,
}

/// Called once when an asynchronous reload ends, with its outcome, on the reloading thread.
pub type ReloadCallback = Box<dyn FnOnce(std::result::Result<(), &Error>) + Send>;

/// The reloads of one handle: a snapshot from [`Detector::reload_stats`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadStats {
    /// Reloads that replaced the model.
    pub succeeded: u64,
    /// Reloads that failed, leaving the model they would have replaced.
    pub failed: u64,
    /// Whether a reload is running now.
    pub running: bool,
    /// How long the last reload that ended took, either way.
    pub last_duration: Option<Duration>,
    /// Why the last reload that ended failed; `None` if it succeeded or none ended.
    pub last_error: Option<Error>,
}

/// The reload bookkeeping of one handle.
#[derive(Debug, Default)]
struct ReloadRecord {
    /// The fork epoch plus one of the process whose thread runs a reload, 0 when none runs: a child forked
    /// during a reload does not inherit the thread, and must not be refused reloads for ever.
    running: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    last: Mutex<(Option<Duration>, Option<Error>)>,
}

/// The right to run the one reload of a handle; released when dropped.
struct ReloadClaim {
    inner: Arc<Inner>,
}

impl Drop for ReloadClaim {
    fn drop(&mut self) {
        self.inner.reloads.running.store(0, Ordering::Release);
    }
}

impl Inner {
    fn claim_reload(self: &Arc<Self>) -> Result<ReloadClaim> {
        let mine = fork::epoch() + 1;
        let running = self.reloads.running.load(Ordering::Acquire);
        if running == mine
            || self.reloads.running.compare_exchange(running, mine, Ordering::AcqRel, Ordering::Acquire).is_err()
        {
            return Err(Error::new(ErrorKind::Busy, "a reload of this detector is running; wait for it to end"));
        }
        Ok(ReloadClaim { inner: Arc::clone(self) })
    }

    /// Loads `config`'s model beside the current one, checks it, and swaps it in; on failure the current
    /// model keeps serving.
    fn reload(&self, config: &DetectorConfig, checks: ReloadChecks) -> Result<()> {
        let started = Instant::now();
        let current = self.active.load_full();
        log::emit(Level::Info, || {
            format!("reloading {} in place of {}", config.model_path.display(), current.shared.model_path().display())
        });
        let outcome = registry::load_fresh(&config.model()).and_then(|fresh| {
            if let (Some(old), Some(new)) = (current.shared.loaded(), fresh.loaded()) {
                check_replacement(old, new, checks)?;
            }
            Ok(fresh)
        });
        let elapsed = started.elapsed();
        let mut last = self.reloads.last.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(fresh) => {
                registry::publish(&fresh);
                let path = fresh.model_path().display().to_string();
                self.active.store(Active::new(fresh, config));
                self.reloads.succeeded.fetch_add(1, Ordering::Relaxed);
                *last = (Some(elapsed), None);
                log::emit(Level::Info, || format!("reloaded {path} in {} ms; new calls run on it", elapsed.as_millis()));
                Ok(())
            }
            Err(error) => {
                let error = Error::new(
                    error.kind(),
                    format!(
                        "reload of {} failed, {} keeps serving: {}",
                        config.model_path.display(),
                        current.shared.model_path().display(),
                        error.message()
                    ),
                );
                self.reloads.failed.fetch_add(1, Ordering::Relaxed);
                *last = (Some(elapsed), Some(error.clone()));
                log::emit(Level::Error, || error.message().to_owned());
                Err(error)
            }
        }
    }
}

/// Refuses a replacement that changes what `checks` keeps.
fn check_replacement(old: &LoadedModel, new: &LoadedModel, checks: ReloadChecks) -> Result<()> {
    if checks.keep_task && old.task() != new.task() {
        return Err(Error::invalid_model(format!(
            "the new model's task is {}, the current model's {} (the reload keeps the task)",
            new.task().name(),
            old.task().name()
        )));
    }
    if checks.keep_class_count && old.class_names().len() != new.class_names().len() {
        return Err(Error::invalid_model(format!(
            "the new model has {} classes, the current model {} (the reload keeps the class count)",
            new.class_names().len(),
            old.class_names().len()
        )));
    }
    Ok(())
}

impl Detector {
    /// Opens a handle and, unless `config.async_load`, waits for the model: a failed synchronous load is an
    /// error here, a failed background load is reported by every later call.
    pub fn new(config: &DetectorConfig) -> Result<Self> {
        Self::open(config, None)
    }

    /// As [`Detector::new`], with a callback run once when the load ends (at once if the model was loaded
    /// already), on the loading thread.
    pub fn open(config: &DetectorConfig, on_finished: Option<LoadCallback>) -> Result<Self> {
        config.validate()?;
        let shared = registry::obtain(&config.model(), config.async_load, on_finished)?;
        if !config.async_load {
            if let Some(Err(error)) = shared.wait(None) {
                return Err(error.clone());
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                active: ArcSwap::new(Active::new(shared, config)),
                reloads: ReloadRecord::default(),
                stats: CallStats::default(),
            }),
        })
    }

    fn active(&self) -> Arc<Active> {
        self.inner.active.load_full()
    }

    /// Replaces this handle's model and settings with `config`'s, without stopping calls: the new model is
    /// read afresh (even from the same file) and its sessions built and warmed beside the current ones;
    /// then calls that start run on it, calls in flight finish on the model they started with, and the
    /// replaced model is freed after the last of them (unless other handles share it: they keep it until
    /// they reload or are dropped). Handles opened later with `config`'s model settings share the new
    /// model. `config.async_load` is ignored: this call returns when the reload has ended.
    ///
    /// A failed reload (the load's error, or a model `checks` refuses) changes nothing: the current model
    /// keeps serving, and the error says why. [`ErrorKind::Busy`] while another reload of this handle runs.
    pub fn reload(&self, config: &DetectorConfig, checks: ReloadChecks) -> Result<()> {
        config.validate()?;
        let _claim = self.inner.claim_reload()?;
        self.inner.reload(config, checks)
    }

    /// As [`Detector::reload`], on a background thread: returns at once (with the errors found before the
    /// load starts: a bad config, [`ErrorKind::Busy`]), and runs `on_finished` with the outcome when the
    /// reload ends.
    pub fn reload_async(
        &self,
        config: &DetectorConfig,
        checks: ReloadChecks,
        on_finished: Option<ReloadCallback>,
    ) -> Result<()> {
        config.validate()?;
        let claim = self.inner.claim_reload()?;
        // ONNX Runtime is loaded on the caller's thread, as for a background load (`registry::obtain`).
        crate::runtime::environment(config.ort_library_path.as_deref(), config.providers.wants_gpu())?;
        let config = config.clone();
        let counted = fork::runtime_thread_starting();
        std::thread::Builder::new()
            .name("yolo-ffi-reload".into())
            .spawn(move || {
                counted.adopt();
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    claim.inner.reload(&config, checks)
                }))
                .unwrap_or_else(|_| Err(Error::new(ErrorKind::Internal, "internal error: the reload panicked")));
                drop(claim);
                if let Some(callback) = on_finished {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(outcome.as_ref().copied())));
                }
            })
            .map(drop)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the reloading thread: {e}")))
    }

    /// This handle's reloads.
    pub fn reload_stats(&self) -> ReloadStats {
        let record = &self.inner.reloads;
        let (last_duration, last_error) = record.last.lock().unwrap_or_else(PoisonError::into_inner).clone();
        ReloadStats {
            succeeded: record.succeeded.load(Ordering::Relaxed),
            failed: record.failed.load(Ordering::Relaxed),
            running: record.running.load(Ordering::Acquire) == fork::epoch() + 1,
            last_duration,
            last_error,
        }
    }

    /// The settings of the model now serving: those of the open, or of the last reload that succeeded.
    pub fn config(&self) -> DetectorConfig {
        self.active().config.clone()
    }

    /// Where the model's load stands.
    pub fn state(&self) -> LoadState {
        self.active().shared.state()
    }

    /// How long the model took to load, once loaded or failed.
    pub fn load_time(&self) -> Option<Duration> {
        self.active().shared.load_time()
    }

    /// Waits up to `timeout` (`None`: for ever) for the load: the model when ready, [`ErrorKind::LoadFailed`]
    /// with the reason, or [`ErrorKind::NotReady`] if still loading at the deadline.
    pub fn wait_ready(&self, timeout: Option<Duration>) -> Result<ModelRef> {
        let active = self.active();
        active.wait_ready(timeout)?;
        Ok(ModelRef { shared: Arc::clone(&active.shared) })
    }

    /// The reason of a failed load, if it failed.
    pub fn load_error(&self) -> Option<Error> {
        match self.active().shared.wait(Some(Duration::ZERO)) {
            Some(Err(error)) => Some(error.clone()),
            _ => None,
        }
    }

    /// The loaded model, waiting for it as this handle's `load_wait` says.
    pub fn model(&self) -> Result<ModelRef> {
        let active = self.active();
        active.model()?;
        Ok(ModelRef { shared: Arc::clone(&active.shared) })
    }

    /// Whether two handles share one model (and its sessions) now.
    pub fn shares_model_with(&self, other: &Detector) -> bool {
        Arc::ptr_eq(&self.active().shared, &other.active().shared)
    }

    /// The thresholds used when a call passes none.
    pub fn default_settings(&self) -> DecodeSettings {
        self.active().config.nms
    }

    /// This handle's call counters (kept across reloads).
    pub fn call_stats(&self) -> CallStatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Runs a detect call, counting it.
    fn counted<T>(&self, call: impl FnOnce(&Active) -> Result<T>) -> Result<T> {
        let started = Instant::now();
        stats::take_stages();
        let active = self.active();
        let outcome = call(&active);
        let stages = stats::take_stages();
        match &outcome {
            Ok(_) => {
                self.inner.stats.record_success(started.elapsed());
                self.inner.stats.record_stages(stages);
            }
            Err(error) => self.inner.stats.record_error(error.kind() as usize),
        }
        outcome
    }

    /// Decodes an encoded image and detects objects in it.
    pub fn detect_encoded(&self, bytes: &[u8], settings: Option<&DecodeSettings>) -> Result<Detections> {
        self.counted(|active| {
            let model = active.model()?;
            let started = Instant::now();
            let image = image_input::decode(bytes, active.config.max_image_pixels)?;
            stats::record_stage(Stage::Decode, started.elapsed());
            model.detect_pixels(&image.view(), active.defaults(settings), active.config.acquire_timeout)
        })
    }

    /// Detects objects in a pixel buffer. Boxes are in the buffer's pixels.
    pub fn detect_pixels(&self, view: &PixelView<'_>, settings: Option<&DecodeSettings>) -> Result<Detections> {
        self.counted(|active| detect_view(active, view, settings))
    }

    /// Detects objects in `height` rows of `width` pixels in `format`, `stride` bytes apart in `data`;
    /// checks the buffer first (and counts a bad one as a failed call).
    pub fn detect_buffer(
        &self,
        data: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        format: PixelFormat,
        settings: Option<&DecodeSettings>,
    ) -> Result<Detections> {
        self.counted(|active| {
            let view = PixelView::new(data, width, height, stride, format)?;
            detect_view(active, &view, settings)
        })
    }

    /// Decodes several encoded images and detects objects in them, in one ONNX Runtime run per
    /// `MAX_BATCH` images on models with a dynamic batch dimension (see
    /// [`LoadedModel::detect_batch`]). Counted as one call; any failure fails the whole batch, naming the
    /// image.
    pub fn detect_encoded_batch(&self, images: &[&[u8]], settings: Option<&DecodeSettings>) -> Result<Vec<Detections>> {
        self.counted(|active| {
            let model = active.model()?;
            let decoded = images
                .iter()
                .enumerate()
                .map(|(i, bytes)| {
                    image_input::decode(bytes, active.config.max_image_pixels)
                        .map_err(|e| Error::new(e.kind(), format!("image {i} of the batch: {}", e.message())))
                })
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<PixelView<'_>> = decoded.iter().map(|d| d.view()).collect();
            model.detect_batch(&views, active.defaults(settings), active.config.acquire_timeout)
        })
    }
}

fn detect_view(active: &Active, view: &PixelView<'_>, settings: Option<&DecodeSettings>) -> Result<Detections> {
    let model = active.model()?;
    if view.pixel_count() > active.config.max_image_pixels {
        return Err(Error::new(
            ErrorKind::ImageTooLarge,
            format!(
                "image of {}x{} pixels exceeds the limit of {} pixels",
                view.width(),
                view.height(),
                active.config.max_image_pixels
            ),
        ));
    }
    model.detect_pixels(view, active.defaults(settings), active.config.acquire_timeout)
}

/// Builds fresh sessions, in a forked child, for every model inherited from the parent. Models do this
/// lazily on their first detect anyway; calling this right after `fork()` moves the cost out of the first
/// request. Models still loading or failed are skipped.
pub fn refresh_all_after_fork() -> Result<()> {
    for shared in registry::live_models() {
        if let Some(Ok(model)) = shared.wait(Some(Duration::ZERO)) {
            model.refresh_after_fork()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batcher::BatchSettings;
    use crate::provider::{Provider, ProviderKind};

    #[test]
    fn validate_applies_every_rule_the_c_setters_apply() {
        let good = DetectorConfig::new("model.onnx");
        assert!(good.validate().is_ok(), "the defaults pass");
        type Change = Box<dyn Fn(&mut DetectorConfig)>;
        let cases: Vec<(&str, Change)> = vec![
            ("model path", Box::new(|c| c.model_path = PathBuf::new())),
            ("pool_size", Box::new(|c| c.pool_size = settings::MAX_POOL_SIZE + 1)),
            ("max_image_pixels", Box::new(|c| c.max_image_pixels = 0)),
            ("imgsz", Box::new(|c| c.imgsz = Some((0, 640)))),
            ("conf_threshold", Box::new(|c| c.nms.conf_threshold = f32::NAN)),
            ("top_k", Box::new(|c| c.nms.top_k = 0)),
            (
                "max_batch",
                Box::new(|c| {
                    c.batching = Some(BatchSettings { max_batch: 65, max_delay: Duration::ZERO });
                }),
            ),
            (
                "max_delay_us",
                Box::new(|c| {
                    c.batching = Some(BatchSettings { max_batch: 8, max_delay: Duration::from_secs(2) });
                }),
            ),
            (
                "provider list",
                Box::new(|c| {
                    let cpu = Provider { kind: ProviderKind::Cpu, device_id: 0 };
                    c.providers.providers = vec![cpu, cpu];
                }),
            ),
        ];
        for (fragment, change) in cases {
            let mut config = good.clone();
            change(&mut config);
            let message = config.validate().unwrap_err().to_string();
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
    }
}
