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

/// The ONNX Runtime version the project's scripts install, and that this build was tested with
/// (`versions.env`, through `core/build.rs`).
pub const ORT_VERSION: &str = env!("YOLO_FFI_ORT_VERSION");
/// File name of the runtime library inside the PyPI `onnxruntime` wheel.
pub const ORT_LIBRARY_FILE: &str = concat!("libonnxruntime.so.", env!("YOLO_FFI_ORT_VERSION"));
/// The GPU build the project's scripts fetch for CUDA and TensorRT (`scripts/fetch.sh gpu`): PyPI's
/// `onnxruntime-gpu` (`versions.env`).
pub const ORT_GPU_VERSION: &str = env!("YOLO_FFI_ORT_GPU_VERSION");
/// Environment variable naming the runtime library; checked before `ORT_DYLIB_PATH`.
pub const ORT_LIBRARY_ENV: &str = "YOLO_FFI_ORT_LIBRARY";

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
static LOADED_FROM: OnceLock<PathBuf> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// The process-wide ort environment, loading ONNX Runtime on first use.
///
/// With `explicit`, only that library is tried. Otherwise the search order is: `YOLO_FFI_ORT_LIBRARY`,
/// `ORT_DYLIB_PATH`, with `gpu` (a GPU provider was asked for) the GPU build in the user cache, then the
/// folder holding this library, the user cache's CPU build, then the system loader. Once loaded, later calls
/// get the same environment whatever they ask for: a process can hold one ONNX Runtime only.
pub fn environment(explicit: Option<&Path>, gpu: bool) -> Result<&'static Environment> {
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
        None => search_order(gpu),
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

/// Whether ONNX Runtime is loaded in this process (for the tests).
#[cfg(any(test, feature = "internals"))]
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

fn search_order(gpu: bool) -> Vec<Candidate> {
    let mut out = Vec::new();
    for var in [ORT_LIBRARY_ENV, "ORT_DYLIB_PATH"] {
        if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push(Candidate::File(
                PathBuf::from(value),
                if var == ORT_LIBRARY_ENV { ORT_LIBRARY_ENV } else { "ORT_DYLIB_PATH" },
            ));
        }
    }
    if let Some(folder) = cache_dir().filter(|_| gpu).map(|cache| gpu_runtime_dir(&cache)) {
        out.push(Candidate::File(folder.join(format!("libonnxruntime.so.{ORT_GPU_VERSION}")), "user cache, GPU build"));
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

/// The variable that names the user cache outright, as `scripts/fetch.sh` reads it.
pub const CACHE_ENV: &str = "YOLO_FFI_CACHE";

/// `$YOLO_FFI_CACHE`, else `$XDG_CACHE_HOME/yolo-ffi`, else `~/.cache/yolo-ffi`: where `scripts/fetch.sh`
/// (`make ort`, `make gpu`, `make openvino`) puts the runtimes, in the same order of precedence.
pub fn cache_dir() -> Option<PathBuf> {
    cache_dir_from(|name| std::env::var_os(name).filter(|v| !v.is_empty()))
}

fn cache_dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    if let Some(cache) = var(CACHE_ENV) {
        return Some(PathBuf::from(cache));
    }
    let base =
        var("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("yolo-ffi"))
}

/// Where `scripts/fetch.sh gpu` puts the GPU build in the cache: its libraries, and under `cuda/` the CUDA
/// and cuDNN libraries of PyPI's `nvidia-*` wheels that it needs.
pub fn gpu_runtime_dir(cache: &Path) -> PathBuf {
    cache.join(format!("onnxruntime-gpu-{ORT_GPU_VERSION}"))
}

/// The CUDA and cuDNN libraries the CUDA provider links against, each after those it needs (cuRAND needs
/// the CUDA runtime, cuBLAS needs cuBLASLt); cuDNN loads its sub-libraries itself, from its own folder.
const CUDA_LIBRARIES: [&str; 8] = [
    "libcudart.so",
    "libcublasLt.so",
    "libcublas.so",
    "libnvrtc.so",
    "libnvJitLink.so",
    "libcurand.so",
    "libcufft.so",
    "libcudnn.so",
];

/// Loads, once per process, the CUDA and cuDNN libraries found in the `cuda/` folder beside the loaded
/// ONNX Runtime (the GPU build of the cache), so that its CUDA provider, which names them without a path,
/// finds them: the dynamic loader does not look there, and `onnxruntime-gpu`'s own `preload_dlls` does the
/// same for Python. Logs, the first time, what was loaded, and what failed with the loader's message;
/// returns both. Nothing where there is no such folder (CUDA installed system-wide, or a runtime from
/// elsewhere).
pub fn preload_cuda_libraries() -> &'static (Vec<PathBuf>, Vec<String>) {
    static LOADED: OnceLock<(Vec<PathBuf>, Vec<String>)> = OnceLock::new();
    LOADED.get_or_init(|| {
        let Some(folder) = loaded_from().and_then(Path::parent).map(|dir| dir.join("cuda")) else {
            return Default::default();
        };
        let Ok(entries) = std::fs::read_dir(&folder) else {
            return Default::default();
        };
        let files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        let (mut loaded, mut failed) = (Vec::new(), Vec::new());
        for prefix in CUDA_LIBRARIES {
            for path in files.iter().filter(|f| is_soname_of(f, prefix)) {
                let Ok(name) = CString::new(path.as_os_str().as_bytes()) else { continue };
                // SAFETY: `name` is NUL-terminated. The handle stays open for the life of the process, as
                // the CUDA provider needs these libraries for as long as ONNX Runtime is loaded.
                let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
                if handle.is_null() {
                    // SAFETY: `dlerror` returns NULL or a NUL-terminated message owned by the loader.
                    let message = unsafe { libc::dlerror() };
                    let why = if message.is_null() {
                        "unknown error".into()
                    } else {
                        // SAFETY: non-null, NUL-terminated, valid until the next loader call on this thread.
                        unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned()
                    };
                    failed.push(format!("{}: {why}", path.display()));
                } else {
                    loaded.push(path.clone());
                }
            }
        }
        for path in &loaded {
            crate::log::emit(crate::log::Level::Info, || format!("loaded {} for the CUDA provider", path.display()));
        }
        for why in &failed {
            crate::log::emit(crate::log::Level::Warn, || format!("could not load a CUDA library: {why}"));
        }
        (loaded, failed)
    })
}

/// Whether `path` is `prefix` in its soname form: `libcublas.so.13` for `libcublas.so`, not
/// `libcublas.so.13.0.2` or `libcublasLt.so.13`.
fn is_soname_of(path: &Path, prefix: &str) -> bool {
    let version = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix(prefix));
    version.and_then(|v| v.strip_prefix('.')).is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
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
    fn cuda_libraries_are_picked_by_their_soname() {
        assert!(is_soname_of(Path::new("/x/libcublas.so.13"), "libcublas.so"));
        assert!(is_soname_of(Path::new("libcurand.so.10"), "libcurand.so"));
        assert!(!is_soname_of(Path::new("/x/libcublasLt.so.13"), "libcublas.so"));
        assert!(!is_soname_of(Path::new("/x/libcublas.so.13.0.2"), "libcublas.so"));
        assert!(!is_soname_of(Path::new("/x/libcublas.so"), "libcublas.so"));
        assert!(!is_soname_of(Path::new("/x/libnvrtc-builtins.so.13.5"), "libnvrtc.so"));
    }

    #[test]
    fn explicit_missing_path_is_reported_without_loading() {
        if is_loaded() {
            return; // another test in this process already loaded the runtime; nothing left to check here
        }
        let err = environment(Some(Path::new("/nonexistent/libonnxruntime.so")), false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RuntimeUnavailable);
        assert!(err.message().contains("/nonexistent/libonnxruntime.so (config): not found"), "{err}");
    }

    #[test]
    fn the_cache_is_yolo_ffi_cache_then_xdg_then_home() {
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> + 'a {
            move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v))
        }
        let all = [(CACHE_ENV, "/c"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(cache_dir_from(env(&all)), Some(PathBuf::from("/c")));
        assert_eq!(cache_dir_from(env(&all[1..])), Some(PathBuf::from("/x/yolo-ffi")));
        assert_eq!(cache_dir_from(env(&all[2..])), Some(PathBuf::from("/h/.cache/yolo-ffi")));
        assert_eq!(cache_dir_from(env(&[])), None);
    }

    #[test]
    fn search_order_ends_with_cache_and_system_loader() {
        let order = search_order(false);
        assert!(!search_order(false).iter().any(|c| matches!(c, Candidate::File(_, o) if o.contains("GPU"))));
        if cache_dir().is_some() {
            let gpu = search_order(true);
            let first_file = gpu.iter().position(|c| matches!(c, Candidate::File(_, o) if o.contains("GPU build")));
            let own = gpu.iter().position(|c| matches!(c, Candidate::File(_, o) if *o == "next to libyolo_ffi"));
            assert!(first_file.unwrap() < own.unwrap(), "a GPU provider looks at the GPU build first");
        }
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
