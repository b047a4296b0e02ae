//! Lock-free counters for monitoring: detect calls, errors by kind, and a latency histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets: bucket `i` counts calls that took less than `2^i` microseconds (the last is open).
pub const LATENCY_BUCKETS: usize = 32;

/// Counters of one detector handle. Every update is one relaxed atomic add.
#[derive(Debug)]
pub struct CallStats {
    detects: AtomicU64,
    errors: [AtomicU64; ERROR_SLOTS],
    latency: [AtomicU64; LATENCY_BUCKETS],
}

/// Room for error counts by status code.
pub const ERROR_SLOTS: usize = 32;

impl Default for CallStats {
    fn default() -> Self {
        Self {
            detects: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// A consistent-enough copy of [`CallStats`] (each counter is read atomically, not all at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStatsSnapshot {
    /// Successful detect calls.
    pub detects: u64,
    /// Failed calls by error slot (the C status code).
    pub errors: [u64; ERROR_SLOTS],
    /// Successful calls by latency bucket.
    pub latency: [u64; LATENCY_BUCKETS],
}

impl CallStats {
    /// Counts a successful call that took `elapsed`.
    pub fn record_success(&self, elapsed: Duration) {
        self.detects.fetch_add(1, Ordering::Relaxed);
        let micros = elapsed.as_micros().max(1) as u64;
        let bucket = (64 - micros.leading_zeros() as usize).min(LATENCY_BUCKETS - 1);
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
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
            latency: std::array::from_fn(|i| self.latency[i].load(Ordering::Relaxed)),
        }
    }
}

impl CallStatsSnapshot {
    /// The latency below which `fraction` of successful calls fell, as the upper edge of its bucket (a
    /// power of two in microseconds); 0 without calls.
    pub fn latency_quantile_us(&self, fraction: f64) -> u64 {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64) * fraction).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return 1u64 << bucket;
            }
        }
        1u64 << (LATENCY_BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_and_quantiles_follow_them() {
        let stats = CallStats::default();
        for _ in 0..90 {
            stats.record_success(Duration::from_micros(100)); // < 128 us: bucket 7
        }
        for _ in 0..10 {
            stats.record_success(Duration::from_millis(50)); // < 65536 us: bucket 16
        }
        stats.record_error(5);
        stats.record_error(1000);
        let snap = stats.snapshot();
        assert_eq!(snap.detects, 100);
        assert_eq!((snap.errors[5], snap.errors[ERROR_SLOTS - 1]), (1, 1));
        assert_eq!(snap.latency_quantile_us(0.5), 128);
        assert_eq!(snap.latency_quantile_us(0.9), 128);
        assert_eq!(snap.latency_quantile_us(0.99), 65536);
        assert_eq!(CallStats::default().snapshot().latency_quantile_us(0.5), 0);
    }
}
