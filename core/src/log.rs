//! Events for the host's logger. Nothing is printed: without a sink, events are dropped.
//!
//! No lock is held while the sink runs. A host's sink may block (a Python callback waits for the GIL,
//! which the thread calling `fork()` holds); with a lock held across that call, a child forked at that
//! moment would inherit the lock held for ever and hang the first time it replaced the sink, as Python does
//! at exit.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something odd that did not fail.
    Warn = 2,
    /// A milestone: a model loaded, sessions rebuilt after fork.
    Info = 3,
}

/// Where events go.
pub type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

static SINK: ArcSwapOption<Sink> = ArcSwapOption::const_empty();
/// Calls of [`emit`] in progress, on every thread.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Calls of [`emit`] in progress on this thread (a sink that logs again nests them).
    static NESTED: Cell<usize> = const { Cell::new(0) };
}

/// Routes every later event to `sink`, or drops them again with `None`. Returns once no call can still be
/// using the previous sink, so a host may free what that sink referred to (Python does at exit).
pub fn set_sink(sink: Option<Sink>) {
    forget_calls_in_forked_children();
    SINK.store(sink.map(Arc::new));
    let own = NESTED.with(Cell::get);
    while IN_FLIGHT.load(Ordering::SeqCst) > own {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// Sends an event to the sink, if any. Events are rare (loads, forks), never per detect.
pub fn emit(level: Level, message: impl FnOnce() -> String) {
    forget_calls_in_forked_children();
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    NESTED.with(|n| n.set(n.get() + 1));
    // Loaded after counting this call in, so a `set_sink` that stored a new sink before our load waits for
    // us if we got the old one.
    if let Some(sink) = SINK.load_full() {
        let message = message();
        // A panicking sink must not take the event's source with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(level, &message)));
    }
    NESTED.with(|n| n.set(n.get() - 1));
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
}

/// Makes every child forked from now on forget the calls in progress (see [`forget_calls_after_fork`]):
/// a fork cuts off the calls other threads have in progress, and the child must not wait for them. Called
/// before a call is counted and before a sink is set, so no count is ever inherited unseen.
fn forget_calls_in_forked_children() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| crate::fork::run_in_child_after_fork(forget_calls_after_fork));
}

/// In a freshly forked child: the calls the parent's other threads had in progress will never finish here.
/// Async-signal-safe (one atomic store), for the `pthread_atfork` child handler.
pub fn forget_calls_after_fork() {
    IN_FLIGHT.store(0, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    // The sink is process-wide: these tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn replacing_the_sink_waits_for_calls_using_the_old_one() {
        let _serial = SERIAL.lock().unwrap();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let finished_in_sink = Arc::clone(&finished);
        set_sink(Some(Box::new(move |_, _| {
            entered_tx.send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
            finished_in_sink.store(true, Ordering::SeqCst);
        })));
        let emitter = std::thread::spawn(|| emit(Level::Info, || "slow".into()));
        entered_rx.recv().unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            release_tx.send(()).unwrap();
        });
        set_sink(None);
        assert!(finished.load(Ordering::SeqCst), "set_sink returned while the old sink was still running");
        emitter.join().unwrap();
        releaser.join().unwrap();
    }

    #[test]
    fn a_sink_may_replace_itself_without_deadlock() {
        let _serial = SERIAL.lock().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let seen_in_sink = Arc::clone(&seen);
        set_sink(Some(Box::new(move |_, _| {
            seen_in_sink.fetch_add(1, Ordering::SeqCst);
            set_sink(None);
        })));
        emit(Level::Warn, || "first".into());
        emit(Level::Warn, || "dropped".into());
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
}
