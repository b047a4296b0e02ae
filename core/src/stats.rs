//! Lock-free counters for monitoring: detect calls, errors by kind, a latency histogram, and one per stage
//! of a call (decode, letterbox, run, head).
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

/// A lock-free histogram of durations, in the fine buckets above: one relaxed atomic add per record.
#[derive(Debug)]
pub struct Histogram {
    buckets: Box<[AtomicU64; FINE_BUCKETS]>,
    /// The sum of the durations counted, in microseconds.
    sum_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { buckets: Box::new(std::array::from_fn(|_| AtomicU64::new(0))), sum_us: AtomicU64::new(0) }
    }
}

impl Histogram {
    /// Counts one duration.
    pub fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.buckets[fine_bucket(micros)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// Reads every bucket.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self.buckets.iter().map(|count| count.load(Ordering::Relaxed)).collect(),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// A copy of a [`Histogram`]'s buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    counts: Vec<u64>,
    /// The sum of the durations counted, in microseconds (what a Prometheus histogram's `_sum` reports).
    pub sum_us: u64,
}

impl HistogramSnapshot {
    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The duration below which `fraction` of those counted fell, in microseconds: the middle of the fine
    /// bucket that holds that rank, within 1.6% of the true value; 0 when none was counted.
    pub fn quantile_us(&self, fraction: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64) * fraction).ceil().clamp(1.0, total as f64) as u64;
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = fine_bucket_range(index);
                return low + width / 2;
            }
        }
        unreachable!("the ranks add up to the total")
    }

    /// The counts by power of two: bucket `i` counts durations under `2^i` microseconds and at least
    /// `2^(i-1)` (the last bucket is open).
    pub fn power_of_two(&self) -> [u64; LATENCY_BUCKETS] {
        let mut coarse = [0u64; LATENCY_BUCKETS];
        for (index, &count) in self.counts.iter().enumerate() {
            // Every fine bucket lies within one power of two, that of its smallest value.
            let (low, _) = fine_bucket_range(index);
            let bits = (64 - low.max(1).leading_zeros()) as usize;
            coarse[bits.min(LATENCY_BUCKETS - 1)] += count;
        }
        coarse
    }
}

/// The stages of a detect call, timed one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Decoding an encoded image (not for pixel buffers).
    Decode,
    /// Letterboxing (or, for a classifier, resizing and cropping) into the model's input.
    Letterbox,
    /// The ONNX Runtime run.
    Run,
    /// The task's head: the output decoded into detections, masks, keypoints, classes or maps.
    Head,
}

std::thread_local! {
    /// The stage times of the call running on this thread, summed per stage (a batch's images add up).
    static CALL_STAGES: std::cell::Cell<[Option<Duration>; 4]> = const { std::cell::Cell::new([None; 4]) };
}

/// Adds `elapsed` to `stage` of the call running on this thread.
pub(crate) fn record_stage(stage: Stage, elapsed: Duration) {
    CALL_STAGES.with(|stages| {
        let mut times = stages.get();
        let slot = &mut times[stage as usize];
        *slot = Some(slot.unwrap_or_default() + elapsed);
        stages.set(times);
    });
}

/// The stage times recorded on this thread since the last take, cleared.
pub(crate) fn take_stages() -> [Option<Duration>; 4] {
    CALL_STAGES.with(|stages| stages.replace([None; 4]))
}

/// Counters of one detector handle. Every update is one relaxed atomic add.
#[derive(Debug)]
pub struct CallStats {
    detects: AtomicU64,
    errors: [AtomicU64; ERROR_SLOTS],
    latency: Histogram,
    stages: [Histogram; 4],
}

/// Room for error counts by status code.
pub const ERROR_SLOTS: usize = 32;

impl Default for CallStats {
    fn default() -> Self {
        Self {
            detects: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: Histogram::default(),
            stages: std::array::from_fn(|_| Histogram::default()),
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
    /// Successful calls' latencies.
    pub latency: HistogramSnapshot,
    /// Successful calls' stage times, by [`Stage`] (a stage a call did not go through is not counted).
    pub stages: [HistogramSnapshot; 4],
}

impl CallStats {
    /// Counts a successful call that took `elapsed`.
    pub fn record_success(&self, elapsed: Duration) {
        self.detects.fetch_add(1, Ordering::Relaxed);
        self.latency.record(elapsed);
    }

    /// Counts the stage times of a successful call.
    pub fn record_stages(&self, stages: [Option<Duration>; 4]) {
        for (histogram, elapsed) in self.stages.iter().zip(stages) {
            if let Some(elapsed) = elapsed {
                histogram.record(elapsed);
            }
        }
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
            latency: self.latency.snapshot(),
            stages: std::array::from_fn(|i| self.stages[i].snapshot()),
        }
    }
}

impl CallStatsSnapshot {
    /// The latency below which `fraction` of successful calls fell, in microseconds: the middle of the fine
    /// bucket that holds that rank, within 1.6% of the true value; 0 without calls.
    pub fn latency_quantile_us(&self, fraction: f64) -> u64 {
        self.latency.quantile_us(fraction)
    }

    /// Successful calls by power of two: bucket `i` counts calls under `2^i` microseconds and at least
    /// `2^(i-1)` (the last bucket is open), as the C API's `latency_histogram` reports them.
    pub fn power_of_two_histogram(&self) -> [u64; LATENCY_BUCKETS] {
        self.latency.power_of_two()
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
