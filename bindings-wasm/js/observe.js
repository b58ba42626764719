// What the exporters (prometheus.js, otel.js) and readiness read from a breaker or a
// ResilientCache: one observation per breaker per collection, at one instant. The families,
// their names, kinds, labels and help, the health rules and severities, and the namespace rule
// are the core's (bindings-wasm/src/health.rs); this file only reads and arranges them.

import { CircuitBreaker } from "./breaker.js";
import { ResilientCache } from "./cache.js";
import { WasmFault, checkNamespace, defaultNamespace, metricFamilies as familyObjects } from "./wasm.js";
import { boundary } from "./codes.js";
import { describe, healthRules, readOptions, readPolicy, readThresholds, severityLevels } from "./interop.js";
import { damaged, fault, heal } from "./low_level.js";

/**
 * Runs `f`, which calls `wasm.js`'s wrapped exports outside any breaker: a fault replaces the
 * instance (see low_level.js); refusals of bad input pass through.
 */
export function wasm(f) {
  if (damaged) heal();
  try {
    return f();
  } catch (err) {
    if (err instanceof WasmFault) throw fault(err.cause);
    throw err;
  }
}

let families;

/**
 * The metric families every exporter writes, as the core declares them: `[{ name, kind,
 * labels, help }]` (`kind` "gauge" or "counter"; `labels` beside `breaker`; counters are
 * exported as `<namespace>_<name>_total`).
 */
export function metricFamilies() {
  if (families === undefined) {
    const out = wasm(() => familyObjects());
    for (const f of out) {
      Object.freeze(f.labels);
      Object.freeze(f);
    }
    families = Object.freeze(out);
  }
  return families;
}

/** The namespace given (default: the core's), a TypeError or RangeError naming `path` if Prometheus would refuse it. */
export function readNamespace(path, value) {
  if (value === undefined) return wasm(() => defaultNamespace());
  if (typeof value !== "string") throw new TypeError(`${path} must be a string, got ${describe(value)}`);
  if (!wasm(() => checkNamespace(value))) {
    throw new RangeError(`${path} must match [a-zA-Z_][a-zA-Z0-9_]* (a Prometheus metric name prefix), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The breaker behind `target` (a CircuitBreaker, or a ResilientCache's), else a TypeError naming `path`. */
export function breakerOf(target, path) {
  if (target instanceof CircuitBreaker) return target;
  if (target instanceof ResilientCache) return target.breaker;
  throw new TypeError(`${path} must be a CircuitBreaker or a ResilientCache, got ${describe(target)}`);
}

/**
 * Named targets from `{ name: target }`, a `Map`, or an iterable of `[name, target]` pairs,
 * each checked; a TypeError or RangeError naming `path` for a bad name or target, a
 * RangeError for a name given twice.
 */
export function namedTargets(path, targets) {
  const out = new Map();
  if (targets === undefined || targets === null) return out;
  let pairs;
  if (targets instanceof Map || (typeof targets === "object" && typeof targets[Symbol.iterator] === "function")) {
    pairs = targets;
  } else if (typeof targets === "object") {
    pairs = Object.entries(targets);
  } else {
    throw new TypeError(`${path} must be an object of named breakers, a Map or [name, breaker] pairs, got ${describe(targets)}`);
  }
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`${path} must hold [name, breaker] pairs, got ${describe(pair)}`);
    addTarget(out, path, pair[0], pair[1]);
  }
  return out;
}

/** Adds `target` under `name` to `table`, refusing a bad name or target and a name already taken. */
export function addTarget(table, path, name, target) {
  if (typeof name !== "string") throw new TypeError(`${path}: a breaker's name must be a string, got ${describe(name)}`);
  if (name === "") throw new RangeError(`${path}: a breaker's name must not be empty`);
  breakerOf(target, `${path}[${JSON.stringify(name)}]`);
  if (table.has(name)) throw new RangeError(`${path}: a breaker is already registered under the name ${JSON.stringify(name)}`);
  table.set(name, target);
}

/**
 * A set of named breakers and caches, for the exporters (`PrometheusExporter`,
 * `BreakerInstruments`): built from what `namedTargets` takes, then `add`, `remove`, `names`.
 */
export class NamedTargets {
  #targets;

  constructor(breakers) {
    this.#targets = namedTargets("breakers", breakers);
  }

  /** Adds a breaker or cache under `name`; a RangeError if the name is taken. */
  add(name, breaker) {
    addTarget(this.#targets, "add", name, breaker);
    return this;
  }

  /** Stops following `name`; whether it was there. */
  remove(name) {
    return this.#targets.delete(name);
  }

  /** The names followed, in the order they were added. */
  names() {
    return [...this.#targets.keys()];
  }

  /** The `[name, target]` pairs, in the order they were added (for the exporters). */
  targets() {
    return this.#targets.entries();
  }
}

/** Each family's series for one observation, as `[labelValues, value]` (labels beside `breaker`). */
export const SERIES = {
  state: (o) => boundary().states.map((s) => [[s], o.state === s ? 1 : 0]),
  calls: (o) => o.calls.map(([outcome, n]) => [[outcome], n]),
  transitions: (o) => o.transitions.map((t) => [[t.from, t.to, t.reason], t.count]),
  failure_rate: (o) => [[[], o.failureRate]],
  time_in_state_seconds: (o) => [[[], o.timeInStateSeconds]],
  health_status: (o) => [[[], o.healthStatus]],
  health_alert: (o) => o.alerts.map(([rule, severity, firing]) => [[rule, severity], firing]),
};

/** The wrapper's shed calls (0 for a bare breaker). */
function shedOf(target) {
  return target instanceof ResilientCache ? target.metrics().guard.shed : 0;
}

/**
 * One target's figures, as the families need them: state, calls by outcome, transitions,
 * failure rate, time in state (s), health status level, and every rule's alert (0/1).
 * `limits` are checked thresholds (`readThresholds`).
 */
export function observe(target, limits) {
  const breaker = breakerOf(target, "breaker");
  const { metrics: m, report, transitions } = breaker._observation(limits);
  const firing = new Set(report.alerts.map((a) => a.rule));
  const rules = wasm(() => healthRules());
  return {
    state: m.state,
    calls: [
      ["success", m.successCount],
      ["failure", m.failureCount],
      ["rejected", m.rejectedCount],
      ["throttled", m.throttledCount],
      ["neutral", m.neutralCount],
      ["shed", shedOf(target)],
    ],
    transitions,
    failureRate: m.failureRate,
    timeInStateSeconds: m.timeInCurrentStateMs / 1000,
    healthStatus: wasm(() => severityLevels()).indexOf(report.status),
    alerts: rules.map(([rule, severity]) => [rule, severity, firing.has(rule) ? 1 : 0]),
  };
}

/**
 * Readiness of one breaker (or cache) or of many named ones, for an HTTP probe: `{ status:
 * 200 | 503, body }`. Options: `unreadyWhen` ("open", the default; "critical"; "warning") and
 * `thresholds`. One: `body` is `{ ready, unreadyWhen, status, alerts, figures }`. Many (an
 * object of named breakers, a Map or pairs): ready only if every one is, `body` is `{ ready,
 * unreadyWhen, breakers: { name: { ready, status, alerts, figures } } }`.
 */
export function readiness(target, options) {
  const o = readOptions(options, ["unreadyWhen", "thresholds"]);
  const unreadyWhen = o.unreadyWhen ?? "open";
  const policy = wasm(() => readPolicy("options.unreadyWhen", unreadyWhen));
  const limits = wasm(() => readThresholds("options.thresholds", o.thresholds));
  if (target instanceof CircuitBreaker || target instanceof ResilientCache) {
    return breakerOf(target, "target")._readiness(unreadyWhen, policy, limits);
  }
  const breakers = {};
  let ready = true;
  for (const [name, t] of namedTargets("target", target)) {
    const { body } = breakerOf(t, "target")._readiness(unreadyWhen, policy, limits);
    breakers[name] = { ready: body.ready, status: body.status, alerts: body.alerts, figures: body.figures };
    ready &&= body.ready;
  }
  return { status: ready ? 200 : 503, body: { ready, unreadyWhen, breakers } };
}
