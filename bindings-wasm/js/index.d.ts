// Types of the npm package `fact-resilience`.
// Config, Metrics, FailureRecord, Snapshot and State are declared once, at the wasm boundary
// (the typescript_custom_section in bindings-wasm/src/lib.rs), and generated into
// pkg/fact_resilience_wasm.d.ts by wasm-bindgen; the JS layer's classes are declared here.
import type {
  Config,
  FailureRecord,
  HealthAlert,
  HealthReport,
  HealthRule,
  HealthThresholds,
  Metrics,
  MetricFamily,
  Readiness,
  ReadinessPolicy,
  Severity,
  Snapshot,
  State,
  TransitionCount,
} from "./pkg/fact_resilience_wasm.js";

export type {
  Config,
  FailureRecord,
  HealthAlert,
  HealthReport,
  HealthRule,
  HealthThresholds,
  Metrics,
  MetricFamily,
  Readiness,
  ReadinessPolicy,
  Severity,
  Snapshot,
  State,
  TransitionCount,
};

/** Why a transition happened. */
export type Reason =
  | "failure_threshold"
  | "failure_rate"
  | "slow_calls"
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
  /** `ResilientCache.getOrLoad`: the origin's budget of loads in flight is spent. */
  readonly ORIGIN_BUSY: "ORIGIN_BUSY";
};
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * A call refused by the breaker. The message contains the code too (as FACT's CacheError).
 * The breaker's own refusals capture no stack frames: their `stack` is the header line alone
 * (`CircuitBreakerError: <message>`), and they are not native Errors to
 * `util.types.isNativeError` (README, Refusals). One built with `new` is a native Error.
 */
export declare class CircuitBreakerError extends Error {
  readonly name: "CircuitBreakerError";
  readonly code: ErrorCodeValue;
  /** Milliseconds until the open timeout passes (0 when throttled). */
  readonly retryAfterMs: number;
  /** The refusing breaker's state (undefined for ORIGIN_BUSY). */
  readonly state: "open" | "half_open";
  readonly operation: string;
  /** A BreakerRegistry's refusal: the refusing level's index (0: the root) and name. */
  readonly level?: number;
  readonly levelName?: string;
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
   * The health report now under `thresholds` (the seed's defaults for absent fields); no side
   * effects. @throws TypeError / RangeError naming the bad threshold (`thresholds.criticalFailureRate`).
   */
  health(thresholds?: HealthThresholds): HealthReport;
  /** 200 or 503 for a readiness probe, by `unreadyWhen` (default "open"), and the report. */
  readiness(unreadyWhen?: ReadinessPolicy, thresholds?: HealthThresholds): Readiness;
  /** Transitions since creation or reset, every kind the core counts (zeros included). */
  transitionCounts(): TransitionCount[];

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

/**
 * Any cache with get/put, sync or async (Map, Workers KV, the Cache API with URL keys, Redis
 * clients, FACT-style prefix-only managers). What else it has decides its stale-key
 * protection: `delete`/`del` (per key), `clear()` or `invalidateByPrefix` with a string
 * `prefix` (flushable whole).
 */
export interface CacheLike {
  get?(key: string, ...rest: any[]): any;
  match?(key: string, ...rest: any[]): any;
  put?(key: string, value: any, ...rest: any[]): any;
  set?(key: string, value: any, ...rest: any[]): any;
  delete?(key: string, ...rest: any[]): any;
  del?(key: string, ...rest: any[]): any;
  invalidateByPrefix?(prefix: string, ...rest: any[]): any;
  clear?(): any;
  prefix?: string;
}

/**
 * Stale-key protection: what a write that did not complete (skipped while degraded, failed,
 * timed out, shed) leaves behind. `"auto"`: per key if the cache has `delete`/`del`, else
 * nothing (FACT's behaviour for its prefix-only manager); `"off"`; `"perKey"` (`"per_key"`):
 * per key, the cache must have `delete`/`del`; `"prefix"`: flush the whole cache after any
 * skipped write, the cache must have `clear()` or `invalidateByPrefix` and a `prefix`.
 */
export type StaleKeys = "auto" | "off" | "perKey" | "per_key" | "prefix";

export interface ResilientCacheOptions {
  /** While degraded, answer with fallbacks (default) instead of throwing. */
  gracefulDegradation?: boolean;
  /** Default "auto". A value the cache cannot honour is a TypeError naming options.staleKeys. */
  staleKeys?: StaleKeys;
  /** The most keys remembered; beyond it the cache is flushed whole if it can be, else the key is dropped (counted). Default 1024. */
  maxPendingInvalidations?: number;
  /** True for an error that means the caller gave up: neutral for the breaker, and it propagates (as an AbortError does). */
  isNeutral?: (error: unknown) => boolean;
  /**
   * Per-key breakers: a call on a key is admitted by the cache's breaker (the whole cache) and
   * by every level of `keyPath(key)` in this registry; its outcome goes to all of them.
   */
  hierarchy?: BreakerRegistry | null;
  /** The key's path in `hierarchy`, one segment per level. Default `(key) => [key]`. */
  keyPath?: (key: string) => string[];
  /** getOrLoad: concurrent misses of one key share one origin call. Default false. */
  singleFlight?: boolean;
  /** getOrLoad: the most origin calls in flight (at least 1); beyond it ORIGIN_BUSY. Default no limit. */
  originBudget?: number | null;
  /** getOrLoad: while the cache is down, a value served at most this long ago (ms, > 0) answers. Default off. */
  staleIfErrorMs?: number | null;
  /** getOrLoad: values remembered for stale-if-error (at least 1). Default 1024. */
  staleCapacity?: number;
  /** getOrLoad: answered instead of an ORIGIN_BUSY error once the budget is spent (present: used, even if undefined). */
  originBusyFallback?: unknown;
}

/** The origin guard's counters (the core's OriginCounters). */
export interface OriginMetrics {
  /** Origin calls made (loads led). */
  originCalls: number;
  /** Loads that waited for another's origin call instead of making their own. */
  joined: number;
  /** Loads refused for the budget. */
  busy: number;
  /** Loads answered with a remembered value while the cache was down. */
  staleServed: number;
  /** Origin calls in flight. */
  inFlight: number;
  /** Keys with a remembered value. */
  remembered: number;
}

/** A level of a BreakerRegistry: a name (default config) or a name with configs. */
export type RegistryLevel =
  | string
  | {
      name: string;
      config?: Config;
      /** Configs for segments starting with a prefix; the longest matching prefix wins. */
      prefixes?: Record<string, Config>;
    };

export interface BreakerRegistryOptions {
  /** The most breakers kept; beyond it idle ones are dropped, never a busy one. Default 100000. */
  maxBreakers?: number;
  /** Monotonic milliseconds. Default `performance.now()`. */
  clock?: () => number;
  /** Epoch seconds stamped on failure records. Default `Date.now() / 1000`. */
  wallClock?: () => number;
}

/** A move one level made: the level's index (0: the root) and the transition. */
export interface LevelTransition extends StateChange {
  level: number;
}

/** Per level, the breakers kept there, summed. */
export interface LevelSummary {
  level: string;
  breakers: number;
  closed: number;
  open: number;
  halfOpen: number;
  windowCalls: number;
  windowFailures: number;
  inFlight: number;
}

/** Leave to run one call on a path; report it once to the registry. */
export declare class PathPermit {
  private constructor();
  readonly path: readonly string[];
  /** The moves admission made (OPEN -> HALF_OPEN). */
  readonly transitions: readonly LevelTransition[];
  readonly reported: boolean;
}

/**
 * Breakers by path in a hierarchy (root first), created on first use; idle ones beyond
 * `maxBreakers` are dropped. A call is admitted only if every level on its path admits it.
 */
export declare class BreakerRegistry {
  /**
   * `levels` root first, or an object of level name to parent name (`null` for the root).
   * @throws TypeError / RangeError naming the bad level, field or option (a cycle, a second
   * root, an empty name, a bad config, `maxBreakers: 0`).
   */
  constructor(levels: readonly RegistryLevel[] | Record<string, string | null>, options?: BreakerRegistryOptions);
  readonly levels: string[];
  /** Breakers kept. */
  readonly size: number;
  /** Idle breakers dropped so far. */
  readonly evicted: number;
  /** @throws CircuitBreakerError (with `level`, `levelName`) or RangeError for a path of the wrong length. */
  acquire(path: readonly string[]): PathPermit;
  onSuccess(permit: PathPermit): LevelTransition[];
  onFailure(permit: PathPermit, error: unknown, operationName?: string): LevelTransition[];
  onNeutral(permit: PathPermit): void;
  execute<T>(path: readonly string[], fn: () => T | PromiseLike<T>): Promise<T>;
  /** A path's breaker's state (a prefix names an upper level's), or undefined if none is kept. */
  state(path: readonly string[]): State | undefined;
  metrics(path: readonly string[]): Metrics | undefined;
  summary(): LevelSummary[];
  dispose(): void;
}

export interface OriginGuardOptions {
  singleFlight?: boolean;
  originBudget?: number | null;
  staleIfErrorMs?: number | null;
  staleCapacity?: number;
  clock?: () => number;
}

export type Load =
  | { kind: "lead"; ticket: number }
  | { kind: "join"; ticket: number }
  | { kind: "busy" }
  | { kind: "stale"; value: unknown; ageMs: number };

/** Origin protection for a host that loads misses itself (ResilientCache.getOrLoad uses it). */
export declare class OriginGuard {
  /** @throws TypeError / RangeError naming the option (a budget of 0, an age <= 0, no room). */
  constructor(options?: OriginGuardOptions);
  /** A read of `key` missed (`cacheDown`: refused or failed, not a plain miss). */
  begin(key: string, cacheDown?: boolean): Load;
  /**
   * The load ended (`ok`: with `value`); returns how many callers joined it, and whether to put
   * its value in the cache (not after a failed load, nor one a write to the key overtook).
   */
  end(ticket: number, ok: boolean, value?: unknown): { joined: number; store: boolean };
  served(key: string, value: unknown): void;
  written(key: string): void;
  writtenAll(): void;
  counters(): OriginMetrics;
  dispose(): void;
}

/** The cache layer's counters (the core's CacheCounters). */
export interface GuardMetrics {
  /** Calls answered with a fallback (refused, failed, shed, or waiting out a flush). */
  fallbacks: number;
  /** Calls that never reached the cache for lack of client capacity (a ShedError). */
  shed: number;
  /** Calls that timed out (an error named TimeoutError; also breaker failures). */
  timeouts: number;
  /** Calls aborted (an AbortError) or ended by an error `isNeutral` accepts. */
  cancelled: number;
  /** Flushes of remembered keys handed out. */
  flushes: number;
  /** Flushes that failed (their keys stay pending). */
  flushFailures: number;
  /** Keys waiting to be invalidated. */
  pendingKeys: number;
  /** Whether the next flush invalidates everything. */
  pendingAll: boolean;
  /** Keys dropped: the pending set was full and the cache cannot be flushed whole. */
  droppedKeys: number;
  /** Calls in flight. */
  inFlight: number;
}

/**
 * A call that never reached the cache because the client had no capacity. Throw it from a
 * cache client: the breaker is not charged and the call is answered with the fallback (or
 * this error is rethrown with degradation off). Errors named "ShedError" count too.
 */
export declare class ShedError extends Error {
  readonly name: "ShedError";
  readonly code: "CACHE_SHED";
  constructor(message?: string, options?: ErrorOptions);
}

/**
 * FACT's ResilientCacheWrapper, carried out from the core's cache guard: fallbacks while
 * degraded are put -> true, get -> undefined, delete / invalidateByPrefix -> 0; writes that
 * did not complete are invalidated by the next admitted call (see StaleKeys). A thrown
 * AbortError (or an error `isNeutral` accepts) propagates uncharged; a TimeoutError is a
 * failure counted apart; a ShedError is answered with the fallback, uncharged.
 */
export declare class ResilientCache<C extends CacheLike = CacheLike> {
  /** @throws TypeError / RangeError naming the bad option. */
  constructor(cache: C, breaker?: CircuitBreaker, options?: ResilientCacheOptions);
  readonly cache: C;
  readonly breaker: CircuitBreaker;
  gracefulDegradation: boolean;
  /** Rejects with a TypeError naming `key` if it is not a string (no call is made). */
  get(key: string, ...rest: any[]): Promise<any>;
  put(key: string, value: any, ...rest: any[]): Promise<true>;
  delete(key: string, ...rest: any[]): Promise<any>;
  /** The cache's invalidateByPrefix (a TypeError if it has none); 0 while degraded. */
  invalidateByPrefix(prefix: string, ...rest: any[]): Promise<any>;
  /**
   * The cached value, or on a miss `load()`'s (then stored), as the origin guard decides:
   * single-flight, budget (ORIGIN_BUSY or `originBusyFallback`), stale-if-error.
   */
  getOrLoad<T = any>(key: string, load: () => T | PromiseLike<T>): Promise<T>;
  originMetrics(): OriginMetrics;
  metrics(): { circuitBreaker: Metrics; guard: GuardMetrics };
}

/** Named breakers or caches: an object, a Map, or `[name, target]` pairs (a name given twice is a RangeError). */
export type NamedBreakers =
  | Record<string, CircuitBreaker | ResilientCache<any>>
  | Map<string, CircuitBreaker | ResilientCache<any>>
  | Iterable<readonly [string, CircuitBreaker | ResilientCache<any>]>;

/** The families every exporter writes, as the core declares them. */
export declare function metricFamilies(): readonly MetricFamily[];

/**
 * Readiness of one breaker or cache, or of many named ones (ready only if every one is; the
 * body then has `breakers: { name: { ready, status, alerts, figures } }`).
 */
export declare function readiness(
  target: CircuitBreaker | ResilientCache<any>,
  options?: { unreadyWhen?: ReadinessPolicy; thresholds?: HealthThresholds },
): Readiness;
export declare function readiness(
  target: NamedBreakers,
  options?: { unreadyWhen?: ReadinessPolicy; thresholds?: HealthThresholds },
): {
  status: 200 | 503;
  body: {
    ready: boolean;
    unreadyWhen: ReadinessPolicy;
    breakers: Record<string, { ready: boolean } & HealthReport>;
  };
};

export interface ExporterOptions {
  /** The metric-name prefix (default `fact_resilience`); a RangeError if Prometheus would refuse it. */
  namespace?: string;
  /** The health report's thresholds, for `health_status` and `health_alert`. */
  thresholds?: HealthThresholds;
}

/** `text/plain; version=0.0.4; charset=utf-8` */
export declare const PROMETHEUS_CONTENT_TYPE: string;

/** Named breakers and caches in the Prometheus text format (the families of `metricFamilies()`). */
export declare class PrometheusExporter {
  constructor(breakers?: NamedBreakers, options?: ExporterOptions);
  readonly namespace: string;
  /** @throws RangeError if `name` is taken or empty. */
  add(name: string, breaker: CircuitBreaker | ResilientCache<any>): this;
  remove(name: string): boolean;
  names(): string[];
  render(): string;
}

/** `new PrometheusExporter(breakers, options).render()`. */
export declare function renderPrometheus(breakers: NamedBreakers, options?: ExporterOptions): string;
