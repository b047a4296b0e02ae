//! The detector: a model, a pool of sessions and the Ultralytics pipeline around them.

use std::path::PathBuf;
use std::time::Duration;

use half::f16;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef};

use crate::error::{Error, ErrorKind, Result};
use crate::image_input::{self, PixelView};
use crate::model::{classify_output, InputPrecision, ModelSpec, OutputLayout};
use crate::pool::Pool;
use crate::postprocess::{decode_and_suppress, BoxScaler, Detection, NmsSettings, OutputView, PostprocessScratch};
use crate::preprocess::{letterbox_into, InputElement, LetterboxGeometry, LetterboxScratch, PAD_VALUE};
use crate::runtime;

/// The default pixel limit: 100 megapixels, far above any camera, far below a decompression bomb.
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 100_000_000;
/// Upper bound on `pool_size`, so that a typo cannot load thousands of sessions.
pub const MAX_POOL_SIZE: usize = 256;

/// Everything that configures a [`Detector`].
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// The ONNX model file.
    pub model_path: PathBuf,
    /// The ONNX Runtime library; `None` searches (see [`runtime::environment`]).
    pub ort_library_path: Option<PathBuf>,
    /// Sessions in the pool; 0 picks from the core count and `threads_per_session`.
    pub pool_size: usize,
    /// Intra-op threads per session; 0 picks so that the pool does not oversubscribe the cores.
    pub threads_per_session: usize,
    /// Letterbox size `(height, width)` for models with a dynamic input; `None` uses the metadata, else 640.
    pub imgsz: Option<(u32, u32)>,
    /// Default thresholds, overridable per call.
    pub nms: NmsSettings,
    /// How long a detect call waits for a free session; `None` waits for ever.
    pub acquire_timeout: Option<Duration>,
    /// Images with more pixels are rejected before decoding.
    pub max_image_pixels: u64,
}

impl DetectorConfig {
    /// The defaults for `model_path`: auto pool, Ultralytics' thresholds, no timeout, 100 MP limit.
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            model_path: model_path.into(),
            ort_library_path: None,
            pool_size: 0,
            threads_per_session: 0,
            imgsz: None,
            nms: NmsSettings::default(),
            acquire_timeout: None,
            max_image_pixels: DEFAULT_MAX_IMAGE_PIXELS,
        }
    }
}

/// Resolves 0 ("auto") in `pool_size` and `threads_per_session` so that sessions x threads stays within
/// `cores`. With both automatic, each core gets its own single-threaded session: on 2 cores that measured
/// 13.2 img/s against 8.5 for one 2-thread session shared by 2 callers (shared/notes).
pub fn resolve_parallelism(pool_size: usize, threads_per_session: usize, cores: usize) -> (usize, usize) {
    let cores = cores.max(1);
    match (pool_size, threads_per_session) {
        (0, 0) => (cores, 1),
        (0, t) => ((cores / t).max(1), t),
        (p, 0) => (p, (cores / p).max(1)),
        (p, t) => (p, t),
    }
}

/// The outcome of one detect call.
#[derive(Debug, Clone, PartialEq)]
pub struct Detections {
    /// Detections by descending score (end-to-end models: in the model's order), in image pixels.
    pub detections: Vec<Detection>,
    /// Width of the image the boxes refer to (after EXIF orientation for encoded images).
    pub image_width: usize,
    /// Height of that image.
    pub image_height: usize,
}

/// The model input buffer, in the model's precision.
enum InputBuffer {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

/// One session with the buffers it reuses from call to call.
struct Worker {
    session: Session,
    input: InputBuffer,
    letterbox: LetterboxScratch,
    output: Vec<f32>,
    output_shape: Vec<i64>,
    postprocess: PostprocessScratch,
    detections: Vec<Detection>,
}

impl Worker {
    fn new(session: Session, precision: InputPrecision) -> Self {
        let input = match precision {
            InputPrecision::F32 => InputBuffer::F32(Vec::new()),
            InputPrecision::F16 => InputBuffer::F16(Vec::new()),
        };
        Self {
            session,
            input,
            letterbox: LetterboxScratch::default(),
            output: Vec::new(),
            output_shape: Vec::new(),
            postprocess: PostprocessScratch::default(),
            detections: Vec::new(),
        }
    }

    /// Runs the model on the prepared input of `height` x `width` and copies the first output out, as f32,
    /// before the session can be used again.
    fn infer(&mut self, height: usize, width: usize) -> Result<()> {
        let shape = [1usize, 3, height, width];
        let failed = |e: ort::Error| {
            Error::new(ErrorKind::InferenceFailed, format!("ONNX Runtime failed to run the model: {e}"))
        };
        let outputs = match &self.input {
            InputBuffer::F32(buf) => {
                self.session.run(ort::inputs![TensorRef::from_array_view((shape, &buf[..])).map_err(failed)?])
            }
            InputBuffer::F16(buf) => {
                self.session.run(ort::inputs![TensorRef::from_array_view((shape, &buf[..])).map_err(failed)?])
            }
        }
        .map_err(failed)?;
        let value = &outputs[0];
        self.output.clear();
        self.output_shape.clear();
        match value.dtype().tensor_type() {
            Some(TensorElementType::Float16) => {
                let (shape, data) = value.try_extract_tensor::<f16>().map_err(failed)?;
                self.output_shape.extend_from_slice(shape);
                self.output.extend(data.iter().map(|v| v.to_f32()));
            }
            _ => {
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(failed)?;
                self.output_shape.extend_from_slice(shape);
                self.output.extend_from_slice(data);
            }
        }
        Ok(())
    }

    fn fill_blank(&mut self, height: usize, width: usize) {
        fn fill<T: InputElement>(buf: &mut Vec<T>, len: usize) {
            buf.clear();
            buf.resize(len, T::from_u8(PAD_VALUE));
        }
        match &mut self.input {
            InputBuffer::F32(buf) => fill(buf, 3 * height * width),
            InputBuffer::F16(buf) => fill(buf, 3 * height * width),
        }
    }
}

/// A loaded model behind a pool of ONNX Runtime sessions. `Send + Sync`: call [`Detector::detect_pixels`]
/// and [`Detector::detect_encoded`] from any number of threads.
pub struct Detector {
    pool: Pool<Worker>,
    spec: ModelSpec,
    layout: OutputLayout,
    names: Vec<String>,
    defaults: NmsSettings,
    acquire_timeout: Option<Duration>,
    max_image_pixels: u64,
    threads_per_session: usize,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("spec", &self.spec)
            .field("layout", &self.layout)
            .field("pool_size", &self.pool.capacity())
            .field("threads_per_session", &self.threads_per_session)
            .finish_non_exhaustive()
    }
}

impl Detector {
    /// Loads ONNX Runtime if needed, reads the model once, builds every session of the pool and runs one
    /// warm-up inference that decides the output layout.
    pub fn new(config: &DetectorConfig) -> Result<Self> {
        config.nms.validate()?;
        if config.pool_size > MAX_POOL_SIZE {
            return Err(Error::invalid_argument(format!(
                "pool_size {} exceeds the maximum of {MAX_POOL_SIZE}",
                config.pool_size
            )));
        }
        if config.max_image_pixels == 0 {
            return Err(Error::invalid_argument("max_image_pixels must be at least 1"));
        }
        if let Some((h, w)) = config.imgsz {
            if h == 0 || w == 0 || h > 16384 || w > 16384 {
                return Err(Error::invalid_argument(format!("imgsz {h}x{w} must be between 1 and 16384")));
            }
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (pool_size, threads) = resolve_parallelism(config.pool_size, config.threads_per_session, cores);
        let environment = runtime::environment(config.ort_library_path.as_deref())?;
        let model_bytes = read_model(&config.model_path)?;

        let build_session = || -> Result<Session> {
            let load_failed = |e: ort::Error| {
                Error::new(
                    ErrorKind::ModelLoadFailed,
                    format!("ONNX Runtime cannot load {}: {e}", config.model_path.display()),
                )
            };
            let configure = || -> ort::Result<ort::session::builder::SessionBuilder> {
                Ok(Session::builder(environment)?
                    .with_optimization_level(GraphOptimizationLevel::All)?
                    .with_intra_threads(threads)?
                    // Idle threads spinning in one session steal the cores of the others.
                    .with_intra_op_spinning(pool_size == 1)?)
            };
            configure().map_err(load_failed)?.commit_from_memory(&model_bytes).map_err(load_failed)
        };

        let first = build_session()?;
        let spec = ModelSpec::from_session(&first, config.imgsz)?;
        let mut warm = Worker::new(first, spec.precision);
        let (height, width) = spec.shape.target();
        warm.fill_blank(height as usize, width as usize);
        warm.infer(height as usize, width as usize)
            .map_err(|e| Error::invalid_model(format!("warm-up inference failed: {e}")))?;
        let layout = classify_output(&warm.output_shape, height, width, &spec.metadata)?;
        let names = match (&spec.metadata.names, layout) {
            (Some(names), _) => names.clone(),
            (
                None,
                OutputLayout::ChannelsFirst { num_classes } | OutputLayout::AnchorsWithObjectness { num_classes },
            ) => (0..num_classes).map(|i| format!("class{i}")).collect(),
            (None, OutputLayout::EndToEnd) => Vec::new(),
        };

        let mut workers = Vec::with_capacity(pool_size);
        workers.push(warm);
        for _ in 1..pool_size {
            workers.push(Worker::new(build_session()?, spec.precision));
        }
        Ok(Self {
            pool: Pool::new(workers),
            spec,
            layout,
            names,
            defaults: config.nms,
            acquire_timeout: config.acquire_timeout,
            max_image_pixels: config.max_image_pixels,
            threads_per_session: threads,
        })
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
        self.layout
    }

    /// Sessions in the pool.
    pub fn pool_size(&self) -> usize {
        self.pool.capacity()
    }

    /// Intra-op threads per session.
    pub fn threads_per_session(&self) -> usize {
        self.threads_per_session
    }

    /// The thresholds used when a call passes none.
    pub fn default_settings(&self) -> NmsSettings {
        self.defaults
    }

    /// Decodes an encoded image and detects objects in it.
    pub fn detect_encoded(&self, bytes: &[u8], settings: Option<&NmsSettings>) -> Result<Detections> {
        let image = image_input::decode(bytes, self.max_image_pixels)?;
        self.detect_pixels(&image.view(), settings)
    }

    /// Detects objects in a pixel buffer. Boxes are in the buffer's pixels.
    pub fn detect_pixels(&self, view: &PixelView<'_>, settings: Option<&NmsSettings>) -> Result<Detections> {
        let settings = settings.unwrap_or(&self.defaults);
        settings.validate()?;
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
        let (target_h, target_w) = self.spec.shape.target();
        let geometry = LetterboxGeometry::new(
            view.width(),
            view.height(),
            target_h as usize,
            target_w as usize,
            self.spec.shape.minimal_rect_stride().map(|s| s as usize),
        );
        let mut guard = self.pool.acquire(self.acquire_timeout).ok_or_else(|| {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "all {} sessions stayed busy for {:?}",
                    self.pool.capacity(),
                    self.acquire_timeout.unwrap_or_default()
                ),
            )
        })?;
        let worker = &mut *guard;
        match &mut worker.input {
            InputBuffer::F32(buf) => letterbox_into(view, &geometry, &mut worker.letterbox, buf),
            InputBuffer::F16(buf) => letterbox_into(view, &geometry, &mut worker.letterbox, buf),
        }
        worker.infer(geometry.input_height, geometry.input_width)?;
        let output = self.output_view(&worker.output_shape, &worker.output)?;
        decode_and_suppress(self.layout, output, settings, &mut worker.postprocess, &mut worker.detections);
        let scaler = BoxScaler::new(geometry.input_height, geometry.input_width, view.height(), view.width());
        let mut detections = worker.detections.clone();
        drop(guard);
        detections.iter_mut().for_each(|d| scaler.apply(d));
        Ok(Detections { detections, image_width: view.width(), image_height: view.height() })
    }

    /// Checks that a run's output still fits the layout found at load, and returns its first image.
    fn output_view<'a>(&self, shape: &[i64], data: &'a [f32]) -> Result<OutputView<'a>> {
        let mismatch = || {
            Error::new(
                ErrorKind::InferenceFailed,
                format!("output shape {shape:?} does not match the layout {:?} found at load", self.layout),
            )
        };
        let &[batch, rows, cols] = shape else {
            return Err(mismatch());
        };
        let (rows, cols) =
            (usize::try_from(rows).map_err(|_| mismatch())?, usize::try_from(cols).map_err(|_| mismatch())?);
        let fits = batch >= 1
            && match self.layout {
                OutputLayout::ChannelsFirst { num_classes } => rows == 4 + num_classes,
                OutputLayout::AnchorsWithObjectness { num_classes } => cols == 5 + num_classes,
                OutputLayout::EndToEnd => cols == 6,
            };
        if !fits || data.len() < rows * cols {
            return Err(mismatch());
        }
        Ok(OutputView { data: &data[..rows * cols], rows, cols })
    }
}

/// Reads the model file, with errors that say which path and why.
fn read_model(path: &std::path::Path) -> Result<Vec<u8>> {
    let failed =
        |why: String| Error::new(ErrorKind::ModelLoadFailed, format!("cannot read model {}: {why}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(Error::invalid_argument("the model path is empty"));
    }
    if path.is_dir() {
        return Err(failed("it is a directory".into()));
    }
    let bytes = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    if bytes.is_empty() {
        return Err(failed("the file is empty".into()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
