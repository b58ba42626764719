//! wasm-bindgen exports of `fact-resilience-core` for the npm package `fact-resilience`.
//!
//! This crate only translates: numbers and strings in, core calls, numbers, flat arrays of
//! numbers and strings out. It reads and builds no JS object and formats no message, so that
//! serde, js-sys and `core::fmt`'s float formatting stay out of the size budget. The
//! idiomatic API (`CircuitBreaker.execute`, `ResilientCache`, plain objects, error messages,
//! listeners, the clock) is the ESM layer in `js/`; see `js/README.md` for the two layers.
//!
//! - [`breaker`]: the exported functions, one per core method, over breaker handles;
//! - [`cache`]: the cache guard's exported functions, over guard handles;
//! - [`registry`]: the handle table (and why handles rather than a class);
//! - [`config`]: the config as numbers, and refused fields as codes;
//! - [`interop`]: time, codes, metrics and snapshots as numbers;
//! - [`panic`]: the panic hook and the test-only panic.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod cache;
pub mod config;
pub mod interop;
pub mod panic;
pub mod registry;

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Breaker configuration. Every field is optional; absent fields take FACT's defaults. */
export interface Config {
  /** Consecutive failures in CLOSED that open the circuit. Default 5. */
  failureThreshold?: number;
  /** Successful probes in HALF_OPEN that close it. Default 3. */
  successThreshold?: number;
  /** Seconds OPEN before the next call may probe. Default 60. */
  timeoutSeconds?: number;
  /** Seconds of history behind failureRate. Default 300. */
  rollingWindowSeconds?: number;
  /** Buckets the rolling window is split into (8 bytes each). Default 60. */
  windowBuckets?: number;
  /** Throttle calls in HALF_OPEN. Default true. */
  gradualRecovery?: boolean;
  /** Share of HALF_OPEN calls let through, in (0, 1]. Default 0.5. */
  recoveryFactor?: number;
  /** Failure records kept. Default 50. */
  maxRecentFailures?: number;
  /** Longest stored error text, in bytes. Default 256. */
  maxMessageBytes?: number;
  /** Most probes in flight in HALF_OPEN; null for unlimited (default). */
  halfOpenMaxInFlight?: number | null;
  /** Seconds after which an unanswered probe is presumed lost; null for never (default). */
  probeLeaseSeconds?: number | null;
}

export type State = "closed" | "open" | "half_open";

export interface Metrics {
  state: State;
  failureCount: number;
  successCount: number;
  totalOperations: number;
  /** Failures / completed calls in the rolling window, 0..1. */
  failureRate: number;
  windowCalls: number;
  stateChanges: number;
  timeInCurrentStateMs: number;
  /** Wall-clock seconds since the epoch of the newest failure, or null. */
  lastFailureTime: number | null;
  consecutiveFailures: number;
  rejectedCount: number;
  throttledCount: number;
  neutralCount: number;
  halfOpenAdmitted: number;
  halfOpenSuccesses: number;
  halfOpenInFlight: number;
  recentFailuresCount: number;
}

export interface FailureRecord {
  /**
   * Wall-clock seconds since the epoch (NaN if unknown: JSON writes that as null, which
   * `CircuitBreaker.restore` reads back as NaN).
   */
  timestamp: number;
  errorType: string;
  errorMessage: string;
  operation: string;
}

/** A breaker's whole state, versioned and JSON-safe (store it in a Durable Object or KV). */
export interface Snapshot {
  version: 1;
  config: Required<Config>;
  state: State;
  openedAgoNs: number;
  changedAgoNs: number;
  consecutiveFailures: number;
  halfOpen: [number, number, number];
  counters: [number, number, number, number, number, number];
  lastFailureTime: number | null;
  window: [number, number, number][];
  recentFailures: FailureRecord[];
}
"#;
