//! Execution providers: which ONNX Runtime backend (CPU, CUDA, TensorRT, OpenVINO) runs a model's sessions.
//!
//! The caller gives an ordered list and says what happens when one is not there: fail, or fall back to the
//! next. A provider is "not there" when the loaded ONNX Runtime was built without it (the CPU wheel has no
//! CUDA), or when registering it fails (a missing CUDA or cuDNN library, no device). Nothing falls back
//! unless the caller asked for it, and the reason each one was skipped is logged and, on failure, returned.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider};
use ort::memory::DeviceType;
use ort::session::builder::SessionBuilder;

use crate::error::{Error, ErrorKind, Result};

/// The version of PyPI's `onnxruntime-ep-openvino` that `scripts/fetch.sh openvino` unpacks into the user
/// cache, where the OpenVINO plugin is looked for last.
pub const OPENVINO_PLUGIN_VERSION: &str = "1.8.1";
/// The OpenVINO plugin's library in that package.
pub const OPENVINO_PLUGIN_FILE: &str = "libonnxruntime_providers_openvino_plugin.so";
/// The name under which the plugin offers its devices.
const OPENVINO_EP_NAME: &str = "OpenVINOExecutionProvider";

/// The most providers a list may hold.
pub const MAX_PROVIDERS: usize = 8;

/// A kind of execution provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// ONNX Runtime's own CPU kernels: always there.
    Cpu,
    /// NVIDIA CUDA (the `onnxruntime-gpu` build, with CUDA and cuDNN).
    Cuda,
    /// NVIDIA TensorRT, through the CUDA build's TensorRT provider.
    TensorRt,
    /// Intel OpenVINO (an ONNX Runtime built with it).
    OpenVino,
}

impl ProviderKind {
    /// The short name used in logs, messages and the bindings (`"cuda"`), NUL-terminated for the C API's
    /// `yolo_provider_name`: the one place the names are written.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            Self::Cpu => c"cpu",
            Self::Cuda => c"cuda",
            Self::TensorRt => c"tensorrt",
            Self::OpenVino => c"openvino",
        }
    }

    /// The short name used in logs, messages and the bindings (`"cuda"`).
    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("ASCII names")
    }

    /// Whether the provider runs models on an NVIDIA GPU.
    pub fn is_gpu(self) -> bool {
        matches!(self, Self::Cuda | Self::TensorRt)
    }

    /// Where this provider comes from, for a message about its absence.
    fn source(self) -> &'static str {
        match self {
            Self::Cpu => "every ONNX Runtime",
            Self::Cuda | Self::TensorRt => "the libonnxruntime of PyPI's onnxruntime-gpu, with its CUDA libraries",
            Self::OpenVino => {
                "an ONNX Runtime 1.31 or later built with OpenVINO, or the plugin of PyPI's onnxruntime-ep-openvino"
            }
        }
    }
}

/// One entry of a provider list: a kind and, for GPUs, the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Provider {
    /// Which provider.
    pub kind: ProviderKind,
    /// The device index (CUDA, TensorRT); 0 for the others.
    pub device_id: u32,
}

impl Provider {
    /// The CPU provider.
    pub const CPU: Provider = Provider { kind: ProviderKind::Cpu, device_id: 0 };
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ProviderKind::Cuda | ProviderKind::TensorRt => write!(f, "{}:{}", self.kind.name(), self.device_id),
            kind => f.write_str(kind.name()),
        }
    }
}

/// An ordered provider list and what to do when one is not there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProviderChoice {
    /// In order of preference; empty means the CPU alone.
    pub providers: Vec<Provider>,
    /// Fall back to the next provider when one is not there; otherwise the load fails.
    pub fall_back: bool,
    /// The OpenVINO plugin library, for an ONNX Runtime built without OpenVINO; `None` looks for it
    /// ([`openvino_plugin`]).
    pub openvino_plugin: Option<PathBuf>,
}

impl ProviderChoice {
    /// The list as tried: the CPU alone when none was given.
    fn list(&self) -> Vec<Provider> {
        if self.providers.is_empty() {
            vec![Provider::CPU]
        } else {
            self.providers.clone()
        }
    }

    /// Whether the list has a GPU provider, for which the GPU build of ONNX Runtime is looked for first.
    pub fn wants_gpu(&self) -> bool {
        self.providers.iter().any(|p| p.kind.is_gpu())
    }

    /// Registers the first provider of the list that is there on `builder` (of `environment`), and returns
    /// which one. A provider that is not there fails the call, or with `fall_back` is logged and skipped.
    pub fn register(&self, environment: &Environment, builder: &mut SessionBuilder) -> Result<Provider> {
        let mut skipped = Vec::new();
        for provider in self.list() {
            match register(provider, environment, self.openvino_plugin.as_deref(), builder) {
                Ok(()) => return Ok(provider),
                Err(reason) if self.fall_back => {
                    crate::log::emit(crate::log::Level::Warn, || format!("{reason}; trying the next provider"));
                    skipped.push(reason);
                }
                Err(reason) => return Err(Error::new(ErrorKind::ProviderUnavailable, reason)),
            }
        }
        Err(Error::new(
            ErrorKind::ProviderUnavailable,
            format!("none of the execution providers is available: {}", skipped.join("; ")),
        ))
    }

    /// Registers exactly `provider` (the one the first session got) on another session's builder.
    pub fn register_same(
        &self,
        provider: Provider,
        environment: &Environment,
        builder: &mut SessionBuilder,
    ) -> Result<()> {
        register(provider, environment, self.openvino_plugin.as_deref(), builder)
            .map_err(|reason| Error::new(ErrorKind::ProviderUnavailable, reason))
    }
}

/// Registers one provider, failing (with the reason as text) when it is not there.
fn register(
    provider: Provider,
    environment: &Environment,
    openvino_plugin: Option<&Path>,
    builder: &mut SessionBuilder,
) -> std::result::Result<(), String> {
    let device = i32::try_from(provider.device_id).map_err(|_| format!("{provider}: device id out of range"))?;
    if provider.kind.is_gpu() {
        crate::runtime::preload_cuda_libraries();
    }
    let (available, dispatch) = match provider.kind {
        // The CPU provider is ONNX Runtime's default: registering it explicitly would change the session's
        // allocator settings (it turns the memory arena off), so nothing is registered.
        ProviderKind::Cpu => return Ok(()),
        ProviderKind::Cuda => (ep::CUDA::is_available(), ep::CUDA::default().with_device_id(device).build()),
        ProviderKind::TensorRt => {
            (ep::TensorRT::is_available(), ep::TensorRT::default().with_device_id(device).build())
        }
        ProviderKind::OpenVino => (ep::OpenVINO::is_available(), ep::OpenVINO::default().build()),
    };
    match available {
        Ok(true) => {}
        Ok(false) if provider.kind == ProviderKind::OpenVino => {
            return register_openvino_plugin(environment, openvino_plugin, builder)
        }
        Ok(false) => return Err(built_without(provider)),
        Err(e) => return Err(format!("execution provider {provider}: cannot list ONNX Runtime's providers: {e}")),
    }
    dispatch
        .error_on_failure()
        .register(builder)
        .map_err(|e| format!("execution provider {provider} failed to start: {}", e.to_string().trim_end()))
}

/// The message for a provider the loaded ONNX Runtime was built without.
fn built_without(provider: Provider) -> String {
    let runtime =
        crate::runtime::loaded_from().map_or_else(|| "the loaded ONNX Runtime".into(), |p| p.display().to_string());
    format!(
        "execution provider {provider} is not available: {runtime} was built without it (it comes with {})",
        provider.kind.source()
    )
}

/// Where the OpenVINO plugin library is: `explicit`, else `YOLO_FFI_OPENVINO_PLUGIN`, else the user cache's
/// copy of PyPI's `onnxruntime-ep-openvino` (`scripts/fetch.sh openvino`), if it is there.
pub fn openvino_plugin(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("YOLO_FFI_OPENVINO_PLUGIN").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let cached = crate::runtime::cache_dir()?
        .join(format!("onnxruntime-ep-openvino-{OPENVINO_PLUGIN_VERSION}"))
        .join(OPENVINO_PLUGIN_FILE);
    cached.is_file().then_some(cached)
}

/// Plugin libraries registered with the process's ONNX Runtime environment, by path, with the outcome:
/// a library is registered once per process, however many models ask for it.
static PLUGINS: Mutex<Option<HashMap<PathBuf, std::result::Result<(), String>>>> = Mutex::new(None);

/// Registers the OpenVINO plugin library with `environment` (once per process) and puts its device on
/// `builder`: its CPU device when it offers one (as the built-in OpenVINO provider defaults to), else its
/// first. Fails, naming the library, when there is none, it does not load, or it offers no device here
/// (OpenVINO runs on Intel CPUs, GPUs and NPUs).
fn register_openvino_plugin(
    environment: &Environment,
    explicit: Option<&Path>,
    builder: &mut SessionBuilder,
) -> std::result::Result<(), String> {
    let openvino = Provider { kind: ProviderKind::OpenVino, device_id: 0 };
    let Some(path) = openvino_plugin(explicit) else {
        return Err(format!(
            "{}, and no OpenVINO plugin library was found (set its path with yolo_config_set_provider_library \
             or YOLO_FFI_OPENVINO_PLUGIN, or run `scripts/fetch.sh openvino` for PyPI's onnxruntime-ep-openvino {})",
            built_without(openvino),
            OPENVINO_PLUGIN_VERSION
        ));
    };
    let registered = {
        let mut plugins = PLUGINS.lock().unwrap_or_else(PoisonError::into_inner);
        let plugins = plugins.get_or_insert_with(HashMap::new);
        let outcome = plugins.entry(path.clone()).or_insert_with(|| {
            environment
                .register_ep_library(format!("yolo-ffi openvino {}", path.display()), &path)
                .map_err(|e| e.to_string().trim_end().to_owned())
        });
        outcome.clone()
    };
    registered
        .map_err(|e| format!("execution provider openvino: the plugin {} failed to load: {e}", path.display()))?;
    let devices: Vec<_> = environment.devices().collect();
    let offered = |d: &ort::device::Device<'_>| d.ep().is_ok_and(|ep| ep == OPENVINO_EP_NAME);
    let chosen = devices
        .iter()
        .position(|d| offered(d) && d.hardware_device().ty() == DeviceType::CPU)
        .or_else(|| devices.iter().position(offered));
    let Some(index) = chosen else {
        let seen: Vec<String> = devices
            .iter()
            .map(|d| {
                let hardware = d.hardware_device();
                let vendor = hardware.vendor().unwrap_or("unknown vendor");
                format!("{} ({vendor} {:?})", d.ep().unwrap_or("?"), hardware.ty())
            })
            .collect();
        return Err(format!(
            "execution provider openvino: the plugin {} loaded but offers no device on this machine \
             (OpenVINO runs on Intel CPUs, GPUs and NPUs); ONNX Runtime's devices here: {}",
            path.display(),
            if seen.is_empty() { "none".to_owned() } else { seen.join(", ") }
        ));
    };
    let device = environment.devices().nth(index).into_iter();
    let with_device = builder.clone().with_devices(device, None).map_err(|e| {
        format!(
            "execution provider openvino: the plugin {} failed to start: {}",
            path.display(),
            e.to_string().trim_end()
        )
    })?;
    *builder = with_device;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_device_of_gpu_providers_only() {
        assert_eq!(Provider { kind: ProviderKind::Cuda, device_id: 1 }.to_string(), "cuda:1");
        assert_eq!(Provider { kind: ProviderKind::TensorRt, device_id: 0 }.to_string(), "tensorrt:0");
        assert_eq!(Provider { kind: ProviderKind::OpenVino, device_id: 0 }.to_string(), "openvino");
        assert_eq!(Provider::CPU.to_string(), "cpu");
    }

    #[test]
    fn an_empty_list_means_the_cpu() {
        assert_eq!(ProviderChoice::default().list(), vec![Provider::CPU]);
    }
}
