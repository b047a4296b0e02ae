//! The rule of every setting a caller gives: its limits, checked in one place. [`DetectorConfig::validate`]
//! and [`DecodeSettings::validate`] apply them before a load or a call, and the C crate's setters call the same
//! functions on the value they receive, so that a bad value is refused by the setter that got it, with the
//! message the core would give. The defaults live on the types they default ([`DetectorConfig::new`],
//! [`DecodeSettings::default`]).
//!
//! [`DetectorConfig::validate`]: crate::detector::DetectorConfig
//! [`DetectorConfig::new`]: crate::detector::DetectorConfig::new
//! [`DecodeSettings::validate`]: crate::postprocess::DecodeSettings::validate
//! [`DecodeSettings::default`]: crate::postprocess::DecodeSettings

use std::time::Duration;

use crate::batcher::BatchSettings;
use crate::error::{Error, Result};
use crate::provider::{Provider, MAX_PROVIDERS};

/// The default pixel limit: 100 megapixels, far above any camera, far below a decompression bomb.
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 100_000_000;
/// The most sessions in a model's pool, so that a typo cannot load thousands of sessions.
pub const MAX_POOL_SIZE: usize = 256;
/// The largest letterbox side.
pub const MAX_IMGSZ: u32 = crate::model::MAX_IMGSZ;
/// The most calls cross-caller batching gathers into one run.
pub const MAX_CROSS_CALLER_BATCH: usize = 64;
/// The longest a call waits for others to share its run.
pub const MAX_BATCH_DELAY: Duration = Duration::from_secs(1);
/// How long a call waits for others to share its run when the caller does not say.
pub const DEFAULT_BATCH_DELAY: Duration = Duration::from_micros(2000);

/// A threshold in [0, 1]; NaN and everything else is an invalid argument naming `name`.
pub fn threshold(name: &str, value: f32) -> Result<f32> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid_argument(format!("{name} {value} is not in [0, 1]")))
    }
}

/// A count of at least 1 (`max_detections`, `top_k`, `max_image_pixels`).
pub fn at_least_one<T: Copy + PartialEq + Default>(name: &str, value: T) -> Result<T> {
    if value == T::default() {
        Err(Error::invalid_argument(format!("{name} must be at least 1")))
    } else {
        Ok(value)
    }
}

/// Sessions in the pool: 0 (chosen from the cores) to [`MAX_POOL_SIZE`].
pub fn pool_size(value: usize) -> Result<usize> {
    if value > MAX_POOL_SIZE {
        return Err(Error::invalid_argument(format!("pool_size {value} exceeds the maximum of {MAX_POOL_SIZE}")));
    }
    Ok(value)
}

/// A letterbox size `(height, width)`: each side from 1 to [`MAX_IMGSZ`]; `describe` names it in the
/// caller's words and order for the message.
pub fn imgsz(height: u32, width: u32, describe: impl Fn(u32, u32) -> String) -> Result<(u32, u32)> {
    if (1..=MAX_IMGSZ).contains(&height) && (1..=MAX_IMGSZ).contains(&width) {
        Ok((height, width))
    } else {
        Err(Error::invalid_argument(format!(
            "{} must be between 1 and {MAX_IMGSZ} on each side",
            describe(width, height)
        )))
    }
}

/// Cross-caller batching: `max_batch` from 1 (off: `None`) to [`MAX_CROSS_CALLER_BATCH`], a delay of at most
/// [`MAX_BATCH_DELAY`].
pub fn batching(max_batch: usize, max_delay: Duration) -> Result<Option<BatchSettings>> {
    if !(1..=MAX_CROSS_CALLER_BATCH).contains(&max_batch) {
        return Err(Error::invalid_argument(format!(
            "max_batch must be in [1, {MAX_CROSS_CALLER_BATCH}], got {max_batch}"
        )));
    }
    if max_delay > MAX_BATCH_DELAY {
        return Err(Error::invalid_argument(format!(
            "max_delay_us must be at most {}, got {}",
            MAX_BATCH_DELAY.as_micros(),
            max_delay.as_micros()
        )));
    }
    Ok((max_batch > 1).then_some(BatchSettings { max_batch, max_delay }))
}

/// A provider appended to `list`: a device id only for the GPU providers, no provider twice, at most
/// [`MAX_PROVIDERS`].
pub fn add_provider(list: &[Provider], entry: Provider) -> Result<()> {
    if entry.device_id != 0 && !entry.kind.is_gpu() {
        return Err(Error::invalid_argument(format!(
            "{} takes no device id, got {}",
            entry.kind.name(),
            entry.device_id
        )));
    }
    if list.contains(&entry) {
        return Err(Error::invalid_argument(format!("{entry} is in the provider list already")));
    }
    if list.len() >= MAX_PROVIDERS {
        return Err(Error::invalid_argument(format!("at most {MAX_PROVIDERS} providers")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderKind;

    #[test]
    fn each_rule_accepts_its_range_and_names_the_value_outside_it() {
        assert_eq!(threshold("conf", 0.0).unwrap(), 0.0);
        assert_eq!(threshold("conf", 1.0).unwrap(), 1.0);
        for bad in [-0.1, 1.01, f32::NAN, f32::INFINITY] {
            assert!(threshold("conf", bad).unwrap_err().to_string().contains("conf"));
        }
        assert!(at_least_one("top_k", 0usize).is_err());
        assert_eq!(at_least_one("top_k", 1usize).unwrap(), 1);
        assert_eq!(pool_size(MAX_POOL_SIZE).unwrap(), MAX_POOL_SIZE);
        assert!(pool_size(MAX_POOL_SIZE + 1).is_err());
        assert!(imgsz(0, 5, |w, h| format!("{h}x{w}")).is_err());
        assert!(imgsz(MAX_IMGSZ + 1, 5, |w, h| format!("{h}x{w}")).is_err());
        assert_eq!(imgsz(320, 640, |w, h| format!("{h}x{w}")).unwrap(), (320, 640));
        assert_eq!(batching(1, Duration::ZERO).unwrap(), None);
        assert!(batching(0, Duration::ZERO).is_err());
        assert!(batching(MAX_CROSS_CALLER_BATCH + 1, Duration::ZERO).is_err());
        assert!(batching(8, MAX_BATCH_DELAY + Duration::from_micros(1)).is_err());
        assert_eq!(batching(8, MAX_BATCH_DELAY).unwrap().unwrap().max_batch, 8);
        let cpu = Provider { kind: ProviderKind::Cpu, device_id: 0 };
        assert!(add_provider(&[], cpu).is_ok());
        assert!(add_provider(&[cpu], cpu).is_err());
        assert!(add_provider(&[], Provider { kind: ProviderKind::OpenVino, device_id: 1 }).is_err());
        assert!(add_provider(&[], Provider { kind: ProviderKind::Cuda, device_id: 1 }).is_ok());
    }
}
