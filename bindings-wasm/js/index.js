// The idiomatic JS layer: ergonomics only. Every decision (admit, reject, trip, recover,
// count) is made by the Rust core in wasm; this file reads the clock, passes numbers in,
// turns numbers back into errors, events and fallbacks, and never sets a timer.

import {
  breakerConfig,
  breakerCreate,
  breakerForceClosed,
  breakerForceOpen,
  breakerMetrics,
  breakerOnFailure,
  breakerOnNeutral,
  breakerOnSuccess,
  breakerPoll,
  breakerRecentFailures,
  breakerReset,
  breakerRestore,
  breakerRetryAfterMs,
  breakerSetConfig,
  breakerSnapshot,
  breakerState,
  breakerTryAcquire,
  __panicForTest as __panicForTestRaw,
} from "./pkg/fact_resilience_wasm.js";
import { recover, track, untrack } from "./low_level.js";

const STATES = ["closed", "open", "half_open"];
const REASONS = [
  "failure_threshold",
  "timeout_elapsed",
  "probe_failed",
  "probes_succeeded",
  "forced_open",
  "forced_closed",
  "reset",
  "unknown",
];
const REJECTED_OPEN = -1;
const NO_BREAKER = -3;
// The transition code of OPEN -> HALF_OPEN (timeout_elapsed): (1 + 1) << 4 | 1 << 2 | 2.
const OPEN_TO_HALF_OPEN = (2 << 4) | (1 << 2) | 2;

const defaultClock =
  typeof performance === "object" && typeof performance.now === "function"
    ? () => performance.now()
    : () => Date.now();
const defaultWallClock = () => Date.now() / 1000;

/** Error codes, as FACT's CacheError codes. */
export const ErrorCode = Object.freeze({
  OPEN: "CIRCUIT_BREAKER_OPEN",
  THROTTLING: "CIRCUIT_BREAKER_THROTTLING",
});

/** A call refused by the breaker: `code` says why, `retryAfterMs` when OPEN. */
export class CircuitBreakerError extends Error {
  constructor(message, { code, retryAfterMs = 0, state, operation } = {}) {
    super(message);
    this.name = "CircuitBreakerError";
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.state = state;
    this.operation = operation;
  }
}

function checkFunction(value, what) {
  if (typeof value !== "function") {
    throw new TypeError(`${what} must be a function, got ${value === null ? "null" : typeof value}`);
  }
}

function readOptions(options, allowed) {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${Array.isArray(options) ? "an array" : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new TypeError(`options.${key} is not a known option`);
  }
  return options;
}

function errorType(err) {
  if (err !== null && (typeof err === "object" || typeof err === "function")) {
    if (typeof err.name === "string" && err.name !== "") return err.name;
    const ctor = err.constructor;
    if (ctor && typeof ctor.name === "string" && ctor.name !== "") return ctor.name;
    return "Error";
  }
  return typeof err;
}

function errorMessage(err) {
  try {
    return err instanceof Error ? String(err.message) : String(err);
  } catch {
    return "";
  }
}

function reportListenerError(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else console.error("fact-resilience: an onStateChange listener threw:", err);
}

function decodeTransition(code, at) {
  return { from: STATES[(code >> 2) & 3], to: STATES[code & 3], reason: REASONS[(code >> 4) - 1], at };
}

/**
 * A circuit breaker (FACT's CacheCircuitBreaker) on the wasm core.
 *
 * `config` uses camelCase fields (`failureThreshold`, `timeoutSeconds`, ...); `options`:
 * `clock` (monotonic milliseconds, default `performance.now()`), `wallClock` (epoch seconds
 * stamped on failure records, default `Date.now() / 1000`).
 */
export class CircuitBreaker {
  constructor(config, options) {
    const o = readOptions(options, ["clock", "wallClock"]);
    const clock = o.clock ?? defaultClock;
    const wallClock = o.wallClock ?? defaultWallClock;
    checkFunction(clock, "options.clock");
    checkFunction(wallClock, "options.wallClock");
    this._clock = clock;
    this._wallClock = wallClock;
    this._listeners = [];
    this._configInput = config;
    this._h = -1;
    this._epoch = -1;
    this._h = this._call(() => breakerCreate(config, clock()));
    track(this);
  }

  /** A breaker in the state `snapshot` (from `snapshot()`, possibly through JSON) describes. */
  static restore(snapshot, options) {
    const b = new CircuitBreaker(undefined, options);
    const h = b._call(() => breakerRestore(snapshot, b._clock()));
    untrack(b);
    b._h = h;
    b._configInput = snapshot.config;
    track(b);
    return b;
  }

  /** Whether a permit from `tryAcquire` is a HALF_OPEN probe. */
  static isProbe(permit) {
    return permit % 2 === 1;
  }

  // ---- getters --------------------------------------------------------------------------

  /** "closed" | "open" | "half_open", without side effects (a due timeout is not applied). */
  get state() {
    return STATES[this._num(this._call(() => breakerState(this._h)))];
  }
  isOpen() { return this.state === "open"; }
  isClosed() { return this.state === "closed"; }
  isHalfOpen() { return this.state === "half_open"; }

  /** The configuration in force, every field present. */
  get config() {
    return this._call(() => breakerConfig(this._h));
  }

  /** Counters and rates, as a plain object. */
  metrics() {
    return this._call(() => breakerMetrics(this._h, this._clock()));
  }

  /** The newest failure records, oldest first. */
  recentFailures() {
    return this._call(() => breakerRecentFailures(this._h));
  }

  /** The whole state as a versioned, JSON-safe object (for Durable Objects or KV). */
  snapshot() {
    return this._call(() => breakerSnapshot(this._h, this._clock()));
  }

  // ---- calls ----------------------------------------------------------------------------

  /**
   * Runs `fn` (sync or returning a promise) if the breaker admits it, and records the outcome.
   * Resolves to fn's result; rejects with fn's error, or with a CircuitBreakerError when the
   * call is refused (fn is not called then).
   */
  execute(fn, operationName = "execute") {
    checkFunction(fn, "execute: fn");
    const r = this._acquire();
    if (r < 0) return Promise.reject(this._rejection(r, operationName));
    const permit = (r - (r % 2)) / 2;
    let result;
    try {
      result = fn();
    } catch (err) {
      this.onFailure(permit, err, operationName);
      return Promise.reject(err);
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      return result.then(
        (value) => {
          this.onSuccess(permit);
          return value;
        },
        (err) => {
          this.onFailure(permit, err, operationName);
          throw err;
        },
      );
    }
    this.onSuccess(permit);
    return Promise.resolve(result);
  }

  /**
   * Low level: asks to run one call. Returns a permit (a number) to pass to exactly one of
   * `onSuccess` / `onFailure` / `onNeutral`; throws a CircuitBreakerError when refused.
   */
  tryAcquire(operationName = "call") {
    const r = this._acquire();
    if (r < 0) throw this._rejection(r, operationName);
    return (r - (r % 2)) / 2;
  }

  /** Whether a call would be admitted now (applies a due OPEN -> HALF_OPEN move). */
  isCallPermitted() {
    return this.poll() !== "open";
  }

  onSuccess(permit) {
    let code;
    try {
      code = breakerOnSuccess(this._h, permit, this._clock());
    } catch (err) {
      throw recover(err);
    }
    this._emit(this._num(code));
  }

  onFailure(permit, error, operationName = "call") {
    const type = errorType(error);
    const message = errorMessage(error);
    const code = this._call(() =>
      breakerOnFailure(this._h, permit, type, message, String(operationName), this._wallClock(), this._clock()),
    );
    this._emit(this._num(code));
  }

  onNeutral(permit) {
    this._num(this._call(() => breakerOnNeutral(this._h, permit, this._clock())));
  }

  // ---- commands -------------------------------------------------------------------------

  /** Applies what time alone changes (OPEN -> HALF_OPEN after the timeout); returns the state. */
  poll() {
    this._emit(this._num(this._call(() => breakerPoll(this._h, this._clock()))));
    return this.state;
  }

  forceOpen() {
    this._emit(this._num(this._call(() => breakerForceOpen(this._h, this._clock()))));
  }

  forceClosed() {
    this._emit(this._num(this._call(() => breakerForceClosed(this._h, this._clock()))));
  }

  reset() {
    this._emit(this._num(this._call(() => breakerReset(this._h, this._clock()))));
  }

  /** Replaces the whole configuration (absent fields take their defaults). */
  setConfig(config) {
    this._call(() => breakerSetConfig(this._h, config));
    this._configInput = config;
  }

  /** Calls `listener({from, to, reason, at})` after every state change; returns an unsubscribe function. */
  onStateChange(listener) {
    checkFunction(listener, "onStateChange: listener");
    this._listeners = [...this._listeners, listener];
    return () => {
      this._listeners = this._listeners.filter((l) => l !== listener);
    };
  }

  /** Frees the breaker's wasm memory now (otherwise it is freed when garbage-collected). */
  dispose() {
    if (this._h >= 0) untrack(this);
  }

  // ---- internals ------------------------------------------------------------------------

  _call(f) {
    try {
      return f();
    } catch (err) {
      throw recover(err);
    }
  }

  _num(code) {
    if (code === NO_BREAKER) throw new Error("fact-resilience: this breaker was disposed");
    return code;
  }

  /** tryAcquire's raw result: >= 0 admitted (permit * 2 + moved-to-half-open), < 0 refused. */
  _acquire() {
    let r;
    try {
      r = breakerTryAcquire(this._h, this._clock());
    } catch (err) {
      throw recover(err);
    }
    if (r === NO_BREAKER) this._num(r);
    if (r % 2 === 1) this._emit(OPEN_TO_HALF_OPEN);
    return r;
  }

  _rejection(r, operation) {
    if (r === REJECTED_OPEN) {
      const retryAfterMs = this._call(() => breakerRetryAfterMs(this._h));
      return new CircuitBreakerError(
        `Circuit breaker is OPEN: ${operation} refused, retry in ${Math.ceil(retryAfterMs)} ms [${ErrorCode.OPEN}]`,
        { code: ErrorCode.OPEN, retryAfterMs, state: "open", operation },
      );
    }
    return new CircuitBreakerError(
      `Circuit breaker is HALF_OPEN and throttling: ${operation} refused [${ErrorCode.THROTTLING}]`,
      { code: ErrorCode.THROTTLING, retryAfterMs: 0, state: "half_open", operation },
    );
  }

  _emit(code) {
    if (code === 0 || this._listeners.length === 0) return;
    const event = decodeTransition(code, this._clock());
    for (const listener of this._listeners) {
      try {
        listener(event);
      } catch (err) {
        // A listener's error must not change the call's outcome, nor stop other listeners.
        reportListenerError(err);
      }
    }
  }
}

const FALLBACK = { get: undefined, put: true, delete: 0 };

function method(cache, names, op) {
  for (const name of names) {
    if (cache !== null && typeof cache === "object" && typeof cache[name] === "function") return name;
  }
  throw new TypeError(`cache must have a ${names.join(" or ")} method (for ${op})`);
}

/**
 * Wraps any cache with async or sync get/put/delete (a Map, Workers KV, the Cache API, a
 * Redis client) behind a breaker, with FACT's fallbacks while degraded: put -> true,
 * get -> undefined, delete -> 0. Set `gracefulDegradation` to false to throw instead (the
 * breaker's CircuitBreakerError, or the cache's own error).
 */
export class ResilientCache {
  constructor(cache, breaker, options) {
    const o = readOptions(options, ["gracefulDegradation"]);
    this.cache = cache;
    this.breaker = breaker ?? new CircuitBreaker();
    if (!(this.breaker instanceof CircuitBreaker)) {
      throw new TypeError("breaker must be a CircuitBreaker");
    }
    this.gracefulDegradation = o.gracefulDegradation ?? true;
    if (typeof this.gracefulDegradation !== "boolean") {
      throw new TypeError("options.gracefulDegradation must be a boolean");
    }
    this._get = method(cache, ["get", "match"], "get");
    this._put = method(cache, ["put", "set"], "put");
    this._delete = method(cache, ["delete", "del"], "delete");
  }

  /** The cached value, or undefined while degraded. */
  get(key, ...rest) {
    return this._op("get", this._get, key, rest);
  }

  /** Stores a value: true once stored, or true (without storing) while degraded. */
  put(key, value, ...rest) {
    return this._op("put", this._put, key, [value, ...rest]);
  }

  /** Deletes a key: the cache's answer, or 0 while degraded. */
  delete(key, ...rest) {
    return this._op("delete", this._delete, key, rest);
  }

  metrics() {
    return { circuitBreaker: this.breaker.metrics() };
  }

  async _op(op, name, key, rest) {
    const b = this.breaker;
    const r = b._acquire();
    if (r < 0) {
      if (this.gracefulDegradation) return FALLBACK[op];
      throw b._rejection(r, op);
    }
    const permit = (r - (r % 2)) / 2;
    let value;
    try {
      value = await this.cache[name](key, ...rest);
    } catch (err) {
      b.onFailure(permit, err, op);
      if (this.gracefulDegradation) return FALLBACK[op];
      throw err;
    }
    b.onSuccess(permit);
    return op === "put" ? true : value;
  }
}

/** Test hook: makes the wasm core panic inside `breaker`'s next call. Not public API. */
export function __panicForTest(breaker) {
  try {
    __panicForTestRaw(breaker._h);
  } catch (err) {
    throw recover(err);
  }
}
