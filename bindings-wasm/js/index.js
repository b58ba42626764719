// The idiomatic JS layer: ergonomics only. Every decision (admit, reject, trip, recover,
// count) is made by the Rust core in wasm; this file reads the clock, passes numbers in,
// turns numbers back into errors, events and fallbacks, and never sets a timer.

import {
  breakerForceClosed,
  breakerForceOpen,
  breakerOnFailure,
  breakerOnNeutral,
  breakerOnSuccess,
  breakerPoll,
  breakerReset,
  breakerRetryAfterMs,
  breakerState,
  breakerTryAcquire,
  __panicForTest as __panicForTestRaw,
} from "./pkg/fact_resilience_wasm.js";
import {
  NO_BREAKER,
  STATES,
  checkFunction,
  configOf,
  createBreaker,
  disposedError,
  errorMessage,
  errorType,
  failuresOf,
  metricsOf,
  readOptions,
  restoreBreaker,
  setBreakerConfig,
  snapshotOf,
} from "./interop.js";
import { defaultClock, recover, track, untrack } from "./low_level.js";

export { ResilientCache, ShedError } from "./cache.js";

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
// The transition code of OPEN -> HALF_OPEN (timeout_elapsed): (1 + 1) << 4 | 1 << 2 | 2.
const OPEN_TO_HALF_OPEN = (2 << 4) | (1 << 2) | 2;

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
 *
 * Footprint: five fields and no per-instance closure; the listener list is created by the
 * first `onStateChange`. The breaker's state lives in wasm memory (see README, Memory).
 */
export class CircuitBreaker {
  constructor(config, options) {
    let clock = defaultClock;
    let wallClock = defaultWallClock;
    if (options !== undefined && options !== null) {
      const o = readOptions(options, ["clock", "wallClock"]);
      clock = o.clock ?? defaultClock;
      wallClock = o.wallClock ?? defaultWallClock;
      checkFunction(clock, "options.clock");
      checkFunction(wallClock, "options.wallClock");
    }
    this._h = -1; // handle into the wasm table (-1: none)
    this._clock = clock;
    this._wallClock = wallClock;
    this._listeners = null; // null until the first onStateChange
    this._configInput = config; // to rebuild this breaker if the core panics in its call
    this._h = this._call(() => createBreaker(config, clock()));
    track(this);
  }

  /** A breaker in the state `snapshot` (from `snapshot()`, possibly through JSON) describes. */
  static restore(snapshot, options) {
    const b = new CircuitBreaker(undefined, options);
    const h = b._call(() => restoreBreaker(snapshot, b._clock()));
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
    return this._call(() => configOf(this._h));
  }

  /** Counters and rates, as a plain object. */
  metrics() {
    return this._call(() => metricsOf(this._h, this._clock()));
  }

  /** The newest failure records, oldest first. */
  recentFailures() {
    this._num(this._call(() => breakerState(this._h)));
    return this._call(() => failuresOf(this._h));
  }

  /** The whole state as a versioned, JSON-safe object (for Durable Objects or KV). */
  snapshot() {
    return this._call(() => snapshotOf(this._h, this._clock()));
  }

  // ---- calls ----------------------------------------------------------------------------

  /**
   * Runs `fn` (sync or returning a promise) if the breaker admits it, and records the outcome.
   * Resolves to fn's result; rejects with fn's error, or with a CircuitBreakerError when the
   * call is refused (fn is not called then). Every outcome is recorded when it arrives.
   */
  execute(fn, operationName = "execute") {
    if (typeof fn !== "function") checkFunction(fn, "execute: fn");
    const now = this._clock();
    const r = this._admit(now);
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
      // Two closures per call measured cheaper than an async function with `await` (V8 11).
      return result.then(
        (value) => {
          this._succeeded(permit, this._clock());
          return value;
        },
        (err) => {
          this.onFailure(permit, err, operationName);
          throw err;
        },
      );
    }
    this._succeeded(permit, this._clock());
    return Promise.resolve(result);
  }

  /**
   * Low level: asks to run one call. Returns a permit (a number) to pass to exactly one of
   * `onSuccess` / `onFailure` / `onNeutral`; throws a CircuitBreakerError when refused.
   */
  tryAcquire(operationName = "call") {
    const r = this._admit(this._clock());
    if (r < 0) throw this._rejection(r, operationName);
    return (r - (r % 2)) / 2;
  }

  /** Whether a call would be admitted now (applies a due OPEN -> HALF_OPEN move). */
  isCallPermitted() {
    return this.poll() !== "open";
  }

  onSuccess(permit) {
    this._succeeded(permit, this._clock());
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
    this._call(() => setBreakerConfig(this._h, config));
    this._configInput = config;
  }

  /** Calls `listener({from, to, reason, at})` after every state change; returns an unsubscribe function. */
  onStateChange(listener) {
    checkFunction(listener, "onStateChange: listener");
    // Copy on write: an emit in progress keeps iterating the list it started with.
    this._listeners = this._listeners === null ? [listener] : [...this._listeners, listener];
    return () => {
      if (this._listeners === null) return;
      const rest = this._listeners.filter((l) => l !== listener);
      this._listeners = rest.length === 0 ? null : rest;
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
      throw recover(err, this);
    }
  }

  _num(code) {
    if (code === NO_BREAKER) throw disposedError();
    return code;
  }

  /** tryAcquire's raw result at `now`: >= 0 admitted (permit * 2 + moved-to-half-open), < 0 refused. */
  _admit(now) {
    let r;
    try {
      r = breakerTryAcquire(this._h, now);
    } catch (err) {
      throw recover(err, this);
    }
    // Odd: -1 (OPEN), -3 (no breaker), or admitted with an OPEN -> HALF_OPEN move.
    if (r % 2 !== 0) {
      if (r === NO_BREAKER) throw disposedError();
      if (r > 0) this._emit(OPEN_TO_HALF_OPEN);
    }
    return r;
  }

  /** Records a success at `now`, the clock's reading when the outcome arrived. */
  _succeeded(permit, now) {
    let code;
    try {
      code = breakerOnSuccess(this._h, permit, now);
    } catch (err) {
      throw recover(err, this);
    }
    if (code !== 0) this._emit(this._num(code));
  }

  _rejection(r, operation) {
    if (r === REJECTED_OPEN) {
      const retryAfterMs = breakerRetryAfterMs();
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
    const listeners = this._listeners;
    if (code === 0 || listeners === null) return;
    const event = decodeTransition(code, this._clock());
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        // A listener's error must not change the call's outcome, nor stop other listeners.
        reportListenerError(err);
      }
    }
  }
}

/** Test hook: makes the wasm core panic inside `breaker`'s next call. Not public API. */
export function __panicForTest(breaker) {
  try {
    __panicForTestRaw(breaker._h);
  } catch (err) {
    throw recover(err, breaker);
  }
}
