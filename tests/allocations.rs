//! Steady-state `yolo_detect_pixels` allocates nothing that grows with the image: a counting global
//! allocator measures the Rust heap inside the call, for a small and a 16 times larger image. Counts, not
//! times, so the test is deterministic. (ONNX Runtime's own C++ allocations do not go through this
//! allocator; they depend on the model's input size, which the letterbox fixes.)

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use yolo_ffi::*;

struct Counting;

static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the measuring thread counts, so that the test harness's own threads do not.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count(bytes: usize) {
    if COUNTING.with(Cell::get) {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counting has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations and bytes inside `runs` calls of `yolo_detect_pixels` on a `width` x `height` RGB image,
/// after warm-up calls on the same size.
fn measure(detector: &Detector, width: u32, height: u32, runs: usize) -> (usize, usize) {
    let pixels: Vec<u8> = (0..width as usize * height as usize * 3).map(|i| (i * 7 % 251) as u8).collect();
    let call = || {
        let mut result = std::ptr::null_mut();
        COUNTING.with(|c| c.set(true));
        // SAFETY: `pixels` holds `height` rows of `width * 3` bytes; `result` is writable.
        let status = unsafe {
            yolo_detect_pixels(
                detector.0,
                pixels.as_ptr(),
                pixels.len(),
                width,
                height,
                width as usize * 3,
                yolo_pixel_format::Rgb8 as u32,
                std::ptr::null(),
                &mut result,
            )
        };
        COUNTING.with(|c| c.set(false));
        assert_eq!(status, yolo_status::Ok, "{}", last_error());
        // SAFETY: a live result, freed once.
        unsafe { yolo_result_free(result) };
    };
    for _ in 0..3 {
        call();
    }
    let (calls, bytes) = (CALLS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    for _ in 0..runs {
        call();
    }
    (CALLS.load(Ordering::Relaxed) - calls, BYTES.load(Ordering::Relaxed) - bytes)
}

#[test]
fn steady_state_detect_allocates_nothing_proportional_to_the_image() {
    let detector = init(&cache_dir().join("models/nudenet-320n.onnx"));
    let runs = 10;
    let (small_calls, small_bytes) = measure(&detector, 400, 300, runs);
    let (large_calls, large_bytes) = measure(&detector, 1600, 1200, runs);
    eprintln!(
        "per call: 400x300: {} allocations, {} bytes; 1600x1200: {} allocations, {} bytes",
        small_calls / runs,
        small_bytes / runs,
        large_calls / runs,
        large_bytes / runs
    );
    // The large image is 5.8 MB of pixels; a call may allocate its result and small bookkeeping only.
    assert!(large_bytes / runs < 16 * 1024, "{} bytes per call on a 1600x1200 image", large_bytes / runs);
    assert!(large_calls <= small_calls + runs, "allocation count grows with the image: {small_calls} vs {large_calls}");
    assert!(large_bytes <= small_bytes + runs * 1024, "bytes grow with the image: {small_bytes} vs {large_bytes}");
}
