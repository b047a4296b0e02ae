//! Finding and loading ONNX Runtime, once per process.
//!
//! ONNX Runtime is loaded at run time (ort's `load-dynamic`), never linked or downloaded at build time. ort
//! panics if any of its calls runs before a successful `init_from`, so every path into ort goes through
//! [`environment`] first. Only one ort `Environment` can exist per process, so it lives in a static and is
//! never dropped: tearing ONNX Runtime down from exit handlers crashes (onnxruntime #21461).

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use ort::environment::Environment;

use crate::error::{Error, ErrorKind, Result};

/// The ONNX Runtime version the project's scripts install, and that this build was tested with.
pub const ORT_VERSION: &str = "1.32.0";
/// File name of the runtime library inside the PyPI `onnxruntime` wheel.
pub const ORT_LIBRARY_FILE: &str = "libonnxruntime.so.1.32.0";
/// Environment variable naming the runtime library; checked before `ORT_DYLIB_PATH`.
pub const ORT_LIBRARY_ENV: &str = "YOLO_FFI_ORT_LIBRARY";

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
static LOADED_FROM: OnceLock<PathBuf> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// The process-wide ort environment, loading ONNX Runtime on first use.
///
/// With `explicit`, only that library is tried. Otherwise the search order is: `YOLO_FFI_ORT_LIBRARY`,
/// `ORT_DYLIB_PATH`, the folder holding this library, the user cache the Makefile fills, then the system
/// loader. Once loaded, later calls get the same environment whatever they ask for: a process can hold one
/// ONNX Runtime only.
pub fn environment(explicit: Option<&Path>) -> Result<&'static Environment> {
    if let Some(env) = ENVIRONMENT.get() {
        if let (Some(asked), Some(loaded)) = (explicit, LOADED_FROM.get()) {
            if std::path::absolute(asked).ok().as_deref() != Some(loaded.as_path()) {
                crate::log::emit(crate::log::Level::Warn, || {
                    format!(
                        "ONNX Runtime is already loaded from {}; ort_library_path {} is ignored",
                        loaded.display(),
                        asked.display()
                    )
                });
            }
        }
        return Ok(env);
    }
    // No log events below this point: they may call into a host that is waiting in fork() for this guard.
    let _no_fork = crate::fork::no_fork();
    let _loading = LOADING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let candidates = match explicit {
        Some(path) => vec![Candidate::File(path.to_path_buf(), "config")],
        None => search_order(),
    };
    let mut tried = Vec::new();
    for candidate in candidates {
        let (path, origin) = match candidate.resolve() {
            Ok(found) => found,
            Err(why) => {
                tried.push(why);
                continue;
            }
        };
        match ort::init_from(&path) {
            Ok(builder) => {
                let env = builder
                    .with_name("yolo-ffi")
                    .with_telemetry(false)
                    // ONNX Runtime's default logger writes to stderr; a library must stay quiet.
                    .with_logger(Arc::new(|_, _, _, _, _| {}))
                    .build()
                    .map_err(|e| {
                        Error::new(ErrorKind::RuntimeUnavailable, format!("ONNX Runtime from {}: {e}", path.display()))
                    })?;
                crate::fork::watch();
                crate::fork::guard_exit();
                let _ = LOADED_FROM.set(path.clone());
                return Ok(ENVIRONMENT.get_or_init(|| env));
            }
            Err(e) => tried.push(format!("{} ({origin}): {e}", path.display())),
        }
    }
    Err(Error::new(
        ErrorKind::RuntimeUnavailable,
        format!(
            "ONNX Runtime {ORT_VERSION} could not be loaded (run `make ort` or set {ORT_LIBRARY_ENV}). Tried: {}",
            tried.join("; ")
        ),
    ))
}

/// The file ONNX Runtime was loaded from, once it is loaded.
pub fn loaded_from() -> Option<&'static Path> {
    LOADED_FROM.get().map(PathBuf::as_path)
}

/// Whether ONNX Runtime is loaded in this process.
pub fn is_loaded() -> bool {
    ENVIRONMENT.get().is_some()
}

enum Candidate {
    /// A file path, with where it came from.
    File(PathBuf, &'static str),
    /// A bare soname for the system loader.
    Soname(&'static str),
}

impl Candidate {
    /// An absolute path to try, or why this candidate is skipped.
    fn resolve(&self) -> std::result::Result<(PathBuf, &'static str), String> {
        match self {
            Self::File(path, origin) => {
                let absolute = std::path::absolute(path).map_err(|e| format!("{} ({origin}): {e}", path.display()))?;
                if absolute.is_file() {
                    Ok((absolute, origin))
                } else {
                    Err(format!("{} ({origin}): not found", absolute.display()))
                }
            }
            Self::Soname(name) => system_library_path(name)
                .map(|p| (p, "system loader"))
                .ok_or_else(|| format!("{name} (system loader): not found")),
        }
    }
}

fn search_order() -> Vec<Candidate> {
    let mut out = Vec::new();
    for var in [ORT_LIBRARY_ENV, "ORT_DYLIB_PATH"] {
        if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push(Candidate::File(
                PathBuf::from(value),
                if var == ORT_LIBRARY_ENV { ORT_LIBRARY_ENV } else { "ORT_DYLIB_PATH" },
            ));
        }
    }
    if let Some(dir) = own_library_dir() {
        for name in [ORT_LIBRARY_FILE, "libonnxruntime.so.1", "libonnxruntime.so"] {
            out.push(Candidate::File(dir.join(name), "next to libyolo_ffi"));
        }
    }
    if let Some(cache) = cache_dir() {
        out.push(Candidate::File(
            cache.join(format!("onnxruntime-{ORT_VERSION}")).join(ORT_LIBRARY_FILE),
            "user cache",
        ));
    }
    out.push(Candidate::Soname("libonnxruntime.so.1"));
    out.push(Candidate::Soname("libonnxruntime.so"));
    out
}

/// `$XDG_CACHE_HOME/yolo-ffi`, else `~/.cache/yolo-ffi`: where `make ort` puts the runtime.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("yolo-ffi"))
}

/// The folder of the shared object this code is in (`libyolo_ffi.so`, or the test executable).
fn own_library_dir() -> Option<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let probe = own_library_dir as *const libc::c_void;
    // SAFETY: `dladdr` only reads the address and fills `info`; `probe` is a function of this object.
    let found = unsafe { libc::dladdr(probe, info.as_mut_ptr()) };
    if found == 0 {
        return None;
    }
    // SAFETY: `dladdr` returned non-zero, so it initialised `info`.
    let info = unsafe { info.assume_init() };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: `dli_fname` is a NUL-terminated string owned by the dynamic loader, valid while the object is loaded.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(OsStr::from_bytes(name.to_bytes()));
    std::path::absolute(path).ok()?.parent().map(Path::to_path_buf)
}

/// Asks the system loader for `soname` and returns the absolute path it resolved. The handle stays open on
/// purpose: closing ONNX Runtime is never safe once it might hold threads (onnxruntime #21461), and
/// `ort::init_from` then opens the same object by path, which only bumps its reference count.
fn system_library_path(soname: &str) -> Option<PathBuf> {
    let name = CString::new(soname).ok()?;
    // SAFETY: `name` is NUL-terminated. Loading ONNX Runtime runs no initialisers that touch our state.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return None;
    }
    let mut map: *mut libc::c_void = std::ptr::null_mut();
    // SAFETY: `handle` is a live handle from `dlopen`; RTLD_DI_LINKMAP writes a `struct link_map *` into `map`.
    let ok = unsafe { libc::dlinfo(handle, libc::RTLD_DI_LINKMAP, (&mut map as *mut *mut libc::c_void).cast()) } == 0;
    let path = if ok && !map.is_null() {
        // SAFETY: glibc's `struct link_map` starts with `l_addr` then `char *l_name`, a NUL-terminated
        // absolute path owned by the loader and valid while `handle` is open.
        let l_name = unsafe { *(map as *const *const libc::c_char).add(1) };
        // SAFETY: see above; checked non-null first.
        (!l_name.is_null()).then(|| PathBuf::from(OsStr::from_bytes(unsafe { CStr::from_ptr(l_name) }.to_bytes())))
    } else {
        None
    };
    path.filter(|p| p.is_absolute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_path_is_reported_without_loading() {
        if is_loaded() {
            return; // another test in this process already loaded the runtime; nothing left to check here
        }
        let err = environment(Some(Path::new("/nonexistent/libonnxruntime.so"))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RuntimeUnavailable);
        assert!(err.message().contains("/nonexistent/libonnxruntime.so (config): not found"), "{err}");
    }

    #[test]
    fn search_order_ends_with_cache_and_system_loader() {
        let order = search_order();
        let labels: Vec<String> = order
            .iter()
            .map(|c| match c {
                Candidate::File(_, origin) => origin.to_string(),
                Candidate::Soname(name) => name.to_string(),
            })
            .collect();
        let cache = labels.iter().position(|l| l == "user cache").unwrap();
        let own = labels.iter().position(|l| l == "next to libyolo_ffi").unwrap();
        assert!(own < cache);
        assert_eq!(&labels[labels.len() - 2..], ["libonnxruntime.so.1", "libonnxruntime.so"]);
    }
}
