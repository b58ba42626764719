// Cold start: a Worker that loads the package (its .wasm compiled by workerd when it loads the
// config, instantiated when this module is evaluated) and creates a breaker at module level,
// as the README advises; the first request runs one call through it. The answer also says
// how a refusal looks in this runtime (workerd's V8), for the benchmark to check.
import { CircuitBreaker, CircuitBreakerError } from "fact-resilience";

const breaker = new CircuitBreaker();

export default {
  async fetch() {
    const value = await breaker.execute(() => 1, "first");
    const open = new CircuitBreaker();
    open.forceOpen();
    const e = await open.execute(() => 1, "get").catch((x) => x);
    open.dispose();
    return Response.json({
      value,
      refusal: {
        instanceOf: e instanceof CircuitBreakerError && e instanceof Error,
        name: e.name,
        code: e.code,
        message: e.message,
        string: String(e),
        stack: e.stack,
        json: JSON.stringify(e),
        isError: typeof Error.isError === "function" ? Error.isError(e) : null,
      },
    });
  },
};
