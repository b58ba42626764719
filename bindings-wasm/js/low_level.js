// The wasm side of the package: which instance is live, and what happens when it traps.
//
// Breakers live in the wasm instance's handle table; a JS `CircuitBreaker` holds a handle
// (`_h`). A Rust panic traps the instance (wasm32-unknown-unknown cannot unwind), so
// `recover()` turns the trap into a plain `Error` carrying the panic message, snapshots every
// breaker still in the trapped instance's table, starts a fresh instance of the same compiled
// module and restores each one there *at the same handle*: the JS objects and their
// finalisers stay valid without being tracked one by one. The breaker whose call panicked is
// rebuilt from its config (fresh, CLOSED). Permits issued before the panic become stale
// (their outcomes are counted but move no state).
//
// Snapshots are taken and restored on each breaker's own clock. Breakers on the default clock
// need no bookkeeping for that; those with an injected clock are remembered (weakly) so that
// their clock can be found.
//
// Cache guards (`ResilientCache`) live in a second table of the same instance. They cannot be
// snapshotted, so each is recreated *fresh* at its handle (same stale-keys policy and
// capabilities, nothing pending) after a panic, and `epoch` counts the restarts: a ticket
// taken before one names no call in the new instance and must not be ended there.

import {
  __reinitSync,
  breakerDispose,
  guardCreate,
  guardFree,
  liveHandles,
  takePanicMessage,
} from "./pkg/fact_resilience_wasm.js";
import { createBreaker, restoreBreaker, snapshotOf } from "./interop.js";

// Bound once: a few ns cheaper per read than `() => performance.now()` (no global lookup).
export const defaultClock =
  typeof performance === "object" && typeof performance.now === "function"
    ? performance.now.bind(performance)
    : Date.now;

// Runtimes without WeakRef (Cloudflare Workers) keep breakers with an injected clock strongly
// until dispose(): breakers there are usually module-level and live as long as the isolate.
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

const finalizer =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry((handle) => breakerDispose(handle))
    : { register() {}, unregister() {} };

/** How many times the wasm instance was replaced after a panic. */
export let epoch = 0;

// Guard handles are picked here (the lowest free one), so that a guard is recreated at the
// same handle after a panic without the wasm side tracking anything.
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
 */
export function createGuard(owner, args) {
  const h = freeGuards.length > 0 ? freeGuards.pop() : nextGuard++;
  const code = guardCreate(h, ...args);
  if (code < 0) {
    freeGuards.push(h);
  } else {
    guards.set(h, args);
    guardFinalizer.register(owner, h);
  }
  return [h, code];
}

function freeGuard(h) {
  guards.delete(h);
  guardFree(h);
  freeGuards.push(h);
}

/** Starts tracking a breaker whose `_h` was just set. */
export function track(breaker) {
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
  breakerDispose(breaker._h);
  breaker._h = -1;
  if (!HAS_WEAKREF) ownClocks = ownClocks.filter((r) => r.deref() !== breaker);
}

/**
 * The error to throw for `err` raised by a wasm call made for `breaker`; recovers the
 * instance after a trap.
 */
export function recover(err, breaker) {
  if (!(err instanceof WebAssembly.RuntimeError)) return err;
  let message;
  try {
    message = takePanicMessage();
  } catch {
    message = undefined;
  }
  const clocks = new Map();
  for (const ref of ownClocks) {
    const b = ref.deref();
    if (b !== undefined && b._h >= 0) clocks.set(b._h, b._clock);
  }
  const moving = [];
  for (const h of liveHandles()) {
    const clock = clocks.get(h) ?? defaultClock;
    let snap = null;
    try {
      snap = snapshotOf(h, clock());
    } catch {
      snap = null;
    }
    moving.push([h, clock, snap]);
  }
  __reinitSync();
  for (const [h, clock, snap] of moving) {
    const now = clock();
    try {
      if (snap === null) createBreaker(undefined, now, h);
      else restoreBreaker(snap, now, h);
    } catch {
      createBreaker(undefined, now, h);
    }
  }
  for (const [h, args] of guards) guardCreate(h, ...args);
  epoch += 1;
  // The breaker whose call panicked was out of the table: rebuild it from its config.
  if (breaker !== undefined && breaker._h >= 0) {
    const h = breaker._h;
    if (!moving.some(([m]) => m === h)) {
      const now = breaker._clock();
      try {
        createBreaker(breaker._configInput, now, h);
      } catch {
        createBreaker(undefined, now, h);
      }
    }
  }
  const e = new Error(
    `fact-resilience: the wasm core panicked: ${message ?? err.message}. ` +
      "The module was restarted; other breakers kept their state, the one in use was reset, " +
      "and caches forgot their pending invalidations.",
    { cause: err },
  );
  e.name = "PanicError";
  return e;
}
