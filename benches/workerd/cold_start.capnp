# workerd configs for benches/js_cold_start.mjs: `empty` (a Worker without the package, the
# baseline) and `breaker` (one that loads the package and creates a breaker). Chosen on the
# command line (`workerd serve cold_start.capnp breaker`); the socket's address too
# (--socket-addr http=127.0.0.1:PORT). Module layout as in tests/edge/config.capnp.
using Workerd = import "/workerd/workerd.capnp";

const empty :Workerd.Config = (
  services = [(name = "main", worker = .emptyWorker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const breaker :Workerd.Config = (
  services = [(name = "main", worker = .breakerWorker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const emptyWorker :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "empty.mjs")],
  compatibilityDate = "2025-01-01",
);

const breakerWorker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "breaker.mjs"),
    (name = "fact-resilience", esModule = "export * from \"fact-resilience/entry/workerd.js\";"),
    (name = "fact-resilience/entry/workerd.js", esModule = embed "../../bindings-wasm/js/entry/workerd.js"),
    (name = "fact-resilience/index.js", esModule = embed "../../bindings-wasm/js/index.js"),
    (name = "fact-resilience/breaker.js", esModule = embed "../../bindings-wasm/js/breaker.js"),
    (name = "fact-resilience/errors.js", esModule = embed "../../bindings-wasm/js/errors.js"),
    (name = "fact-resilience/permit.js", esModule = embed "../../bindings-wasm/js/permit.js"),
    (name = "fact-resilience/codes.js", esModule = embed "../../bindings-wasm/js/codes.js"),
    (name = "fact-resilience/cache.js", esModule = embed "../../bindings-wasm/js/cache.js"),
    (name = "fact-resilience/keyed.js", esModule = embed "../../bindings-wasm/js/keyed.js"),
    (name = "fact-resilience/origin.js", esModule = embed "../../bindings-wasm/js/origin.js"),
    (name = "fact-resilience/observe.js", esModule = embed "../../bindings-wasm/js/observe.js"),
    (name = "fact-resilience/prometheus.js", esModule = embed "../../bindings-wasm/js/prometheus.js"),
    (name = "fact-resilience/low_level.js", esModule = embed "../../bindings-wasm/js/low_level.js"),
    (name = "fact-resilience/interop.js", esModule = embed "../../bindings-wasm/js/interop.js"),
    (name = "fact-resilience/config_fields.js", esModule = embed "../../bindings-wasm/js/config_fields.js"),
    (name = "fact-resilience/wasm.js", esModule = embed "../../bindings-wasm/js/wasm.js"),
    (name = "fact-resilience/pkg/fact_resilience_wasm.js", esModule = embed "../../bindings-wasm/js/pkg/fact_resilience_wasm.js"),
    (name = "fact-resilience/pkg/fact_resilience_wasm_bg.wasm", wasm = embed "../../bindings-wasm/js/pkg/fact_resilience_wasm_bg.wasm"),
  ],
  compatibilityDate = "2025-01-01",
);
