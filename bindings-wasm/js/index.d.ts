// Types of the npm package `fact-resilience`.
// Config, Metrics, FailureRecord, Snapshot and State are declared once, at the wasm boundary
// (the typescript_custom_section in bindings-wasm/src/lib.rs), and generated into
// pkg/fact_resilience_wasm.d.ts by wasm-bindgen; the JS layer's classes are declared here.
import type { Config, FailureRecord, Metrics, Snapshot, State } from "./pkg/fact_resilience_wasm.js";

export type { Config, FailureRecord, Metrics, Snapshot, State };

/** Why a transition happened. */
export type Reason =
  | "failure_threshold"
  | "timeout_elapsed"
  | "probe_failed"
  | "probes_succeeded"
  | "forced_open"
  | "forced_closed"
  | "reset";

/** A state change, passed to onStateChange listeners. `at` is the clock's reading (ms). */
export interface StateChange {
  from: State;
  to: State;
  reason: Reason;
  at: number;
}

export interface BreakerOptions {
  /**
   * Monotonic milliseconds, a finite number >= 0. Default `performance.now()`. Any other
   * reading is a TypeError (not a number) or RangeError naming `options.clock`.
   */
  clock?: () => number;
  /**
   * Wall-clock seconds since the epoch, stamped on failure records. Default `Date.now() / 1000`.
   * A reading that fails (throws, or is not a finite number) is reported (`reportError`) and
   * `Date.now() / 1000` used: the failure is still recorded.
   */
  wallClock?: () => number;
}

/**
 * A permit from `tryAcquire`: pass it to exactly one of onSuccess / onFailure / onNeutral. It
 * is spent by its first report (a second throws); anything else passed as a permit is a
 * TypeError.
 */
export interface Permit {
  /** Whether this call is a HALF_OPEN probe. */
  readonly probe: boolean;
  /** Whether an outcome was already reported. */
  readonly reported: boolean;
}

export declare const ErrorCode: {
  readonly OPEN: "CIRCUIT_BREAKER_OPEN";
  readonly THROTTLING: "CIRCUIT_BREAKER_THROTTLING";
};
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A call refused by the breaker. The message contains the code too (as FACT's CacheError). */
export declare class CircuitBreakerError extends Error {
  readonly name: "CircuitBreakerError";
  readonly code: ErrorCodeValue;
  /** Milliseconds until the open timeout passes (0 when throttled). */
  readonly retryAfterMs: number;
  readonly state: "open" | "half_open";
  readonly operation: string;
  constructor(
    message: string,
    details: { code: ErrorCodeValue; retryAfterMs?: number; state: "open" | "half_open"; operation: string },
  );
}

export declare class CircuitBreaker {
  /** @throws TypeError / RangeError naming the bad field (e.g. `config.timeoutSeconds`). */
  constructor(config?: Config | null, options?: BreakerOptions);
  /** A breaker in the state a snapshot describes (the snapshot may have been through JSON). */
  static restore(snapshot: Snapshot, options?: BreakerOptions): CircuitBreaker;
  static isProbe(permit: Permit): boolean;

  /** The state, without side effects (a due timeout is applied on the next call or poll()). */
  readonly state: State;
  isOpen(): boolean;
  isClosed(): boolean;
  isHalfOpen(): boolean;
  /** The configuration in force, every field present. */
  readonly config: Required<Config>;
  metrics(): Metrics;
  recentFailures(): FailureRecord[];
  snapshot(): Snapshot;

  /**
   * Runs `fn` if admitted and records its outcome. Always returns a promise: fn's result
   * (a thenable is adopted once, as `await` would), fn's error, a CircuitBreakerError (fn not
   * called) when refused, or a TypeError for bad arguments. Recording never replaces fn's outcome.
   */
  execute<T>(fn: () => T | PromiseLike<T>, operationName?: string): Promise<Awaited<T>>;
  /** @throws CircuitBreakerError when refused; TypeError if operationName is not a string. */
  tryAcquire(operationName?: string): Permit;
  isCallPermitted(): boolean;
  onSuccess(permit: Permit): void;
  onFailure(permit: Permit, error: unknown, operationName?: string): void;
  onNeutral(permit: Permit): void;

  /** Applies what time alone changes; returns the state. */
  poll(): State;
  forceOpen(): void;
  forceClosed(): void;
  reset(): void;
  /** Replaces the whole configuration; absent fields take their defaults. */
  setConfig(config: Config): void;
  /** Returns a function that unsubscribes. */
  onStateChange(listener: (change: StateChange) => void): () => void;
  /**
   * Frees the breaker's wasm memory now (otherwise when garbage-collected, where the runtime
   * has FinalizationRegistry). An `execute` in flight still settles with fn's outcome.
   */
  dispose(): void;
}

/** Any cache with get/put/delete, sync or async (Map, Workers KV, Cache API, Redis clients). */
export interface CacheLike {
  get?(key: any, ...rest: any[]): any;
  match?(key: any, ...rest: any[]): any;
  put?(key: any, value: any, ...rest: any[]): any;
  set?(key: any, value: any, ...rest: any[]): any;
  delete?(key: any, ...rest: any[]): any;
  del?(key: any, ...rest: any[]): any;
}

export interface ResilientCacheOptions {
  /** While degraded, answer with fallbacks (default) instead of throwing. */
  gracefulDegradation?: boolean;
}

/** FACT's ResilientCacheWrapper: fallbacks while degraded are put -> true, get -> undefined, delete -> 0. */
export declare class ResilientCache<C extends CacheLike = CacheLike> {
  constructor(cache: C, breaker?: CircuitBreaker, options?: ResilientCacheOptions);
  readonly cache: C;
  readonly breaker: CircuitBreaker;
  gracefulDegradation: boolean;
  get(key: any, ...rest: any[]): Promise<any>;
  put(key: any, value: any, ...rest: any[]): Promise<true>;
  delete(key: any, ...rest: any[]): Promise<any>;
  metrics(): { circuitBreaker: Metrics };
}
