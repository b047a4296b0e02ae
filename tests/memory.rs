//! Memory of a pool: with `share_weights`, 3 sessions more cost less than half of what 3 more copies of the
//! weights cost.
//! Resident set sizes are compared within this one process, as ratios with headroom, never as absolutes.
//! Uses the nudenet model that `make fixtures` fetches (or `../shared/`).

mod common;

use common::*;
use yolo_ffi::*;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

/// Opens a detector; returns it with the growth of the resident set.
fn load(pool_size: u32, share_weights: bool) -> (Detector, u64) {
    let before = resident_bytes();
    let detector = init_with(&demo_model(), |c| {
        c.pool_size = Some(pool_size);
        c.threads_per_session = Some(1);
        c.share_weights = Some(share_weights);
    })
    .unwrap();
    (detector, resident_bytes().saturating_sub(before))
}

/// Runs every session of `detector` once at the same time; returns the growth of the resident set.
fn run_every_session(detector: &Detector, pool_size: u32) -> u64 {
    let before = resident_bytes();
    let image = vec![100u8; 320 * 320 * 3];
    let threads: Vec<_> = (0..pool_size)
        .map(|_| {
            let (handle, image) = (detector.0 as usize, image.clone());
            std::thread::spawn(move || {
                let detector = Detector(handle as *mut yolo_detector);
                detect_pixels(&detector, &image, 320, 320, 960, yolo_pixel_format::Rgb8 as u32, None).unwrap();
                std::mem::forget(detector);
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    resident_bytes().saturating_sub(before)
}

#[test]
fn a_shared_pool_of_four_costs_little_more_than_one_session() {
    // Load ONNX Runtime itself first, so that it counts in no measurement.
    let _runtime = init(&synthetic_dir().join("v8_fixed.onnx"));
    let (one, one_loaded) = load(1, true);
    let (two, two_loaded) = load(2, true);
    let (four, four_loaded) = load(4, true);
    let (four_unshared, four_unshared_loaded) = load(4, false);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "resident growth at load: shared pool 1 {:.1} MiB, shared pool 2 {:.1} MiB, shared pool 4 {:.1} MiB ({:.2}x), unshared pool 4 {:.1} MiB ({:.2}x)",
        mib(one_loaded),
        mib(two_loaded),
        mib(four_loaded),
        four_loaded as f64 / one_loaded as f64,
        mib(four_unshared_loaded),
        four_unshared_loaded as f64 / one_loaded as f64
    );
    // Each session's activation buffers come on top once it runs, shared or not.
    let (run_one, run_two, run_four, run_four_unshared) = (
        run_every_session(&one, 1),
        run_every_session(&two, 2),
        run_every_session(&four, 4),
        run_every_session(&four_unshared, 4),
    );
    eprintln!(
        "resident growth of the first concurrent run of every session: pool 1 {:.1} MiB, shared pool 2 {:.1} MiB, shared pool 4 {:.1} MiB, unshared pool 4 {:.1} MiB",
        mib(run_one),
        mib(run_two),
        mib(run_four),
        mib(run_four_unshared)
    );
    // The resident set moves in steps of about 5 MiB between runs of this test (37, 42 or 46 MiB for the
    // same load: the allocator's arenas), so the claim is held as a comparison that those steps cannot
    // flip: 3 sessions more cost under half of what 3 separate copies of the weights cost.
    let shared_extra = four_loaded as f64 - one_loaded as f64;
    let unshared_extra = four_unshared_loaded as f64 - one_loaded as f64;
    assert!(
        shared_extra < 0.5 * unshared_extra,
        "shared pool of 4: {four_loaded} bytes against {one_loaded} for one session and {four_unshared_loaded} unshared"
    );
    assert!(
        (four_unshared_loaded as f64) > 1.5 * four_loaded as f64,
        "sharing must save memory: {four_loaded} shared against {four_unshared_loaded} unshared"
    );
}
