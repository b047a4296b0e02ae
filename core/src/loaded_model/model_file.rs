//! The model file: mapped, not copied, its metadata and external data checked, and the initializers that
//! every session of a pool may share.

use std::sync::Arc;

use half::f16;
use ort::value::{DynValue, Tensor};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{proto, ModelMetadata, OutputLayout};

/// Initializers smaller than this stay in each session's graph: they are shapes and scalars that constant
/// folding needs to see as constants, and sharing them saves nothing.
pub(super) const SHARE_WEIGHTS_FROM_BYTES: usize = 1024;

/// ONNX Runtime values for the model's large inline weights, to be shared by every session.
pub(super) fn weights_to_share(model: &[u8]) -> Result<Vec<(String, Arc<DynValue>)>> {
    pub(super) fn le<const N: usize, T>(raw: &[u8], convert: fn([u8; N]) -> T) -> Vec<T> {
        raw.chunks_exact(N).map(|c| convert(c.try_into().expect("chunks of N"))).collect()
    }
    let failed = |e: ort::Error| Error::new(ErrorKind::ModelLoadFailed, format!("cannot share weights: {e}"));
    let mut out = Vec::new();
    for init in proto::raw_initializers(model)? {
        let elements = init.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?));
        let shape = init.dims.clone();
        let raw = init.raw_data;
        let value: DynValue = match (init.data_type, elements) {
            (_, None) => continue,
            _ if raw.len() < SHARE_WEIGHTS_FROM_BYTES => continue,
            (1, Some(n)) if raw.len() == n * 4 => {
                Tensor::from_array((shape, le(raw, f32::from_le_bytes))).map_err(failed)?.into_dyn()
            }
            (10, Some(n)) if raw.len() == n * 2 => {
                Tensor::from_array((shape, le(raw, |b| f16::from_bits(u16::from_le_bytes(b)))))
                    .map_err(failed)?
                    .into_dyn()
            }
            (7, Some(n)) if raw.len() == n * 8 => {
                Tensor::from_array((shape, le(raw, i64::from_le_bytes))).map_err(failed)?.into_dyn()
            }
            (6, Some(n)) if raw.len() == n * 4 => {
                Tensor::from_array((shape, le(raw, i32::from_le_bytes))).map_err(failed)?.into_dyn()
            }
            (2, Some(n)) if raw.len() == n => Tensor::from_array((shape, raw.to_vec())).map_err(failed)?.into_dyn(),
            (3, Some(n)) if raw.len() == n => {
                Tensor::from_array((shape, le(raw, i8::from_le_bytes))).map_err(failed)?.into_dyn()
            }
            // Other types, or a size that does not add up: ONNX Runtime keeps its own copy.
            _ => continue,
        };
        out.push((init.name, Arc::new(value)));
    }
    Ok(out)
}

/// How many classes an end-to-end model without `names` metadata has: Ultralytics' `default_class_names`,
/// `class0` to `class998`, which its `AutoBackend` gives such a model.
pub const DEFAULT_CLASS_COUNT: usize = 999;

/// The class names by class id: the metadata's (whose count [`detection_layout`] checked against the
/// output), else `class{i}` for each class of the output, or [`DEFAULT_CLASS_COUNT`] of them for an
/// end-to-end model, whose output does not say how many classes it has.
pub(super) fn class_names(metadata: Option<&[String]>, layout: OutputLayout) -> Vec<String> {
    if let Some(names) = metadata {
        return names.to_vec();
    }
    let count = layout.class_count().unwrap_or(DEFAULT_CLASS_COUNT);
    (0..count).map(|i| format!("class{i}")).collect()
}

/// A model file whose protobuf cannot be read, as ONNX Runtime would report it: a file that does not load.
pub(super) fn not_onnx(path: &std::path::Path, error: &Error) -> Error {
    Error::new(ErrorKind::ModelLoadFailed, format!("cannot read model {}: not an ONNX model: {error}", path.display()))
}

/// The model's metadata, read from its bytes, so that a value that is not valid UTF-8 is decoded with
/// U+FFFD in place of the bad bytes (with a warning) rather than dropped, as ONNX Runtime's reader drops it.
pub(super) fn read_metadata(model: &[u8], path: &std::path::Path) -> Result<ModelMetadata> {
    let entries = proto::metadata_props(model).map_err(|e| not_onnx(path, &e))?;
    for (key, _, _) in entries.iter().filter(|(_, _, lossy)| *lossy) {
        crate::log::emit(crate::log::Level::Warn, || {
            format!("{}: metadata '{key}' is not valid UTF-8; its bad bytes read as U+FFFD", path.display())
        });
    }
    // A key written twice counts once, as ONNX Runtime's map keeps the last value.
    ModelMetadata::parse(|key| entries.iter().rev().find(|(k, _, _)| k == key).map(|(_, value, _)| value.clone()))
}

/// The folder ONNX Runtime must read the model's external data from, when the model has any: the model
/// file's own folder, symlinks resolved. Every file the model names must be a relative path that stays
/// inside that folder, also once symlinks are resolved; anything else is refused before ONNX Runtime
/// reads a byte, so that an uploaded model cannot make the library read other files of the server.
pub(super) fn external_data_folder(model_path: &std::path::Path, model: &[u8]) -> Result<Option<std::path::PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Component, Path};
    let locations = proto::external_data_locations(model).map_err(|e| not_onnx(model_path, &e))?;
    if locations.is_empty() {
        return Ok(None);
    }
    let cannot = |what: String, e: std::io::Error| Error::new(ErrorKind::ModelLoadFailed, format!("{what}: {e}"));
    let real = std::fs::canonicalize(model_path)
        .map_err(|e| cannot(format!("cannot resolve the model path {}", model_path.display()), e))?;
    let folder = real.parent().unwrap_or(Path::new("/")).to_path_buf();
    for location in locations {
        let relative = Path::new(std::ffi::OsStr::from_bytes(&location));
        let inside = !relative.as_os_str().is_empty()
            && relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside {
            return Err(Error::invalid_model(format!(
                "external data location {:?} is not a relative path inside the model's folder",
                relative.display()
            )));
        }
        let file = folder.join(relative);
        let resolved = std::fs::canonicalize(&file)
            .map_err(|e| cannot(format!("cannot open the model's external data {}", file.display()), e))?;
        if !resolved.starts_with(&folder) {
            return Err(Error::invalid_model(format!(
                "external data location {:?} leads outside the model's folder {} (to {})",
                relative.display(),
                folder.display(),
                resolved.display()
            )));
        }
    }
    Ok(Some(folder))
}

/// Maps the model file read-only, with errors that say which path and why.
pub(super) fn read_model(path: &std::path::Path) -> Result<memmap2::Mmap> {
    let failed =
        |why: String| Error::new(ErrorKind::ModelLoadFailed, format!("cannot read model {}: {why}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(Error::invalid_argument("the model path is empty"));
    }
    if path.is_dir() {
        return Err(failed("it is a directory".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    if file.metadata().map_err(|e| failed(e.to_string()))?.len() == 0 {
        return Err(failed("the file is empty".into()));
    }
    // SAFETY: the mapping is read-only and private. Replacing a model file in place while it is being
    // loaded is documented as undefined (as for any mapped file); deployments replace files by rename,
    // which leaves this mapping on the old inode.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
