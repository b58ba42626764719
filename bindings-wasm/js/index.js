// The npm package's API: the breaker, its errors, the cache layer and the exporters. Every
// decision is the Rust core's, in wasm; the files behind these exports translate.

export { CircuitBreaker, __panicForTest, __throwForTest } from "./breaker.js";
export { CircuitBreakerError, ErrorCode } from "./errors.js";
export { ResilientCache, ShedError } from "./cache.js";
export { BreakerRegistry, PathPermit } from "./keyed.js";
export { OriginGuard } from "./origin.js";
export { PROMETHEUS_CONTENT_TYPE, PrometheusExporter, renderPrometheus } from "./prometheus.js";
export { readiness, metricFamilies } from "./observe.js";
