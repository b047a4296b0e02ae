//! Execution providers through the C ABI, on a machine without a GPU and with the CPU build of ONNX Runtime
//! (PyPI's `onnxruntime`): unknown values, an absent CUDA (or TensorRT, OpenVINO) provider with and without
//! fall-back, and the provider reported. `scripts/gpu-check.sh` covers the GPU side on a machine with one.

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
    for (provider, name) in [(CUDA, "cuda:0"), (TENSORRT, "tensorrt:0"), (OPENVINO, "openvino")] {
        // Without fall-back: the load fails, naming the provider and what it needs; nothing is written.
        let (status, message) = init_with(&model(), |c| c.providers = vec![(provider, 0), (CPU, 0)]).err().unwrap();
        assert_eq!(status, yolo_status::ProviderUnavailable, "{message}");
        assert!(message.contains(name) && message.contains("built without it"), "{message}");
        assert!(message.contains("libonnxruntime"), "the message names the runtime: {message}");
        // With fall-back: the next provider of the list, reported as such.
        let detector = init_with(&model(), |c| {
            c.providers = vec![(provider, 0), (CPU, 0)];
            c.provider_fallback = true;
        })
        .unwrap();
        assert_eq!(provider_of(&detector), (yolo_provider::Cpu, 0));
        let found = detect(&detector, &image("bus.jpg"), None).unwrap();
        assert!(!found.is_empty());
    }
    // Fall-back with nothing to fall back to: every reason, joined.
    let (status, message) = init_with(&model(), |c| {
        c.providers = vec![(CUDA, 1), (OPENVINO, 0)];
        c.provider_fallback = true;
    })
    .err()
    .unwrap();
    assert_eq!(status, yolo_status::ProviderUnavailable);
    assert!(message.contains("none of the execution providers") && message.contains("cuda:1"), "{message}");
    assert!(message.contains("openvino"), "{message}");
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
