// `fact-resilience/otel`: OpenTelemetry for breakers, on `@opentelemetry/api` only (a peer
// dependency: bring your own SDK). The main entry never imports this file, so the package
// works without `@opentelemetry/api` installed.
//
// - `BreakerInstruments` registers the Prometheus exporter's families (the core's
//   `metricFamilies()`) as observable instruments named `<namespace>.<family>` (e.g.
//   `fact_resilience.calls`), read from one observation per breaker at each collection (one
//   batch callback), with a `breaker` attribute beside each family's labels.
// - `traceCalls(breaker)` opts one breaker in to a span per `execute` call, with the attributes
//   the seed proposes (as the Python package's `trace_calls`): `circuit.state` when the call
//   came, `operation.name`, `outcome` (`success`, `failure`, `rejected` while OPEN,
//   `throttled` in HALF_OPEN) and `error.type` for a failure.

import { SpanStatusCode, metrics, trace } from "@opentelemetry/api";
// The main entry for this runtime: loads and starts the wasm module before any call below.
import "fact-resilience";
import { CircuitBreaker, CircuitBreakerError, ErrorCode, ResilientCache } from "./index.js";
import { NamedTargets, SERIES, metricFamilies, observe, readNamespace, wasm } from "./observe.js";
import { describe, errorType, readOptions, readThresholds, report } from "./interop.js";

const SCOPE = "fact-resilience";
// As the Python package's otel module: base units, `1` for ratios and levels.
const UNITS = { time_in_state_seconds: "s", failure_rate: "1" };

/**
 * Observable instruments over named breakers and caches.
 *
 * `breakers`: `{ name: breaker or cache }`, a `Map`, or `[name, breaker]` pairs. Options:
 * `namespace` (default `fact_resilience`; a RangeError if Prometheus would refuse it, so that
 * the names survive an OTLP-to-Prometheus pipeline), `thresholds` (the health report's),
 * `meterProvider` (default: the global one).
 */
export class BreakerInstruments extends NamedTargets {
  #limits;
  #meter;
  #instruments;
  #callback;

  constructor(breakers, options) {
    const o = readOptions(options, ["namespace", "thresholds", "meterProvider"]);
    const namespace = readNamespace("options.namespace", o.namespace);
    const limits = wasm(() => readThresholds("options.thresholds", o.thresholds));
    super(breakers); // options first: their errors come before the breakers', as before
    this.#limits = limits;
    this.namespace = namespace;
    const provider = o.meterProvider ?? metrics.getMeterProvider();
    this.#meter = provider.getMeter(SCOPE);
    this.#instruments = metricFamilies().map((f) => {
      const options = { description: f.help, unit: UNITS[f.name] ?? (f.kind === "gauge" ? "1" : "{call}") };
      const name = `${namespace}.${f.name}`;
      const instrument =
        f.kind === "counter" ? this.#meter.createObservableCounter(name, options) : this.#meter.createObservableGauge(name, options);
      return [f, instrument];
    });
    this.#callback = (result) => this.#observe(result);
    this.#meter.addBatchObservableCallback(
      this.#callback,
      this.#instruments.map(([, i]) => i),
    );
  }

  /** Unregisters the callback: the instruments report nothing more. */
  close() {
    this.#meter.removeBatchObservableCallback(
      this.#callback,
      this.#instruments.map(([, i]) => i),
    );
  }

  #observe(result) {
    for (const [name, target] of this.targets()) {
      let o;
      try {
        o = observe(target, this.#limits);
      } catch (err) {
        // One breaker that cannot be read (disposed) must not hide the others.
        report(err, `observing breaker ${JSON.stringify(name)} failed`);
        continue;
      }
      for (const [f, instrument] of this.#instruments) {
        const series = SERIES[f.name];
        if (series === undefined) continue;
        for (const [labels, v] of series(o)) {
          const attributes = { breaker: name };
          for (let i = 0; i < labels.length; i++) attributes[f.labels[i]] = labels[i];
          result.observe(instrument, v, attributes);
        }
      }
    }
  }
}

/**
 * A span per `breaker.execute(fn, operationName)` from now on, named `circuit_breaker <operationName>`, on `options.tracerProvider` (default:
 * the global one). The span is active while `fn` starts, so `fn`'s own spans are its children.
 */
export function traceCalls(target, options) {
  const o = readOptions(options, ["tracerProvider"]);
  if (!(target instanceof CircuitBreaker)) {
    // A ResilientCache's calls do not go through execute; spans for them are not built yet.
    throw new TypeError(`traceCalls: target must be a CircuitBreaker, got ${target instanceof ResilientCache ? "a ResilientCache (trace calls per cache is not supported yet)" : describe(target)}`);
  }
  const breaker = target;
  const tracer = (o.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const plain = CircuitBreaker.prototype.execute;
  breaker.execute = function execute(fn, operationName = "execute") {
    const attributes = { "circuit.state": breaker.state, "operation.name": String(operationName) };
    return tracer.startActiveSpan(`circuit_breaker ${operationName}`, { attributes }, (span) => {
      // Whether fn ran tells a refusal (fn never called) from fn's own CircuitBreakerError.
      let ran = false;
      const call =
        typeof fn === "function"
          ? () => {
              ran = true;
              return fn();
            }
          : fn;
      return plain.call(breaker, call, operationName).then(
        (value) => {
          span.setAttribute("outcome", "success");
          span.end();
          return value;
        },
        (err) => {
          const refused =
            !ran && err instanceof CircuitBreakerError
              ? { [ErrorCode.OPEN]: "rejected", [ErrorCode.THROTTLING]: "throttled" }[err.code]
              : undefined;
          span.setAttribute("outcome", refused ?? "failure");
          if (refused === undefined) {
            span.setAttribute("error.type", errorType(err));
            if (err instanceof Error) span.recordException(err);
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
          throw err;
        },
      );
    });
  };
}
