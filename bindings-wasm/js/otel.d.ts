// Types of `fact-resilience/otel` (needs the peer dependency `@opentelemetry/api`).
import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import type { CircuitBreaker, ExporterOptions, NamedBreakers, ResilientCache } from "./index.js";

/** The exporter's families as observable instruments `<namespace>.<family>`, with a `breaker` attribute. */
export declare class BreakerInstruments {
  constructor(breakers?: NamedBreakers, options?: ExporterOptions & { meterProvider?: MeterProvider });
  readonly namespace: string;
  /** @throws RangeError if `name` is taken or empty. */
  add(name: string, breaker: CircuitBreaker | ResilientCache<any>): this;
  remove(name: string): boolean;
  names(): string[];
  /** Unregisters the instruments' callback. */
  close(): void;
}

/**
 * A span per `breaker.execute(fn, operationName)` from now on: `circuit.state`,
 * `operation.name`, `outcome` (success | failure | rejected | throttled), `error.type`.
 */
export declare function traceCalls(breaker: CircuitBreaker, options?: { tracerProvider?: TracerProvider }): void;
