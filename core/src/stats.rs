//! Lock-free counters for monitoring: detect calls, errors by kind, and a latency histogram.
//!
//! Latencies go into a log-linear histogram (as HdrHistogram does): below 32 microseconds one bucket per
//! microsecond, above it 32 buckets per power of two, each 1/32 of its octave wide. A percentile is the
//! middle of its bucket, so it is within 1/64 (1.6%) of the true value at any scale, for one relaxed
//! atomic add per call and 8 KiB per detector.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets of the coarse histogram the C API reports: bucket `i` counts calls that took less than `2^i`
/// microseconds and at least `2^(i-1)` (the last is open).
pub const LATENCY_BUCKETS: usize = 32;

/// Buckets per power of two, as a power of two: 2^5 = 32.
const SUB_BUCKET_BITS: u32 = 5;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Latencies are recorded up to 2^36 microseconds (19 hours); longer ones count in the last bucket.
const MAX_MICROS_BITS: u32 = 36;
/// Fine buckets: the linear ones below `SUB_BUCKETS`, then `SUB_BUCKETS` per power of two up to the cap.
const FINE_BUCKETS: usize = ((MAX_MICROS_BITS - SUB_BUCKET_BITS + 1) * SUB_BUCKETS as u32) as usize;

/// The fine bucket of a latency of `micros` microseconds.
fn fine_bucket(micros: u64) -> usize {
    let micros = micros.min((1 << MAX_MICROS_BITS) - 1);
    if micros < SUB_BUCKETS {
        return micros as usize;
    }
    let octave = 63 - micros.leading_zeros(); // >= SUB_BUCKET_BITS
    let sub = (micros >> (octave - SUB_BUCKET_BITS)) & (SUB_BUCKETS - 1);
    ((octave - SUB_BUCKET_BITS + 1) as u64 * SUB_BUCKETS + sub) as usize
}

/// The smallest latency of fine bucket `index` and the bucket's width, in microseconds.
fn fine_bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return (index, 1);
    }
    let octave = (index / SUB_BUCKETS) as u32 + SUB_BUCKET_BITS - 1;
    let sub = index % SUB_BUCKETS;
    let width = 1u64 << (octave - SUB_BUCKET_BITS);
    ((1u64 << octave) + sub * width, width)
}

/// Counters of one detector handle. Every update is one relaxed atomic add.
#[derive(Debug)]
pub struct CallStats {
    detects: AtomicU64,
    errors: [AtomicU64; ERROR_SLOTS],
    latency: Box<[AtomicU64; FINE_BUCKETS]>,
}

/// Room for error counts by status code.
pub const ERROR_SLOTS: usize = 32;

impl Default for CallStats {
    fn default() -> Self {
        Self {
            detects: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

/// A consistent-enough copy of [`CallStats`] (each counter is read atomically, not all at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStatsSnapshot {
    /// Successful detect calls.
    pub detects: u64,
    /// Failed calls by error slot: an [`ErrorKind`](crate::error::ErrorKind) as `usize`, its declaration
    /// order (the C layer maps each kind to its status code).
    pub errors: [u64; ERROR_SLOTS],
    /// Successful calls by fine latency bucket.
    latency: Vec<u64>,
}

impl CallStats {
    /// Counts a successful call that took `elapsed`.
    pub fn record_success(&self, elapsed: Duration) {
        self.detects.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency[fine_bucket(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed call in `slot` (clamped to the last slot).
    pub fn record_error(&self, slot: usize) {
        self.errors[slot.min(ERROR_SLOTS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> CallStatsSnapshot {
        CallStatsSnapshot {
            detects: self.detects.load(Ordering::Relaxed),
            errors: std::array::from_fn(|i| self.errors[i].load(Ordering::Relaxed)),
            latency: self.latency.iter().map(|count| count.load(Ordering::Relaxed)).collect(),
        }
    }
}

impl CallStatsSnapshot {
    /// The latency below which `fraction` of successful calls fell, in microseconds: the middle of the fine
    /// bucket that holds that rank, within 1.6% of the true value; 0 without calls.
    pub fn latency_quantile_us(&self, fraction: f64) -> u64 {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64) * fraction).ceil().clamp(1.0, total as f64) as u64;
        let mut seen = 0;
        for (index, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = fine_bucket_range(index);
                return low + width / 2;
            }
        }
        unreachable!("the ranks add up to the total")
    }

    /// Successful calls by power of two: bucket `i` counts calls under `2^i` microseconds and at least
    /// `2^(i-1)` (the last bucket is open), as the C API's `latency_histogram` reports them.
    pub fn power_of_two_histogram(&self) -> [u64; LATENCY_BUCKETS] {
        let mut coarse = [0u64; LATENCY_BUCKETS];
        for (index, &count) in self.latency.iter().enumerate() {
            // Every fine bucket lies within one power of two, that of its smallest value.
            let (low, _) = fine_bucket_range(index);
            let bits = (64 - low.max(1).leading_zeros()) as usize;
            coarse[bits.min(LATENCY_BUCKETS - 1)] += count;
        }
        coarse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_buckets_cover_every_latency_once_and_are_at_most_a_32nd_of_their_value_wide() {
        let mut previous_end = 0;
        for index in 0..FINE_BUCKETS {
            let (low, width) = fine_bucket_range(index);
            assert_eq!(low, previous_end, "bucket {index} starts where the one before ended");
            assert!(width == 1 || width * SUB_BUCKETS <= low, "bucket {index}: {width} wide at {low}");
            assert_eq!(fine_bucket(low), index);
            assert_eq!(fine_bucket(low + width - 1), index);
            previous_end = low + width;
        }
        assert_eq!(previous_end, 1 << MAX_MICROS_BITS);
        assert_eq!(fine_bucket(u64::MAX), FINE_BUCKETS - 1);
    }

    #[test]
    fn percentiles_are_within_two_percent_at_every_scale() {
        // Latencies spread over four orders of magnitude, with a deterministic pseudo-random order.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut values: Vec<u64> = (0..5000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let exponent = (seed % 10_000) as f64 / 10_000.0 * 4.0;
                (50.0 * 10f64.powf(exponent)) as u64
            })
            .collect();
        let stats = CallStats::default();
        for &v in &values {
            stats.record_success(Duration::from_micros(v));
        }
        values.sort_unstable();
        let snap = stats.snapshot();
        for fraction in [0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let rank = ((values.len() as f64) * fraction).ceil() as usize;
            let truth = values[rank - 1] as f64;
            let got = snap.latency_quantile_us(fraction) as f64;
            assert!((got - truth).abs() <= truth * 0.02, "p{}: {got} for {truth}", fraction * 100.0);
        }
        assert_eq!(snap.power_of_two_histogram().iter().sum::<u64>(), 5000);
    }

    #[test]
    fn counts_errors_and_keeps_the_coarse_histogram_of_the_c_api() {
        let stats = CallStats::default();
        for _ in 0..90 {
            stats.record_success(Duration::from_micros(100)); // < 128 us: coarse bucket 7
        }
        for _ in 0..10 {
            stats.record_success(Duration::from_millis(50)); // < 65536 us: coarse bucket 16
        }
        stats.record_error(5);
        stats.record_error(1000);
        let snap = stats.snapshot();
        assert_eq!(snap.detects, 100);
        assert_eq!((snap.errors[5], snap.errors[ERROR_SLOTS - 1]), (1, 1));
        let coarse = snap.power_of_two_histogram();
        assert_eq!((coarse[7], coarse[16], coarse.iter().sum::<u64>()), (90, 10, 100));
        // 100 us lies in the 2 us wide bucket [100, 102): its middle is 101.
        assert_eq!(snap.latency_quantile_us(0.5), 101);
        assert_eq!(snap.latency_quantile_us(0.9), 101);
        let p99 = snap.latency_quantile_us(0.99);
        assert!((49_000..=51_000).contains(&p99), "{p99}");
        assert_eq!(CallStats::default().snapshot().latency_quantile_us(0.5), 0);
    }
}
