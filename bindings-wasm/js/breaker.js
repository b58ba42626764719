// CircuitBreaker: FACT's CacheCircuitBreaker on the wasm core. Ergonomics only: every decision
// (admit, reject, trip, recover, count) is the core's; this file reads the clock, passes
// numbers in, turns the answers into errors and events (the core's transitions), and never
// sets a timer.

import {
  __panicForTest as __panicForTestRaw,
  __throwForTest as __throwForTestRaw,
  breakerForceClosed,
  breakerForceOpen,
  breakerOnFailure,
  breakerOnNeutral,
  breakerOnSuccess,
  breakerPoll,
  breakerReset,
  breakerRetryAfterMs,
  breakerTryAcquire,
  takeTransition,
  WasmFault,
} from "./wasm.js";
import { boundary } from "./codes.js";
import {
  MissingBreaker,
  checkFunction,
  clockError,
  configOf,
  copyConfig,
  createBreaker,
  describe,
  disposedError,
  errorMessage,
  errorType,
  failuresOf,
  healthOf,
  metricsOf,
  readClock,
  readOptions,
  readPolicy,
  readThresholds,
  report,
  restoreBreaker,
  setBreakerConfig,
  snapshotOf,
  stateOf,
  transitionCountsOf,
} from "./interop.js";
import { damaged, defaultClock, fault, heal, track, untrack } from "./low_level.js";

import { ErrorCode, refusal } from "./errors.js";
import { ISSUE, Permit } from "./permit.js";

const defaultWallClock = () => Date.now() / 1000;

function checkName(value, what) {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string, got ${describe(value)}`);
}

// The snapshot `CircuitBreaker.restore` hands its constructor call (undefined otherwise): the
// breaker is then made from it directly, so a refused snapshot leaves no breaker behind.
let restoring;

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
    const snapshot = restoring;
    restoring = undefined;
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
    // A copy of the config, to rebuild this breaker if its state is lost with the instance.
    this._config = snapshot === undefined ? copyConfig("config", config) : undefined;
    const now = this._now();
    if (snapshot === undefined) {
      this._h = this._call(() => createBreaker(this._config, now));
    } else {
      [this._h, this._config] = this._call(() => restoreBreaker(snapshot, now));
    }
    track(this);
  }

  /** A breaker in the state `snapshot` (from `snapshot()`, possibly through JSON) describes. */
  static restore(snapshot, options) {
    // `?? null`: a missing snapshot is refused by restoreBreaker, not taken as "no snapshot".
    restoring = snapshot ?? null;
    try {
      return new CircuitBreaker(undefined, options);
    } finally {
      restoring = undefined;
    }
  }

  /** Whether a permit from `tryAcquire` is a HALF_OPEN probe. */
  static isProbe(permit) {
    return Permit.peek(permit, "isProbe: permit") % 2 === 1;
  }

  // ---- getters --------------------------------------------------------------------------

  /** "closed" | "open" | "half_open", without side effects (a due timeout is not applied). */
  get state() {
    return this._call(() => stateOf(this._h));
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
    const now = this._now();
    return this._call(() => metricsOf(this._h, now));
  }

  /** The newest failure records, oldest first. */
  recentFailures() {
    return this._call(() => failuresOf(this._h));
  }

  /**
   * The health report at this instant under `thresholds` (camelCase threshold fields, all
   * optional; the seed's defaults otherwise): `{ status, alerts, figures }`. The core
   * evaluates the rules; a bad threshold is a TypeError/RangeError naming it. No side
   * effects (a due OPEN -> HALF_OPEN move is not applied), as `metrics()`.
   */
  health(thresholds) {
    const now = this._now();
    return this._call(() => healthOf(this._h, now, readThresholds("thresholds", thresholds)))[0];
  }

  /**
   * For a readiness probe: `{ status: 200 | 503, body: { ready, unreadyWhen, status, alerts,
   * figures } }`. `unreadyWhen` picks the policy (`"open"`: unready while OPEN, the default;
   * `"critical"`; `"warning"`); the core decides readiness from the report.
   */
  readiness(unreadyWhen = "open", thresholds) {
    const policy = this._call(() => readPolicy("unreadyWhen", unreadyWhen));
    return this._readiness(unreadyWhen, policy, this._call(() => readThresholds("thresholds", thresholds)));
  }

  /** `readiness` with the policy's index (`readPolicy`) and checked thresholds (`readThresholds`). */
  _readiness(unreadyWhen, policy, limits) {
    const now = this._now();
    const [report, bits] = this._call(() => healthOf(this._h, now, limits));
    // The core decided readiness under every policy (one bit each); this picks the asked one.
    const ready = ((bits >> policy) & 1) === 1;
    return { status: ready ? 200 : 503, body: { ready, unreadyWhen, ...report } };
  }

  /** Transitions since creation or reset: `[{ from, to, reason, count }]`, every kind the core counts. */
  transitionCounts() {
    return this._call(() => transitionCountsOf(this._h));
  }

  /**
   * For exporters: metrics, the health report and its readiness bits, and the transition
   * counts, read at one instant. `limits` are checked thresholds (`readThresholds`).
   */
  _observation(limits) {
    const now = this._now();
    return this._call(() => {
      const [report, readyBits] = healthOf(this._h, now, limits);
      return { metrics: metricsOf(this._h, now), report, readyBits, transitions: transitionCountsOf(this._h) };
    });
  }

  /** The whole state as a versioned, JSON-safe object (for Durable Objects or KV). */
  snapshot() {
    const now = this._now();
    return this._call(() => snapshotOf(this._h, now));
  }

  // ---- calls ----------------------------------------------------------------------------

  /**
   * Runs `fn` (sync, or returning a promise or any thenable) if the breaker admits it, and
   * records the outcome. Always returns a promise: it resolves to fn's result, or rejects
   * with fn's error, with a CircuitBreakerError when the call is refused (fn is not called
   * then), or with a TypeError for bad arguments. Recording never replaces fn's outcome: an
   * error while recording (a clock that throws, a breaker disposed meanwhile) is reported,
   * not thrown.
   *
   * Every outcome is recorded when it arrives: the clock is read at admission and again at
   * completion (for a success as for a failure).
   */
  execute(fn, operationName = "execute") {
    let r;
    let admitted;
    try {
      checkFunction(fn, "execute: fn");
      checkName(operationName, "execute: operationName");
      admitted = this._clock();
      r = this._admit(admitted);
      if (r < 0) return Promise.reject(this._rejection(r, operationName));
    } catch (err) {
      return Promise.reject(err);
    }
    const permit = (r - (r % 2)) / 2;
    let result;
    try {
      result = fn();
    } catch (err) {
      this._recordFailure(permit, admitted, err, operationName);
      return Promise.reject(err);
    }
    if (result !== null && (typeof result === "object" || typeof result === "function")) {
      // Promise.resolve adopts any thenable once, as `await` would: a `then` that throws
      // rejects, and a callback called twice counts once.
      let settled;
      try {
        settled = Promise.resolve(result);
      } catch (err) {
        // a promise whose `constructor` getter throws
        this._recordFailure(permit, admitted, err, operationName);
        return Promise.reject(err);
      }
      // Two closures per call measured cheaper than an async function with `await` (V8 11).
      return settled.then(
        (value) => {
          this._recordSuccess(permit, admitted);
          return value;
        },
        (err) => {
          this._recordFailure(permit, admitted, err, operationName);
          throw err;
        },
      );
    }
    this._recordSuccess(permit, admitted);
    return Promise.resolve(result);
  }

  /**
   * Low level: asks to run one call. Returns a permit to pass to exactly one of `onSuccess` /
   * `onFailure` / `onNeutral`; throws a CircuitBreakerError when refused.
   */
  tryAcquire(operationName = "call") {
    checkName(operationName, "tryAcquire: operationName");
    const now = this._now();
    const r = this._admit(now);
    if (r < 0) throw this._rejection(r, operationName);
    return new Permit(ISSUE, (r - (r % 2)) / 2, now);
  }

  /** Whether a call would be admitted now (applies a due OPEN -> HALF_OPEN move). */
  isCallPermitted() {
    return this.poll() !== "open";
  }

  onSuccess(permit) {
    const bits = Permit.spend(permit, "onSuccess: permit");
    this._succeeded(bits, Permit.admitted(permit), this._outcomeNow());
  }

  onFailure(permit, error, operationName = "call") {
    checkName(operationName, "onFailure: operationName");
    const bits = Permit.spend(permit, "onFailure: permit");
    this._failed(bits, Permit.admitted(permit), error, operationName);
  }

  onNeutral(permit) {
    const bits = Permit.spend(permit, "onNeutral: permit");
    const now = this._outcomeNow();
    const admitted = Permit.admitted(permit);
    this._int(() => breakerOnNeutral(this._h, bits, admitted, now));
  }

  // ---- commands -------------------------------------------------------------------------

  /** Applies what time alone changes (OPEN -> HALF_OPEN after the timeout); returns the state. */
  poll() {
    const now = this._now();
    this._emit(this._int(() => breakerPoll(this._h, now)));
    return this.state;
  }

  forceOpen() {
    const now = this._now();
    this._emit(this._int(() => breakerForceOpen(this._h, now)));
  }

  forceClosed() {
    const now = this._now();
    this._emit(this._int(() => breakerForceClosed(this._h, now)));
  }

  reset() {
    const now = this._now();
    this._emit(this._int(() => breakerReset(this._h, now)));
  }

  /** Replaces the whole configuration (absent fields take their defaults). */
  setConfig(config) {
    const copy = copyConfig("config", config);
    this._call(() => setBreakerConfig(this._h, copy));
    this._config = copy;
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

  /** The clock's reading; a TypeError or RangeError naming it if it is not a time. */
  _now() {
    return readClock(this._clock);
  }

  /**
   * The clock's reading for recording an outcome that has happened: a clock that fails is
   * reported and reads as 0, which the core takes as the latest instant it has seen.
   */
  _outcomeNow() {
    try {
      return this._now();
    } catch (err) {
      report(err, "the clock failed; recording at the latest time seen");
      return 0;
    }
  }

  /** The wall clock's reading for a failure record; a failing one is reported and `Date.now()` used. */
  _wallNow() {
    try {
      const t = this._wallClock();
      if (typeof t !== "number" || !(t > -Infinity && t < Infinity)) throw clockError("options.wallClock", "seconds", t);
      return t;
    } catch (err) {
      report(err, "the wall clock failed; stamping with Date.now()");
      return defaultWallClock();
    }
  }

  /**
   * Runs `f`, a call into wasm through `wasm.js`. A fault replaces the instance (the error is
   * thrown); a handle found empty while this breaker is not disposed means its state was lost
   * with a damaged instance: it is rebuilt from its config and `f` runs again.
   */
  _call(f, again = true) {
    if (damaged) heal();
    try {
      return f();
    } catch (err) {
      if (err instanceof WasmFault) throw fault(err.cause);
      if (!(again && err instanceof MissingBreaker && this._h >= 0)) throw err;
    }
    this._revive();
    return this._call(f, false);
  }

  /** `_call` for exports that answer an integer code, `noBreaker` when the handle is empty. */
  _int(f) {
    const { noBreaker } = boundary();
    let code = this._call(f);
    if (code === noBreaker) {
      if (this._h < 0) throw disposedError();
      this._revive();
      code = this._call(f);
      if (code === noBreaker) throw disposedError();
    }
    return code;
  }

  /** Rebuilds this breaker, fresh, from its config at its handle (see low_level.js). */
  _revive() {
    const now = this._outcomeNow();
    this._call(() => createBreaker(this._config, now, this._h), false);
  }

  /** tryAcquire's raw result at `now`: >= 0 admitted (permit * 2 + moved-to-half-open), < 0 refused. */
  _admit(now) {
    if (typeof now !== "number" || !(now >= 0 && now < Infinity)) throw clockError("options.clock", "milliseconds", now);
    if (damaged) heal();
    let r;
    try {
      r = breakerTryAcquire(this._h, now);
    } catch (err) {
      throw fault(err);
    }
    // Admitted with a transition (odd), or refused: the rare cases, off the common path.
    if (r % 2 !== 0 || r < 0) {
      if (r === boundary().noBreaker) {
        if (this._h < 0) throw disposedError();
        this._revive();
        return this._admit(now);
      }
      if (r > 0) this._emit(1);
    }
    return r;
  }

  /** Records a success at `now`, the clock's reading when the outcome arrived. */
  _succeeded(permit, admitted, now) {
    if (damaged) heal();
    let code;
    try {
      code = breakerOnSuccess(this._h, permit, admitted, now);
    } catch (err) {
      throw fault(err);
    }
    if (code === 0) return;
    if (code === boundary().noBreaker) {
      if (this._h < 0) throw disposedError();
      this._revive(); // the permit belonged to the lost breaker: nothing to record
      return;
    }
    this._emit(code);
  }

  /** Records a failure (its wall time and monotonic time read now). */
  _failed(permit, admitted, error, operationName) {
    const type = errorType(error);
    const message = errorMessage(error);
    const wall = this._wallNow();
    const now = this._outcomeNow();
    this._emit(this._int(() => breakerOnFailure(this._h, permit, admitted, type, message, operationName, wall, now)));
  }

  // execute's recording: never throws, so that fn's outcome reaches the caller unchanged. A
  // breaker disposed while fn ran has nothing to record. The clock is read when the outcome
  // arrives, for a success as for a failure.
  _recordSuccess(permit, admitted) {
    if (this._h < 0) return;
    try {
      this._succeeded(permit, admitted, this._outcomeNow());
    } catch (err) {
      report(err, "recording a success failed");
    }
  }

  _recordFailure(permit, admitted, error, operationName) {
    if (this._h < 0) return;
    try {
      this._failed(permit, admitted, error, operationName);
    } catch (err) {
      report(err, "recording a failure failed");
    }
  }

  /** The CircuitBreakerError for refusal `r` (tryAcquire's raw answer) of `operation`. */
  _rejection(r, operation) {
    if (r === boundary().rejectedOpen) {
      return refusal(ErrorCode.OPEN, this._call(() => breakerRetryAfterMs()), "open", operation);
    }
    return refusal(ErrorCode.THROTTLING, 0, "half_open", operation);
  }

  /** After a call that flagged a transition (`flag` 1), tells the listeners, with the core's event. */
  _emit(flag) {
    const listeners = this._listeners;
    if (flag === 0 || listeners === null) return;
    let event;
    try {
      event = takeTransition();
    } catch (err) {
      report(err, "the state change could not be read");
      return;
    }
    if (event === null) return;
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        // A listener's error must not change the call's outcome, nor stop other listeners.
        report(err, "an onStateChange listener threw");
      }
    }
  }
}

/** Test hook: makes the wasm core panic inside `breaker`'s next call. Not public API. */
export function __panicForTest(breaker) {
  breaker._call(() => __panicForTestRaw(breaker._h));
}

/**
 * Test hook: makes a JS exception (not a trap) unwind out of the wasm core inside `breaker`'s
 * next call, as a stack overflow landing there does. Not public API.
 */
export function __throwForTest(breaker) {
  breaker._call(() => __throwForTestRaw(breaker._h));
}
