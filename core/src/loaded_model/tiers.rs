//! How a pool's sessions are sized: the tiers of session widths for the cores, the GPU pool, and how idle
//! ONNX Runtime threads wait.

/// Resolves 0 ("auto") in one of `pool_size` and `threads_per_session` so that sessions x threads stays
/// within `cores`. Returns `(sessions, threads)`. Both automatic is [`automatic_tiers`]' business; here it
/// gives the narrowest tier, one single-threaded session per core: on 2 cores that measured 13.2 img/s
/// against 8.5 for one 2-thread session shared by 2 callers.
pub fn resolve_parallelism(pool_size: usize, threads_per_session: usize, cores: usize) -> (usize, usize) {
    let cores = cores.max(1);
    match (pool_size, threads_per_session) {
        (0, 0) => (cores, 1),
        (0, t) => ((cores / t).max(1), t),
        (p, 0) => (p, (cores / p).max(1)),
        (p, t) => (p, t),
    }
}

/// Sessions of one width in a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTier {
    /// Intra-op threads of each session.
    pub threads: usize,
    /// How many such sessions.
    pub sessions: usize,
}

/// The tiers as `sessions x threads`, joined by ` + ` (`1 x 2 + 2 x 1`), for logs and reports.
pub fn describe_tiers(tiers: &[SessionTier]) -> String {
    tiers.iter().map(|tier| format!("{} x {}", tier.sessions, tier.threads)).collect::<Vec<_>>().join(" + ")
}

/// The sessions a configuration builds, widest first. An explicit `pool_size` or `threads_per_session`
/// gives one tier ([`resolve_parallelism`]); both automatic gives [`automatic_tiers`].
pub fn session_tiers(pool_size: usize, threads_per_session: usize, cores: usize) -> Vec<SessionTier> {
    if pool_size == 0 && threads_per_session == 0 {
        return automatic_tiers(cores);
    }
    let (sessions, threads) = resolve_parallelism(pool_size, threads_per_session, cores);
    vec![SessionTier { threads, sessions }]
}

/// The automatic pool: for each width `cores`, `cores / 2`, `cores / 4`, ... down to 1 thread, as many
/// sessions of that width as fit the cores. A call takes a session as wide as its fair share of the cores
/// (the cores divided by the calls in flight, see `Sessions::checkout`), so that a lone call gets every core
/// and `n` concurrent calls get `cores / n` each. One width does not serve every load: on 16 cores the
/// best pool was 1 x 16 for one caller, 4 x 4 for four and 16 x 1 for sixteen, each 1.6x to 3x the others
/// (docs/benchmarks.md). The price is memory: fewer than twice as many sessions as cores (31 on 16 cores,
/// 2.3 GB resident for yolov8n at 640 once every width has run, against 1.2 GB for 16 x 1). On 2 cores
/// this is 1 x 2 plus 2 x 1.
pub fn automatic_tiers(cores: usize) -> Vec<SessionTier> {
    let cores = cores.max(1);
    std::iter::successors(Some(cores), |&threads| (threads > 1).then_some(threads / 2))
        .map(|threads| SessionTier { threads, sessions: cores / threads })
        .collect()
}

/// Sessions of an automatic pool on a GPU provider. More than one, so that while one call's inference
/// runs on the device other calls prepare their inputs and decode their outputs on the cores; each
/// session holds its own device memory and stream, so not one per core.
pub const GPU_SESSIONS: usize = 4;

/// The automatic pool on a GPU provider: [`GPU_SESSIONS`] single-threaded sessions, at least two even on
/// one core (the device computes while the core prepares the next input), fewer on fewer cores.
pub fn gpu_tiers(cores: usize) -> Vec<SessionTier> {
    vec![SessionTier { threads: 1, sessions: GPU_SESSIONS.min(cores.max(2)) }]
}

/// How long an idle intra-op thread of a session in a pool of several spins before it sleeps, in
/// microseconds. Long enough to bridge the gaps between the operators of one run (so that a wide session
/// does not pay a thread wake-up per operator), short enough that threads sleep soon after a run and leave
/// the cores to the other sessions. On 16 cores (`docs/bench/spin-duration-16core.txt`, `spin-ab-16core.txt`)
/// it took a lone caller of the automatic pool from 28 to 38 img/s (sleeping threads) to 40 to 49, level
/// with one 16-thread session spinning the ONNX Runtime way; saturated callers gained or held, and callers
/// that pause between calls kept their p50. 100 us gained less for a lone caller; 500 and 1000 us no more.
pub const POOLED_SPIN_MICROS: u32 = 250;

/// How the idle intra-op threads of a session wait for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleThreads {
    /// ONNX Runtime's default: spin for a number of iterations, about 45 ms of CPU after a yolov8n run on
    /// 2 cores, then sleep.
    Spin,
    /// Spin for at most `micros` microseconds (`session.intra_op.spin_duration_us`), then sleep.
    SpinFor {
        /// The longest spin.
        micros: u32,
    },
}

/// How idle intra-op threads wait in a pool of `sessions` sessions. A pool of one session has the cores
/// to itself, so its threads spin the ONNX Runtime way. In a pool of several, a session's spinning
/// threads would take the cores of the others' runs. Sleeping at once, the earlier rule, cost a wide
/// session a wake-up per operator (a lone caller on 16 cores got 0.70 to 0.94 of a spinning 1 x 16 pool),
/// and spinning until ONNX Runtime's own limit cost two callers that pause between calls half their p50
/// again (`docs/bench/spin-16core.txt`). So they spin briefly ([`POOLED_SPIN_MICROS`]).
pub fn idle_threads(sessions: usize) -> IdleThreads {
    if sessions == 1 {
        IdleThreads::Spin
    } else {
        IdleThreads::SpinFor { micros: POOLED_SPIN_MICROS }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_automatic_tiers_halve_the_width_and_fill_the_cores_at_each() {
        let tiers = |cores| automatic_tiers(cores).iter().map(|t| (t.threads, t.sessions)).collect::<Vec<_>>();
        assert_eq!(tiers(1), [(1, 1)]);
        assert_eq!(tiers(2), [(2, 1), (1, 2)], "one 2-thread session plus one per core");
        assert_eq!(tiers(6), [(6, 1), (3, 2), (1, 6)]);
        assert_eq!(tiers(16), [(16, 1), (8, 2), (4, 4), (2, 8), (1, 16)]);
        for cores in 1..=300 {
            let all = automatic_tiers(cores);
            assert_eq!((all[0].threads, all[0].sessions), (cores, 1), "{cores}");
            assert_eq!(all.last().map(|t| (t.threads, t.sessions)), Some((1, cores)), "{cores}");
            assert!(all.windows(2).all(|w| w[0].threads > w[1].threads), "{cores}: widest first");
            assert!(all.iter().all(|t| t.threads * t.sessions <= cores), "{cores}: a tier fits the cores");
            assert!(all.iter().map(|t| t.sessions).sum::<usize>() < 2 * cores, "{cores}: under twice the cores");
        }
        assert_eq!(session_tiers(0, 0, 8), automatic_tiers(8));
        assert_eq!(session_tiers(2, 0, 8), [SessionTier { threads: 4, sessions: 2 }], "explicit is kept as asked");
        assert_eq!(session_tiers(0, 1, 8), [SessionTier { threads: 1, sessions: 8 }]);
    }

    #[test]
    fn a_gpu_pool_has_a_few_single_threaded_sessions_whatever_the_cores() {
        let tier = |sessions| vec![SessionTier { threads: 1, sessions }];
        assert_eq!(gpu_tiers(1), tier(2));
        assert_eq!(gpu_tiers(2), tier(2));
        assert_eq!(gpu_tiers(3), tier(3));
        assert_eq!(gpu_tiers(16), tier(GPU_SESSIONS));
        assert_eq!(gpu_tiers(192), tier(GPU_SESSIONS));
    }

    #[test]
    fn only_a_pool_of_one_session_spins_the_onnx_runtime_way() {
        let sessions = |tiers: Vec<SessionTier>| tiers.iter().map(|t| t.sessions).sum::<usize>();
        assert_eq!(idle_threads(sessions(session_tiers(1, 0, 16))), IdleThreads::Spin, "1 x 16");
        assert_eq!(idle_threads(sessions(session_tiers(0, 0, 1))), IdleThreads::Spin, "auto on one core");
        for cores in 2..=64 {
            let automatic = idle_threads(sessions(session_tiers(0, 0, cores)));
            assert_eq!(automatic, IdleThreads::SpinFor { micros: POOLED_SPIN_MICROS }, "auto on {cores} cores");
        }
        assert_eq!(
            idle_threads(sessions(session_tiers(4, 4, 16))),
            IdleThreads::SpinFor { micros: POOLED_SPIN_MICROS }
        );
    }

    #[test]
    fn auto_parallelism_never_oversubscribes() {
        assert_eq!(resolve_parallelism(0, 0, 2), (2, 1));
        assert_eq!(resolve_parallelism(0, 0, 8), (8, 1));
        assert_eq!(resolve_parallelism(1, 0, 8), (1, 8));
        assert_eq!(resolve_parallelism(3, 0, 8), (3, 2));
        assert_eq!(resolve_parallelism(0, 4, 8), (2, 4));
        assert_eq!(resolve_parallelism(0, 16, 8), (1, 16));
        assert_eq!(resolve_parallelism(4, 0, 2), (4, 1));
        assert_eq!(resolve_parallelism(3, 3, 2), (3, 3), "explicit values are kept");
        for cores in 1..=64 {
            for pool in 0..=8 {
                let (p, t) = resolve_parallelism(pool, 0, cores);
                assert!(p >= 1 && t >= 1);
                assert!(p * t <= cores.max(p), "pool {pool} on {cores} cores gave {p}x{t}");
            }
        }
    }
}
