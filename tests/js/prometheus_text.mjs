// A strict parser of the Prometheus text exposition format (0.0.4), for the tests of
// `renderPrometheus` (prometheus.test.mjs) and of the Worker's /metrics (tests/edge). Not a
// test file itself (no `.test.` in the name).
import assert from "node:assert/strict";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A strict parser of the Prometheus text format: every line is a HELP, a TYPE or a sample;
 * HELP and TYPE come once per family, before its samples; a sample belongs to the family
 * declared last, has well-formed names, escapes and value, and no series appears twice.
 * Returns Map(family -> { help, type, samples: [{ labels, value }] }).
 */
export function parse(text) {
  assert.ok(text.endsWith("\n"), "the text ends with a newline");
  const families = new Map();
  const seen = new Set();
  let current = null;
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const at = `line ${i + 1}: ${line}`;
    let m;
    if ((m = /^# HELP (\S+) (.*)$/.exec(line))) {
      assert.match(m[1], NAME, at);
      assert.ok(!families.has(m[1]), `${at}: HELP twice`);
      assert.ok(!/\\[^\\n]/.test(m[2].replaceAll("\\\\", "")), `${at}: bad escape in HELP`);
      current = { help: m[2].replaceAll("\\n", "\n").replaceAll("\\\\", "\\"), type: null, samples: [] };
      families.set(m[1], current);
      current.name = m[1];
    } else if ((m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      assert.ok(current && current.name === m[1] && current.type === null, `${at}: TYPE must follow its HELP, once`);
      current.type = m[2];
    } else {
      m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(m, `${at}: not a sample`);
      assert.ok(current && current.type !== null, `${at}: sample before its TYPE`);
      assert.equal(m[1], current.name, `${at}: sample outside its family`);
      const labels = {};
      let rest = m[2] ?? "";
      while (rest !== "") {
        const l = /^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(,|$)/.exec(rest);
        assert.ok(l, `${at}: bad labels at ${rest}`);
        assert.match(l[1], LABEL, at);
        assert.ok(!(l[1] in labels), `${at}: label ${l[1]} twice`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
        rest = rest.slice(l[0].length);
      }
      const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : m[3] === "NaN" ? NaN : Number(m[3]);
      assert.ok(!Number.isNaN(value) || m[3] === "NaN", `${at}: bad value`);
      const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
      assert.ok(!seen.has(key), `${at}: series twice`);
      seen.add(key);
      current.samples.push({ labels, value });
    }
  });
  return families;
}

/** The one sample of `family` whose labels include `labels`. */
export function sample(families, family, labels) {
  const f = families.get(family);
  assert.ok(f, `no family ${family}`);
  const s = f.samples.filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.equal(s.length, 1, `${family} ${JSON.stringify(labels)}: ${s.length} series`);
  return s[0].value;
}
