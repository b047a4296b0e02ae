//! Cross-caller batching: concurrent calls whose inputs have the same shape are gathered into one run.
//!
//! No thread of its own: the first caller that finds no gathering in progress becomes the leader. It waits
//! until `max_batch` requests of its shape are queued, or `max_delay` has passed since it took the lead,
//! takes them (its own first), and runs them outside the lock while the next caller may already lead the
//! next batch. Every other caller sleeps until its output is there. A lone caller therefore waits at most
//! `max_delay` more than it would unbatched. Opt-in: the lock and the wake-ups are the price of the
//! throughput a batched run gives on a GPU.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How calls are gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchSettings {
    /// Most requests in one run, at least 2 (1 is no batching, which needs no batcher).
    pub max_batch: usize,
    /// The longest a leader waits for others after taking the lead.
    pub max_delay: Duration,
}

/// What the batcher has done, for the stats: runs, the requests they carried, and the longest any leader
/// waited for others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Batched runs.
    pub runs: u64,
    /// Requests over all runs.
    pub requests: u64,
    /// The longest wait of a leader for others.
    pub longest_gather: Duration,
    /// Runs that started because their batch was full, before the delay was over.
    pub full_runs: u64,
}

struct State<R, O> {
    /// Requests not yet taken by a leader, oldest first, with their ticket.
    queue: VecDeque<(u64, R)>,
    /// Outputs not yet collected, by ticket.
    done: HashMap<u64, O>,
    /// Whether a leader is gathering now.
    gathering: bool,
    next_ticket: u64,
    counts: BatchCounts,
}

/// Gathers requests `R` of equal key into batches and hands each caller its output `O`.
pub struct Batcher<R, O> {
    settings: BatchSettings,
    state: Mutex<State<R, O>>,
    /// Signalled when a request arrives, a leader takes a batch, or outputs are stored.
    changed: Condvar,
}

impl<R, O> Batcher<R, O> {
    /// A batcher with these settings.
    pub fn new(settings: BatchSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                done: HashMap::new(),
                gathering: false,
                next_ticket: 0,
                counts: BatchCounts::default(),
            }),
            changed: Condvar::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> BatchSettings {
        self.settings
    }

    /// What the batcher has done so far.
    pub fn counts(&self) -> BatchCounts {
        self.lock().counts
    }

    fn lock(&self) -> MutexGuard<'_, State<R, O>> {
        // A panic never happens under the lock (the runs are outside it), so a poisoned state is whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Submits `request` and returns its output. `key` says which requests may share a run; `run` turns
    /// a batch into one output per request, in order, and runs on whichever caller leads that batch.
    /// `failed` is the output of every request of a batch whose `run` panicked or returned too few.
    pub fn submit<K: PartialEq>(
        &self,
        request: R,
        key: impl Fn(&R) -> K,
        run: impl FnOnce(Vec<R>) -> Vec<O>,
        failed: impl Fn() -> O,
    ) -> O {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push_back((ticket, request));
        self.changed.notify_all();
        loop {
            if let Some(output) = state.done.remove(&ticket) {
                return output;
            }
            let queued = state.queue.iter().any(|(t, _)| *t == ticket);
            if queued && !state.gathering {
                break;
            }
            state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }

        // This caller leads: gather requests of its key until the batch is full or the delay is over.
        state.gathering = true;
        let started = Instant::now();
        let deadline = started + self.settings.max_delay;
        let mine = {
            let (_, request) = state.queue.iter().find(|(t, _)| *t == ticket).expect("queued above");
            key(request)
        };
        let full = loop {
            let same = state.queue.iter().filter(|(_, r)| key(r) == mine).count();
            if same >= self.settings.max_batch {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        };
        let gathered = started.elapsed();
        let mut tickets = Vec::with_capacity(self.settings.max_batch);
        let mut batch = Vec::with_capacity(self.settings.max_batch);
        let position = state.queue.iter().position(|(t, _)| *t == ticket).expect("a leader's own request waits");
        let (t, r) = state.queue.remove(position).expect("at that position");
        tickets.push(t);
        batch.push(r);
        let mut index = 0;
        while batch.len() < self.settings.max_batch && index < state.queue.len() {
            if key(&state.queue[index].1) == mine {
                let (t, r) = state.queue.remove(index).expect("in range");
                tickets.push(t);
                batch.push(r);
            } else {
                index += 1;
            }
        }
        state.gathering = false;
        state.counts.runs += 1;
        state.counts.requests += batch.len() as u64;
        state.counts.longest_gather = state.counts.longest_gather.max(gathered);
        state.counts.full_runs += u64::from(full);
        // Whoever is queued now may lead the next batch while this one runs.
        self.changed.notify_all();
        drop(state);

        let outputs = catch_unwind(AssertUnwindSafe(|| run(batch))).unwrap_or_default();
        let mut outputs = outputs.into_iter();
        let mut state = self.lock();
        let mut own = None;
        for t in tickets {
            let output = outputs.next().unwrap_or_else(&failed);
            if t == ticket {
                own = Some(output);
            } else {
                state.done.insert(t, output);
            }
        }
        self.changed.notify_all();
        own.expect("the leader's ticket is in its batch")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn batcher(max_batch: usize, millis: u64) -> Arc<Batcher<(u32, u32), (u32, usize)>> {
        Arc::new(Batcher::new(BatchSettings { max_batch, max_delay: Duration::from_millis(millis) }))
    }

    /// Each request `(key, value)` gets `(value * 10, size of the batch it ran in)`.
    fn submit(b: &Batcher<(u32, u32), (u32, usize)>, key: u32, value: u32, runs: &AtomicUsize) -> (u32, usize) {
        b.submit(
            (key, value),
            |r| r.0,
            |batch| {
                runs.fetch_add(1, Ordering::SeqCst);
                assert!(batch.iter().all(|r| r.0 == batch[0].0), "one key per batch");
                let size = batch.len();
                batch.into_iter().map(|r| (r.1 * 10, size)).collect()
            },
            || (u32::MAX, 0),
        )
    }

    #[test]
    fn concurrent_callers_share_runs_and_each_gets_its_own_output() {
        let b = batcher(8, 200);
        let runs = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (b, runs) = (Arc::clone(&b), Arc::clone(&runs));
                std::thread::spawn(move || submit(&b, 1, i, &runs))
            })
            .collect();
        let outputs: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for (i, (value, _)) in outputs.iter().enumerate() {
            assert_eq!(*value, i as u32 * 10);
        }
        let counts = b.counts();
        assert_eq!(counts.requests, 8);
        assert_eq!(counts.runs as usize, runs.load(Ordering::SeqCst));
        assert!(counts.runs < 8, "8 callers within 200 ms ran in {} runs", counts.runs);
    }

    #[test]
    fn requests_of_different_keys_never_share_a_run() {
        let b = batcher(4, 50);
        let runs = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..12)
            .map(|i| {
                let (b, runs) = (Arc::clone(&b), Arc::clone(&runs));
                std::thread::spawn(move || (i, submit(&b, i % 3, i, &runs)))
            })
            .collect();
        for t in threads {
            let (i, (value, size)) = t.join().unwrap();
            assert_eq!(value, i * 10);
            assert!((1..=4).contains(&size));
        }
        assert_eq!(b.counts().requests, 12);
    }

    #[test]
    fn a_full_batch_runs_without_waiting_for_the_delay() {
        let b = batcher(1, 60_000);
        let runs = AtomicUsize::new(0);
        assert_eq!(submit(&b, 0, 7, &runs), (70, 1));
        assert_eq!(b.counts().full_runs, 1, "a batch of one is full at once: it ran before the delay was over");
    }

    #[test]
    fn a_run_that_panics_fails_every_request_of_its_batch_and_the_batcher_goes_on() {
        let b = batcher(2, 10);
        let out = b.submit((0, 1), |r| r.0, |_| panic!("boom"), || (u32::MAX, 0));
        assert_eq!(out, (u32::MAX, 0));
        let runs = AtomicUsize::new(0);
        assert_eq!(submit(&b, 0, 2, &runs).0, 20);
    }
}
