// The registry's vectors, tests/vectors/registry/*.json (format in tests/vectors/README.md),
// replayed through the JS API (BreakerRegistry) on an injected clock: the same files the Rust
// core and the Python package replay.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { BreakerRegistry, CircuitBreakerError } from "./pkg.mjs";

const DIR = fileURLToPath(new URL("../vectors/registry/", import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const camelKeys = (o) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [camel(k), v]));
// The JS spelling of the fields a refusal names.
const JS_FIELD = { max_breakers: "options.maxBreakers" };

function build(spec, clock) {
  const options = { maxBreakers: spec.max_breakers, clock: () => clock.ms };
  if (spec.parents !== undefined) return new BreakerRegistry(Object.fromEntries(spec.parents), options);
  const levels = spec.levels.map((l) => ({
    name: l.name,
    config: camelKeys(l.config),
    prefixes: Object.fromEntries(Object.entries(l.prefixes ?? {}).map(([p, c]) => [p, camelKeys(c)])),
  }));
  return new BreakerRegistry(levels, options);
}

const moves = (transitions) => transitions.map((t) => [t.level, t.to]);

function acquire(r, step, where) {
  const expect = step.expect;
  let permit;
  try {
    permit = r.registry.acquire(step.path);
  } catch (e) {
    if (e instanceof CircuitBreakerError) {
      const rejection = e.code === "CIRCUIT_BREAKER_OPEN" ? "open" : "throttled";
      assert.deepEqual({ refused: e.level, rejection }, expect, where);
      assert.equal(e.levelName, r.registry.levels[e.level], where);
      return;
    }
    assert.ok(e instanceof RangeError && typeof expect.error === "string", `${where}: ${e}`);
    assert.ok(e.message.startsWith(expect.error), `${where}: ${e.message}`);
    return;
  }
  assert.equal(expect, "admitted", `${where}: admitted`);
  if ("expect_transitions" in step) assert.deepEqual(moves(permit.transitions), step.expect_transitions, where);
  r.calls.set(step.call, permit);
}

function outcome(r, op, step, where) {
  const permit = r.calls.get(step.call);
  assert.ok(permit !== undefined, `${where}: no call ${step.call}`);
  r.calls.delete(step.call);
  let got = [];
  if (op === "success") got = r.registry.onSuccess(permit);
  else if (op === "failure") got = r.registry.onFailure(permit, new Error("down"));
  else r.registry.onNeutral(permit);
  if ("expect_transitions" in step) assert.deepEqual(moves(got), step.expect_transitions, where);
}

function expectStep(r, step, where) {
  const reg = r.registry;
  if ("len" in step) assert.equal(reg.size, step.len, `${where}: len`);
  if ("evicted" in step) assert.equal(reg.evicted, step.evicted, `${where}: evicted`);
  for (const path of step.kept ?? []) assert.notEqual(reg.state(path), undefined, `${where}: ${path} kept`);
  for (const path of step.dropped ?? []) assert.equal(reg.state(path), undefined, `${where}: ${path} dropped`);
  for (const [path, state] of step.states ?? []) assert.equal(reg.state(path) ?? null, state, `${where}: ${path}`);
  for (const [path, want] of step.metrics ?? []) {
    const m = reg.metrics(path);
    assert.ok(m !== undefined, `${where}: metrics of ${path}`);
    for (const [name, value] of Object.entries(want)) assert.equal(m[camel(name)], value, `${where}: ${path} ${name}`);
  }
  if ("in_flight" in step) assert.deepEqual(reg.summary().map((s) => s.inFlight), step.in_flight, `${where}: in_flight`);
}

for (const file of FILES) {
  test(`registry vector ${file}`, () => {
    const vector = JSON.parse(readFileSync(join(DIR, file), "utf8"));
    const clock = { ms: 0 };
    if ("registry_error" in vector) {
      const field = JS_FIELD[vector.registry_error] ?? vector.registry_error;
      assert.throws(
        () => build(vector.registry, clock),
        (e) => (e instanceof RangeError || e instanceof TypeError) && e.message.startsWith(field),
      );
      return;
    }
    const r = { registry: build(vector.registry, clock), calls: new Map() };
    vector.steps.forEach((step, i) => {
      const where = `${file}: step ${i} (${step.op})`;
      switch (step.op) {
        case "acquire":
          return acquire(r, step, where);
        case "success":
        case "failure":
        case "neutral":
          return outcome(r, step.op, step, where);
        case "advance":
          clock.ms += step.ms;
          return undefined;
        case "expect":
          return expectStep(r, step, where);
        default:
          assert.fail(`${where}: unknown op`);
      }
    });
    r.registry.dispose();
  });
}

test("every registry vector is here", () => {
  assert.ok(FILES.length >= 20, `${FILES.length} files`);
});
