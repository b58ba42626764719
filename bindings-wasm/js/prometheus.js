// Prometheus text exposition (format 0.0.4) for one or many named breakers and
// ResilientCaches, with no dependency: usable in a Worker's `/metrics` route. The families,
// their names, kinds, labels and help are the core's (`metricFamilies()`), the same as the
// Python package's `BreakerCollector` writes: every series carries a `breaker` label, and
// counters are written as `<namespace>_<name>_total`, as prometheus_client does.

import { NamedTargets, SERIES, metricFamilies, observe, readNamespace, wasm } from "./observe.js";
import { readOptions, readThresholds } from "./interop.js";

/** The Content-Type of `render()`'s text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const escapeHelp = (s) => s.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
const escapeLabel = (s) => s.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');

function value(x) {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  return String(x);
}

/**
 * Named breakers and caches, rendered in the Prometheus text format.
 *
 * `breakers`: `{ name: breaker or cache }`, a `Map`, or `[name, breaker]` pairs. Options:
 * `namespace` (the metric-name prefix, default `fact_resilience`; a RangeError if Prometheus
 * would refuse it) and `thresholds` (the health report's, for `health_status` and
 * `health_alert`). A name given twice is a RangeError.
 */
export class PrometheusExporter extends NamedTargets {
  #limits;

  constructor(breakers, options) {
    const o = readOptions(options, ["namespace", "thresholds"]);
    const namespace = readNamespace("options.namespace", o.namespace);
    const limits = wasm(() => readThresholds("options.thresholds", o.thresholds));
    super(breakers); // options first: their errors come before the breakers', as before
    this.namespace = namespace;
    this.#limits = limits;
  }

  /** The exposition text: every family, each breaker's series in it (one reading per breaker). */
  render() {
    const observed = [];
    for (const [name, target] of this.targets()) observed.push([escapeLabel(name), observe(target, this.#limits)]);
    let out = "";
    for (const f of metricFamilies()) {
      const name = `${this.namespace}_${f.name}${f.kind === "counter" ? "_total" : ""}`;
      out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.kind}\n`;
      const series = SERIES[f.name];
      if (series === undefined) continue; // a family this layer does not know yet: declared, empty
      for (const [breaker, o] of observed) {
        for (const [labels, v] of series(o)) {
          let l = `breaker="${breaker}"`;
          for (let i = 0; i < labels.length; i++) l += `,${f.labels[i]}="${escapeLabel(labels[i])}"`;
          out += `${name}{${l}} ${value(v)}\n`;
        }
      }
    }
    return out;
  }
}

/** `new PrometheusExporter(breakers, options).render()`. */
export function renderPrometheus(breakers, options) {
  return new PrometheusExporter(breakers, options).render();
}
