//! The hot paths never touch the heap once a breaker is warm: admission and success while
//! CLOSED, rejection while OPEN, throttling while HALF_OPEN, and failure records once the
//! failure log is full (it recycles the oldest record's buffers). Construction allocates only
//! the config; the first completed call allocates the rolling window, and the first call in a
//! later bucket the window's ring (see `warm`).
//!
//! A counting global allocator wraps the system one. Counts are per thread, so tests running
//! in parallel (and the test harness itself) cannot disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use fact_resilience_core::{Breaker, Config, Failure, Instant, Rejection, State};

/// Heap activity seen on one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    /// `alloc`, `alloc_zeroed` and `realloc` calls (a `realloc` may move or grow a block, so
    /// it counts as an allocation).
    allocations: u64,
    /// Bytes requested by those calls.
    bytes: u64,
}

thread_local! {
    // `const` and `Copy` contents: no lazy initialisation and no destructor, so touching it
    // from inside the allocator never allocates or re-enters the allocator.
    static USAGE: Cell<Usage> = const {
        Cell::new(Usage {
            allocations: 0,
            bytes: 0,
        })
    };
}

fn note(bytes: usize) {
    // `try_with` fails only while the thread is being torn down; those calls are not ours.
    let _ = USAGE.try_with(|u| {
        let mut v = u.get();
        v.allocations += 1;
        v.bytes += bytes as u64;
        u.set(v);
    });
}

/// `System`, counting every allocation on the calling thread.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only addition is bumping a thread-local counter, which neither
// allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's guarantees for `layout` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` and `layout` come from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the heap activity it caused on this thread.
fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let before = USAGE.with(Cell::get);
    let r = f();
    let after = USAGE.with(Cell::get);
    let used = Usage {
        allocations: after.allocations - before.allocations,
        bytes: after.bytes - before.bytes,
    };
    (r, used)
}

const NONE: Usage = Usage {
    allocations: 0,
    bytes: 0,
};

const MS: u64 = 1_000_000;

fn failure(message: &str) -> Failure<'_> {
    Failure {
        error_type: "ConnectionError",
        error_message: message,
        operation: "get",
        timestamp: 1_700_000_000.0,
    }
}

#[test]
fn counter_sees_allocations() {
    let (v, used) = measure(|| vec![0u8; 100]);
    assert_eq!(used.allocations, 1);
    assert_eq!(used.bytes, 100);
    drop(v);
}

/// Completes a call at 0 and another one window bucket later (default config: 5 s buckets),
/// so that the window and its ring exist.
fn warm(b: &mut Breaker) {
    for now in [Instant::ZERO, Instant::from_nanos(5_000 * MS)] {
        let permit = b.try_acquire(now).unwrap();
        assert_eq!(b.on_success(permit, now), None);
    }
}

#[test]
fn construction_allocates_only_the_config_and_the_ring_comes_with_use() {
    let mut sizes = vec![];
    // Not 60: the default config's profile is shared (below).
    for buckets in [1, 30, 1_000] {
        let config = Config {
            window_buckets: buckets,
            ..Config::default()
        };
        let (mut b, used) = measure(|| Breaker::new(config, Instant::ZERO).unwrap());
        // One allocation, whatever the window: the config, shared by clones (the default
        // config's is shared by every breaker, so only the first one made allocates it). The
        // window and the failure log wait for their first call.
        assert_eq!(used.allocations, 1, "buckets = {buckets}");
        sizes.push(used.bytes);
        let ((), first) = measure(|| {
            let permit = b.try_acquire(Instant::ZERO).unwrap();
            assert_eq!(b.on_success(permit, Instant::ZERO), None);
        });
        assert_eq!(first.allocations, 1, "the window, without its ring");
        let later = Instant::from_nanos(10_000 * MS);
        let ((), second) = measure(|| {
            let permit = b.try_acquire(later).unwrap();
            assert_eq!(b.on_success(permit, later), None);
        });
        if buckets > 1 {
            assert_eq!(
                second,
                Usage {
                    allocations: 1,
                    bytes: 8 * u64::from(buckets)
                }
            );
        }
        drop(b);
    }
    assert!(sizes.iter().all(|&s| s == sizes[0] && s < 512), "{sizes:?}");
    let (b, used) = measure(|| Breaker::new(Config::default(), Instant::ZERO).unwrap());
    let (c, again) = measure(|| Breaker::new(Config::default(), Instant::ZERO).unwrap());
    assert!(used.allocations <= 1);
    assert_eq!(
        again, NONE,
        "a second default breaker shares the first one's config"
    );
    drop((b, c));
}

#[test]
fn closed_path_does_not_allocate() {
    let mut b = Breaker::new(Config::default(), Instant::ZERO).unwrap();
    warm(&mut b);
    let (successes, used) = measure(|| {
        let mut t = 5_000 * MS;
        for i in 0..100_000u64 {
            // Mostly small steps, with a jump past the whole window now and then, so bucket
            // rollover and full expiry both run.
            t += if i % 10_000 == 0 {
                400_000 * MS
            } else {
                7 * MS
            };
            let now = Instant::from_nanos(t);
            let permit = b.try_acquire(now).unwrap();
            assert_eq!(b.on_success(permit, now), None);
        }
        b.metrics(Instant::from_nanos(t)).success_count
    });
    assert_eq!(successes, 100_002);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(used, NONE);
}

#[test]
fn rejection_while_open_does_not_allocate() {
    let mut b = Breaker::new(Config::default(), Instant::ZERO).unwrap();
    let _ = b.force_open(Instant::ZERO);
    let (rejected, used) = measure(|| {
        for i in 0..10_000u64 {
            let r = b.try_acquire(Instant::from_nanos(i * MS));
            assert!(matches!(r, Err(Rejection::Open { .. })));
        }
        b.metrics(Instant::ZERO).rejected_count
    });
    assert_eq!(rejected, 10_000);
    assert_eq!(used, NONE);
}

#[test]
fn throttling_while_half_open_does_not_allocate() {
    let config = Config {
        success_threshold: 1_000_000,
        timeout_seconds: 1.0,
        recovery_factor: 0.5,
        ..Config::default()
    };
    let mut b = Breaker::new(config, Instant::ZERO).unwrap();
    warm(&mut b);
    let _ = b.force_open(Instant::ZERO);
    let start = 6_000 * MS;
    let _ = b.poll(Instant::from_nanos(start));
    assert_eq!(b.state(), State::HalfOpen);
    let (metrics, used) = measure(|| {
        for i in 1..=10_000u64 {
            let now = Instant::from_nanos(start + i * MS);
            match b.try_acquire(now) {
                Ok(probe) => assert_eq!(b.on_success(probe, now), None),
                Err(r) => assert_eq!(r, Rejection::Throttled),
            }
        }
        b.metrics(Instant::from_nanos(start))
    });
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(
        (metrics.half_open_admitted, metrics.throttled_count),
        (5_000, 5_000)
    );
    assert_eq!(used, NONE);
}

#[test]
fn failure_records_recycle_buffers_once_the_log_is_full() {
    let config = Config {
        failure_threshold: u32::MAX,
        max_recent_failures: 8,
        ..Config::default()
    };
    let mut b = Breaker::new(config, Instant::ZERO).unwrap();
    warm(&mut b);
    let long = "x".repeat(256);
    let mut t = 5_000 * MS;
    let mut fail = |b: &mut Breaker, message: &str| {
        t += MS;
        let now = Instant::from_nanos(t);
        let permit = b.try_acquire(now).unwrap();
        assert_eq!(b.on_failure(permit, &failure(message), now), None);
    };

    // Filling the log allocates: the ring itself and each record's three strings.
    let ((), filling) = measure(|| {
        for _ in 0..8 {
            fail(&mut b, &long);
        }
    });
    assert!(filling.allocations > 0);
    assert_eq!(b.recent_failures().len(), 8);

    // Once full, the newest record takes over the oldest record's buffer.
    let oldest = b.recent_failures().next().unwrap().error_message.as_ptr();
    fail(&mut b, "short");
    let newest = b.recent_failures().next_back().unwrap();
    assert_eq!(newest.error_message, "short");
    assert_eq!(newest.error_message.as_ptr(), oldest, "buffer recycled");

    // A steady stream of failures, none longer than the buffers already held, allocates
    // nothing; longer text is cut at max_message_bytes (256), so it fits as well.
    let too_long = "y".repeat(10_000);
    let ((), used) = measure(|| {
        for i in 0..10_000usize {
            let message = match i % 3 {
                0 => &long[..i % 257],
                1 => "connection refused",
                _ => too_long.as_str(),
            };
            fail(&mut b, message);
        }
    });
    assert_eq!(used, NONE);
    assert_eq!(b.recent_failures().len(), 8);
    assert!(b.recent_failures().all(|r| r.error_message.len() <= 256));
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics(Instant::ZERO).failure_count, 10_009);
}

#[test]
fn cache_guard_reads_and_unremembered_writes_do_not_allocate_once_warm() {
    use fact_resilience_core::{Begin, CacheGuard, CacheOp, Capabilities, Outcome, StaleKeys};
    let caps = Capabilities {
        per_key: true,
        flush_all: true,
    };
    let mut b = Breaker::new(Config::default(), Instant::ZERO).unwrap();
    let mut g: CacheGuard = CacheGuard::new(StaleKeys::PerKey, caps, 16);
    let call = |g: &mut CacheGuard, b: &mut Breaker, op| {
        let Begin::Run { ticket, .. } = g.begin(b, op, Some("k"), true, Instant::ZERO).0 else {
            panic!("closed: admitted");
        };
        let _ = g.end(b, ticket, Outcome::Success, Instant::ZERO).unwrap();
    };
    call(&mut g, &mut b, CacheOp::Get); // the first call makes the slot
    let ((), get) = measure(|| call(&mut g, &mut b, CacheOp::Get));
    assert_eq!(get.allocations, 0, "a get on a warm guard");
    let mut off: CacheGuard = CacheGuard::new(StaleKeys::Off, caps, 16);
    call(&mut off, &mut b, CacheOp::Store);
    let ((), store) = measure(|| call(&mut off, &mut b, CacheOp::Store));
    assert_eq!(
        store.allocations, 0,
        "a store that nothing may need to remember"
    );
}
