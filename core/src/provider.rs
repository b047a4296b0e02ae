//! Execution providers: which ONNX Runtime backend (CPU, CUDA, TensorRT, OpenVINO) runs a model's sessions.
//!
//! The caller gives an ordered list and says what happens when one is not there: fail, or fall back to the
//! next. A provider is "not there" when the loaded ONNX Runtime was built without it (the CPU wheel has no
//! CUDA), or when registering it fails (a missing CUDA or cuDNN library, no device). Nothing falls back
//! unless the caller asked for it, and the reason each one was skipped is logged and, on failure, returned.

use std::fmt;

use ort::ep::{self, ExecutionProvider};
use ort::session::builder::SessionBuilder;

use crate::error::{Error, ErrorKind, Result};

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
    /// The short name used in logs, messages and Python (`"cuda"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::TensorRt => "tensorrt",
            Self::OpenVino => "openvino",
        }
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
            Self::OpenVino => "an ONNX Runtime 1.31 or later built with OpenVINO",
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

    /// Registers the first provider of the list that is there on `builder`, and returns which one.
    /// A provider that is not there fails the call, or with `fall_back` is logged and skipped.
    pub fn register(&self, builder: &mut SessionBuilder) -> Result<Provider> {
        let mut skipped = Vec::new();
        for provider in self.list() {
            match register(provider, builder) {
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
    pub fn register_same(provider: Provider, builder: &mut SessionBuilder) -> Result<()> {
        register(provider, builder).map_err(|reason| Error::new(ErrorKind::ProviderUnavailable, reason))
    }
}

/// Registers one provider, failing (with the reason as text) when it is not there.
fn register(provider: Provider, builder: &mut SessionBuilder) -> std::result::Result<(), String> {
    let device = i32::try_from(provider.device_id).map_err(|_| format!("{provider}: device id out of range"))?;
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
        Ok(false) => {
            let runtime = crate::runtime::loaded_from()
                .map_or_else(|| "the loaded ONNX Runtime".into(), |p| p.display().to_string());
            return Err(format!(
                "execution provider {provider} is not available: {runtime} was built without it (it comes with {})",
                provider.kind.source()
            ));
        }
        Err(e) => return Err(format!("execution provider {provider}: cannot list ONNX Runtime's providers: {e}")),
    }
    dispatch
        .error_on_failure()
        .register(builder)
        .map_err(|e| format!("execution provider {provider} failed to start: {}", e.to_string().trim_end()))
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
