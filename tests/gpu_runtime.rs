//! The GPU build of ONNX Runtime from the user cache (`scripts/fetch.sh gpu`, part of `make gpu`, not of
//! `make test`): a process whose first model asks for CUDA loads that build rather than the CPU one, and
//! the CUDA and cuDNN libraries beside it before the CUDA provider starts. On a machine with an NVIDIA GPU
//! the model then runs on it with the CPU's boxes; without one the provider fails naming what is missing
//! (the driver's `libcuda.so.1`, which no wheel ships), and with fall-back the model runs on the CPU.
//! A process holds one ONNX Runtime, so this file has one test.

mod common;

use common::*;
use yolo_ffi::*;

#[test]
fn a_gpu_provider_loads_the_gpu_build_and_its_cuda_libraries_from_the_cache() {
    let folder = yolo_ffi_core::runtime::gpu_runtime_dir(&cache_dir());
    if !folder.join(".complete").is_file() || std::env::var_os("YOLO_FFI_ORT_LIBRARY").is_some() {
        eprintln!("gpu_runtime: SKIPPED: no GPU build in {} (scripts/fetch.sh gpu)", folder.display());
        return;
    }
    let model = cache_dir().join("models/nudenet-320n.onnx");
    let bus = image("bus.jpg");
    let cuda = (yolo_provider::Cuda as u32, 0);
    let outcome = init_with(&model, |c| (c.imgsz, c.providers) = (Some(320), vec![cuda]));
    let loaded = yolo_ffi_core::runtime::loaded_from().expect("ONNX Runtime is loaded").to_path_buf();
    assert!(loaded.starts_with(&folder), "loaded {} instead of the GPU build", loaded.display());
    let (preloaded, failed) = yolo_ffi_core::runtime::preload_cuda_libraries();
    let names: Vec<String> = preloaded.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for library in ["libcublasLt.so", "libcublas.so", "libcudart.so", "libcudnn.so"] {
        assert!(names.iter().any(|n| n.starts_with(library)), "{library} not preloaded: {names:?}, {failed:?}");
    }
    eprintln!("gpu_runtime: {} from the cache; preloaded {names:?}", loaded.display());
    let cpu =
        init_with(&model, |c| (c.imgsz, c.providers) = (Some(320), vec![(yolo_provider::Cpu as u32, 0)])).unwrap();
    let want = detect(&cpu, &bus, None).unwrap();
    match outcome {
        Ok(detector) => {
            let got = detect(&detector, &bus, None).unwrap();
            assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
            for (g, w) in got.iter().zip(&want) {
                let (gb, wb) = ([g.x1, g.y1, g.x2, g.y2], [w.x1, w.y1, w.x2, w.y2]);
                assert!(g.class_id == w.class_id && iou(&gb, &wb) > 0.9 && (g.score - w.score).abs() < 0.02);
            }
            eprintln!("gpu_runtime: CUDA ran the model: {} boxes as on the CPU", got.len());
        }
        Err((status, message)) => {
            assert_eq!(status, yolo_status::ProviderUnavailable, "{message}");
            // What the wheels provide was found; what is missing is the machine's driver.
            assert!(!message.contains("libcublas") && !message.contains("libcudart"), "{message}");
            assert!(message.contains("libcuda.so.1") || message.contains("CUDA"), "{message}");
            eprintln!("gpu_runtime: no GPU here: {message}");
            let fallen_back = init_with(&model, |c| {
                (c.imgsz, c.providers, c.provider_fallback) =
                    (Some(320), vec![cuda, (yolo_provider::Cpu as u32, 0)], Some(true))
            })
            .unwrap();
            assert_eq!(format!("{:?}", detect(&fallen_back, &bus, None).unwrap()), format!("{want:?}"));
        }
    }
}
