//! Fork detection. ONNX Runtime's thread pools do not survive `fork()`: a session inherited by a child runs
//! slower, and dropping it there hangs or crashes (onnxruntime #9800). A `pthread_atfork` child handler bumps
//! a process-wide epoch; a model built in an earlier epoch leaks its inherited sessions on purpose and builds
//! fresh ones in the child.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static EPOCH: AtomicU64 = AtomicU64::new(0);
static WATCH: Once = Once::new();

extern "C" fn in_child_after_fork() {
    // Async-signal-safe: atomic operations only.
    EPOCH.fetch_add(1, Ordering::SeqCst);
    crate::log::forget_calls_after_fork();
}

/// Registers the child handler, once per process. Call before building anything fork-sensitive.
pub fn watch() {
    WATCH.call_once(|| {
        // SAFETY: the handler only performs atomic operations, which are safe in a freshly forked child.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child_after_fork)) };
        debug_assert_eq!(rc, 0, "pthread_atfork failed");
    });
}

extern "C" {
    /// glibc's `on_exit`: like `atexit`, but the handler receives the exit status.
    fn on_exit(
        function: extern "C" fn(status: libc::c_int, arg: *mut libc::c_void),
        arg: *mut libc::c_void,
    ) -> libc::c_int;
}

extern "C" fn exit_forked_child_before_onnx_runtime(status: libc::c_int, _arg: *mut libc::c_void) {
    if epoch() > 0 {
        // SAFETY: flushing stdio then ending the process is what `exit` would do after the remaining
        // handlers; `_exit` never returns.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::_exit(status);
        }
    }
}

static GUARD_EXIT: Once = Once::new();

/// Makes a forked child's `exit()` end the process before ONNX Runtime's own exit handlers run. ONNX
/// Runtime 1.32 destroys, at exit, a condition variable that one of its background threads waits on; in a
/// forked child that thread is gone but still counted as a waiter, and the process hangs for ever (even
/// after a bare `import onnxruntime` in Python). Exit handlers run in reverse order of registration, so
/// this one, registered once ONNX Runtime is loaded, runs before ONNX Runtime's. In the parent it does
/// nothing. The cost: in a forked child, C-level exit handlers registered before ONNX Runtime was loaded
/// are skipped (stdio is still flushed).
pub fn guard_child_exit() {
    GUARD_EXIT.call_once(|| {
        // SAFETY: registers a handler with the right signature; glibc keeps it for the process's lifetime.
        let rc = unsafe { on_exit(exit_forked_child_before_onnx_runtime, std::ptr::null_mut()) };
        debug_assert_eq!(rc, 0, "on_exit failed");
    });
}

/// How many forks this process descends from since [`watch`] was first called.
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::SeqCst)
}
