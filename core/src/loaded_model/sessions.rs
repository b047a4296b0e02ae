//! The tiered pool: the sessions of one process, of several widths, and the checkout that gives a call a
//! session as wide as its share of the cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::batcher::Batcher;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::Pool;
use crate::result::Detections;

use super::worker::{BatchRequest, Worker};

/// An item of `pool`, waiting up to `timeout` (`None`: for ever).
pub(super) fn acquire_from<T>(pool: &Pool<T>, timeout: Option<Duration>) -> Result<crate::pool::PoolGuard<'_, T>> {
    pool.acquire(timeout).ok_or_else(|| {
        Error::new(
            ErrorKind::Timeout,
            format!("all {} sessions stayed busy for {:?}", pool.capacity(), timeout.unwrap_or_default()),
        )
    })
}

/// The sessions of one process (generic so that the choice between them can be tested without a model).
pub(super) struct Sessions<T = Worker> {
    /// Pools of sessions of one width each, widest first, with their intra-op threads.
    pub(super) tiers: Vec<(usize, Pool<T>)>,
    /// The cores the calls in flight share.
    pub(super) cores: usize,
    /// Calls holding a session or waiting for one.
    pub(super) in_flight: AtomicUsize,
    /// Gathers concurrent calls into batched runs, when the model was loaded with batching. Part of the
    /// sessions, so that a forked child starts with a batcher of its own, as it does with sessions.
    pub(super) batcher: Option<Batcher<BatchRequest, Result<Detections>>>,
}

impl<T> Sessions<T> {
    /// A session for one call: an idle one of the widest tier no wider than this call's fair share of the
    /// cores (the cores divided by the calls in flight, this one included), else an idle narrower one,
    /// else the next of the narrowest tier, waiting up to `timeout` (`None`: for ever). Never a wider one:
    /// that would oversubscribe the cores the other calls use.
    pub(super) fn checkout(&self, timeout: Option<Duration>) -> Result<Checkout<'_, T>> {
        let calls = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let in_flight = InFlight(&self.in_flight);
        let fair_share = (self.cores / calls).max(1);
        let narrowest = self.tiers.len() - 1;
        let first = self.tiers.iter().position(|(threads, _)| *threads <= fair_share).unwrap_or(narrowest);
        let idle = self.tiers[first..].iter().find_map(|(_, pool)| pool.try_acquire());
        let session = match idle {
            Some(session) => session,
            None => acquire_from(&self.tiers[narrowest].1, timeout)?,
        };
        Ok(Checkout { session, _in_flight: in_flight })
    }

    pub(super) fn capacity(&self) -> usize {
        self.tiers.iter().map(|(_, pool)| pool.capacity()).sum()
    }

    pub(super) fn idle(&self) -> usize {
        self.tiers.iter().map(|(_, pool)| pool.idle()).sum()
    }

    /// Acquisitions that had to wait, and their total wait, over every tier.
    pub(super) fn waits(&self) -> (u64, Duration) {
        self.tiers.iter().map(|(_, pool)| pool.waits()).fold((0, Duration::ZERO), |(n, t), (m, u)| (n + m, t + u))
    }
}

/// Counts a call in flight until dropped.
pub(super) struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session checked out for one call. Fields drop in order: the session goes back before the call stops
/// counting as in flight.
pub(super) struct Checkout<'a, T> {
    pub(super) session: crate::pool::PoolGuard<'a, T>,
    pub(super) _in_flight: InFlight<'a>,
}

impl<T> std::ops::Deref for Checkout<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.session
    }
}

impl<T> std::ops::DerefMut for Checkout<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.session
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loaded_model::tiers::{automatic_tiers, session_tiers, SessionTier};

    /// Sessions named "w<threads>.<index>" for `tiers` on `cores` cores.
    fn sessions(tiers: &[SessionTier], cores: usize) -> Sessions<String> {
        let tiers = tiers
            .iter()
            .map(|tier| {
                (tier.threads, Pool::new((0..tier.sessions).map(|i| format!("w{}.{i}", tier.threads)).collect()))
            })
            .collect();
        Sessions { tiers, cores, in_flight: AtomicUsize::new(0), batcher: None }
    }

    fn width(session: &str) -> usize {
        session[1..].split('.').next().unwrap().parse().unwrap()
    }

    #[test]
    fn each_call_gets_a_session_as_wide_as_its_share_of_the_cores() {
        let all = sessions(&automatic_tiers(16), 16);
        assert_eq!(all.capacity(), 1 + 2 + 4 + 8 + 16);
        {
            let first = all.checkout(None).unwrap();
            assert_eq!(width(&first), 16, "a lone call gets every core");
            let second = all.checkout(None).unwrap();
            assert_eq!(width(&second), 8);
            let third = all.checkout(None).unwrap();
            assert_eq!(width(&third), 4, "16 / 3 rounds down to the 4-thread tier");
            let fourth = all.checkout(None).unwrap();
            assert_eq!(width(&fourth), 4);
            let more: Vec<_> = (0..12).map(|_| all.checkout(None).unwrap()).collect();
            assert!(more.iter().all(|s| width(s) <= 2), "{:?}", more.iter().map(|s| s.as_str()).collect::<Vec<_>>());
            assert_eq!(all.in_flight.load(Ordering::SeqCst), 16);
            drop(first);
            // 15 calls are still in flight: the idle 16-thread session is too wide for a new one.
            let next = all.checkout(None).unwrap();
            assert_eq!(width(&next), 1);
        }
        assert_eq!(all.in_flight.load(Ordering::SeqCst), 0);
        assert_eq!(width(&all.checkout(None).unwrap()), 16, "alone again");
        assert_eq!(all.idle(), all.capacity());
    }

    #[test]
    fn a_call_whose_tier_is_busy_takes_a_narrower_session_never_a_wider_one() {
        let all = sessions(&automatic_tiers(4), 4);
        // Both 2-thread sessions busy without counting as calls in flight.
        let outside: Vec<_> = (0..2).map(|_| all.tiers[1].1.try_acquire().unwrap()).collect();
        assert!(outside.iter().all(|s| width(s) == 2));
        let wide = all.checkout(None).unwrap();
        assert_eq!(width(&wide), 4);
        assert_eq!(width(&all.checkout(None).unwrap()), 1, "share 2, its tier busy: a narrower one");
        let second = all.checkout(None).unwrap();
        drop(wide);
        let third = all.checkout(None).unwrap();
        assert_eq!((width(&second), width(&third)), (1, 1), "the idle 4-thread session is too wide");
        let rest: Vec<_> = (0..2).map(|_| all.checkout(None).unwrap()).collect();
        assert!(rest.iter().all(|s| width(s) == 1));
        let error = all.checkout(Some(Duration::from_millis(5))).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::Timeout, "waits on the narrowest tier rather than oversubscribe");
        assert_eq!(all.idle(), 1, "only the 4-thread session");
    }

    #[test]
    fn one_tier_serves_every_call_and_timeouts_stop_counting() {
        let all = sessions(&session_tiers(1, 1, 8), 8);
        let held = all.checkout(None).unwrap();
        assert_eq!(*held, "w1.0");
        let error = all.checkout(Some(Duration::from_millis(5))).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::Timeout);
        assert_eq!(all.in_flight.load(Ordering::SeqCst), 1, "the timed-out call no longer counts");
        drop(held);
        assert_eq!(all.in_flight.load(Ordering::SeqCst), 0);
        assert_eq!(all.waits().0, 1);
    }
}
