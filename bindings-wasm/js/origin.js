// OriginGuard: protecting the source of truth behind the cache while the cache is down
// (single-flight, a concurrency budget, stale-if-error): the core's `OriginGuard`, in wasm
// (bindings-wasm/src/origin.rs). The core decides which load leads, joins, is busy or is
// answered stale, and which slot holds each remembered value; this file keeps the values in
// those slots. `ResilientCache.getOrLoad` carries it out for a cache; this class is the same
// machinery for a host that loads misses itself.

import {
  originBegin,
  originCounters,
  originCreate,
  originEnd,
  originError,
  originFree,
  originEnded,
  originServed,
  originStaleAgeMs,
  originWritten,
  originWrittenAll,
} from "./wasm.js";
import { checkFunction, coreMessage, describe, readClock, readOptions } from "./interop.js";
import { HandleSpace, damaged, defaultClock, epoch, heal, inWasm } from "./low_level.js";

const ORIGINS = new HandleSpace(originFree);
/** Where stale answers start (bindings-wasm/src/origin.rs, STALE). */
const STALE = 2 ** 52;
// The core's names for the options, in its refusals.
const NAMES = [
  ["origin_budget", "options.originBudget"],
  ["stale_if_error_seconds", "options.staleIfErrorMs"],
  ["stale_capacity", "options.staleCapacity"],
];

function disposed() {
  return new Error("fact-resilience: this OriginGuard was disposed");
}

function checkKey(key, what) {
  if (typeof key !== "string") throw new TypeError(`${what}: key must be a string, got ${describe(key)}`);
}

/** A whole number in [0, 2^32) for option `name`, or `otherwise` when null/undefined. */
function countOption(o, name, otherwise) {
  const v = o[name];
  if (v === undefined || v === null) return otherwise;
  if (typeof v !== "number") throw new TypeError(`options.${name} must be a number, got ${describe(v)}`);
  if (!(Number.isInteger(v) && v >= 0 && v <= 4294967295)) {
    throw new RangeError(`options.${name} must be an integer between 1 and 4294967295, got ${v}`);
  }
  return v;
}

/**
 * The origin options checked (`singleFlight`, `originBudget`, `staleIfErrorMs`,
 * `staleCapacity`) as originCreate's arguments after the handle. The core refuses what no
 * guard can use (a budget of 0, an age <= 0, no room), naming the option.
 */
export function readOriginOptions(o) {
  const singleFlight = o.singleFlight ?? false;
  if (typeof singleFlight !== "boolean") {
    throw new TypeError(`options.singleFlight must be a boolean, got ${describe(singleFlight)}`);
  }
  const budget = countOption(o, "originBudget", -1);
  let stale = o.staleIfErrorMs ?? NaN;
  if (o.staleIfErrorMs !== undefined && o.staleIfErrorMs !== null) {
    if (typeof stale !== "number") throw new TypeError(`options.staleIfErrorMs must be a number, got ${describe(stale)}`);
    if (!Number.isFinite(stale)) throw new RangeError(`options.staleIfErrorMs must be a finite number of ms > 0, got ${stale}`);
    if (stale < 0) stale = 0; // refused by the core, in its words
  }
  const capacity = countOption(o, "staleCapacity", 1024);
  return [singleFlight, budget, stale, capacity];
}

/**
 * Decides how a miss reaches the origin. `options`: `singleFlight` (concurrent loads of one
 * key share one origin call), `originBudget` (the most origin calls in flight; unset: no
 * limit), `staleIfErrorMs` (how old a remembered value may be and still answer while the
 * cache is down; unset: off), `staleCapacity` (values remembered, 1024), `clock` (monotonic
 * ms, default `performance.now()`).
 */
export class OriginGuard {
  constructor(options) {
    const o = readOptions(options, ["singleFlight", "originBudget", "staleIfErrorMs", "staleCapacity", "clock"]);
    const args = readOriginOptions(o);
    this._clock = o.clock ?? defaultClock;
    checkFunction(this._clock, "options.clock");
    const [h, refused] = ORIGINS.create(this, (at) => originCreate(at, ...args));
    if (refused !== undefined) throw new RangeError(coreMessage(refused, NAMES));
    this._h = h; // handle into the origin guards' table (-1: disposed)
    this._values = []; // the remembered values, by the slot the core gave each
    // The loads in flight: this guard's own ticket for each (never reused, so a ticket from
    // before the instance was replaced cannot name a load of the new one) and the core's.
    this._tickets = new Map(); // ticket -> the core's ticket
    this._byCore = new Map(); // the core's ticket -> ticket
    this._next = 0;
    this._epoch = epoch; // the instance the slots and core tickets belong to
  }

  /**
   * A read of `key` missed (`cacheDown`: the cache call was refused or failed, not a plain
   * miss). Returns `{ kind: "lead", ticket }` (call the origin, then `end(ticket, ...)`),
   * `{ kind: "join", ticket }` (wait for that load's result), `{ kind: "busy" }` (the budget
   * is spent), or `{ kind: "stale", value, ageMs }` (a value served within the age limit).
   */
  begin(key, cacheDown = false) {
    checkKey(key, "begin");
    if (typeof cacheDown !== "boolean") throw new TypeError(`begin: cacheDown must be a boolean, got ${describe(cacheDown)}`);
    const now = this._now();
    const h = this._sync();
    const r = inWasm(() => originBegin(h, key, cacheDown, now));
    if (r > 0 && r < STALE) {
      const ticket = ++this._next;
      this._tickets.set(ticket, r);
      this._byCore.set(r, ticket);
      return { kind: "lead", ticket };
    }
    if (r < 0) return { kind: "join", ticket: this._byCore.get(-r) };
    if (r === 0) return { kind: "busy" };
    if (r >= STALE) return { kind: "stale", value: this._values[r - STALE], ageMs: inWasm(() => originStaleAgeMs()) };
    throw disposed();
  }

  /**
   * The load holding `ticket` ended: with `value` if `ok`. Returns `{ joined, store }`: how
   * many callers joined it, and whether to put its value in the cache (not after a failed
   * load, nor one a write to the key overtook: its value may predate the write). The value is
   * remembered for stale-if-error when the core says so. A ticket that is not a
   * load in flight is a RangeError. (Tickets are this guard's own numbers, each naming one
   * core ticket.)
   */
  end(ticket, ok, value) {
    if (typeof ticket !== "number") throw new TypeError(`end: ticket must be a number, got ${describe(ticket)}`);
    if (typeof ok !== "boolean") throw new TypeError(`end: ok must be a boolean, got ${describe(ok)}`);
    const now = this._now();
    const h = this._sync();
    const core = this._tickets.get(ticket);
    if (core === undefined) {
      throw new RangeError(
        `end: ticket ${ticket} is not a load in flight (already ended, never issued, or led before the wasm instance was replaced)`,
      );
    }
    this._tickets.delete(ticket);
    this._byCore.delete(core);
    const slot = inWasm(() => originEnd(h, core, ok, now));
    if (slot === -3) throw disposed();
    if (slot === -2) throw new RangeError(`end: ${inWasm(() => originError())}`);
    if (slot >= 0) this._values[slot] = value;
    const ended = inWasm(() => originEnded());
    return { joined: Math.floor(ended / 2), store: ended % 2 === 1 };
  }

  /** `value` was served for `key` from the cache: remembered for stale-if-error. */
  served(key, value) {
    checkKey(key, "served");
    const now = this._now();
    const h = this._sync();
    const slot = inWasm(() => originServed(h, key, now));
    if (slot >= 0) this._values[slot] = value;
  }

  /** A write to `key` was seen: its remembered value is dropped, and a load in flight is not remembered. */
  written(key) {
    checkKey(key, "written");
    const h = this._sync();
    const slot = inWasm(() => originWritten(h, key));
    if (slot >= 0) this._values[slot] = undefined;
  }

  /** Everything may have been written (a prefix or the whole cache was invalidated). */
  writtenAll() {
    const h = this._sync();
    inWasm(() => originWrittenAll(h));
    this._values = [];
  }

  /** `{ originCalls, joined, busy, staleServed, inFlight, remembered }`. */
  counters() {
    const h = this._sync();
    return inWasm(() => originCounters(h));
  }

  /** Frees the guard's wasm memory now (otherwise it is freed when garbage-collected). */
  dispose() {
    if (this._h < 0) return;
    ORIGINS.dispose(this, this._h);
    this._h = -1;
    this._values = [];
  }

  // ---- internals ------------------------------------------------------------------------

  /**
   * The handle, after healing a damaged instance: a guard recreated in a new instance holds no
   * remembered value, so the values kept for the old one are dropped.
   */
  _sync() {
    if (this._h < 0) throw disposed();
    if (damaged) heal();
    if (this._epoch !== epoch) {
      this._values = [];
      this._tickets.clear();
      this._byCore.clear();
      this._epoch = epoch;
    }
    return this._h;
  }

  _now() {
    return readClock(this._clock);
  }
}
