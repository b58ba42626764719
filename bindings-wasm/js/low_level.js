// The wasm side of the package: which instance is live, and what happens when a call into it
// goes wrong.
//
// Breakers live in the wasm instance's handle table; a JS `CircuitBreaker` holds a handle
// (`_h`). Any exception out of an export (`fault()`: a trap from a Rust panic, or a stack
// overflow that lands inside wasm) leaves the instance in an unknown state, so it is replaced
// (`heal()`): every breaker still readable in the damaged instance is snapshotted, a fresh
// instance of the same compiled module is started, every handle ever given out is reserved
// there, and each snapshot is restored *at the same handle*: the JS objects and their
// finalisers stay valid without being tracked one by one. A breaker that could not be read
// (the one whose call was interrupted: it was out of the table) finds its handle empty on its
// next call and rebuilds itself there from its config (`CircuitBreaker._revive`). Permits
// issued before become stale (their outcomes are counted but move no state).
//
// Healing may itself run out of stack (the fault was a stack overflow, and the caller is still
// deep). So it can be resumed: the snapshots are kept until every one is placed, and each
// attempt starts from a fresh instance. Until it completes, every call heals first (`damaged`
// is checked on every call) and nothing reaches the damaged instance.
//
// Snapshots are taken and restored on each breaker's own clock. Breakers on the default clock
// need no bookkeeping for that; those with an injected clock are remembered (weakly) so that
// their clock can be found.
//
// Cache guards (`ResilientCache`) live in a second table of the same instance, at handles
// picked here. They cannot be snapshotted, so healing recreates each *fresh* at its handle
// (same stale-keys policy and capabilities, nothing pending, nothing in flight), after any
// fault, and `epoch` counts the faults: a ticket taken before one names no call in the new
// instance and must not be ended there (`cache.js` checks `epoch` before ending a call).
//
// Breaker registries and origin guards (`keyed.js`, `origin.js`) live in tables of their own,
// each a `HandleSpace` here: healing recreates each fresh at its handle from the recipe it was
// made with (a registry without its breakers, an origin guard without loads in flight or
// remembered values), and their JS objects compare `epoch` before using a permit or ticket.

import {
  WasmFault,
  __reinitSync,
  breakerDispose,
  breakerReserve,
  guardCreate,
  guardFree,
  guardHasPending,
  liveHandles,
  takePanicMessageRaw,
} from "./wasm.js";
import { isRefusal, restoreBreaker, snapshotOf } from "./interop.js";

// Bound once: a few ns cheaper per read than `() => performance.now()` (no global lookup).
export const defaultClock =
  typeof performance === "object" && typeof performance.now === "function"
    ? performance.now.bind(performance)
    : Date.now;

// Runtimes without WeakRef keep breakers with an injected clock strongly until dispose().
const HAS_WEAKREF = typeof WeakRef === "function";
const Ref = HAS_WEAKREF
  ? WeakRef
  : class StrongRef {
      constructor(value) {
        this.value = value;
      }
      deref() {
        return this.value;
      }
    };

let ownClocks = []; // Refs to breakers with an injected clock
let pruneAt = 64;
let handleLimit = 0; // one more than the highest handle ever given out: what healing reserves

// Without FinalizationRegistry (Cloudflare Workers), nothing frees a dropped breaker's wasm
// memory: only dispose() does (see README, Memory).
const finalizer =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry((handle) => free(handle))
    : { register() {}, unregister() {} };

/** True while the instance is damaged and not yet replaced: every call heals first. */
export let damaged = false;
// While damaged: the snapshots to carry over (null until read) and the handles freed since.
let damage = null;

/**
 * How many times the instance was found damaged (and so replaced). Bumped when the damage is
 * found, before anything reaches a new instance: a cache ticket taken before names no call
 * in the new instance and must not be ended there.
 */
export let epoch = 0;

// Guard handles are picked here (the lowest free one), so that a guard is recreated at the
// same handle when the instance is replaced without the wasm side tracking anything.
const guards = new Map(); // guard handle -> the guardCreate arguments that made it
const freeGuards = []; // handles below guards' high-water mark that are free again
let nextGuard = 0;

const guardFinalizer =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry((handle) => freeGuard(handle))
    : { register() {}, unregister() {} };

/**
 * A new guard owned by `owner` (freed when `owner` is garbage-collected): `args` are
 * guardCreate's after the handle (option code, perKey, flushAll, maxPending). Returns
 * `[handle, code]`, code being guardCreate's answer (negative: refused, and no guard made).
 * Heals first if the instance is damaged; a fault is thrown (see `fault`).
 */
export function createGuard(owner, args) {
  if (damaged) heal();
  const h = freeGuards.length > 0 ? freeGuards.pop() : nextGuard++;
  let code;
  try {
    code = guardCreate(h, ...args, false);
  } catch (err) {
    freeGuards.push(h);
    throw err instanceof WasmFault ? fault(err.cause) : err;
  }
  if (code < 0) {
    freeGuards.push(h);
  } else {
    guards.set(h, args);
    guardFinalizer.register(owner, h);
  }
  return [h, code];
}

/** Frees a guard. Never throws (it runs as a finaliser). */
function freeGuard(h) {
  guards.delete(h); // not recreated by a heal from now on
  freeGuards.push(h);
  if (damaged) return; // the damaged instance is dropped whole
  try {
    guardFree(h);
  } catch (err) {
    if (err instanceof WasmFault) fault(err.cause);
  }
}

/**
 * A table of objects of one kind in the wasm instance (registries, origin guards), at handles
 * picked here. `free(h)` is the export that frees one.
 */
export class HandleSpace {
  constructor(free) {
    this.free = free;
    this.recipes = new Map(); // handle -> make(h): recreates it there (holds no owner)
    this.spare = [];
    this.next = 0;
    this.finalizer =
      typeof FinalizationRegistry === "function"
        ? new FinalizationRegistry((h) => this.release(h))
        : { register() {}, unregister() {} };
    spaces.push(this);
  }

  /**
   * Makes one for `owner` with `make(h)`, which calls the export that creates it at handle
   * `h` and returns its answer: `undefined` when made, else the refusal (no handle is kept
   * then). Returns `[handle, refusal]`. `make` must not hold `owner` (it is kept to recreate
   * the object after a fault, and would keep the owner from being collected). Heals first if
   * the instance is damaged; a fault is thrown (see `fault`).
   */
  create(owner, make) {
    if (damaged) heal();
    const h = this.spare.length > 0 ? this.spare.pop() : this.next++;
    let refused;
    try {
      refused = make(h);
    } catch (err) {
      this.spare.push(h);
      throw err instanceof WasmFault ? fault(err.cause) : err;
    }
    if (refused !== undefined) {
      this.spare.push(h);
    } else {
      this.recipes.set(h, make);
      this.finalizer.register(owner, h, owner);
    }
    return [h, refused];
  }

  /** Frees `owner`'s object at `h` now. */
  dispose(owner, h) {
    this.finalizer.unregister(owner);
    this.release(h);
  }

  /** Frees the object at `h`. Never throws (it runs as a finaliser). */
  release(h) {
    if (!this.recipes.delete(h)) return;
    this.spare.push(h);
    if (damaged) return; // the damaged instance is dropped whole
    try {
      this.free(h);
    } catch (err) {
      if (err instanceof WasmFault) fault(err.cause);
    }
  }
}

const spaces = [];

/**
 * `f()`, a call into wasm through `wasm.js` (its arguments computed before). Heals a damaged
 * instance first; an exception out of the export replaces the instance and is thrown as
 * `fault` answers it (a PanicError, or the stack overflow as it is).
 */
export function inWasm(f) {
  if (damaged) heal();
  try {
    return f();
  } catch (err) {
    throw err instanceof WasmFault ? fault(err.cause) : err;
  }
}

/** Starts tracking a breaker whose `_h` was just set. */
export function track(breaker) {
  if (breaker._h >= handleLimit) handleLimit = breaker._h + 1;
  finalizer.register(breaker, breaker._h, breaker);
  if (breaker._clock !== defaultClock) {
    ownClocks.push(new Ref(breaker));
    if (ownClocks.length >= pruneAt) {
      ownClocks = ownClocks.filter((r) => r.deref() !== undefined && r.deref()._h >= 0);
      pruneAt = Math.max(64, ownClocks.length * 2);
    }
  }
}

/** Stops tracking and frees a breaker. */
export function untrack(breaker) {
  finalizer.unregister(breaker);
  free(breaker._h);
  breaker._h = -1;
  if (!HAS_WEAKREF) ownClocks = ownClocks.filter((r) => r.deref() !== breaker);
}

/** Frees a handle's breaker. Never throws (it also runs as a finaliser). */
function free(h) {
  if (damaged) {
    damage.freed.add(h); // not carried over; its reserved slot is released once healed
    return;
  }
  try {
    breakerDispose(h);
  } catch (err) {
    if (err instanceof WasmFault) fault(err.cause);
  }
}

/**
 * Records that the instance is damaged (an exception, `cause`, came out of an export),
 * replaces it if the stack allows (else the next call does), and returns the error to throw:
 * a trap becomes an `Error` named `PanicError` carrying the panic message; anything else (a
 * stack overflow) is thrown as it is.
 */
export function fault(cause) {
  const panicked = cause instanceof WebAssembly.RuntimeError;
  let message;
  if (panicked) {
    try {
      message = takePanicMessageRaw();
    } catch {
      message = undefined;
    }
  }
  if (!damaged) {
    damage = { carried: null, freed: new Set() };
    damaged = true;
    epoch += 1;
  }
  try {
    heal();
  } catch {
    // Resumed by the next call, which may have more stack.
  }
  if (!panicked) return cause;
  const e = new Error(
    `fact-resilience: the wasm core panicked: ${message ?? cause.message}. ` +
      "The module was restarted; other breakers kept their state, the one in use starts afresh from its config, " +
      "and a cache that had invalidations pending flushes everything before it is trusted again.",
    { cause },
  );
  e.name = "PanicError";
  return e;
}

/**
 * Replaces the damaged instance. Throws (leaving it damaged) if it cannot finish; the next
 * attempt starts again from a fresh instance with the snapshots already read.
 */
export function heal() {
  const d = damage;
  try {
    d.carried ??= collect(d.freed);
    // Guards cannot be snapshotted. One that held nothing pending is recreated as it was; one
    // that did, or cannot be read, is recreated as having lost its keys, and the core then has
    // the next admitted call flush the whole cache.
    d.lost ??= new Map([...guards.keys()].map((h) => [h, unlessTrapped(() => guardHasPending(h), true)]));
    __reinitSync();
    breakerReserve(handleLimit);
    for (const [h, clock, snap] of d.carried) {
      if (d.freed.has(h)) continue;
      try {
        restoreBreaker(snap, read(clock), h);
      } catch (err) {
        // A breaker caught mid-update may hold counters the core refuses: it rebuilds itself
        // from its config on its next call, as one that could not be read.
        if (!isRefusal(err)) throw err;
      }
    }
    for (const h of d.freed) breakerDispose(h);
    for (const [h, args] of guards) guardCreate(h, ...args, d.lost.get(h) ?? true);
    for (const space of spaces) for (const [h, make] of space.recipes) make(h);
  } catch (err) {
    throw err instanceof WasmFault ? err.cause : err;
  }
  damage = null;
  damaged = false;
}

/** Snapshots of the breakers still readable in the damaged instance, as `[handle, clock, snapshot]`. */
function collect(freed) {
  const clocks = new Map();
  for (const ref of ownClocks) {
    const b = ref.deref();
    if (b !== undefined && b._h >= 0) clocks.set(b._h, b._clock);
  }
  const out = [];
  for (const h of unlessTrapped(() => liveHandles(), [])) {
    if (freed.has(h)) continue;
    const clock = clocks.get(h) ?? defaultClock;
    const snap = unlessTrapped(() => snapshotOf(h, read(clock)), null);
    if (snap !== null) out.push([h, clock, snap]);
  }
  return out;
}

/**
 * `f()`, or `otherwise` if the damaged instance traps on it (the table left borrowed by the
 * interrupted call, say: that will not get better). Any other exception (a stack overflow)
 * is thrown, so that healing is retried later.
 */
function unlessTrapped(f, otherwise) {
  try {
    return f();
  } catch (err) {
    if (err instanceof WasmFault && err.cause instanceof WebAssembly.RuntimeError) return otherwise;
    throw err;
  }
}

/**
 * A clock's reading for moving a breaker: a clock that fails here reads as 0, which the core
 * takes as the latest instant it has seen (time never runs backwards inside).
 */
function read(clock) {
  let now;
  try {
    now = clock();
  } catch {
    return 0;
  }
  return typeof now === "number" && now >= 0 && now < Infinity ? now : 0;
}
