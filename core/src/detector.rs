//! The detector handle: per-handle settings over a model shared through the registry.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::batcher::BatchSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::image_input::{self, PixelFormat, PixelView};
use crate::loaded_model::{LoadedModel, ModelConfig};
pub use crate::result::Detections;
use crate::postprocess::DecodeSettings;
use crate::provider::ProviderChoice;
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
/// is released when the last handle on it is dropped.
#[derive(Debug)]
pub struct Detector {
    shared: Arc<SharedModel>,
    defaults: DecodeSettings,
    acquire_timeout: Option<Duration>,
    max_image_pixels: u64,
    load_wait: Option<Duration>,
    stats: CallStats,
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
            shared,
            defaults: config.nms,
            acquire_timeout: config.acquire_timeout,
            max_image_pixels: config.max_image_pixels,
            load_wait: config.load_wait,
            stats: CallStats::default(),
        })
    }

    /// Where the model's load stands.
    pub fn state(&self) -> LoadState {
        self.shared.state()
    }

    /// How long the model took to load, once loaded or failed.
    pub fn load_time(&self) -> Option<Duration> {
        self.shared.load_time()
    }

    /// Waits up to `timeout` (`None`: for ever) for the load: `Ok` when ready, [`ErrorKind::LoadFailed`]
    /// with the reason, or [`ErrorKind::NotReady`] if still loading at the deadline.
    pub fn wait_ready(&self, timeout: Option<Duration>) -> Result<&LoadedModel> {
        match self.shared.wait(timeout) {
            Some(Ok(model)) => Ok(model),
            Some(Err(error)) => Err(Error::new(ErrorKind::LoadFailed, format!("the model failed to load: {error}"))),
            None => Err(Error::new(
                ErrorKind::NotReady,
                format!("the model is still loading (waited {:?})", timeout.unwrap_or_default()),
            )),
        }
    }

    /// The reason of a failed load, if it failed.
    pub fn load_error(&self) -> Option<&Error> {
        match self.shared.wait(Some(Duration::ZERO)) {
            Some(Err(error)) => Some(error),
            _ => None,
        }
    }

    /// The loaded model, waiting for it as this handle's `load_wait` says.
    pub fn model(&self) -> Result<&LoadedModel> {
        self.wait_ready(self.load_wait)
    }

    /// Whether two handles share one model (and its sessions).
    pub fn shares_model_with(&self, other: &Detector) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The thresholds used when a call passes none.
    pub fn default_settings(&self) -> DecodeSettings {
        self.defaults
    }

    /// This handle's call counters.
    pub fn call_stats(&self) -> CallStatsSnapshot {
        self.stats.snapshot()
    }

    /// Runs a detect call, counting it.
    fn counted<T>(&self, call: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = Instant::now();
        stats::take_stages();
        let outcome = call();
        let stages = stats::take_stages();
        match &outcome {
            Ok(_) => {
                self.stats.record_success(started.elapsed());
                self.stats.record_stages(stages);
            }
            Err(error) => self.stats.record_error(error.kind() as usize),
        }
        outcome
    }

    /// Decodes an encoded image and detects objects in it.
    pub fn detect_encoded(&self, bytes: &[u8], settings: Option<&DecodeSettings>) -> Result<Detections> {
        self.counted(|| self.detect_encoded_uncounted(bytes, settings))
    }

    /// Detects objects in a pixel buffer. Boxes are in the buffer's pixels.
    pub fn detect_pixels(&self, view: &PixelView<'_>, settings: Option<&DecodeSettings>) -> Result<Detections> {
        self.counted(|| self.detect_pixels_uncounted(view, settings))
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
        self.counted(|| {
            let view = PixelView::new(data, width, height, stride, format)?;
            self.detect_pixels_uncounted(&view, settings)
        })
    }

    /// Decodes several encoded images and detects objects in them, in one ONNX Runtime run per
    /// `MAX_BATCH` images on models with a dynamic batch dimension (see
    /// [`LoadedModel::detect_batch`]). Counted as one call; any failure fails the whole batch, naming the
    /// image.
    pub fn detect_encoded_batch(&self, images: &[&[u8]], settings: Option<&DecodeSettings>) -> Result<Vec<Detections>> {
        self.counted(|| {
            let model = self.model()?;
            let decoded = images
                .iter()
                .enumerate()
                .map(|(i, bytes)| {
                    image_input::decode(bytes, self.max_image_pixels)
                        .map_err(|e| Error::new(e.kind(), format!("image {i} of the batch: {}", e.message())))
                })
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<PixelView<'_>> = decoded.iter().map(|d| d.view()).collect();
            model.detect_batch(&views, settings.unwrap_or(&self.defaults), self.acquire_timeout)
        })
    }

    fn detect_encoded_uncounted(&self, bytes: &[u8], settings: Option<&DecodeSettings>) -> Result<Detections> {
        let model = self.model()?;
        let started = Instant::now();
        let image = image_input::decode(bytes, self.max_image_pixels)?;
        stats::record_stage(Stage::Decode, started.elapsed());
        model.detect_pixels(&image.view(), settings.unwrap_or(&self.defaults), self.acquire_timeout)
    }

    fn detect_pixels_uncounted(&self, view: &PixelView<'_>, settings: Option<&DecodeSettings>) -> Result<Detections> {
        let model = self.model()?;
        if view.pixel_count() > self.max_image_pixels {
            return Err(Error::new(
                ErrorKind::ImageTooLarge,
                format!(
                    "image of {}x{} pixels exceeds the limit of {} pixels",
                    view.width(),
                    view.height(),
                    self.max_image_pixels
                ),
            ));
        }
        model.detect_pixels(view, settings.unwrap_or(&self.defaults), self.acquire_timeout)
    }
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
