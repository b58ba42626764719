// The README's policy examples, run as written: every ```js block that starts with
// `// policy:` in bindings-wasm/js/README.md, with the package import pointed at this checkout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as pkg from "./pkg.mjs";

const README = readFileSync(new URL("../../bindings-wasm/js/README.md", import.meta.url), "utf8");
const BLOCKS = [...README.matchAll(/```js\n(\/\/ policy: (.+)\n[\s\S]*?)```/g)].map(([, code, name]) => ({ name, code }));
const AsyncFunction = (async () => {}).constructor;

test("the README shows every policy", () => {
  assert.deepEqual(
    BLOCKS.map((b) => b.name),
    ["failure-rate trip", "slow calls", "weighted failures", "backoff with jitter", "post-close ramp", "per-key breakers and origin protection"],
  );
});

for (const { name, code } of BLOCKS) {
  test(`README example: ${name}`, async () => {
    // `import { A, B } from "fact-resilience";` becomes the same names from the local package.
    const body = code.replace(/^import \{([^}]*)\} from "fact-resilience";$/m, "const {$1} = pkg;");
    await new AsyncFunction("pkg", "assert", body)(pkg, assert);
  });
}
