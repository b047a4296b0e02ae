//! A loaded model: its pool of ONNX Runtime sessions and the Ultralytics pipeline around them.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ort::session::SessionOutputs;

use crate::batcher::{BatchCounts, BatchSettings, Batcher};
use crate::bound_io::InputValues;
use crate::engine::{self, RunKind};
use crate::error::{try_resize, Error, ErrorKind, Result};
use crate::fork;
use crate::image_input::PixelView;
use crate::model::{recognise_head, Head, InputPrecision, ModelSpec, OutputLayout};
use crate::postprocess::DecodeSettings;
use crate::result::Detections;
use crate::stats::{self, Stage};
use crate::preprocess::{InputElement, LetterboxGeometry, LetterboxScratch, PAD_VALUE};
use crate::provider::{Provider, ProviderChoice};
use crate::runtime;
use crate::tasks::classify::ClassifyScratch;
use crate::tasks::segment::Sizes;
use crate::tasks::{ModelHead, RunOutputs};

mod model_file;
mod session_factory;
mod sessions;
mod tiers;
mod worker;

use model_file::*;
use session_factory::*;
use sessions::*;
pub use tiers::*;
use worker::*;

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

/// Most images in one ONNX Runtime run of [`LoadedModel::detect_batch`]; larger batches run in chunks. Each
/// session keeps an input buffer for its largest batch: 8 images at 640x640 in f32 are 39 MB.
pub const MAX_BATCH: usize = 8;

/// A model loaded in this process, shared by every handle opened on it. `Send + Sync`.
pub struct LoadedModel {
    /// The sessions of this process; a forked child builds its own (see [`fork::ForkLocal`]).
    sessions: fork::ForkLocal<Sessions>,
    factory: SessionFactory,
    spec: ModelSpec,
    /// The head found at load: what the outputs carry, their layout and the class count.
    head: ModelHead,
    names: Arc<[String]>,
    /// The SHA-256 of the model file as loaded, computed when first asked for.
    sha256: OnceLock<[u8; 32]>,
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
        let names: Arc<[String]> = class_names(spec.metadata.names.as_deref(), layout).into();
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
        let built = factory.build_sessions(spec.precision, Some(warm))?;
        Ok(Self { sessions: fork::ForkLocal::new(built, epoch), factory, spec, head, names, sha256: OnceLock::new() })
    }

    /// The sessions of this process: those built at load, or after a fork fresh ones built on first use.
    fn sessions(&self) -> Result<Arc<Sessions>> {
        self.sessions.get_or_rebuild(
            || self.factory.build_sessions(self.spec.precision, None),
            || {
                crate::log::emit(crate::log::Level::Info, || {
                    format!(
                        "built {} fresh sessions of {} after fork()",
                        self.factory.session_count(),
                        self.factory.model_name
                    )
                })
            },
        )
    }

    /// The pool of this process as `(sessions, idle, waits, total wait)`, all zero in a forked child whose
    /// sessions are not built yet. Never builds them: a health check must stay cheap.
    pub fn session_stats(&self) -> (usize, usize, u64, Duration) {
        match self.sessions.current() {
            Some(pool) => {
                let (waits, waited) = pool.waits();
                (pool.capacity(), pool.idle(), waits, waited)
            }
            None => (0, 0, 0, Duration::ZERO),
        }
    }

    /// Builds this process's sessions now if they were inherited through `fork()`; a no-op otherwise.
    pub fn refresh_after_fork(&self) -> Result<()> {
        self.sessions().map(drop)
    }

    /// Whether the sessions' input and outputs are bound to them (IO binding).
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

    /// The class names, shared: what each result of this model carries.
    pub fn shared_class_names(&self) -> &Arc<[String]> {
        &self.names
    }

    /// The SHA-256 of the model file's bytes as they were loaded (the `.onnx` file; external data files are
    /// not included). Computed on first use from the mapped file, so a file replaced on disk since the load
    /// does not change it.
    pub fn sha256(&self) -> [u8; 32] {
        *self.sha256.get_or_init(|| {
            use sha2::Digest;
            sha2::Sha256::digest(&self.factory.model_bytes[..]).into()
        })
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

    /// The model's task.
    pub fn task(&self) -> crate::model::Task {
        self.head.head.task()
    }

    /// A pose model's keypoints per detection and values per keypoint (its `kpt_shape`); `(0, 0)` for
    /// other tasks.
    pub fn keypoint_shape(&self) -> (usize, usize) {
        match self.head.head {
            Head::Pose { keypoints, dims } => (keypoints, dims),
            _ => (0, 0),
        }
    }

    /// The sessions of the pool, widest first.
    pub fn session_tiers(&self) -> &[SessionTier] {
        &self.factory.tiers
    }

    /// How the pool's idle intra-op threads wait for work (`idle_threads`).
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
        let sessions = self.sessions()?;
        let mut guard = sessions.checkout(None)?;
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
        settings: &DecodeSettings,
        acquire_timeout: Option<Duration>,
    ) -> Result<Detections> {
        settings.validate()?;
        let sessions = self.sessions()?;
        if let Some(batcher) = &sessions.batcher {
            let request = self.prepare_request(view, settings)?;
            return batcher.submit(
                request,
                |r| r.size,
                |batch| self.run_batch(&sessions, batch, acquire_timeout),
                || Err(Error::new(ErrorKind::Internal, "internal error: a batched run panicked")),
            );
        }
        let mut found = None;
        self.run_pipeline(std::slice::from_ref(view), settings, acquire_timeout, |d| found = Some(d))?;
        Ok(found.expect("one result per image"))
    }

    /// What cross-caller batching has done in this process's sessions; `None` when it is off.
    pub fn batch_counts(&self) -> Option<BatchCounts> {
        self.sessions.current().and_then(|sessions| sessions.batcher.as_ref().map(Batcher::counts))
    }

    /// One caller's part of a batched run: its image letterboxed (a classifier's: resized and cropped) on
    /// the caller's thread into an input of its own, exactly as the unbatched pipeline fills a session's.
    fn prepare_request(&self, view: &PixelView<'_>, settings: &DecodeSettings) -> Result<BatchRequest> {
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

    /// Where one image goes in the model input when it is detected alone: letterboxed to the minimal
    /// rectangle (dynamic models) or the full target, stretched for depth and RT-DETR models, the full
    /// target for classifiers (whose input is prepared by resizing and cropping instead).
    pub fn input_geometry(&self, view: &PixelView<'_>) -> LetterboxGeometry {
        let geometry = self.geometry(view, true);
        if self.head.head == Head::Classify {
            let (height, width) = self.spec.shape.target();
            return LetterboxGeometry::new(view.width(), view.height(), height as usize, width as usize, None);
        }
        geometry
    }

    /// Where `view` goes in the model input: letterboxed to the minimal rectangle (for a batch, only when
    /// its images all have one size, `minimal`), else to the full target; a depth model's or an RT-DETR's
    /// input is the image stretched to the full target.
    fn geometry(&self, view: &PixelView<'_>, minimal: bool) -> LetterboxGeometry {
        let (target_h, target_w) = self.spec.shape.target();
        if self.head.head == Head::Depth || self.head.layout.is_detr() {
            return LetterboxGeometry::stretched(target_h as usize, target_w as usize);
        }
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
        sessions: &Sessions,
        batch: Vec<BatchRequest>,
        acquire_timeout: Option<Duration>,
    ) -> Vec<Result<Detections>> {
        let count = batch.len();
        let (height, width) = batch[0].size;
        let run = || -> Result<Vec<Result<Detections>>> {
            let mut guard = sessions.checkout(acquire_timeout)?;
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

    /// Detects objects in several images. On a model with a dynamic batch dimension, up to `MAX_BATCH`
    /// images share one ONNX Runtime run, letterboxed as Ultralytics batches them: to the minimal rectangle
    /// when every image has the same size, else to the full input size. Other models run one image at a
    /// time. Results are in the order of `views`; any failure fails the whole call.
    pub fn detect_batch(
        &self,
        views: &[PixelView<'_>],
        settings: &DecodeSettings,
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
        settings: &DecodeSettings,
        acquire_timeout: Option<Duration>,
        mut emit: impl FnMut(Detections),
    ) -> Result<()> {
        let sessions = self.sessions()?;
        let mut guard = sessions.checkout(acquire_timeout)?;
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
        let started = Instant::now();
        match worker.input.values() {
            InputValues::F32(buf) => fill(buf, f),
            InputValues::F16(buf) => fill(buf, f),
        }
        stats::record_stage(Stage::Letterbox, started.elapsed());
        let started = Instant::now();
        worker.infer(views.len(), height, width, RunKind::Later, self.has_prototypes())?;
        stats::record_stage(Stage::Run, started.elapsed());
        for (index, view) in views.iter().enumerate() {
            let started = Instant::now();
            let found = self.decode_head(worker, index, (view.height(), view.width()), (height, width), settings)?;
            stats::record_stage(Stage::Head, started.elapsed());
            emit(found);
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
        settings: &DecodeSettings,
    ) -> Result<Detections> {
        let outputs = RunOutputs {
            first: (&worker.output_shape, &worker.output),
            second: (&worker.second_shape, &worker.second_output),
            index,
        };
        let mut found = self.head.decode(&outputs, Sizes { input, image }, settings, &mut worker.head)?;
        found.class_names = Arc::clone(&self.names);
        found.task = Some(self.task());
        Ok(found)
    }
}
