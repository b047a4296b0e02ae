//! Events for the host's logger. Nothing is printed: without a sink, events are dropped.

use std::sync::{PoisonError, RwLock};

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

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Routes every later event to `sink`, or drops them again with `None`.
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = sink;
}

/// Sends an event to the sink, if any. Events are rare (loads, forks), never per detect.
pub fn emit(level: Level, message: impl FnOnce() -> String) {
    let sink = SINK.read().unwrap_or_else(PoisonError::into_inner);
    if let Some(sink) = sink.as_ref() {
        let message = message();
        // A panicking sink must not take the event's source with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(level, &message)));
    }
}
