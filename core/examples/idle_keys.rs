//! Bytes per idle key in a [`Registry`], measured with a counting global allocator: every
//! byte the registry holds on the heap (breakers, map entries, key strings, the eviction
//! order) divided by the number of keys.
//!
//! `cargo run --release -p fact-resilience-core --example idle_keys [N ...]` (or
//! `make bench-memory-rust`). For each N (default 10,000, 100,000 and 1,000,000) a registry of
//! two levels (`op` -> `key`) takes one successful call on each of N keys `user:<i>`, so every
//! key has a breaker with one call in its window; the figure is printed then, and again once
//! the window has passed and [`Registry::shrink_idle`] has given the empty windows back.
//! Results go in `core/BENCHMARKS.md`, not here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

use fact_resilience_core::{Breaker, Config, Instant, Level, Registry, RegistryConfig};

/// Bytes currently allocated through the global allocator (requested sizes).
static LIVE: AtomicI64 = AtomicI64::new(0);

struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`; the only addition is an
// atomic counter, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `layout` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: `ptr` and `layout` come from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: `ptr` and `layout` come from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

const SEC: u64 = 1_000_000_000;

/// `(bytes per key with one call in each window, bytes per key once idle and shrunk)`.
fn per_key(n: usize) -> (f64, f64) {
    let keys: Vec<String> = (0..n).map(|i| format!("user:{i}")).collect();
    let before = live();
    let config = RegistryConfig {
        levels: vec![
            Level::new("op", Config::default()),
            Level::new("key", Config::default()),
        ],
        max_breakers: n + 1,
    };
    let mut registry = Registry::new(config).expect("a valid registry config");
    for (i, key) in keys.iter().enumerate() {
        let now = Instant::from_nanos(SEC + i as u64 * 1_000);
        let permit = registry
            .try_acquire(&["get", key], now)
            .expect("two segments")
            .expect("closed admits");
        let _ = registry.on_success(permit, now);
    }
    let used = (live() - before) as f64 / n as f64;
    let later = Instant::from_nanos(1_000 * SEC);
    registry.shrink_idle(later);
    let idle = (live() - before) as f64 / n as f64;
    assert_eq!(registry.len(), n + 1, "nothing evicted");
    drop(registry);
    (used, idle)
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.replace(['_', ','], "").parse().expect("a number of keys"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    println!(
        "size_of::<Breaker>() = {} B",
        std::mem::size_of::<Breaker>()
    );
    println!("| keys | bytes per key, one call in each window | bytes per idle key (shrunk) |");
    println!("|---:|---:|---:|");
    for n in sizes {
        let (used, idle) = per_key(n);
        println!("| {n} | {used:.0} | {idle:.0} |");
    }
}
