# workerd config for the edge test: one Worker importing the package as "fact-resilience".
# The socket's address is set on the command line (--socket-addr http=127.0.0.1:PORT).
# The package's modules keep their relative layout under "fact-resilience/", and the .wasm is
# a compiled Wasm module, as the workerd entry expects.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .edgeWorker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const edgeWorker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
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
