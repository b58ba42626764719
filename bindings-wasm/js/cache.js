// ResilientCache: the cache layer, carried out. Every decision (run, fallback or refuse; which
// writes to remember; what to invalidate and when; what an outcome means for the breaker) is
// the core's `CacheGuard`, in wasm (bindings-wasm/src/cache.rs). This file finds what the
// cache object can do, classifies how a call ended (one function, `outcomeOf`), makes the
// calls the guard asks for, and turns the guard's codes into values, events and errors.
//
// Every call into wasm goes through `wasm()`, as the breaker's do through `_call`: a damaged
// instance is replaced first, and any exception out of an export replaces it (see
// low_level.js). A call in flight across a replacement (`epoch` moved on) ends without its
// ticket: the guard was recreated fresh and the ticket names no call there.

import {
  WasmFault,
  guardBegin,
  guardCounters,
  guardEnd,
  guardFlushKeys,
  guardFlushed,
  guardStagePath,
  guardTicket,
} from "./wasm.js";
import { CircuitBreaker } from "./breaker.js";
import { CircuitBreakerError, ErrorCode } from "./errors.js";
import { BreakerRegistry } from "./keyed.js";
import { OriginGuard, readOriginOptions } from "./origin.js";
import { boundary, field } from "./codes.js";
import {
  checkFunction,
  describe,
  disposedError,
  errorMessage,
  errorType,
  readOptions,
  report,
} from "./interop.js";
import { createGuard, damaged, epoch, fault, heal } from "./low_level.js";

// The core's codes, as the wasm module declares them (bindings-wasm/src/interop.rs, CODES),
// set by readCodes() before the first guard is made (the module is not instantiated when this
// file is evaluated). Module variables, not lookups: some are read on every call.
let GET, STORE, INVALIDATE, PREFIX; // CacheOp
let SUCCESS, FAILURE, TIMEOUT, SHED, CANCELLED; // OutcomeKind
let RUN, FALLBACK, REFUSE_OPEN, REFUSE_THROTTLED, BEGIN_NO_BREAKER; // guardBegin kinds
let FLUSH_KEYS, FLUSH_ALL; // guardBegin flushes
let END_VALUE, END_STORED, END_FALLBACK, END_UNKNOWN_TICKET, END_UNKNOWN_OUTCOME, END_NO_GUARD;
let BEGIN_FIELDS, END_FIELDS, NO_BREAKER, REJECTED_OPEN, REJECTED_THROTTLED;
let OP_NAMES; // by CacheOp code: the names the user calls (failure records, errors)
let FALLBACKS; // by Fallback code: the value answered
let STALE_KEYS; // StaleKeysOption codes by name (the core's names, and perKey for JS)

// What JS owns: its method names for the core's operations, its values for the core's fallbacks.
const JS_OP_NAMES = { get: "get", store: "put", invalidate: "delete", invalidate_by_prefix: "invalidateByPrefix" };
const FALLBACK_VALUES = { stored: true, missing: undefined, zero: 0 };
// What getOrLoad's read answers instead of a fallback: the cache is down for this key.
const DOWN = Symbol("cache down");
const DOWNS = [DOWN, DOWN, DOWN, DOWN];
const ORIGIN_OPTIONS = ["singleFlight", "originBudget", "staleIfErrorMs", "staleCapacity"];
const defaultKeyPath = (key) => [key];

/** `table[name] = code` as an array indexed by code, of `values[name]`. */
function byCode(table, values) {
  const out = [];
  for (const [name, code] of Object.entries(table)) out[code] = values[name];
  return out;
}

function readCodes() {
  if (GET !== undefined) return;
  const c = boundary();
  ({ get: GET, store: STORE, invalidate: INVALIDATE, invalidate_by_prefix: PREFIX } = c.op);
  ({ success: SUCCESS, failure: FAILURE, timeout: TIMEOUT, shed: SHED, cancelled: CANCELLED } = c.outcome);
  ({ run: RUN, fallback: FALLBACK, refuseOpen: REFUSE_OPEN, refuseThrottled: REFUSE_THROTTLED } = c.begin);
  BEGIN_NO_BREAKER = c.begin.noBreaker;
  ({ keys: FLUSH_KEYS, all: FLUSH_ALL } = c.flush);
  ({ value: END_VALUE, stored: END_STORED, fallback: END_FALLBACK } = c.end);
  ({ unknownTicket: END_UNKNOWN_TICKET, unknownOutcome: END_UNKNOWN_OUTCOME, noGuard: END_NO_GUARD } = c.end);
  ({ beginFields: BEGIN_FIELDS, endFields: END_FIELDS, noBreaker: NO_BREAKER } = c);
  ({ rejectedOpen: REJECTED_OPEN, rejectedThrottled: REJECTED_THROTTLED } = c);
  OP_NAMES = byCode(c.op, JS_OP_NAMES);
  FALLBACKS = byCode(c.fallback, FALLBACK_VALUES);
  STALE_KEYS = { ...c.staleKeys, perKey: c.staleKeys.per_key };
}

/**
 * A cache call that never reached the cache because the client had no capacity (every
 * connection busy). Throw it from a cache client: the breaker is not charged, the call is
 * answered with the fallback (or this error is rethrown when degradation is off).
 */
export class ShedError extends Error {
  constructor(message = "the cache client had no capacity for this call", options) {
    super(message, options);
    this.name = "ShedError";
    this.code = "CACHE_SHED";
  }
}

function isObject(v) {
  return v !== null && (typeof v === "object" || typeof v === "function");
}

function has(cache, name) {
  try {
    return typeof cache[name] === "function";
  } catch {
    return false;
  }
}

function firstMethod(cache, names) {
  return names.find((name) => has(cache, name));
}

function nameOf(err) {
  try {
    return isObject(err) ? err.name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `f()`, a call into wasm (its arguments computed before: only the export may throw in it).
 * Heals a damaged instance first; an exception out of the export replaces the instance and
 * is thrown as `fault` answers it (a PanicError, or the stack overflow as it is).
 */
function wasm(f) {
  if (damaged) heal();
  try {
    return f();
  } catch (err) {
    throw fault(err instanceof WasmFault ? err.cause : err);
  }
}

/**
 * `wasm(f)` for a call that carries a ticket taken in epoch `started`: undefined, without
 * calling, if the instance was replaced since; undefined too if `f` itself faults (reported:
 * the call's own outcome still reaches the caller, as execute's does).
 */
function withTicket(started, f) {
  if (epoch !== started) return undefined;
  try {
    return wasm(f);
  } catch (err) {
    if (epoch === started) throw err;
    report(err, "a cache call's outcome could not be recorded");
    return undefined;
  }
}

/**
 * How a cache call that threw `err` ended, as an OutcomeKind code: an abort (an error named
 * AbortError, which a DOMException abort is) or an error `isNeutral` accepts is cancelled;
 * an error named TimeoutError a timeout; a ShedError shed; anything else a failure.
 */
function outcomeOf(err, isNeutral) {
  const name = nameOf(err);
  if (name === "AbortError") return CANCELLED;
  if (isNeutral !== undefined) {
    try {
      if (isNeutral(err)) return CANCELLED;
    } catch (e) {
      report(e, "options.isNeutral threw"); // the call's own error decides, as if the predicate said no
    }
  }
  if (name === "TimeoutError") return TIMEOUT;
  if (err instanceof ShedError || name === "ShedError") return SHED;
  return FAILURE;
}

/** The error for a guard code that only a bug (here or in the core) can produce. */
function internalError(what, code) {
  return new Error(`fact-resilience: the cache guard refused ${what} (code ${code}); this is a bug`);
}

/**
 * The error for a negative answer of guardFlushed / guardEnd (`fn`), naming the argument the
 * guard refused. Internal (not re-exported by index.js); tested directly.
 */
export function guardError(fn, code, { ticket, outcome } = {}) {
  readCodes();
  switch (code) {
    case END_UNKNOWN_TICKET:
      return new RangeError(`${fn}: ticket ${ticket} is not a cache call in flight (already ended, or never issued)`);
    case END_UNKNOWN_OUTCOME:
      return new RangeError(`${fn}: outcome ${outcome} is not an outcome kind (0 success .. 4 cancelled)`);
    case NO_BREAKER:
      return disposedError();
    case END_NO_GUARD:
      return new Error(`${fn}: this cache's guard was freed`);
    default:
      return internalError(fn, code);
  }
}

/**
 * Wraps a cache with sync or async get/put/delete (a Map, Workers KV, the Cache API, a Redis
 * client, FACT-style prefix-only managers) behind a breaker, with FACT's fallbacks while
 * degraded: put -> true, get -> undefined, delete / invalidateByPrefix -> 0.
 *
 * Writes that did not complete (skipped while degraded, failed, timed out, shed) are
 * remembered by key and invalidated by the next admitted call before it runs, when the cache
 * can remove one key (`delete` / `del`); a cache that can only be flushed whole keeps FACT's
 * behaviour unless `staleKeys: "prefix"` asks for a full flush after any skipped write.
 *
 * Options: `gracefulDegradation` (default true; also a live property), `staleKeys`
 * (`"auto"` | `"off"` | `"perKey"` | `"prefix"`), `maxPendingInvalidations` (1024),
 * `isNeutral(err)` (true: the call was cancelled, neutral for the breaker; the error
 * propagates).
 *
 * Per-key breakers: `hierarchy` (a BreakerRegistry) admits each call on a key through the
 * cache's breaker (the whole cache) and the registry's path `keyPath(key)` (default
 * `[key]`); the outcome goes to every level, so one failing key opens only its own breaker.
 * The calls are timed by the breaker's clock: give the registry the same one.
 *
 * Origin protection, for `getOrLoad`: `singleFlight`, `originBudget`, `staleIfErrorMs`,
 * `staleCapacity` (as `OriginGuard`), `originBusyFallback` (answered instead of an
 * ORIGIN_BUSY error once the budget is spent; unset: the error).
 */
export class ResilientCache {
  constructor(cache, breaker, options) {
    readCodes();
    const o = readOptions(options, [
      "gracefulDegradation",
      "staleKeys",
      "maxPendingInvalidations",
      "isNeutral",
      "hierarchy",
      "keyPath",
      ...ORIGIN_OPTIONS,
      "originBusyFallback",
    ]);
    if (!isObject(cache)) throw new TypeError(`cache must be an object, got ${describe(cache)}`);
    const b = breaker ?? new CircuitBreaker();
    if (!(b instanceof CircuitBreaker)) throw new TypeError(`breaker must be a CircuitBreaker, got ${describe(b)}`);
    const degrade = o.gracefulDegradation ?? true;
    if (typeof degrade !== "boolean") {
      throw new TypeError(`options.gracefulDegradation must be a boolean, got ${describe(degrade)}`);
    }
    const staleKeys = o.staleKeys ?? "auto";
    if (typeof staleKeys !== "string") throw new TypeError(`options.staleKeys must be a string, got ${describe(staleKeys)}`);
    if (!Object.hasOwn(STALE_KEYS, staleKeys)) {
      throw new RangeError(`options.staleKeys must be "auto", "off", "perKey" or "prefix", got ${JSON.stringify(staleKeys)}`);
    }
    const maxPending = o.maxPendingInvalidations ?? 1024;
    if (typeof maxPending !== "number") {
      throw new TypeError(`options.maxPendingInvalidations must be a number, got ${describe(maxPending)}`);
    }
    if (!(Number.isInteger(maxPending) && maxPending >= 0 && maxPending <= 4294967295)) {
      throw new RangeError(`options.maxPendingInvalidations must be an integer between 0 and 4294967295, got ${maxPending}`);
    }
    if (o.isNeutral !== undefined) checkFunction(o.isNeutral, "options.isNeutral");
    const hierarchy = o.hierarchy ?? null;
    if (hierarchy !== null && !(hierarchy instanceof BreakerRegistry)) {
      throw new TypeError(`options.hierarchy must be a BreakerRegistry, got ${describe(hierarchy)}`);
    }
    const keyPath = o.keyPath ?? defaultKeyPath;
    checkFunction(keyPath, "options.keyPath");
    if (hierarchy !== null && o.keyPath === undefined && hierarchy.levels.length !== 1) {
      // The default path, [key], names one level.
      throw new RangeError(`options.keyPath is required: options.hierarchy has ${hierarchy.levels.length} levels`);
    }
    // Checked now, so that a bad option fails here; the guard itself is made by the first
    // getOrLoad unless an origin option asks for it now.
    readOriginOptions(o);
    const wantsOrigin = ORIGIN_OPTIONS.some((k) => o[k] !== undefined && o[k] !== null);

    const get = firstMethod(cache, ["get", "match"]);
    const put = firstMethod(cache, ["put", "set"]);
    if (get === undefined) throw new TypeError("cache must have a get or match method");
    if (put === undefined) throw new TypeError("cache must have a put or set method");
    const del = firstMethod(cache, ["delete", "del"]);
    const byPrefix = has(cache, "invalidateByPrefix") ? "invalidateByPrefix" : undefined;
    let prefix;
    try {
      prefix = cache.prefix;
    } catch {
      prefix = undefined;
    }
    // Flush::All: invalidateByPrefix on the cache's own prefix, or clear().
    const flushAll = byPrefix !== undefined && typeof prefix === "string" ? "prefix" : has(cache, "clear") ? "clear" : undefined;

    const [g, method] = createGuard(this, [STALE_KEYS[staleKeys], del !== undefined, flushAll !== undefined, maxPending]);
    if (method < 0) {
      const needs =
        staleKeys === "prefix"
          ? "a cache that can be flushed whole (clear(), or invalidateByPrefix and a string prefix)"
          : "a cache that can invalidate one key (delete or del)";
      throw new TypeError(`options.staleKeys ${JSON.stringify(staleKeys)} needs ${needs}`);
    }
    this.cache = cache;
    this.breaker = b;
    this.gracefulDegradation = degrade;
    this._g = g; // guard handle (stable across panics: recreated at the same handle)
    this._isNeutral = o.isNeutral;
    this._prefix = prefix;
    this._flushAll = flushAll;
    this._del = del;
    // Method names by CacheOp. The core names the manager call for a key's invalidation: a
    // prefix invalidation of the key on a cache that cannot remove one key.
    this._methods = [];
    this._methods[GET] = get;
    this._methods[STORE] = put;
    this._methods[INVALIDATE] = method === INVALIDATE ? del : byPrefix;
    this._methods[PREFIX] = byPrefix;
    this._hierarchy = hierarchy;
    this._keyPath = keyPath;
    this._origin = null; // the OriginGuard, made by the first getOrLoad (or now, below)
    this._originOptions = Object.fromEntries(ORIGIN_OPTIONS.map((k) => [k, o[k]]));
    this._busy = Object.hasOwn(o, "originBusyFallback") ? { value: o.originBusyFallback } : null;
    // Single-flight: the origin guard's ticket of each load led here -> its result (a promise).
    // The guard never reuses a ticket, across faults too.
    this._flights = new Map();
    if (wantsOrigin) this._originGuard();
  }

  /** The cached value (`undefined` on a miss), or undefined while degraded. */
  get(key, ...rest) {
    return this._op(GET, key, rest);
  }

  /** Stores a value: true once stored, or true (without storing, key remembered) while degraded. */
  put(key, value, ...rest) {
    this._written(key);
    return this._op(STORE, key, [value, ...rest]);
  }

  /** Removes a key: the cache's answer, or 0 while degraded (key remembered). */
  delete(key, ...rest) {
    this._written(key);
    return this._op(INVALIDATE, key, rest);
  }

  /** Removes every key under `prefix` (the cache's `invalidateByPrefix`): its answer, or 0 while degraded. */
  invalidateByPrefix(prefix, ...rest) {
    if (typeof prefix === "string" && this._origin !== null) this._origin.writtenAll();
    return this._op(PREFIX, prefix, rest);
  }

  /**
   * The value for `key`: the cache's, or, on a miss, `load()`'s (a value or a promise), which
   * is then stored. The core's OriginGuard decides how a miss reaches the origin: one load per
   * key at a time (`singleFlight`: the others wait for its result), at most `originBudget`
   * loads in flight (beyond: an ORIGIN_BUSY CircuitBreakerError, or `originBusyFallback`),
   * and, while the cache is down (its read refused, failed or shed: answered with the
   * fallback), a value served or loaded within `staleIfErrorMs` (never one a write has been
   * seen for since). With `gracefulDegradation` off, the read's error propagates, as `get`'s.
   * A load's error rejects every caller that waited for it; a failing store is the cache
   * layer's fallback, never the caller's error.
   */
  async getOrLoad(key, load) {
    if (typeof key !== "string") throw new TypeError(`getOrLoad: key must be a string, got ${describe(key)}`);
    checkFunction(load, "getOrLoad: load");
    const origin = this._originGuard();
    // A read refused, failed, timed out or shed answers DOWN in place of its fallback; with
    // gracefulDegradation off its error propagates, as `get`'s does.
    const value = await this._op(GET, key, [], DOWNS);
    const down = value === DOWN;
    if (!down && value !== undefined && value !== null) {
      origin.served(key, value);
      return value;
    }
    const answer = origin.begin(key, down);
    switch (answer.kind) {
      case "stale":
        return answer.value;
      case "busy":
        if (this._busy !== null) return this._busy.value;
        throw new CircuitBreakerError(
          `origin budget spent: getOrLoad(${JSON.stringify(key)}) refused [${ErrorCode.ORIGIN_BUSY}]`,
          { code: ErrorCode.ORIGIN_BUSY, operation: "getOrLoad" },
        );
      case "join": {
        const flight = this._flights.get(answer.ticket);
        // The leader registers its load before it first yields, and only getOrLoad leads on
        // this cache's guard; load here all the same should that ever not hold.
        if (flight !== undefined) return flight;
        return this._lead(origin, key, undefined, load);
      }
      default:
        return this._lead(origin, key, answer.ticket, load);
    }
  }

  /** `getOrLoad`'s counters: `{ originCalls, joined, busy, staleServed, inFlight, remembered }`. */
  originMetrics() {
    return this._originGuard().counters();
  }

  /** The breaker's metrics, and the cache layer's counters. */
  metrics() {
    const guard = wasm(() => guardCounters(this._g));
    return { circuitBreaker: this.breaker.metrics(), guard };
  }

  // ---- internals ------------------------------------------------------------------------

  _originGuard() {
    this._origin ??= new OriginGuard({ ...this._originOptions, clock: this.breaker._clock });
    return this._origin;
  }

  /** A write to `key` is about to be tried: no stale value of it is served again. */
  _written(key) {
    if (typeof key === "string" && this._origin !== null) this._origin.written(key);
  }

  /**
   * Leads the load of `key` (`ticket` from the origin guard; undefined when it has none): the
   * callers that join it wait for its result. Ends the ticket, then stores the value.
   */
  async _lead(origin, key, ticket, load) {
    const started = epoch;
    let settle;
    const result = new Promise((resolve, reject) => (settle = { resolve, reject }));
    result.catch(() => {}); // nobody may have joined
    const flights = this._flights;
    if (ticket !== undefined) flights.set(ticket, result);
    let value;
    let failed = false;
    let error;
    try {
      value = await load();
    } catch (err) {
      failed = true;
      error = err;
    }
    let store = true;
    if (ticket !== undefined) {
      if (flights.get(ticket) === result) flights.delete(ticket);
      // A load led before the instance was replaced has nothing to end in the new one.
      if (epoch === started) {
        try {
          ({ store } = origin.end(ticket, !failed, value));
        } catch (err) {
          report(err, "an origin load's end could not be recorded");
        }
      }
    }
    if (failed) {
      settle.reject(error);
      throw error;
    }
    settle.resolve(value);
    if (store && value !== undefined && value !== null) {
      // The value just loaded is what is written, so it stays remembered (no `_written`).
      try {
        await this._op(STORE, key, [value]);
      } catch {
        // a failing store is the cache's to handle (remembered as stale), never the caller's
      }
    }
    return value;
  }

  /**
   * Everything that can be refused is checked before a slot is taken. `fallbacks`: what a
   * fallback answers, by Fallback code.
   */
  _op(op, key, args, fallbacks = FALLBACKS) {
    const what = op === PREFIX ? "prefix" : "key";
    if (typeof key !== "string") {
      return Promise.reject(new TypeError(`${OP_NAMES[op]}: ${what} must be a string, got ${describe(key)}`));
    }
    if (this._methods[op] === undefined) {
      const needs = op === PREFIX ? "invalidateByPrefix" : "delete, del or invalidateByPrefix";
      return Promise.reject(new TypeError(`${OP_NAMES[op]}: the cache has no ${needs} method`));
    }
    const b = this.breaker;
    let r;
    let started;
    let ticket;
    let keys = null;
    let reg;
    try {
      reg = this._stagePath(op, key);
      r = this._begin(b, op, key, reg);
      started = epoch; // the instance the ticket belongs to
      if (r >= 0) return this._run(started, op, r, 0, null, key, args, reg, fallbacks);
      // Read now: the next guardBegin overwrites them.
      if (field(-r, BEGIN_FIELDS.kind) === RUN) {
        ticket = wasm(() => guardTicket());
        if (field(-r, BEGIN_FIELDS.flush) === FLUSH_KEYS) keys = wasm(() => guardFlushKeys());
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const c = -r;
    b._emit(field(c, BEGIN_FIELDS.transition));
    const kind = field(c, BEGIN_FIELDS.kind);
    switch (kind) {
      case RUN:
        return this._run(started, op, ticket, field(c, BEGIN_FIELDS.flush), keys, key, args, reg, fallbacks);
      case FALLBACK:
        return Promise.resolve(fallbacks[field(c, BEGIN_FIELDS.fallback)]);
      case REFUSE_OPEN:
        return Promise.reject(b._rejection(REJECTED_OPEN, OP_NAMES[op]));
      case REFUSE_THROTTLED:
        return Promise.reject(b._rejection(REJECTED_THROTTLED, OP_NAMES[op]));
      case BEGIN_NO_BREAKER:
        return Promise.reject(disposedError()); // disposed (one lost with an instance was revived)
      default:
        return Promise.reject(internalError("a call", kind));
    }
  }

  /**
   * With a hierarchy, stages the key's path for the next guardBegin and returns the registry's
   * handle; else (or for a call without a key) -1. A keyPath that throws, or returns anything
   * but a path of one string per level, is a TypeError or RangeError naming it.
   */
  _stagePath(op, key) {
    const registry = this._hierarchy;
    if (registry === null || op === PREFIX) return -1;
    if (registry._h < 0) throw new Error("fact-resilience: options.hierarchy (a BreakerRegistry) was disposed");
    const path = this._keyPath(key);
    if (!Array.isArray(path) || !path.every((s) => typeof s === "string")) {
      throw new TypeError(`options.keyPath(key) must return an array of strings, got ${describe(path)}`);
    }
    const h = registry._h;
    const refused = wasm(() => guardStagePath(h, path));
    if (refused !== undefined) throw new RangeError(`options.keyPath(key): ${refused}`);
    return h;
  }

  /**
   * guardBegin's answer for one call on breaker `b` (the clock read and checked first), and on
   * the path staged in registry `reg` (-1: none). A breaker whose state was lost with a
   * damaged instance is rebuilt from its config, and the call asked again.
   */
  _begin(b, op, key, reg) {
    const now = b._now();
    const degrade = this.gracefulDegradation;
    const k = op === PREFIX ? undefined : key;
    // wasm() written out: no closure on the hot path.
    if (damaged) heal();
    let r;
    try {
      r = guardBegin(this._g, b._h, reg, op, k, degrade, now);
    } catch (err) {
      throw fault(err);
    }
    if (r === -BEGIN_NO_BREAKER && b._h >= 0) {
      b._revive();
      if (reg >= 0) reg = this._stagePath(op, key); // the staged path was taken
      r = wasm(() => guardBegin(this._g, b._h, reg, op, k, degrade, now));
    }
    return r;
  }

  /**
   * Runs an admitted call (`ticket`, taken in epoch `started`): the flush it carries, then the
   * operation; then reports the outcome.
   */
  async _run(started, op, ticket, flush, keys, key, args, reg, fallbacks) {
    const cache = this.cache;
    let value;
    let err;
    let outcome = SUCCESS;
    if (flush !== 0) {
      try {
        if (flush === FLUSH_ALL) {
          await (this._flushAll === "prefix" ? cache.invalidateByPrefix(this._prefix) : cache.clear());
        } else {
          for (const k of keys) await cache[this._del](k);
        }
      } catch (e) {
        err = e;
        outcome = outcomeOf(e, this._isNeutral);
      }
      if (outcome === SUCCESS) {
        const code = withTicket(started, () => guardFlushed(this._g, ticket));
        if (code !== undefined && code !== 0) throw guardError("guardFlushed", code, { ticket });
      }
    }
    if (outcome === SUCCESS) {
      try {
        value = await cache[this._methods[op]](key, ...args);
      } catch (e) {
        err = e;
        outcome = outcomeOf(e, this._isNeutral);
      }
    }
    const b = this.breaker;
    let e;
    // A breaker disposed while the call ran records nothing (as execute).
    if (b._h >= 0) {
      // The clock is read when the outcome arrives, whatever it is (one rule with execute);
      // a failing clock is reported and the latest time seen used.
      const now = b._outcomeNow();
      const g = this._g;
      const h = b._h;
      if (outcome === FAILURE || outcome === TIMEOUT) {
        const type = errorType(err);
        const message = errorMessage(err);
        const wall = b._wallNow();
        e = withTicket(started, () => guardEnd(g, h, reg, ticket, outcome, type, message, OP_NAMES[op], wall, now));
      } else {
        e = withTicket(started, () => guardEnd(g, h, reg, ticket, outcome, undefined, undefined, undefined, 0, now));
      }
    }
    // Not recorded (the instance was replaced meanwhile: the ticket names no call there; or
    // the breaker was disposed): the call's own outcome.
    if (e === undefined) {
      if (outcome !== SUCCESS) throw err;
      return op === STORE ? true : value;
    }
    if (e < 0) throw guardError("guardEnd", e, { ticket, outcome });
    b._emit(field(e, END_FIELDS.transition));
    switch (field(e, END_FIELDS.answer)) {
      case END_VALUE:
        return value;
      case END_STORED:
        return true;
      case END_FALLBACK:
        return fallbacks[field(e, END_FIELDS.fallback)];
      default:
        throw err;
    }
  }
}
