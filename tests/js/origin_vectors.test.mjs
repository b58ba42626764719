// The origin-protection vectors, tests/vectors/origin/*.json (format in
// tests/vectors/README.md), replayed through the JS API (OriginGuard) on an injected clock.
// The values it keeps for stale-if-error are the keys' names, so a stale answer says whose
// value it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { OriginGuard } from "./pkg.mjs";

const DIR = fileURLToPath(new URL("../vectors/origin/", import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();
const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
// The JS spelling of each option (seconds become milliseconds).
const JS_FIELD = {
  single_flight: "singleFlight",
  origin_budget: "originBudget",
  stale_if_error_seconds: "staleIfErrorMs",
  stale_capacity: "staleCapacity",
};

function build(spec, clock) {
  const options = { clock: () => clock.ms };
  for (const [k, v] of Object.entries(spec)) options[JS_FIELD[k]] = k === "stale_if_error_seconds" ? v * 1000 : v;
  return new OriginGuard(options);
}

function replay(vector, file) {
  const clock = { ms: 0 };
  const guard = build(vector.origin, clock);
  const loads = new Map(); // name -> [ticket, key]
  vector.steps.forEach((step, i) => {
    const where = `${file}: step ${i} (${step.op})`;
    switch (step.op) {
      case "begin": {
        const a = guard.begin(step.key, step.cache_down);
        let got;
        if (a.kind === "lead") {
          loads.set(step.load, [a.ticket, step.key]);
          got = "lead";
        } else if (a.kind === "join") {
          const name = [...loads].find(([, [t]]) => t === a.ticket)?.[0] ?? "<unknown>";
          got = { join: name };
        } else if (a.kind === "busy") {
          got = "busy";
        } else {
          got = { stale: a.value, age_ms: Math.round(a.ageMs) };
        }
        assert.deepEqual(got, step.expect, where);
        break;
      }
      case "end": {
        const [ticket, key] = loads.get(step.load);
        const before = guard.counters().remembered;
        if ("error" in step.expect) {
          assert.throws(() => guard.end(ticket, step.ok, key), (e) => e instanceof RangeError && e.message.includes(step.expect.error), where);
          break;
        }
        const { joined, store } = guard.end(ticket, step.ok, step.ok ? key : undefined);
        const after = guard.counters().remembered;
        assert.equal(joined, step.expect.joined, `${where}: joined`);
        assert.equal(store, step.expect.store, `${where}: store`);
        if (step.expect.remember) assert.ok(after >= Math.max(before, 1), `${where}: remembered ${before} -> ${after}`);
        else assert.equal(after, before, `${where}: remembered`);
        break;
      }
      case "served":
        guard.served(step.key, step.key);
        break;
      case "written":
        guard.written(step.key);
        break;
      case "written_all":
        guard.writtenAll();
        break;
      case "advance":
        clock.ms += step.ms;
        break;
      case "expect": {
        const counters = guard.counters();
        for (const [name, want] of Object.entries(step.counters)) assert.equal(counters[camel(name)], want, `${where}: ${name}`);
        break;
      }
      default:
        assert.fail(`${where}: unknown op`);
    }
  });
  guard.dispose();
}

for (const file of FILES) {
  test(`origin vector ${file}`, () => {
    const vector = JSON.parse(readFileSync(join(DIR, file), "utf8"));
    if ("origin_error" in vector) {
      const field = `options.${JS_FIELD[vector.origin_error]}`;
      assert.throws(() => build(vector.origin, { ms: 0 }), (e) => e instanceof RangeError && e.message.startsWith(field));
      return;
    }
    replay(vector, file);
  });
}

test("every origin vector is here", () => {
  assert.ok(FILES.length >= 15, `${FILES.length} files`);
});
