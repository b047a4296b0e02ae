//! Execution providers through the C ABI, on a machine without a GPU, with the CPU build of ONNX Runtime
//! (PyPI's `onnxruntime`) or, where `make gpu` put it in the cache, the GPU build without a driver: unknown
//! values, an absent CUDA (or TensorRT, OpenVINO) provider with and without fall-back, and the provider
//! reported. `scripts/gpu-check.sh` covers the GPU side on a machine with one.

mod common;

use std::ptr::null_mut;

use common::*;
use yolo_ffi::*;

const CPU: u32 = yolo_provider::Cpu as u32;
const CUDA: u32 = yolo_provider::Cuda as u32;
const TENSORRT: u32 = yolo_provider::Tensorrt as u32;
const OPENVINO: u32 = yolo_provider::Openvino as u32;

fn model() -> std::path::PathBuf {
    synthetic_dir().join("v8_fixed.onnx")
}

fn provider_of(detector: &Detector) -> (yolo_provider, u32) {
    let mut provider = yolo_provider::Cpu;
    let mut device = u32::MAX;
    // SAFETY: a live detector; both out-pointers are writable.
    let status = unsafe { yolo_model_provider(detector.0, &mut provider, &mut device) };
    assert_eq!(status, yolo_status::Ok, "{}", last_error());
    (provider, device)
}

/// Whether this process's ONNX Runtime has the CUDA provider (the CPU wheel does not).
fn has_cuda() -> bool {
    init_with(&model(), |c| c.providers = vec![(CUDA, 0)]).is_ok()
}

#[test]
fn with_no_provider_asked_the_model_runs_on_the_cpu() {
    let detector = init(&model());
    assert_eq!(provider_of(&detector), (yolo_provider::Cpu, 0));
    let detector = init_with(&model(), |c| c.providers = vec![(CPU, 0)]).unwrap();
    assert_eq!(provider_of(&detector), (yolo_provider::Cpu, 0));
}

#[test]
fn unknown_or_malformed_providers_are_refused_by_the_setter() {
    for (list, fragment) in [
        (vec![(0, 0)], "0 is not a yolo_provider value"),
        (vec![(99, 0)], "99 is not a yolo_provider value"),
        (vec![(CPU, 1)], "cpu takes no device id"),
        (vec![(OPENVINO, 2)], "openvino takes no device id"),
        (vec![(CUDA, 0), (CUDA, 0)], "cuda:0 is in the provider list already"),
        (
            vec![(CUDA, 0), (CUDA, 1), (CUDA, 2), (CUDA, 3), (CUDA, 4), (CUDA, 5), (CUDA, 6), (CUDA, 7), (CUDA, 8)],
            "at most 8",
        ),
    ] {
        let (status, message) = config_with(&model(), |c| c.providers = list.clone()).err().unwrap();
        assert_eq!(status, yolo_status::InvalidArgument, "{list:?}: {message}");
        assert!(message.contains(fragment), "{list:?}: {message:?} lacks {fragment:?}");
    }
    // SAFETY: NULL config is the case under test.
    assert_eq!(unsafe { yolo_config_add_provider(null_mut(), CUDA, 0) }, yolo_status::InvalidArgument);
}

#[test]
fn an_absent_provider_fails_the_load_naming_it_unless_fall_back_was_asked() {
    if has_cuda() {
        eprintln!("providers: this ONNX Runtime has CUDA; the absent-provider cases are SKIPPED");
        return;
    }
    // OpenVINO has its own test: a plugin library can stand in for it.
    for (provider, name) in [(CUDA, "cuda:0"), (TENSORRT, "tensorrt:0")] {
        // Without fall-back: the load fails, naming the provider and what it needs; nothing is written.
        let (status, message) = init_with(&model(), |c| c.providers = vec![(provider, 0), (CPU, 0)]).err().unwrap();
        assert_eq!(status, yolo_status::ProviderUnavailable, "{message}");
        // The CPU build lacks the provider; the GPU build (`make gpu`, which a process whose first model
        // asks for CUDA loads) has it, but it cannot start without NVIDIA's driver.
        let why = message.contains("built without it") || message.contains("failed to start");
        assert!(message.contains(name) && why, "{message}");
        assert!(message.contains("libonnxruntime"), "the message names the runtime: {message}");
        // With fall-back: the next provider of the list, reported as such.
        let detector = init_with(&model(), |c| {
            c.providers = vec![(provider, 0), (CPU, 0)];
            c.provider_fallback = Some(true);
        })
        .unwrap();
        assert_eq!(provider_of(&detector), (yolo_provider::Cpu, 0));
        let found = detect(&detector, &image("bus.jpg"), None).unwrap();
        assert!(!found.is_empty());
    }
    // Fall-back with nothing to fall back to: every reason, joined.
    let (status, message) = init_with(&model(), |c| {
        c.providers = vec![(CUDA, 1), (TENSORRT, 0)];
        c.provider_fallback = Some(true);
    })
    .err()
    .unwrap();
    assert_eq!(status, yolo_status::ProviderUnavailable);
    assert!(message.contains("none of the execution providers") && message.contains("cuda:1"), "{message}");
    assert!(message.contains("tensorrt:0"), "{message}");
}

/// Whether this machine's CPU is Intel's, on which OpenVINO's plugin offers a CPU device.
fn intel_cpu() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| info.contains("GenuineIntel"))
}

#[test]
fn openvino_comes_from_the_plugin_library_which_runs_the_model_or_says_why_not() {
    let demo = cache_dir().join("models/nudenet-320n.onnx");
    let openvino = |plugin: Option<&str>, fall_back: bool| {
        init_with(&demo, |c| {
            c.imgsz = Some(320);
            c.providers = vec![(OPENVINO, 0), (CPU, 0)];
            c.provider_fallback = Some(fall_back);
            c.openvino_plugin = plugin.map(|p| std::ffi::CString::new(p).unwrap());
        })
    };
    // Only OpenVINO comes as a plugin library.
    let (status, message) = config_with(&demo, |c| c.providers = vec![(CUDA, 0)])
        .and_then(|config| {
            let path = std::ffi::CString::new("/x.so").unwrap();
            // SAFETY: a live config and a NUL-terminated path.
            match unsafe { yolo_config_set_provider_library(config.0, CUDA, path.as_ptr()) } {
                yolo_status::Ok => Ok(()),
                status => Err((status, last_error())),
            }
        })
        .err()
        .unwrap();
    assert_eq!(status, yolo_status::InvalidArgument);
    assert!(message.contains("only YOLO_PROVIDER_OPENVINO"), "{message}");

    // A plugin that is not there: the load fails naming it, or falls back when asked to.
    let (status, message) = openvino(Some("/nonexistent/libplugin.so"), false).err().unwrap();
    assert_eq!(status, yolo_status::ProviderUnavailable, "{message}");
    assert!(message.contains("/nonexistent/libplugin.so") && message.contains("failed to load"), "{message}");
    assert_eq!(provider_of(&openvino(Some("/nonexistent/libplugin.so"), true).unwrap()), (yolo_provider::Cpu, 0));

    // PyPI's plugin (`scripts/fetch.sh openvino`): on an Intel CPU it runs the model, with the CPU's boxes;
    // elsewhere it loads but offers no device, and the message says so, naming what ONNX Runtime sees.
    let Some(plugin) = yolo_ffi_core::provider::openvino_plugin(None) else {
        eprintln!("providers: no OpenVINO plugin (scripts/fetch.sh openvino): its cases are SKIPPED");
        return;
    };
    let bus = image("bus.jpg");
    let want = detect(&init_with(&demo, |c| c.imgsz = Some(320)).unwrap(), &bus, None).unwrap();
    match openvino(None, false) {
        Ok(detector) => {
            assert_eq!(provider_of(&detector), (yolo_provider::Openvino, 0));
            let got = detect(&detector, &bus, None).unwrap();
            assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
            for (g, w) in got.iter().zip(&want) {
                let (gb, wb) = ([g.x1, g.y1, g.x2, g.y2], [w.x1, w.y1, w.x2, w.y2]);
                assert!(g.class_id == w.class_id && iou(&gb, &wb) > 0.9 && (g.score - w.score).abs() < 0.02);
            }
            eprintln!(
                "providers: OpenVINO plugin {} ran the model: {} boxes as on the CPU",
                plugin.display(),
                got.len()
            );
        }
        Err((status, message)) => {
            assert!(!intel_cpu(), "the OpenVINO plugin failed on an Intel CPU: {message}");
            assert_eq!(status, yolo_status::ProviderUnavailable, "{message}");
            assert!(message.contains(&plugin.display().to_string()), "{message}");
            assert!(message.contains("offers no device") && message.contains("CPUExecutionProvider"), "{message}");
            eprintln!("providers: {message}");
            let detector = openvino(None, true).unwrap();
            assert_eq!(provider_of(&detector), (yolo_provider::Cpu, 0));
            assert_eq!(format!("{:?}", detect(&detector, &bus, None).unwrap()), format!("{want:?}"));
        }
    }
}

#[test]
fn a_gpu_model_and_a_cpu_model_of_one_file_are_separate_models() {
    if has_cuda() {
        return;
    }
    // The provider list is part of what identifies a loaded model: asking for CUDA (and failing) does not
    // reuse, or poison, the CPU model of the same file.
    let cpu = init(&model());
    assert!(init_with(&model(), |c| c.providers = vec![(CUDA, 0)]).is_err());
    assert_eq!(provider_of(&cpu), (yolo_provider::Cpu, 0));
    assert!(!detect(&cpu, &image("bus.jpg"), None).unwrap().is_empty());
}
