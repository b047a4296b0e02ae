//! Fork detection. ONNX Runtime's thread pools do not survive `fork()`: a session inherited by a child runs
//! slower, and dropping it there hangs or crashes (onnxruntime #9800). A `pthread_atfork` child handler bumps
//! a process-wide epoch; a model built in an earlier epoch leaks its inherited sessions on purpose and builds
//! fresh ones in the child.
//!
//! Some work must not be cut in half by `fork()`: loading ONNX Runtime (our lock, ort's one-time statics,
//! the dynamic loader) and building or first running a session (ONNX Runtime's process-wide registries,
//! initialised under locks). A child forked in the middle would inherit those locks held by a thread it
//! does not have, and hang on its first load. Such work holds a [`NoForkGuard`]; the `pthread_atfork`
//! prepare handler waits until none is held and keeps new ones out until the fork is done.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};

use arc_swap::ArcSwapOption;

static EPOCH: AtomicU64 = AtomicU64::new(0);
static WATCH: Once = Once::new();

/// A pthread read-write lock usable from `pthread_atfork` handlers, which Rust's std locks are not: the
/// prepare handler takes it for writing and the parent and child handlers release it.
struct ForkLock(UnsafeCell<libc::pthread_rwlock_t>);

// SAFETY: the pthread rwlock is made for concurrent use from many threads; it is only used through its
// pthread functions.
unsafe impl Sync for ForkLock {}

static NO_FORK: ForkLock = ForkLock(UnsafeCell::new(libc::PTHREAD_RWLOCK_INITIALIZER));

/// Held while doing work that a `fork()` must not interrupt; `fork()` waits until every guard is gone.
#[must_use = "the work is only protected while the guard lives"]
pub struct NoForkGuard(());

/// Keeps `fork()` out until the guard drops. Never hold it across a call into the host (callbacks, logs):
/// a host may call `fork()` while holding a lock that such a call needs (Python's GIL), and would wait on
/// us for ever.
pub fn no_fork() -> NoForkGuard {
    watch();
    // SAFETY: the lock is initialised statically (or re-initialised in a child) and lives for ever.
    let rc = unsafe { libc::pthread_rwlock_rdlock(NO_FORK.0.get()) };
    debug_assert_eq!(rc, 0, "pthread_rwlock_rdlock failed");
    NoForkGuard(())
}

impl Drop for NoForkGuard {
    fn drop(&mut self) {
        // SAFETY: this guard holds a read lock taken in `no_fork`.
        let rc = unsafe { libc::pthread_rwlock_unlock(NO_FORK.0.get()) };
        debug_assert_eq!(rc, 0, "pthread_rwlock_unlock failed");
    }
}

extern "C" fn before_fork() {
    // SAFETY: taken by the forking thread, released by `after_fork_in_parent` or reset in the child.
    unsafe { libc::pthread_rwlock_wrlock(NO_FORK.0.get()) };
}

extern "C" fn after_fork_in_parent() {
    // SAFETY: the write lock `before_fork` took on this thread.
    unsafe { libc::pthread_rwlock_unlock(NO_FORK.0.get()) };
}

/// Functions that modules above this one (the log) register to run in a freshly forked child, so that this
/// module imports none of them. Slots hold a `fn()` as a pointer; null is empty.
static CHILD_HOOKS: [AtomicPtr<()>; 4] = [const { AtomicPtr::new(std::ptr::null_mut()) }; 4];

/// Runs `hook` in every child forked from now on, from the `pthread_atfork` child handler, where only
/// async-signal-safe work is allowed (atomics). Register each hook once (behind a `Once`): function
/// pointers are not guaranteed to compare equal, so a second registration would take a second slot.
///
/// # Panics
/// When more hooks are registered than there are slots: a programming error of this crate.
pub fn run_in_child_after_fork(hook: fn()) {
    watch();
    let hook = hook as *mut ();
    let taken = CHILD_HOOKS
        .iter()
        .any(|slot| slot.compare_exchange(std::ptr::null_mut(), hook, Ordering::AcqRel, Ordering::Acquire).is_ok());
    assert!(taken, "more fork child hooks than slots");
}

extern "C" fn in_child_after_fork() {
    // Async-signal-safe work only: atomics, and re-initialising a lock that only this thread can see.
    EPOCH.fetch_add(1, Ordering::SeqCst);
    for slot in &CHILD_HOOKS {
        let hook = slot.load(Ordering::Acquire);
        if !hook.is_null() {
            // SAFETY: every non-null slot holds a `fn()` stored by `run_in_child_after_fork`.
            let hook: fn() = unsafe { std::mem::transmute::<*mut (), fn()>(hook) };
            hook();
        }
    }
    // SAFETY: the child has one thread, this one, which took the write lock in `before_fork`; starting the
    // lock afresh releases it without relying on the owner check of another thread's id.
    unsafe { libc::pthread_rwlock_init(NO_FORK.0.get(), std::ptr::null()) };
}

/// Registers the fork handlers, once per process. Call before anything fork-sensitive starts.
pub fn watch() {
    WATCH.call_once(|| {
        // SAFETY: the handlers only touch atomics and the pthread lock above, as fork handlers may.
        let rc =
            unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork_in_parent), Some(in_child_after_fork)) };
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

/// Calls into ONNX Runtime in progress: loads, session builds and runs.
static RUNTIME_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Counts a call into ONNX Runtime while it lives (see [`guard_exit`]).
#[must_use = "the call is only counted while the guard lives"]
pub struct RuntimeCallGuard(());

/// Marks the start of work inside ONNX Runtime; the work ends when the guard drops. One atomic add.
pub fn runtime_call() -> RuntimeCallGuard {
    RUNTIME_CALLS.fetch_add(1, Ordering::AcqRel);
    RuntimeCallGuard(())
}

impl Drop for RuntimeCallGuard {
    fn drop(&mut self) {
        RUNTIME_CALLS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Threads of ours that have called into ONNX Runtime and have not fully ended.
static RUNTIME_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Keeps its thread counted in [`RUNTIME_THREADS`] until the thread's locals are destroyed, once the thread
/// has adopted the count its [`RuntimeThreadToken`] took.
struct RuntimeThreadMark(std::cell::Cell<bool>);

impl Drop for RuntimeThreadMark {
    fn drop(&mut self) {
        if self.0.get() {
            RUNTIME_THREADS.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

thread_local! {
    static RUNTIME_THREAD: RuntimeThreadMark = const { RuntimeThreadMark(std::cell::Cell::new(false)) };
}

/// A thread of ours about to start that will call into ONNX Runtime (a loading thread), counted from before
/// it is spawned: an `exit()` between the spawn and the thread's first instruction must see it too.
#[must_use = "move the token into the thread and call `adopt` there"]
pub struct RuntimeThreadToken(());

/// Counts a thread about to be spawned; move the token into it and call [`RuntimeThreadToken::adopt`]
/// first thing there. Dropped unadopted (the spawn failed), it uncounts the thread.
pub fn runtime_thread_starting() -> RuntimeThreadToken {
    RUNTIME_THREADS.fetch_add(1, Ordering::AcqRel);
    RuntimeThreadToken(())
}

impl RuntimeThreadToken {
    /// Hands the count to the calling thread, which keeps it until it has completely ended. Call it first
    /// thing in the thread: thread-local destructors run in reverse order of first use, so the mark outlives
    /// ONNX Runtime's own thread-locals, whose destructors would otherwise race with its static destructors
    /// when the process exits just as the thread finishes.
    pub fn adopt(self) {
        std::mem::forget(self);
        RUNTIME_THREAD.with(|mark| {
            if mark.0.replace(true) {
                // This thread was counted already: keep one count for it.
                RUNTIME_THREADS.fetch_sub(1, Ordering::AcqRel);
            }
        });
    }
}

impl Drop for RuntimeThreadToken {
    fn drop(&mut self) {
        RUNTIME_THREADS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether a call into ONNX Runtime is in progress, or a thread of ours that made one has not ended.
fn runtime_work_in_progress() -> bool {
    RUNTIME_CALLS.load(Ordering::Acquire) > 0 || RUNTIME_THREADS.load(Ordering::Acquire) > 0
}

/// Whether running ONNX Runtime's exit-time destructors now could hang or crash the process (see
/// [`guard_exit`]).
fn exit_is_unsafe() -> bool {
    epoch() > 0 || runtime_work_in_progress()
}

extern "C" fn exit_before_onnx_runtime_if_unsafe(status: libc::c_int, _arg: *mut libc::c_void) {
    if exit_is_unsafe() {
        // SAFETY: flushing stdio then ending the process is what `exit` would do after the remaining
        // handlers; `_exit` never returns.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::_exit(status);
        }
    }
}

static GUARD_EXIT: Once = Once::new();

/// Makes `exit()` end the process before ONNX Runtime's own exit handlers run, when running them is
/// unsafe; otherwise exit proceeds as usual. Exit handlers run in reverse order of registration, so this
/// one, registered once ONNX Runtime is loaded, runs before ONNX Runtime's. Two cases:
///
/// - A forked child: ONNX Runtime 1.32 destroys, at exit, a condition variable that one of its background
///   threads waits on; in the child that thread is gone but still counted as a waiter, and the process
///   hangs for ever (even after a bare `import onnxruntime` in Python).
/// - A call into ONNX Runtime still running on another thread, such as a background load when a short
///   command (`manage.py check`) exits right after `AppConfig.ready()` started it: ONNX Runtime's static
///   destructors would run under that thread, which crashed (SIGSEGV or abort) in 6 exits of 10. A
///   loading thread counts from before it is spawned until it has completely ended (see
///   [`runtime_thread_starting`]).
///
/// The cost, in those two cases only: C-level exit handlers registered before ONNX Runtime was loaded are
/// skipped (stdio is still flushed).
pub fn guard_exit() {
    GUARD_EXIT.call_once(register_exit_guard);
}

/// Registers the exit guard again, so that it runs before the exit-time destructors ONNX Runtime has
/// registered since: ONNX Runtime creates some of its static objects on first use, during the first session
/// builds and runs, and each registers its destructor then. Without this, a process exiting while a second
/// session was being built destroyed objects the loading thread was using (SIGSEGV inside
/// `commit_from_memory`, caught with gdb in 1 exit of about 200). Called after each step that may have
/// created such objects; each registration costs one entry in glibc's exit list.
pub fn guard_exit_again() {
    if GUARD_EXIT.is_completed() {
        register_exit_guard();
    }
}

/// Puts the exit guard first when its thread calls `exit()` (see [`watch_exits_from_this_thread`]).
struct ExitWatch;

impl Drop for ExitWatch {
    fn drop(&mut self) {
        // Thread-local destructors run when the thread ends, and when it calls `exit()`: glibc runs the
        // exiting thread's before any exit handler. A guard registered now is the newest entry of the exit
        // list, so it runs before every destructor ONNX Runtime registered, also one registered a moment
        // ago inside a call still running on a loading thread. When the thread merely ends, the entry is
        // one more harmless check at exit, added only while a call into ONNX Runtime is in progress (not
        // for every thread that ends in a forked child, which the guards registered so far cover).
        if GUARD_EXIT.is_completed() && runtime_work_in_progress() {
            register_exit_guard();
        }
    }
}

thread_local! {
    static EXIT_WATCH: ExitWatch = const { ExitWatch };
}

/// Makes an `exit()` from the calling thread run the exit guard before any of ONNX Runtime's exit-time
/// destructors, including those ONNX Runtime registers while a background load is inside it. Registering
/// the guard again after each step ([`guard_exit_again`]) leaves a window: a destructor registered in the
/// middle of a session build runs before the guard, under the loading thread (SIGSEGV inside
/// `commit_from_memory`, seen in 1 to 4 exits of 120). Called on the threads that open detectors, which
/// are the threads that start loads and, in servers and short commands alike, the main thread that exits.
pub fn watch_exits_from_this_thread() {
    let _ = EXIT_WATCH.try_with(|_| ());
}

fn register_exit_guard() {
    // SAFETY: registers a handler with the right signature; glibc keeps it for the process's lifetime.
    let rc = unsafe { on_exit(exit_before_onnx_runtime_if_unsafe, std::ptr::null_mut()) };
    debug_assert_eq!(rc, 0, "on_exit failed");
}

/// How many forks this process descends from since [`watch`] was first called.
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::SeqCst)
}

/// A value that belongs to the process that built it, such as a model's sessions, whose ONNX Runtime thread
/// pools do not exist in a forked child. Reading it is lock-free (the epoch and a pointer load); a child
/// builds its own on first use, under a lock, and the inherited one is leaked on purpose, never dropped
/// (dropping it there hangs or crashes). The one place the epoch is checked for such values.
pub struct ForkLocal<T> {
    value: ArcSwapOption<T>,
    /// The fork epoch `value` was built in.
    epoch: AtomicU64,
    rebuild: Mutex<()>,
}

impl<T> ForkLocal<T> {
    /// A value whose building began in fork epoch `built_in` ([`epoch`], read before building): were a fork
    /// to happen during the build, the child would not take the value for its own.
    pub fn new(value: T, built_in: u64) -> Self {
        Self { value: ArcSwapOption::from_pointee(value), epoch: AtomicU64::new(built_in), rebuild: Mutex::new(()) }
    }

    /// The value, if this process built it; `None` in a forked child that has not built its own. Never
    /// builds: for health checks and statistics, which must stay cheap.
    pub fn current(&self) -> Option<Arc<T>> {
        if self.epoch.load(Ordering::Acquire) == epoch() {
            self.value.load_full()
        } else {
            None
        }
    }

    /// The value of this process; in a forked child, built first by `build` (once, whatever the number of
    /// callers), and `built` is called after.
    pub fn get_or_rebuild<E>(&self, build: impl FnOnce() -> Result<T, E>, built: impl FnOnce()) -> Result<Arc<T>, E> {
        if let Some(value) = self.current() {
            return Ok(value);
        }
        let _rebuilding = self.rebuild.lock().unwrap_or_else(PoisonError::into_inner);
        let now = epoch();
        if self.epoch.load(Ordering::Acquire) != now {
            std::mem::forget(self.value.swap(Some(Arc::new(build()?))));
            self.epoch.store(now, Ordering::Release);
            built();
        }
        Ok(self.value.load_full().expect("set at construction and on every rebuild"))
    }
}

impl<T> Drop for ForkLocal<T> {
    fn drop(&mut self) {
        if self.epoch.load(Ordering::Acquire) != epoch() {
            // Inherited through fork() and never rebuilt: leaked, never dropped.
            std::mem::forget(self.value.swap(None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loading_thread_counts_from_before_its_spawn_until_it_has_ended() {
        // No other unit test of this crate runs a session or a loading thread, so the counters start at zero.
        assert!(!runtime_work_in_progress());
        let token = runtime_thread_starting();
        assert!(runtime_work_in_progress(), "counted before the thread exists");
        let (adopted_tx, adopted_rx) = std::sync::mpsc::channel();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            token.adopt();
            adopted_tx.send(()).unwrap();
            end_rx.recv().unwrap();
        });
        adopted_rx.recv().unwrap();
        assert!(runtime_work_in_progress(), "still counted while the thread runs");
        end_tx.send(()).unwrap();
        thread.join().unwrap();
        assert!(!runtime_work_in_progress(), "uncounted once the thread has ended");
        drop(runtime_thread_starting());
        assert!(!runtime_work_in_progress(), "a thread that never started is uncounted");
    }
}
