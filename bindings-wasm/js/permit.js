// A permit: leave to run one call, reported exactly once. The breaker's hot path passes the
// core's permit bits and the clock reading it was admitted at (the core times the call from
// it, for the slow-call rule); a Permit object holds both for the low-level API.

import { describe } from "./interop.js";

// Only tryAcquire makes permits: the constructor refuses anything but this token.
export const ISSUE = Symbol("fact-resilience permit");

/**
 * Leave to run one call, from `tryAcquire`. Report its outcome exactly once, with `onSuccess`,
 * `onFailure` or `onNeutral`: a permit is spent by its first report, and anything that is not
 * a permit is refused with a TypeError. (`execute` holds its permit internally.)
 */
export class Permit {
  #bits;
  #admitted;
  #reported = false;

  constructor(token, bits, admitted) {
    if (token !== ISSUE) throw new TypeError("permits are issued by CircuitBreaker.tryAcquire");
    this.#bits = bits;
    this.#admitted = admitted;
  }

  /** Whether this call is a HALF_OPEN probe. */
  get probe() {
    return this.#bits % 2 === 1;
  }

  /** Whether an outcome was already reported. */
  get reported() {
    return this.#reported;
  }

  /** `permit`'s bits, or a TypeError naming `what` if it is not a permit. */
  static peek(permit, what) {
    if (permit === null || typeof permit !== "object" || !(#bits in permit)) {
      throw new TypeError(`${what} must be a permit from tryAcquire, got ${describe(permit)}`);
    }
    return permit.#bits;
  }

  /** Spends `permit` and returns its bits; refuses a non-permit or one already spent. */
  static spend(permit, what) {
    const bits = Permit.peek(permit, what);
    if (permit.#reported) throw new Error(`${what}: this permit's outcome was already reported`);
    permit.#reported = true;
    return bits;
  }

  /** The clock reading `permit` (checked by `peek` or `spend`) was admitted at. */
  static admitted(permit) {
    return permit.#admitted;
  }
}
