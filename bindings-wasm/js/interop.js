// Plain JS objects in, checked; the core's objects out. This file:
// - checks inputs (config, snapshot) field by field and names every problem by its path as
//   the caller wrote it (`config.timeoutSeconds`, `snapshot.window[3][1]`): a TypeError for a
//   wrong shape or type, a RangeError for a value out of bounds;
// - passes them to the core, which checks its own rules. A config field it refuses comes back
//   as the field's code, and the message is the core's requirement text (from the generated
//   `config_fields.js`: the core renders its floats, which the module does not link) after the
//   field as written, with the value the caller gave; a snapshot it refuses comes back as the
//   RangeError the core wrote;
// - hands out the objects the wasm exports build (metrics, failure records, snapshots, health
//   reports: their shapes are declared once, in bindings-wasm/src/objects.rs), adding only
//   what JS owns (the config object);
// - holds what index.js and cache.js share for options and thrown values (checkFunction,
//   readOptions, errorType, errorMessage, report).
// Cold paths only: nothing here runs per call (errorType and errorMessage run per failure).

import { boundary } from "./codes.js";
import { CONFIG_FIELDS } from "./config_fields.js";
import {
  breakerConfig,
  breakerCreate,
  breakerFailures,
  breakerHealth,
  breakerMetrics,
  breakerRestore,
  breakerSetConfig,
  breakerSnapshot,
  breakerState,
  breakerTransitionCounts,
  breakerWeights,
  configStage,
  configStageWeight,
  healthCheckThresholds,
  healthTables,
  snapshotVersion,
} from "./wasm.js";


/** Thrown when a handle names no breaker: disposed, or lost with a damaged instance. */
export class MissingBreaker extends Error {
  constructor() {
    super("fact-resilience: this breaker was disposed");
    this.name = "Error";
  }
}

export function disposedError() {
  return new MissingBreaker();
}

// Every error this file throws for bad input, so that recovery can tell a refused snapshot
// (skip it) from an exception it must not swallow (a stack overflow: retry later).
const refusals = new WeakSet();

/** Whether `err` is this file's refusal of bad input. */
export function isRefusal(err) {
  return refusals.has(err);
}

function refusal(err) {
  refusals.add(err);
  return err;
}

// ---- reading values -----------------------------------------------------------------------

/** What a value is, in the words of an error message. */
export function describe(v) {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

function typeError(path, expected, v) {
  return refusal(new TypeError(`${path} must be ${expected}, got ${describe(v)}`));
}

function rangeError(path, expected, x) {
  return refusal(new RangeError(`${path} must be ${expected}, got ${x}`));
}

/** `v` as a plain object (not an array, not null, not a function). */
function object(path, v) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw typeError(path, "an object", v);
  return v;
}

/** A field's value (`undefined` if absent or if its getter throws). */
function get(o, key) {
  try {
    return o[key];
  } catch {
    return undefined;
  }
}

/** The own enumerable keys whose value is not `undefined`, refusing any not in `known`. */
function keys(path, o, known) {
  const ks = Object.keys(o).filter((k) => get(o, k) !== undefined);
  for (const k of ks) {
    if (!known.includes(k)) throw refusal(new TypeError(`${path}.${k} is not a known field`));
  }
  return ks;
}

function required(path, o, key) {
  const v = get(o, key);
  if (v === undefined) throw refusal(new TypeError(`${path}.${key} is missing`));
  return v;
}

/** A number (any, NaN included: ranges are checked by the caller or the core). */
function number(path, v) {
  if (typeof v !== "number") throw typeError(path, "a number", v);
  return v;
}

/** A whole number in [0, 2^32). */
function count(path, v) {
  const x = number(path, v);
  if (!(x >= 0 && x <= 4294967295 && x % 1 === 0)) {
    throw rangeError(path, "an integer between 0 and 4294967295", x);
  }
  return x;
}

/** A finite number >= 0 (fractions are dropped by the core). */
function whole(path, v) {
  const x = number(path, v);
  if (!(Number.isFinite(x) && x >= 0)) throw rangeError(path, "a finite number >= 0", x);
  return x;
}

function boolean(path, v) {
  if (typeof v !== "boolean") throw typeError(path, "a boolean", v);
  return v;
}

function string(path, v) {
  if (typeof v !== "string") throw typeError(path, "a string", v);
  return v;
}

/** `null`, or a value `read` accepts. */
const nullable = (read) => (path, v) => (v === null ? null : read(path, v));

/** An array, each element read by `read(pathOfElement, element)`; with `len`, exactly that long. */
function array(path, v, len, read) {
  if (!Array.isArray(v)) throw typeError(path, len === null ? "an array" : "a fixed-length array", v);
  if (len !== null && v.length !== len) {
    throw rangeError(`${path}.length`, "the fixed length of this field", v.length);
  }
  const out = new Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = read(`${path}[${i}]`, v[i]);
  return out;
}

// ---- options and thrown values -------------------------------------------------------------

/** Throws a TypeError naming `what` unless `value` is a function. */
/** The error for a clock reading that is not a finite number >= 0. */
export function clockError(what, unit, v) {
  if (typeof v !== "number") return new TypeError(`${what} must return a number of ${unit}, got ${describe(v)}`);
  return new RangeError(`${what} must return a finite number of ${unit} >= 0, got ${v}`);
}

/** `clock()` in milliseconds; a TypeError or RangeError naming `options.clock` if it is not a time. */
export function readClock(clock) {
  const now = clock();
  if (typeof now !== "number" || !(now >= 0 && now < Infinity)) throw clockError("options.clock", "milliseconds", now);
  return now;
}

export function checkFunction(value, what) {
  if (typeof value !== "function") throw new TypeError(`${what} must be a function, got ${describe(value)}`);
}

/** An options object (`{}` for undefined/null), refusing keys not in `allowed`; `path` names it. */
export function readOptions(options, allowed, path = "options") {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`${path} must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new TypeError(`${path}.${key} is not a known option`);
  }
  return options;
}

/**
 * A refusal message of the core (`origin_budget: must be at least 1, got 0`) with the fields
 * it names spelled as the JS caller wrote them (`names`: `[core name, JS name]` pairs), so
 * that the rule's text stays the core's.
 */
export function coreMessage(message, names) {
  let m = message;
  for (const [core, js] of names) m = m.replaceAll(`${core}: `, `${js} `).replaceAll(core, js);
  return m;
}

// A thrown value's type and message, for the failure log. Any value may be thrown, including
// one whose properties throw (a getter, a Proxy): it is still recorded, under what can be read.

/** The type name a thrown value is recorded under (its `name`, else its constructor's). */
export function errorType(err) {
  if (err !== null && (typeof err === "object" || typeof err === "function")) {
    try {
      const name = err.name;
      if (typeof name === "string" && name !== "") return name;
      const ctor = err.constructor;
      if (ctor && typeof ctor.name === "string" && ctor.name !== "") return ctor.name;
    } catch {
      // unreadable: recorded as a plain Error
    }
    return "Error";
  }
  return typeof err;
}

/** The message a thrown value is recorded with. */
export function errorMessage(err) {
  try {
    const m = err instanceof Error ? err.message : err;
    return typeof m === "string" ? m : String(m);
  } catch {
    return "";
  }
}

/** Passes an error nobody can be handed (a listener's, a clock's while recording) to the host. */
export function report(err, what) {
  try {
    if (typeof globalThis.reportError === "function") globalThis.reportError(err);
    else console.error(`fact-resilience: ${what}:`, err);
  } catch {
    // reporting must not fail the call either
  }
}

// ---- config ---------------------------------------------------------------------------------

/** A `{ kind: weight }` object as a plain copy; weights must be numbers (the core checks their range). */
function weights(path, v) {
  const o = object(path, v);
  const out = {};
  for (const k of Object.keys(o)) {
    const w = get(o, k);
    if (w !== undefined) out[k] = number(`${path}[${JSON.stringify(k)}]`, w);
  }
  return out;
}

// Readers by the kind the generated table gives each field.
const READERS = {
  count,
  number,
  boolean,
  "count?": nullable(count),
  "number?": nullable(number),
  weights,
};
const CONFIG_KEYS = CONFIG_FIELDS.map(([name]) => name);
// The numeric fields, in the core's order (the values `configStage` takes), and the weights
// (`failureWeights`), which cross beside them as kinds and weights.
const NUMERIC = CONFIG_FIELDS.filter(([, kind]) => kind !== "weights");
const NUMERIC_KEYS = NUMERIC.map(([name]) => name);
const WEIGHTS = CONFIG_FIELDS.find(([, kind]) => kind === "weights");
// configStage's first weight code: `WEIGHTS_CODE + i` refuses the i-th weight given.
const WEIGHTS_CODE = NUMERIC.length + 2;

/** A config array (from breakerConfig) as values: NaN is null, booleans by kind. */
function configValues(n) {
  return Array.from(n, (x, i) => (Number.isNaN(x) ? null : NUMERIC[i][1] === "boolean" ? x === 1 : x));
}

let defaults;

/**
 * A config object checked field by field, as a plain object holding the fields given (each
 * read once: a getter is not asked twice), or undefined for the defaults. A breaker keeps this
 * copy, so that a caller who changes their object later changes nothing.
 */
export function copyConfig(prefix, value) {
  if (value === undefined || value === null) return undefined;
  const o = object(prefix, value);
  const c = {};
  for (const k of Object.keys(o)) {
    const x = get(o, k);
    if (x === undefined) continue;
    const i = CONFIG_KEYS.indexOf(k);
    if (i < 0) throw refusal(new TypeError(`${prefix}.${k} is not a known field`));
    c[k] = READERS[CONFIG_FIELDS[i][1]](`${prefix}.${k}`, x);
  }
  return c;
}

/** A config copy (from `copyConfig`) as values in the core's field order, absent fields as defaults. */
function configNumbers(copy) {
  defaults ??= NUMERIC.map((f) => f[3]);
  const v = defaults.slice();
  if (copy !== undefined) {
    for (const k in copy) {
      const i = NUMERIC_KEYS.indexOf(k);
      if (i >= 0) v[i] = copy[k];
    }
  }
  return v;
}

/** The error for a core rule code (see `configStage`), in the core's words, with the value given. */
function ruleError(prefix, code, v, kinds, ws) {
  if (code >= WEIGHTS_CODE && code - WEIGHTS_CODE < kinds.length) {
    const i = code - WEIGHTS_CODE;
    return refusal(new RangeError(`${prefix}.${WEIGHTS[0]}[${JSON.stringify(kinds[i])}] ${WEIGHTS[2]}, got ${ws[i]}`));
  }
  const field = NUMERIC[code - 1];
  if (field === undefined) return refusal(new RangeError(`${prefix} was refused by the core (rule ${code})`));
  return refusal(new RangeError(`${prefix}.${field[0]} ${field[2]}, got ${v[code - 1]}`));
}

/** Stages a config copy (from `copyConfig`) in the core; throws naming a field it refuses. */
export function stageConfig(prefix, copy) {
  const v = configNumbers(copy);
  const given = (WEIGHTS && copy?.[WEIGHTS[0]]) ?? {};
  const kinds = Object.keys(given);
  const ws = kinds.map((k) => given[k]);
  for (let i = 0; i < kinds.length; i++) configStageWeight(kinds[i], ws[i]);
  const code = configStage(
    Float64Array.from(v, (x) => (x === null ? 0 : Number(x))),
    Uint8Array.from(v, (x) => (x === null ? 1 : 0)),
  );
  if (code !== 0) throw ruleError(prefix, code, v, kinds, ws);
}

/** A new breaker (its handle: `at` if given) from a config copy (from `copyConfig`). */
export function createBreaker(copy, now, at = -1) {
  stageConfig("config", copy);
  return breakerCreate(now, at);
}

/** Replaces a breaker's config with a copy (from `copyConfig`); throws naming the field, changing nothing, if refused. */
export function setBreakerConfig(h, copy) {
  stageConfig("config", copy);
  const code = breakerSetConfig(h);
  if (code === boundary().noBreaker) throw disposedError();
  if (code !== 0) throw ruleError("config", code, configNumbers(copy), [], []);
}

/** The config in force as a plain object, every field present. */
export function configOf(h) {
  const n = breakerConfig(h);
  if (n.length === 0) throw disposedError();
  const v = configValues(n);
  const c = {};
  for (let i = 0; i < NUMERIC_KEYS.length; i++) c[NUMERIC_KEYS[i]] = v[i];
  if (WEIGHTS) c[WEIGHTS[0]] = present(breakerWeights(h));
  return c;
}

// ---- outputs --------------------------------------------------------------------------------

/** `v`, an export's answer, unless it is `null` (no such breaker). */
function present(v) {
  if (v === null || v === undefined) throw disposedError();
  return v;
}

/** "closed" | "open" | "half_open". */
export function stateOf(h) {
  return present(breakerState(h));
}

/** Counters and rates at `now` as a plain object. */
export function metricsOf(h, now) {
  return present(breakerMetrics(h, now));
}

/** The failure log, oldest first. */
export function failuresOf(h) {
  return present(breakerFailures(h));
}

const SNAPSHOT_KEYS = [
  "version",
  "config",
  "state",
  "openedAgoNs",
  "changedAgoNs",
  "consecutiveFailures",
  "halfOpen",
  "counters",
  "lastFailureTime",
  "window",
  "recentFailures",
];
const FAILURE_KEYS = ["timestamp", "errorType", "errorMessage", "operation"];

/** The whole state at `now` as a versioned, JSON-safe object. */
export function snapshotOf(h, now) {
  const s = present(breakerSnapshot(h, now));
  s.config = configOf(h);
  return s;
}

/**
 * A new breaker (its handle: `at` if given) in the state `snapshot` describes, checked field
 * by field (shapes and types here; the counters' consistency in the core); returns
 * `[handle, config]`, the config as a copy (see `copyConfig`).
 */
export function restoreBreaker(snapshot, now, at = -1) {
  const p = "snapshot";
  const o = object(p, snapshot);
  keys(p, o, SNAPSHOT_KEYS);
  const field = (key, read) => read(`${p}.${key}`, required(p, o, key));
  const version = field("version", count);
  const expected = snapshotVersion();
  if (version !== expected) {
    throw refusal(new RangeError(`snapshot.version ${version} is not supported (expected ${expected})`));
  }
  // Checked (and staged) where it comes, as every field; a later error leaves it staged, which
  // is harmless: every create, set-config or restore stages its own config first.
  const config = copyConfig("snapshot.config", required(p, o, "config")) ?? {};
  stageConfig("snapshot.config", config);
  const checked = {
    version,
    state: field("state", string),
    openedAgoNs: field("openedAgoNs", whole),
    changedAgoNs: field("changedAgoNs", whole),
    consecutiveFailures: field("consecutiveFailures", count),
    halfOpen: field("halfOpen", (path, v) => array(path, v, 3, count)),
    counters: field("counters", (path, v) => array(path, v, 6, whole)),
    lastFailureTime: field("lastFailureTime", nullable(number)),
    window: field("window", (path, v) => array(path, v, null, (q, b) => array(q, b, 3, whole))),
    recentFailures: field("recentFailures", (path, v) =>
      array(path, v, null, (q, r) => {
        keys(q, object(q, r), FAILURE_KEYS);
        const f = (key, read) => read(`${q}.${key}`, required(q, r, key));
        // JSON writes an unknown stamp (NaN) as null: the core reads it back as NaN.
        return {
          timestamp: f("timestamp", nullable(number)),
          errorType: f("errorType", string),
          errorMessage: f("errorMessage", string),
          operation: f("operation", string),
        };
      }),
    ),
  };
  if (!boundary().states.includes(checked.state)) {
    throw refusal(new TypeError(`${p}.state must be "closed", "open" or "half_open", got another string`));
  }
  const r = breakerRestore(checked, now, at);
  if (typeof r !== "number") throw refusal(r); // the core's RangeError for its counters
  if (r >= 0) return [r, config];
  throw ruleError("snapshot.config", -r, configNumbers(config), [], []);
}

// ---- health -----------------------------------------------------------------------------------

/** `snake_case` -> `camelCase`: the core names thresholds and figures in Rust's case. */
const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

// The core's tables (bindings-wasm/src/health.rs), read once: the rules (their names are the
// threshold fields'), each rule's default threshold and severity, the severities by level,
// the readiness policies in the order of the report's readiness bits.
let health;
function tables() {
  if (health === undefined) {
    const { rules, severities, policies } = healthTables();
    health = {
      rules: rules.map((r) => r.name),
      keys: rules.map((r) => camel(r.name)),
      defaults: new Float64Array(rules.map((r) => r.threshold)),
      ruleSeverities: rules.map((r) => r.severity),
      severities,
      policies,
    };
  }
  return health;
}

/** The rules as `[rule, severity]` pairs (every one, fired or not: for `health_alert` series). */
export function healthRules() {
  const t = tables();
  return t.rules.map((r, i) => [r, t.ruleSeverities[i]]);
}

/** The severity names by level (`["ok", "warning", "critical"]`). */
export function severityLevels() {
  return tables().severities;
}

// Why the core refused a threshold, by the kind in its code (bindings-wasm/src/health.rs).
const THRESHOLD_KINDS = ["a finite number", "a number >= 0", "a failure rate, at most 1"];

/**
 * Thresholds (an object of camelCase threshold fields, all optional) as the six numbers the
 * core takes: a TypeError for an unknown field or a non-number, a RangeError naming the field
 * the core refuses. `undefined`/`null` is the seed's defaults.
 */
export function readThresholds(path, value) {
  const t = tables();
  if (value === undefined || value === null) return t.defaults;
  const o = object(path, value);
  const n = t.defaults.slice();
  for (const k of keys(path, o, t.keys)) n[t.keys.indexOf(k)] = number(`${path}.${k}`, get(o, k));
  const code = healthCheckThresholds(n);
  if (code !== 0) {
    const i = (code >> 2) - 1;
    const field = t.keys[i];
    if (field === undefined) throw refusal(new RangeError(`${path} was refused by the core (rule ${code})`));
    throw rangeError(`${path}.${field}`, THRESHOLD_KINDS[code & 3] ?? "accepted by the core", n[i]);
  }
  return n;
}

/** The readiness policy's index in the report's readiness bits, naming `path` if it is none. */
export function readPolicy(path, value) {
  const { policies } = tables();
  if (typeof value !== "string") throw typeError(path, `one of ${policies.join(", ")}`, value);
  const i = policies.indexOf(value);
  if (i < 0) throw refusal(new RangeError(`${path} must be one of ${policies.join(", ")}, got "${value}"`));
  return i;
}

/**
 * The health report at `now` under checked thresholds (from `readThresholds`), as a plain
 * object, and its readiness bits.
 */
export function healthOf(h, now, thresholds) {
  const { report, readyBits } = present(breakerHealth(h, now, thresholds));
  return [report, readyBits];
}

/** Transitions by from, to and reason (every kind the core counts, zeros included). */
export function transitionCountsOf(h) {
  return present(breakerTransitionCounts(h));
}
