// The errors the breaker throws for refused calls, as FACT names them.

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
