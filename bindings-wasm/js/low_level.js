// The wasm side of the package: which instance is live, and what happens when it traps.
//
// Breakers live in the wasm instance's handle table; a JS `CircuitBreaker` holds a handle
// (`_h`) and the epoch of the instance it belongs to. A Rust panic traps the instance
// (wasm32-unknown-unknown cannot unwind), so `recover()` turns the trap into a plain `Error`
// carrying the panic message, snapshots every other live breaker from the trapped instance,
// starts a fresh instance of the same compiled module and restores them there. Only the
// breaker whose call panicked is rebuilt from its config (fresh, CLOSED). Permits issued
// before the panic become stale (their outcomes are counted but move no state).

import { __reinitSync, breakerDispose, takePanicMessage } from "./pkg/fact_resilience_wasm.js";
import { createBreaker, restoreBreaker, snapshotOf } from "./interop.js";

let epoch = 0;
let live = [];
let pruneAt = 64;

// Runtimes without WeakRef (Cloudflare Workers) keep breakers strongly until dispose():
// breakers there are usually module-level and live as long as the isolate anyway.
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

const finalizer =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry((held) => {
        // held = epoch * 2^32 + handle; a handle of a replaced instance means nothing now.
        if (Math.floor(held / 4294967296) === epoch) breakerDispose(held % 4294967296);
      })
    : { register() {}, unregister() {} };

/** Starts tracking a breaker whose `_h` was just set on the live instance. */
export function track(breaker) {
  breaker._epoch = epoch;
  finalizer.register(breaker, epoch * 4294967296 + breaker._h, breaker);
  live.push(new Ref(breaker));
  if (live.length >= pruneAt) {
    live = live.filter((r) => r.deref() !== undefined && r.deref()._h >= 0);
    pruneAt = Math.max(64, live.length * 2);
  }
}

/** Stops tracking and frees a breaker. */
export function untrack(breaker) {
  finalizer.unregister(breaker);
  if (breaker._epoch === epoch) breakerDispose(breaker._h);
  breaker._h = -1;
  if (!HAS_WEAKREF) live = live.filter((r) => r.deref() !== breaker);
}

/** The error to throw for `err` raised by a wasm call; recovers the instance after a trap. */
export function recover(err) {
  if (!(err instanceof WebAssembly.RuntimeError)) return err;
  let message;
  try {
    message = takePanicMessage();
  } catch {
    message = undefined;
  }
  const survivors = [];
  for (const ref of live) {
    const b = ref.deref();
    if (b === undefined || b._epoch !== epoch) continue;
    let snap = null;
    try {
      snap = snapshotOf(b._h, b._clock());
    } catch {
      snap = null; // the breaker that panicked is gone from the table
    }
    finalizer.unregister(b);
    survivors.push([b, snap]);
  }
  epoch += 1;
  live = [];
  __reinitSync();
  for (const [b, snap] of survivors) {
    const now = b._clock();
    try {
      b._h = snap === null ? createBreaker(b._configInput, now) : restoreBreaker(snap, now);
    } catch {
      b._h = createBreaker(undefined, now);
    }
    track(b);
  }
  const e = new Error(
    `fact-resilience: the wasm core panicked: ${message ?? err.message}. ` +
      "The module was restarted; other breakers kept their state, the one in use was reset.",
    { cause: err },
  );
  e.name = "PanicError";
  return e;
}
