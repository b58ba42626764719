// BreakerRegistry: breakers by path in a hierarchy (system -> service -> operation -> key, any
// depth), created on first use and dropped when idle beyond a bound: the core's `Registry`, in
// wasm (bindings-wasm/src/keyed.rs). Every decision (which breakers a path has, whether a call
// is admitted, what an outcome moves, which idle breakers go) is the core's; this file reads
// the levels and options, passes paths and outcomes in, and turns the answers into permits,
// errors and plain objects.

import {
  breakerRetryAfterMs,
  registryAcquire,
  registryCounts,
  registryCreate,
  registryEnd,
  registryError,
  registryFree,
  registryLevels,
  registryMetrics,
  registryMoved,
  registryStageLevel,
  registryStageParent,
  registryStagePrefix,
  registryState,
  registrySummary,
  registryUnstage,
} from "./wasm.js";
import { ErrorCode, refusal } from "./errors.js";
import {
  checkFunction,
  copyConfig,
  coreMessage,
  describe,
  errorMessage,
  errorType,
  readClock,
  readOptions,
  report,
  stageConfig,
} from "./interop.js";
import { HandleSpace, defaultClock, epoch, inWasm } from "./low_level.js";

const REGISTRIES = new HandleSpace(registryFree);
// The core's names for what JS spells otherwise, in its refusals.
const NAMES = [["max_breakers", "options.maxBreakers"]];
const ISSUE = Symbol("fact-resilience path permit");

function disposed() {
  return new Error("fact-resilience: this BreakerRegistry was disposed");
}

/** `path` as an array of strings (a copy), or a TypeError naming `what`. */
function readPath(path, what) {
  if (!Array.isArray(path) || !path.every((s) => typeof s === "string")) {
    throw new TypeError(`${what} must be an array of strings, got ${describe(path)}`);
  }
  return path.slice();
}

/**
 * The hierarchy as given, checked and copied: `{ levels: [[name, config, [[prefix, config]]]] }`
 * from an array (root first; each a name, or `{ name, config, prefixes }`), or `{ parents:
 * [[name, parent]] }` from an object of level name to parent name (`null` for the root).
 */
function readLevels(levels) {
  if (Array.isArray(levels)) {
    return {
      levels: levels.map((level, i) => {
        if (typeof level === "string") return [level, undefined, []];
        if (level === null || typeof level !== "object" || Array.isArray(level)) {
          throw new TypeError(`levels[${i}] must be a name or { name, config, prefixes }, got ${describe(level)}`);
        }
        readOptions(level, ["name", "config", "prefixes"], `levels[${i}]`);
        const { name, prefixes } = level;
        if (typeof name !== "string") throw new TypeError(`levels[${i}].name must be a string, got ${describe(name)}`);
        const at = `levels[${JSON.stringify(name)}]`;
        const config = copyConfig(`${at}.config`, level.config);
        if (prefixes !== undefined && (prefixes === null || typeof prefixes !== "object" || Array.isArray(prefixes))) {
          throw new TypeError(`${at}.prefixes must be an object of prefix to config, got ${describe(prefixes)}`);
        }
        const byPrefix = Object.entries(prefixes ?? {}).map(([p, c]) => [
          p,
          copyConfig(`${at}.prefixes[${JSON.stringify(p)}]`, c) ?? {},
        ]);
        return [name, config, byPrefix];
      }),
    };
  }
  if (levels !== null && typeof levels === "object") {
    return {
      parents: Object.entries(levels).map(([name, parent]) => {
        if (parent !== null && typeof parent !== "string") {
          throw new TypeError(`levels.${name} must be its parent's name or null, got ${describe(parent)}`);
        }
        return [name, parent];
      }),
    };
  }
  throw new TypeError(`levels must be an array of levels or an object of level to parent, got ${describe(levels)}`);
}

/**
 * The recipe that makes the registry at a handle: stages the levels (their configs checked
 * by the core, naming the field) and creates it; answers the core's refusal, if any.
 */
function recipe(spec, maxBreakers) {
  return (h) => {
    registryUnstage();
    if (spec.parents !== undefined) {
      for (const [name, parent] of spec.parents) registryStageParent(name, parent ?? undefined);
    } else {
      for (const [name, config, prefixes] of spec.levels) {
        const at = `levels[${JSON.stringify(name)}]`;
        stageConfig(`${at}.config`, config);
        registryStageLevel(name);
        for (const [p, c] of prefixes) {
          stageConfig(`${at}.prefixes[${JSON.stringify(p)}]`, c);
          registryStagePrefix(p);
        }
      }
    }
    return registryCreate(h, maxBreakers);
  };
}

/**
 * Leave to run one call on a path, from `BreakerRegistry.acquire`. Report its outcome once,
 * with the registry's `onSuccess`, `onFailure` or `onNeutral`.
 */
export class PathPermit {
  #index;
  #epoch;
  #admitted;
  #reported = false;

  constructor(token, index, path, transitions, admitted) {
    if (token !== ISSUE) throw new TypeError("path permits are issued by BreakerRegistry.acquire");
    this.#index = index;
    this.#epoch = epoch;
    this.#admitted = admitted;
    /** The path the call was admitted on. */
    this.path = path;
    /** The moves admission made (OPEN -> HALF_OPEN), `{ level, from, to, reason, at }` each. */
    this.transitions = transitions;
  }

  /** Whether an outcome was already reported. */
  get reported() {
    return this.#reported;
  }

  /** Spends `permit`: its index, or -1 if it belongs to an instance replaced since. */
  static spend(permit, what) {
    if (permit === null || typeof permit !== "object" || !(#index in permit)) {
      throw new TypeError(`${what} must be a PathPermit from acquire, got ${describe(permit)}`);
    }
    if (permit.#reported) throw new Error(`${what}: this permit's outcome was already reported`);
    permit.#reported = true;
    return permit.#epoch === epoch ? permit.#index : -1;
  }
}

/**
 * Breakers by path in a hierarchy, created on first use; idle ones (CLOSED, nothing in their
 * window, no call in flight, no child) beyond `maxBreakers` are dropped, never a busy one.
 *
 * `levels`, root first: each a name (the default config) or `{ name, config, prefixes }`
 * (`prefixes`: `{ "vip:": config }`, the longest matching prefix's config winning); or an
 * object of level name to parent name (`null` for the root), every level with the default
 * config. `options`: `maxBreakers` (100000), `clock` (monotonic ms, default
 * `performance.now()`), `wallClock` (epoch seconds stamped on failure records).
 */
export class BreakerRegistry {
  constructor(levels, options) {
    const o = readOptions(options, ["maxBreakers", "clock", "wallClock"]);
    const max = o.maxBreakers ?? 100000;
    if (typeof max !== "number") throw new TypeError(`options.maxBreakers must be a number, got ${describe(max)}`);
    if (!(Number.isInteger(max) && max >= 0 && max <= 4294967295)) {
      throw new RangeError(`options.maxBreakers must be an integer between 1 and 4294967295, got ${max}`);
    }
    this._clock = o.clock ?? defaultClock;
    this._wallClock = o.wallClock ?? (() => Date.now() / 1000);
    checkFunction(this._clock, "options.clock");
    checkFunction(this._wallClock, "options.wallClock");
    const [h, refused] = REGISTRIES.create(this, recipe(readLevels(levels), max));
    if (refused !== undefined) throw new RangeError(coreMessage(refused, NAMES));
    this._h = h; // handle into the registries' table (-1: disposed)
    this._levels = inWasm(() => registryLevels(h));
  }

  /** The levels' names, root first. */
  get levels() {
    return this._levels.slice();
  }

  /** Breakers kept. */
  get size() {
    return this._counts()[0];
  }

  /** Idle breakers dropped so far to keep within `maxBreakers`. */
  get evicted() {
    return this._counts()[1];
  }

  /**
   * Asks to run one call on `path` (one segment per level). Returns a `PathPermit`; throws the
   * CircuitBreakerError (code `CIRCUIT_BREAKER_OPEN` or `CIRCUIT_BREAKER_THROTTLING`) of the
   * first level that refuses, root first, with `level` (its index) and `levelName` set; a
   * RangeError if the path does not name one segment per level.
   */
  acquire(path) {
    const p = readPath(path, "acquire: path");
    const now = this._now();
    const h = this._live();
    const r = inWasm(() => registryAcquire(h, p, now));
    if (r >= 0) {
      const moved = r % 2 === 1 ? inWasm(() => registryMoved()) : [];
      return new PathPermit(ISSUE, (r - (r % 2)) / 2, p, moved, now);
    }
    if (r === -1) throw disposed();
    const c = -r - 1;
    const level = c >> 2;
    const kind = c & 3;
    if (kind === 3) throw new RangeError(inWasm(() => registryError()));
    const operation = p.slice(0, level + 1).join("/");
    const e =
      kind === 1
        ? refusal(ErrorCode.OPEN, inWasm(() => breakerRetryAfterMs()), "open", operation)
        : refusal(ErrorCode.THROTTLING, 0, "half_open", operation);
    e.level = level;
    e.levelName = this._levels[level];
    throw e;
  }

  /** The call succeeded: reported to every level. Returns the moves it made, root first. */
  onSuccess(permit) {
    return this._end(PathPermit.spend(permit, "onSuccess: permit"), 0);
  }

  /** The call failed with `error`: reported to every level. Returns the moves it made. */
  onFailure(permit, error, operationName = "call") {
    if (typeof operationName !== "string") {
      throw new TypeError(`onFailure: operationName must be a string, got ${describe(operationName)}`);
    }
    const index = PathPermit.spend(permit, "onFailure: permit");
    return this._end(index, 1, errorType(error), errorMessage(error), operationName);
  }

  /** The call ended without a verdict (cancelled): every level releases its permit. */
  onNeutral(permit) {
    this._end(PathPermit.spend(permit, "onNeutral: permit"), 2);
  }

  /**
   * Runs `fn` (sync, or returning a promise) if every level on `path` admits it, and reports
   * its outcome; resolves to fn's result, or rejects with fn's error or the refusal.
   */
  async execute(path, fn) {
    checkFunction(fn, "execute: fn");
    const permit = this.acquire(path);
    let value;
    try {
      value = await fn();
    } catch (err) {
      this._quietly(() => this.onFailure(permit, err, "execute"));
      throw err;
    }
    this._quietly(() => this.onSuccess(permit));
    return value;
  }

  /** The state of `path`'s breaker (a prefix names an upper level's), or undefined if none is kept. */
  state(path) {
    const p = readPath(path, "state: path");
    const h = this._live();
    return inWasm(() => registryState(h, p));
  }

  /** The metrics of `path`'s breaker (as `CircuitBreaker.metrics()`), or undefined if none is kept. */
  metrics(path) {
    const p = readPath(path, "metrics: path");
    const now = this._now();
    const h = this._live();
    return inWasm(() => registryMetrics(h, p, now)) ?? undefined;
  }

  /**
   * Per level, root first: `{ level, breakers, closed, open, halfOpen, windowCalls,
   * windowFailures, inFlight }`.
   */
  summary() {
    const now = this._now();
    const h = this._live();
    return inWasm(() => registrySummary(h, now));
  }

  /** Frees the registry's wasm memory now (otherwise it is freed when garbage-collected). */
  dispose() {
    if (this._h < 0) return;
    REGISTRIES.dispose(this, this._h);
    this._h = -1;
  }

  // ---- internals ------------------------------------------------------------------------

  _live() {
    if (this._h < 0) throw disposed();
    return this._h;
  }

  _now() {
    return readClock(this._clock);
  }

  _counts() {
    const h = this._live();
    return inWasm(() => registryCounts(h));
  }

  /** Reports permit `index` (`-1`: from a replaced instance, nothing to report). */
  _end(index, outcome, type = "", message = "", operation = "") {
    if (index < 0) return [];
    const h = this._live();
    const wall = outcome === 1 ? this._wallNow() : 0;
    const now = this._now();
    const r = inWasm(() => registryEnd(h, index, outcome, type, message, operation, wall, now));
    if (r === 1) return inWasm(() => registryMoved());
    if (r === -1) throw disposed();
    if (r < 0) throw new Error(`fact-resilience: the registry refused permit ${index} (code ${r}); this is a bug`);
    return [];
  }

  _wallNow() {
    try {
      const t = this._wallClock();
      if (typeof t === "number" && Number.isFinite(t)) return t;
    } catch (err) {
      report(err, "the wall clock failed; stamping with Date.now()");
    }
    return Date.now() / 1000;
  }

  /** Recording never replaces fn's outcome: an error while recording is reported. */
  _quietly(f) {
    try {
      f();
    } catch (err) {
      report(err, "recording a registry call's outcome failed");
    }
  }
}
