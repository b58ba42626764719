// The errors the breaker throws for refused calls, as FACT names them.

/** Error codes, as FACT's CacheError codes. */
export const ErrorCode = Object.freeze({
  OPEN: "CIRCUIT_BREAKER_OPEN",
  THROTTLING: "CIRCUIT_BREAKER_THROTTLING",
  /** `ResilientCache.getOrLoad`: the origin's budget of loads in flight is spent. */
  ORIGIN_BUSY: "ORIGIN_BUSY",
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

// A refusal is an answer, not a bug: while a dependency is down it is thrown for every call,
// and in V8 building a native Error is costly even with no stack frames to capture
// (Error.stackTraceLimit = 0): it was most of what a thrown refusal cost (README, Overhead).
// So the breaker's refusals are not built by the constructor: they are objects of the same
// class (instanceof, `constructor`, `name`, `toString()`) with the same own enumerable fields
// (so JSON and util.inspect show what they showed), whose `message` and `stack` (the header
// line alone: no frames are captured) are computed on first read and then kept, as own
// non-enumerable properties, as an Error's are. Those two accessors sit on a prototype of
// their own between the refusal and CircuitBreakerError.prototype, so that an error built
// with `new` is untouched. What differs is documented in README (Refusals).

/** The message of refusal `e`, from its fields. */
function refusalMessage(e) {
  if (e.code === ErrorCode.OPEN) {
    return `Circuit breaker is OPEN: ${e.operation} refused, retry in ${Math.ceil(e.retryAfterMs)} ms [${ErrorCode.OPEN}]`;
  }
  return `Circuit breaker is HALF_OPEN and throttling: ${e.operation} refused [${ErrorCode.THROTTLING}]`;
}

/** Sets `key` on `e` as Error sets `message` and `stack`: writable, configurable, not enumerable. */
function keep(e, key, value) {
  Object.defineProperty(e, key, { value, writable: true, enumerable: false, configurable: true });
  return value;
}

function Refusal(code, retryAfterMs, state, operation) {
  this.name = "CircuitBreakerError";
  this.code = code;
  this.retryAfterMs = retryAfterMs;
  this.state = state;
  this.operation = operation;
}

const refusalPrototype = Object.create(CircuitBreakerError.prototype, {
  constructor: { value: CircuitBreakerError, writable: true, configurable: true },
  message: {
    get() {
      return this === refusalPrototype ? "" : keep(this, "message", refusalMessage(this));
    },
    set(value) {
      keep(this, "message", value);
    },
    configurable: true,
  },
  stack: {
    get() {
      return this === refusalPrototype ? undefined : keep(this, "stack", `${this.name}: ${this.message}`);
    },
    set(value) {
      keep(this, "stack", value);
    },
    configurable: true,
  },
});
Refusal.prototype = refusalPrototype;

/**
 * The CircuitBreakerError for a refused call: `code` an ErrorCode, `retryAfterMs` (0 when
 * throttled), `state` "open" | "half_open", `operation` the caller's name for the call.
 */
export function refusal(code, retryAfterMs, state, operation) {
  return new Refusal(code, retryAfterMs, state, operation);
}
