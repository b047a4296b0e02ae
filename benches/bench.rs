//! yolo-ffi against raw ONNX Runtime, in one process and one run.
//!
//! ```text
//! cargo bench --bench bench -- latency    [--rounds N] [--json FILE] MODEL.onnx[:IMGSZ]... IMAGE...
//! cargo bench --bench bench -- throughput [--seconds S] [--repeat N] [--json FILE]
//!                                          [--configs PxT,...] [--callers N,...] [--pause-ms MS] MODEL[:IMGSZ] IMAGE
//! ```
//!
//! `latency` interleaves, round after round, a raw `Session::run` on a ready tensor (same session options,
//! same input shape), `yolo_detect_pixels` on decoded pixels, `yolo_detect` on the JPEG and on a PNG of the
//! same image, `yolo_detect_batch` of 4 images against 4 single calls, and each stage alone (decode,
//! letterbox on one thread and on the session's, inference, decode + NMS), plus `image`'s zune-jpeg decoder for comparison.
//! It prints medians and their ratio to raw ONNX Runtime.
//!
//! `throughput` runs caller threads x pool sizes x threads per session on `yolo_detect_pixels`, and raw
//! ONNX Runtime with one session per caller, and reports images/s and p50/p99 latency, the best
//! configuration per caller count, and where the automatic defaults land. The grid grows with the cores
//! (every power-of-two pool that fits them, callers up to the cores); `--repeat` runs it several times,
//! interleaved, and reports medians; `--configs` (`0x0` is the automatic pool) and `--callers` narrow it
//! and leave out raw ONNX Runtime; `--pause-ms` makes callers pause between calls, as in a server that is
//! not saturated. Wall-clock numbers: run it on an idle machine and say which machine it was.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;
use yolo_ffi::*;
use yolo_ffi_core::image_input::{decode, DecodedImage};
use yolo_ffi_core::loaded_model::{idle_threads, IdleThreads};
use yolo_ffi_core::postprocess::{decode_and_suppress, DecodeSettings, OutputView, PostprocessScratch};
use yolo_ffi_core::preprocess::{letterbox_into, LetterboxGeometry, LetterboxScratch};
use yolo_ffi_core::tasks::segment::Sizes;
use yolo_ffi_core::tasks::{HeadScratch, ModelHead, RunOutputs};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let result = match args.first().map(String::as_str) {
        Some("latency") => latency(&args[1..]),
        Some("throughput") => throughput(&args[1..]),
        _ => Err("usage: bench latency|throughput [options] MODEL[:IMGSZ]... IMAGE (see benches/bench.rs)".into()),
    };
    if let Err(message) = result {
        eprintln!("bench: {message}");
        std::process::exit(2);
    }
}

type Outcome = Result<(), String>;

/// Options common to both modes, and the positional arguments.
struct Args {
    rounds: usize,
    seconds: f64,
    json: Option<PathBuf>,
    /// Throughput: only these pools (`POOLxTHREADS`, `0x0` the automatic one), and no raw ONNX Runtime rows.
    configs: Option<Vec<(usize, usize)>>,
    /// Throughput: these caller counts instead of 1, 2, 4, 8 (and the cores).
    callers: Option<Vec<usize>>,
    /// Throughput: each caller sleeps between calls, a random 0 to twice this many ms, so that calls
    /// sometimes run alone and sometimes overlap, as in a server that is not saturated.
    pause_ms: f64,
    /// Throughput: run the whole grid this many times, interleaved, and report each cell's medians.
    repeat: usize,
    positional: Vec<String>,
}

/// A comma-separated list, each item parsed by `item`.
fn list<T>(text: &str, item: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    text.split(',').map(|part| item(part.trim()).ok_or(format!("cannot read {part:?} in {text:?}"))).collect()
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        rounds: 30,
        seconds: 3.0,
        json: None,
        configs: None,
        callers: None,
        pause_ms: 0.0,
        repeat: 1,
        positional: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--rounds" => parsed.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--seconds" => parsed.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--json" => parsed.json = Some(PathBuf::from(value()?)),
            "--configs" => {
                parsed.configs = Some(list(&value()?, |c| {
                    let (pool, threads) = c.split_once('x')?;
                    Some((pool.parse().ok()?, threads.parse().ok()?))
                })?)
            }
            "--callers" => parsed.callers = Some(list(&value()?, |c| c.parse().ok().filter(|&n: &usize| n > 0))?),
            "--repeat" => {
                parsed.repeat = value()?.parse().ok().filter(|&n: &usize| n > 0).ok_or("--repeat takes a count")?
            }
            "--pause-ms" => parsed.pause_ms = value()?.parse().map_err(|e| format!("--pause-ms: {e}"))?,
            _ => parsed.positional.push(arg.clone()),
        }
    }
    if parsed.positional.len() < 2 {
        return Err("give at least one MODEL[:IMGSZ] and an IMAGE".into());
    }
    Ok(parsed)
}

/// `path` or `path:imgsz`.
fn model_arg(arg: &str) -> Result<(PathBuf, u32), String> {
    match arg.rsplit_once(':') {
        Some((path, size)) if size.chars().all(|c| c.is_ascii_digit()) => {
            Ok((PathBuf::from(path), size.parse().map_err(|e| format!("{arg}: {e}"))?))
        }
        _ => Ok((PathBuf::from(arg), 0)),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// -- a small C-ABI client ------------------------------------------------------------------------------------

/// A detector opened through the C ABI, as a C caller would.
struct Handle(*mut yolo_detector);

// SAFETY: detector handles are thread-safe by the API's contract.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

impl Handle {
    fn open(model: &Path, imgsz: u32, pool_size: u32, threads: u32) -> Result<Self, String> {
        let path = CString::new(model.to_str().ok_or("non-UTF-8 model path")?).map_err(|e| e.to_string())?;
        let mut config = std::ptr::null_mut();
        let mut handle = std::ptr::null_mut();
        // SAFETY: `config` is live from `yolo_config_new` until freed here; the path outlives the calls;
        // `handle` is a valid out-pointer.
        let status = unsafe {
            let statuses = [
                yolo_config_new(&mut config),
                yolo_config_set_model_path(config, path.as_ptr()),
                yolo_config_set_imgsz(config, imgsz, imgsz),
                yolo_config_set_pool_size(config, pool_size),
                yolo_config_set_threads_per_session(config, threads),
            ];
            let status = statuses.into_iter().find(|s| *s != yolo_status::Ok).unwrap_or(yolo_status::Ok);
            let status = if status == yolo_status::Ok { yolo_init(config, &mut handle) } else { status };
            let message = last_error();
            yolo_config_free(config);
            (status, message)
        };
        match status {
            (yolo_status::Ok, _) => Ok(Self(handle)),
            (status, message) => Err(format!("yolo_init({}): {status:?}: {message}", model.display())),
        }
    }

    fn detect_pixels(&self, image: &DecodedImage) -> usize {
        let view = image.view();
        let stride = view.width() * 3;
        let len = stride * view.height();
        let mut result = std::ptr::null_mut();
        // SAFETY: the view's rows are contiguous RGB8 with `stride` bytes each, `len` bytes in all.
        let status = unsafe {
            yolo_detect_pixels(
                self.0,
                view.row(0).as_ptr(),
                len,
                view.width() as u32,
                view.height() as u32,
                stride,
                yolo_pixel_format::Rgb8 as u32,
                std::ptr::null(),
                &mut result,
            )
        };
        take(status, result)
    }

    fn detect(&self, encoded: &[u8]) -> usize {
        let mut result = std::ptr::null_mut();
        // SAFETY: `encoded` is readable for its length; `result` is a valid out-pointer.
        let status = unsafe { yolo_detect(self.0, encoded.as_ptr(), encoded.len(), std::ptr::null(), &mut result) };
        take(status, result)
    }

    fn detect_batch(&self, images: &[&[u8]]) -> usize {
        let pointers: Vec<*const u8> = images.iter().map(|i| i.as_ptr()).collect();
        let lengths: Vec<usize> = images.iter().map(|i| i.len()).collect();
        let mut results = vec![std::ptr::null_mut(); images.len()];
        // SAFETY: three arrays of `images.len()` entries; each pointer is readable for its length.
        let status = unsafe {
            yolo_detect_batch(
                self.0,
                pointers.as_ptr(),
                lengths.as_ptr(),
                images.len(),
                std::ptr::null(),
                results.as_mut_ptr(),
            )
        };
        assert_eq!(status, yolo_status::Ok, "yolo_detect_batch: {}", last_error());
        results.into_iter().map(|r| take(yolo_status::Ok, r)).sum()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        yolo_free(self.0);
    }
}

fn last_error() -> String {
    // SAFETY: `yolo_last_error` never returns NULL and the string is valid until the next call.
    unsafe { std::ffi::CStr::from_ptr(yolo_last_error()) }.to_string_lossy().into_owned()
}

/// The number of detections in a result, which it frees.
fn take(status: yolo_status, result: *mut yolo_result) -> usize {
    assert_eq!(status, yolo_status::Ok, "detect failed: {}", last_error());
    let mut detections = std::ptr::null();
    let mut count = 0;
    // SAFETY: `result` is a live result from a successful call, freed right after.
    unsafe {
        yolo_result_detections(result, &mut detections, &mut count);
        yolo_result_free(result);
    }
    count
}

// -- raw ONNX Runtime ----------------------------------------------------------------------------------------

/// A session built with the options the library uses for a session of `threads` intra-op threads whose idle
/// threads wait as `idle` says (the library's `loaded_model::idle_threads`: ONNX Runtime's own spinning in
/// a pool of one session, a spin of at most `POOLED_SPIN_MICROS` in a pool of several).
fn raw_session(model: &Path, threads: usize, idle: IdleThreads) -> Result<Session, String> {
    let environment = yolo_ffi_core::runtime::environment(None, false).map_err(|e| e.to_string())?;
    let failed = |e: ort::Error| format!("raw session for {}: {e}", model.display());
    let mut builder = Session::builder(environment)
        .map_err(failed)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| failed(e.into()))?
        .with_intra_threads(threads)
        .map_err(|e| failed(e.into()))?
        .with_intra_op_spinning(true)
        .map_err(|e| failed(e.into()))?;
    if let IdleThreads::SpinFor { micros } = idle {
        builder = builder
            .with_config_entry("session.intra_op.spin_duration_us", micros.to_string())
            .map_err(|e| failed(e.into()))?;
    }
    builder.commit_from_memory(&std::fs::read(model).map_err(|e| format!("{}: {e}", model.display()))?).map_err(failed)
}

/// Runs `session` on `input` and copies the first output out, as the library does.
fn raw_run(session: &mut Session, input: &[f32], height: usize, width: usize, output: &mut Vec<f32>) -> Vec<i64> {
    raw_run_all(session, input, height, width, output, &mut (Vec::new(), Vec::new()))
}

/// [`raw_run`], also copying the second output (a segmentation model's prototypes) into `second`, as the
/// library does.
fn raw_run_all(
    session: &mut Session,
    input: &[f32],
    height: usize,
    width: usize,
    output: &mut Vec<f32>,
    second: &mut (Vec<i64>, Vec<f32>),
) -> Vec<i64> {
    let outputs = session
        .run(ort::inputs![TensorRef::from_array_view(([1usize, 3, height, width], input)).expect("tensor")])
        .expect("raw run");
    output.clear();
    // Float outputs, or a semantic model's class ids, converted as the library converts them.
    let shape = match outputs[0].try_extract_tensor::<f32>() {
        Ok((shape, data)) => {
            output.extend_from_slice(data);
            shape
        }
        Err(_) => {
            let (shape, data) = outputs[0].try_extract_tensor::<u8>().expect("an f32 or u8 output");
            output.extend(data.iter().map(|&v| f32::from(v)));
            shape
        }
    };
    second.0.clear();
    second.1.clear();
    if outputs.len() > 1 {
        if let Ok((dims, data)) = outputs[1].try_extract_tensor::<f32>() {
            second.0.extend_from_slice(dims);
            second.1.extend_from_slice(data);
        }
    }
    shape.to_vec()
}

/// The library's model for a pool of `pool_size` x `threads` (0: automatic) and the letterbox it applies to
/// `image`: what the raw runs reproduce. A handle opened with the same settings shares this model.
fn library_geometry(
    model: &Path,
    imgsz: u32,
    (pool_size, threads): (usize, usize),
    image: &DecodedImage,
) -> Result<(yolo_ffi_core::Detector, LetterboxGeometry), String> {
    let mut config = yolo_ffi_core::DetectorConfig::new(model);
    config.pool_size = pool_size;
    config.threads_per_session = threads;
    config.imgsz = (imgsz > 0).then_some((imgsz, imgsz));
    let detector = yolo_ffi_core::Detector::new(&config).map_err(|e| e.to_string())?;
    let loaded = detector.model().map_err(|e| e.to_string())?;
    let geometry = loaded.input_geometry(&image.view());
    Ok((detector, geometry))
}

// -- statistics ----------------------------------------------------------------------------------------------

fn median(samples: &mut [f64]) -> f64 {
    quantile(samples, 0.5)
}

fn quantile(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let position = q * (samples.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    samples[low] + (samples[high] - samples[low]) * (position - low as f64)
}

fn time_ms(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1e3
}

/// [`time_ms`] after 25 ms of busy waiting. ONNX Runtime's intra-op threads keep spinning for a while after a
/// run and would steal the cores of a measurement on another session; a sleep instead of a busy wait lets a
/// virtual machine's cores go idle, and the next run then pays for waking them.
fn settled_ms(f: impl FnOnce()) -> f64 {
    let until = Instant::now() + Duration::from_millis(25);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    time_ms(f)
}

fn write_json(path: &Option<PathBuf>, value: serde_json::Value) -> Outcome {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(&value).unwrap())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

// -- latency -------------------------------------------------------------------------------------------------

fn latency(args: &[String]) -> Outcome {
    let args = parse(args)?;
    // Models are the `.onnx` arguments (with an optional `:IMGSZ`), images the rest.
    let (models, images): (Vec<&String>, Vec<&String>) = args
        .positional
        .iter()
        .partition(|a| model_arg(a).is_ok_and(|(path, _)| path.extension().is_some_and(|e| e == "onnx")));
    if models.is_empty() || images.is_empty() {
        return Err("latency takes at least one MODEL.onnx[:IMGSZ] and one IMAGE".into());
    }
    let threads = cores();
    let mut report = Vec::new();
    for image in images {
        let jpeg = std::fs::read(image).map_err(|e| format!("{image}: {e}"))?;
        let decoded = decode(&jpeg, u64::MAX).map_err(|e| e.to_string())?;
        let png = {
            let view = decoded.view();
            let mut rgb = Vec::with_capacity(view.width() * view.height() * 3);
            (0..view.height()).for_each(|y| rgb.extend_from_slice(&view.row(y)[..view.width() * 3]));
            let mut out = std::io::Cursor::new(Vec::new());
            image::RgbImage::from_raw(view.width() as u32, view.height() as u32, rgb)
                .unwrap()
                .write_to(&mut out, image::ImageFormat::Png)
                .map_err(|e| e.to_string())?;
            out.into_inner()
        };
        let (width, height) = (decoded.view().width(), decoded.view().height());
        println!(
            "latency: {} rounds, automatic pool, a lone call on its widest session, {threads} threads (raw ONNX \
             Runtime: the same options), image {image} {width}x{height}",
            args.rounds,
        );
        let mut per_model = Vec::new();
        for model_arg_text in &models {
            let (model, imgsz) = model_arg(model_arg_text)?;
            per_model.push(latency_one(&model, imgsz, threads, &args, &jpeg, &png, &decoded)?);
        }
        report.push(serde_json::json!({ "image": image, "width": width, "height": height, "models": per_model }));
    }
    write_json(&args.json, serde_json::json!({ "mode": "latency", "threads": threads, "images": report }))
}

fn latency_one(
    model: &Path,
    imgsz: u32,
    threads: usize,
    args: &Args,
    jpeg: &[u8],
    png: &[u8],
    decoded: &DecodedImage,
) -> Result<serde_json::Value, String> {
    // The automatic pool, as users get it: a lone call runs on its widest session, a thread per core,
    // whose idle threads spin briefly; the raw sessions are built the same way.
    let handle = Handle::open(model, imgsz, 0, 0)?;
    let (detector, geometry) = library_geometry(model, imgsz, (0, 0), decoded)?;
    let loaded = detector.model().map_err(|e| e.to_string())?;
    let view = decoded.view();
    let (h, w) = (geometry.input_height, geometry.input_width);
    let mut scratch = LetterboxScratch::default();
    // The library's own: as many bands as the session has intra-op threads.
    let mut banded_scratch = LetterboxScratch::with_threads(threads);
    let mut banded_tensor: Vec<f32> = Vec::new();
    let mut tensor: Vec<f32> = Vec::new();
    letterbox_into(&view, &geometry, &mut scratch, &mut tensor);
    let idle = loaded.idle_threads();
    let mut session = raw_session(model, threads, idle)?;
    let mut second = raw_session(model, threads, idle)?;
    let mut output = Vec::new();
    let mut second_output = (Vec::new(), Vec::new());
    let shape = raw_run_all(&mut session, &tensor, h, w, &mut output, &mut second_output);
    let (rows, cols) = match *shape.as_slice() {
        [_, rows, cols] | [_, _, rows, cols] => (rows, cols),
        [_, cols] => (1, cols),
        _ => return Err(format!("output shape {shape:?}")),
    };
    let settings = DecodeSettings::default();
    let mut post_scratch = PostprocessScratch::default();
    let mut boxes = Vec::new();
    // The model's whole head (NMS, then masks, keypoints or rotated boxes), as a detect call runs it.
    let head = ModelHead { head: loaded.head(), layout: loaded.layout(), class_count: loaded.class_names().len() };
    let head_outputs = RunOutputs { first: (&shape, &output), second: (&second_output.0, &second_output.1), index: 0 };
    let sizes = Sizes { input: (h, w), image: (view.height(), view.width()) };
    let mut head_scratch = HeadScratch::default();
    let found = head.decode(&head_outputs, sizes, &settings, &mut head_scratch).map_err(|e| e.to_string())?;
    let found_count = found.detections.len() + found.classes.len();
    // What the timed raw runs write: `output` stays the decoded one.
    let mut run_output = Vec::new();
    let batch_images: Vec<&[u8]> = vec![jpeg; 4];

    let names = [
        "raw ORT run",
        "raw ORT run, 2nd session",
        "yolo_detect_pixels",
        "yolo_detect JPEG",
        "yolo_detect PNG",
        "decode JPEG",
        "decode PNG",
        "letterbox",
        "decode + NMS",
        "4 x yolo_detect JPEG",
        "yolo_detect_batch 4 JPEG",
        "decode JPEG, zune-jpeg",
        "resize, fast_image_resize",
        "letterbox, session's threads",
        "raw ORT run, library's session",
        "task head (NMS, masks...)",
    ];
    let (mut fir_resizer, fir_source, mut fir_target, fir_options) = fast_image_resize_setup(&view, &geometry);
    let differing = fast_image_resize_differences(&fir_target, &tensor, &geometry);
    let mut samples = vec![Vec::with_capacity(args.rounds); names.len()];
    // Warm-up: every path once.
    handle.detect_pixels(decoded);
    handle.detect(jpeg);
    handle.detect_batch(&batch_images);
    // Each round runs every variant once, in a shuffled order: on this kind of machine a run's time depends
    // on what ran just before it, and a fixed order would bias some variants every round.
    let mut order: Vec<usize> = (0..names.len()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..args.rounds {
        for i in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        for &variant in &order {
            // Once unmeasured, then measured: the first run after another session's wakes this session's
            // sleeping intra-op thread, a cost that depends on how recently the variant ran.
            let mut run = |variant: usize| match variant {
                0 => drop(raw_run(&mut session, &tensor, h, w, &mut run_output)),
                1 => drop(raw_run(&mut second, &tensor, h, w, &mut run_output)),
                2 => {
                    handle.detect_pixels(decoded);
                }
                3 => {
                    handle.detect(jpeg);
                }
                4 => {
                    handle.detect(png);
                }
                5 => drop(decode(jpeg, u64::MAX).unwrap()),
                6 => drop(decode(png, u64::MAX).unwrap()),
                7 => letterbox_into(&view, &geometry, &mut scratch, &mut tensor),
                8 => {
                    let out = OutputView { data: &output, rows: rows as usize, cols: cols as usize };
                    decode_and_suppress(
                        loaded.layout(),
                        out,
                        loaded.class_names().len(),
                        &settings,
                        &mut post_scratch,
                        &mut boxes,
                    );
                }
                9 => batch_images.iter().for_each(|i| {
                    handle.detect(i);
                }),
                10 => {
                    handle.detect_batch(&batch_images);
                }
                // `image`'s own JPEG decoder, for comparison only: it differs from libjpeg-turbo (and so from
                // cv2.imread) by up to 4 levels, which moves scores; the library uses libjpeg-turbo.
                11 => drop(image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).unwrap()),
                // A well-kept SIMD resizer, for comparison: resampling only (no normalisation, no planes).
                12 => fir_resizer.resize(&fir_source, &mut fir_target, &fir_options).unwrap(),
                13 => letterbox_into(&view, &geometry, &mut banded_scratch, &mut banded_tensor),
                // The same raw run through the session `handle`'s detect calls use (the registry gives
                // equal configurations one model): the floor without the spread between two sessions.
                14 => drop(loaded.run_prepared(&tensor, h, w, &mut run_output).expect("run_prepared")),
                _ => drop(head.decode(&head_outputs, sizes, &settings, &mut head_scratch).expect("head")),
            };
            settled_ms(|| run(variant));
            samples[variant].push(time_ms(|| run(variant)));
        }
    }
    // Paired: each round's detect call against the same round's raw run on the same session. A slow phase of
    // the VM moves every variant of a round together, so it cancels out here, not in a ratio of medians.
    let paired = |variant: usize| {
        let mut ratios: Vec<f64> = samples[variant].iter().zip(&samples[14]).map(|(call, raw)| call / raw).collect();
        median(&mut ratios)
    };
    let (pixels_paired, jpeg_paired) = (paired(2), paired(3));
    let medians: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    let raw = medians[0];
    println!("\n{} (input {}x{}, {found_count} detections or classes)", model.display(), w, h);
    println!("| {:<26} | {:>10} | {:>8} |", "what", "median ms", "x raw");
    println!("|{:-<28}|{:->12}|{:->10}|", "", "", "");
    let mut rows_json = Vec::new();
    for (name, value) in names.iter().zip(&medians) {
        println!("| {name:<26} | {value:>10.2} | {:>8.3} |", value / raw);
        rows_json.push(serde_json::json!({ "what": name, "median_ms": value, "ratio_to_raw": value / raw }));
    }
    println!(
        "fast_image_resize Interpolation(Bilinear) vs this library's cv2-exact resize: {} of {} values differ",
        differing.0, differing.1
    );
    let pre_post = medians[2] - raw;
    let own = medians[14];
    println!(
        "yolo_detect_pixels overhead over raw: {pre_post:.2} ms; over the library's own session: {:.2} ms, \
         {:.3}x; yolo_detect JPEG over it: {:.3}x; batch of 4 / 4 single calls: {:.3}",
        medians[2] - own,
        medians[2] / own,
        medians[3] / own,
        medians[10] / medians[9]
    );
    println!(
        "median of per-round ratios to the library's own session: yolo_detect_pixels {pixels_paired:.3}x, \
         yolo_detect JPEG {jpeg_paired:.3}x"
    );
    Ok(serde_json::json!({
        "model": model.display().to_string(), "imgsz": imgsz, "input": [w, h], "rows": rows_json,
        "pixels_over_own_session": medians[2] / own, "jpeg_over_own_session": medians[3] / own,
        "pixels_over_own_session_paired": pixels_paired, "jpeg_over_own_session_paired": jpeg_paired,
    }))
}

/// A `fast_image_resize` resizer from `view` to the letterbox's resized size, with OpenCV-like bilinear.
fn fast_image_resize_setup(
    view: &yolo_ffi_core::image_input::PixelView<'_>,
    geometry: &LetterboxGeometry,
) -> (
    fast_image_resize::Resizer,
    fast_image_resize::images::Image<'static>,
    fast_image_resize::images::Image<'static>,
    fast_image_resize::ResizeOptions,
) {
    use fast_image_resize as fir;
    let mut rgb = Vec::with_capacity(view.width() * view.height() * 3);
    (0..view.height()).for_each(|y| rgb.extend_from_slice(&view.row(y)[..view.width() * 3]));
    let source = fir::images::Image::from_vec_u8(view.width() as u32, view.height() as u32, rgb, fir::PixelType::U8x3)
        .expect("source image");
    let mut target =
        fir::images::Image::new(geometry.resized_width as u32, geometry.resized_height as u32, fir::PixelType::U8x3);
    let options = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Interpolation(fir::FilterType::Bilinear));
    let mut resizer = fir::Resizer::new();
    resizer.resize(&source, &mut target, &options).expect("resize");
    (resizer, source, target, options)
}

/// How many of `resized`'s values differ from the library's letterbox in `tensor` (values x 255), of all.
fn fast_image_resize_differences(
    resized: &fast_image_resize::images::Image<'_>,
    tensor: &[f32],
    geometry: &LetterboxGeometry,
) -> (usize, usize) {
    let plane = geometry.input_width * geometry.input_height;
    let buffer = resized.buffer();
    let mut differing = 0;
    for y in 0..geometry.resized_height {
        for x in 0..geometry.resized_width {
            for c in 0..3 {
                let ours = tensor[c * plane + (y + geometry.top) * geometry.input_width + geometry.left + x];
                let theirs = buffer[(y * geometry.resized_width + x) * 3 + c];
                differing += usize::from((ours * 255.0).round() as u8 != theirs);
            }
        }
    }
    (differing, geometry.resized_width * geometry.resized_height * 3)
}

// -- throughput ----------------------------------------------------------------------------------------------

/// One measured configuration.
#[derive(Default)]
struct Run {
    label: String,
    callers: usize,
    pool: usize,
    threads: usize,
    /// The automatic pool's sessions as "sessions x threads + ...", empty for an explicit pool.
    tiers: String,
    images_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Images/s, p50 and p99 latency in ms of one measurement.
type Measured = (f64, f64, f64);

/// Runs `callers` threads calling `work(caller)` for `seconds`; images/s and latency quantiles.
fn drive(callers: usize, seconds: f64, work: impl Fn(usize) + Sync) -> Measured {
    drive_with_pauses(callers, seconds, 0.0, work)
}

/// [`drive`], each caller sleeping a random 0 to `2 * pause_ms` between calls.
fn drive_with_pauses(callers: usize, seconds: f64, pause_ms: f64, work: impl Fn(usize) + Sync) -> Measured {
    let stop = AtomicBool::new(false);
    let latencies = Mutex::new(Vec::new());
    let start = Barrier::new(callers + 1);
    let mut elapsed = 0.0;
    std::thread::scope(|scope| {
        for caller in 0..callers {
            let (stop, latencies, start, work) = (&stop, &latencies, &start, &work);
            scope.spawn(move || {
                let mut mine = Vec::new();
                let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (caller as u64 + 1);
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    mine.push(time_ms(|| work(caller)));
                    if pause_ms > 0.0 {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let fraction = (state >> 11) as f64 / (1u64 << 53) as f64;
                        std::thread::sleep(Duration::from_secs_f64(2.0 * pause_ms * fraction / 1e3));
                    }
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
        start.wait();
        let began = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        stop.store(true, Ordering::Relaxed);
        elapsed = began.elapsed().as_secs_f64();
    });
    let mut latencies = latencies.into_inner().unwrap();
    // Calls still running at the stop finished after it; count the rate over the calls and their time.
    let rate = latencies.len() as f64 / elapsed.max(latencies.iter().sum::<f64>() / 1e3 / callers as f64);
    (rate, quantile(&mut latencies, 0.5), quantile(&mut latencies, 0.99))
}

/// This process's resident memory and its peak, from `/proc/self/status` (Linux).
fn resident_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field =
        |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map_or("?".into(), |v| v.trim().to_string());
    format!("RSS {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

fn throughput(args: &[String]) -> Outcome {
    let args = parse(args)?;
    let (model, imgsz) = model_arg(&args.positional[0])?;
    let image = &args.positional[1];
    let decoded =
        decode(&std::fs::read(image).map_err(|e| format!("{image}: {e}"))?, u64::MAX).map_err(|e| e.to_string())?;
    let cores = cores();
    println!(
        "throughput: {} on {image}, {:.1} s per configuration, {} repetitions, {cores} cores",
        model.display(),
        args.seconds,
        args.repeat
    );

    // Raw ONNX Runtime: one session per caller (the ceiling a pool can reach), on the library's input.
    let probe = Handle::open(&model, imgsz, 1, 1)?;
    probe.detect_pixels(&decoded);
    let (detector, geometry) = library_geometry(&model, imgsz, (1, 1), &decoded)?;
    let view = decoded.view();
    let mut tensor: Vec<f32> = Vec::new();
    letterbox_into(&view, &geometry, &mut LetterboxScratch::default(), &mut tensor);
    let (h, w) = (geometry.input_height, geometry.input_width);
    drop((detector, probe));
    let raw_configs: &[(usize, usize, usize)] =
        if args.configs.is_some() { &[] } else { &[(1, 2, 1), (1, 1, 1), (2, 1, 2), (2, 2, 2), (4, 1, 4)] };
    type RawPool = Vec<Mutex<(Session, Vec<f32>)>>;
    let raw_pools: Vec<(usize, usize, usize, RawPool)> = raw_configs
        .iter()
        .map(|&(sessions, threads, callers)| {
            let pool = (0..sessions)
                .map(|_| raw_session(&model, threads, idle_threads(sessions)).map(|s| Mutex::new((s, Vec::new()))))
                .collect::<Result<_, _>>()?;
            Ok((sessions, threads, callers, pool))
        })
        .collect::<Result<_, String>>()?;

    // Pool sizes and threads in powers of two: 1, 2 and 4 sessions x 1 and 2 threads everywhere (the
    // issue's grid, oversubscribed on 2 cores), and on larger machines every pool that fits the cores.
    let powers = |limit: usize| std::iter::successors(Some(1), move |&n| (n * 2 <= limit).then_some(n * 2));
    let mut configs: Vec<(usize, usize)> = Vec::new();
    for pool in powers(cores.max(4)) {
        for threads in powers(cores.max(2)) {
            if (pool <= 4 && threads <= 2) || pool * threads <= cores {
                configs.push((pool, threads));
            }
        }
    }
    configs.push((0, 0)); // the automatic defaults
    let configs = args.configs.clone().unwrap_or(configs);
    let mut caller_counts: Vec<usize> = powers(cores.max(8)).collect();
    if cores > 8 && !cores.is_power_of_two() {
        caller_counts.push(cores);
    }
    let caller_counts = args.callers.clone().unwrap_or(caller_counts);
    if args.pause_ms > 0.0 {
        println!("each caller sleeps 0 to {} ms (uniform) between calls", 2.0 * args.pause_ms);
    }
    // Every pool stays open for the whole run, so that repetitions interleave.
    let mut pools = Vec::new();
    for &(pool, threads) in &configs {
        let before = resident_memory();
        let handle = Handle::open(&model, imgsz, pool as u32, threads as u32)?;
        handle.detect_pixels(&decoded);
        let tiers = yolo_ffi_core::loaded_model::session_tiers(pool, threads, cores);
        let described = yolo_ffi_core::loaded_model::describe_tiers(&tiers);
        println!("memory: {before} before opening {described}; {} after", resident_memory());
        pools.push((pool, tiers, described, handle));
    }

    // Cells in a fixed order, `args.repeat` times; each cell reports its median rate, p50 and p99.
    let mut cells: Vec<(Run, Vec<Measured>)> = Vec::new();
    for repetition in 0..args.repeat {
        let mut cell = 0;
        let mut record = |run: Run, measured: Measured| {
            let (rate, p50, p99) = measured;
            println!(
                "[{}/{}] {} {}, {} callers: {rate:.2} img/s, p50 {p50:.1} ms, p99 {p99:.1} ms",
                repetition + 1,
                args.repeat,
                run.label,
                if run.tiers.is_empty() {
                    format!("{} x {} threads", run.pool, run.threads)
                } else {
                    run.tiers.clone()
                },
                run.callers
            );
            if repetition == 0 {
                cells.push((run, Vec::new()));
            }
            cells[cell].1.push(measured);
            cell += 1;
        };
        for (sessions, threads, callers, pool) in &raw_pools {
            let measured = drive(*callers, args.seconds, |caller| {
                let mut slot = pool[caller % sessions].lock().unwrap();
                let (session, output) = &mut *slot;
                raw_run(session, &tensor, h, w, output);
            });
            let run =
                Run { label: "raw".into(), callers: *callers, pool: *sessions, threads: *threads, ..Run::default() };
            record(run, measured);
        }
        for &callers in &caller_counts {
            for (pool, tiers, described, handle) in &pools {
                let measured = drive_with_pauses(callers, args.seconds, args.pause_ms, |_| {
                    handle.detect_pixels(&decoded);
                });
                let narrowest = tiers[tiers.len() - 1];
                let run = Run {
                    label: if *pool == 0 { "auto" } else { "pool" }.into(),
                    callers,
                    pool: narrowest.sessions,
                    threads: narrowest.threads,
                    tiers: if *pool == 0 { described.clone() } else { String::new() },
                    ..Run::default()
                };
                record(run, measured);
            }
        }
    }
    println!("memory after every run: {}", resident_memory());
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let runs: Vec<Run> = cells
        .into_iter()
        .map(|(run, measured)| Run {
            images_per_second: median(measured.iter().map(|m| m.0).collect()),
            p50_ms: median(measured.iter().map(|m| m.1).collect()),
            p99_ms: median(measured.iter().map(|m| m.2).collect()),
            ..run
        })
        .collect();
    drop((pools, raw_pools));

    println!(
        "\n| callers | best pool x threads | img/s | auto img/s | auto / best | raw ORT best img/s | best / raw |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &callers in &caller_counts {
        let ours = runs.iter().filter(|r| r.label != "raw" && r.callers == callers);
        let best = ours.max_by(|a, b| a.images_per_second.total_cmp(&b.images_per_second)).unwrap();
        let auto =
            runs.iter().find(|r| r.label == "auto" && r.callers == callers).map_or(f64::NAN, |r| r.images_per_second);
        let best_name = if best.label == "auto" { "auto".into() } else { format!("{} x {}", best.pool, best.threads) };
        let raw_best = runs
            .iter()
            .filter(|r| r.label == "raw" && r.callers == callers)
            .map(|r| r.images_per_second)
            .fold(f64::NAN, f64::max);
        println!(
            "| {callers} | {best_name} | {:.2} | {auto:.2} | {:.3} | {} | {} |",
            best.images_per_second,
            auto / best.images_per_second,
            if raw_best.is_nan() { "-".into() } else { format!("{raw_best:.2}") },
            if raw_best.is_nan() { "-".into() } else { format!("{:.3}", best.images_per_second / raw_best) },
        );
    }
    let json: Vec<_> = runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "kind": r.label, "callers": r.callers, "pool": r.pool, "threads": r.threads, "tiers": r.tiers,
                "images_per_second": r.images_per_second, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
            })
        })
        .collect();
    write_json(
        &args.json,
        serde_json::json!({ "mode": "throughput", "model": model.display().to_string(), "image": image, "cores": cores, "runs": json }),
    )
}
