// The package as users get it: `npm pack`, install the tarball into a fresh Node ESM project,
// `import "fact-resilience"` (the exports map's node condition), run a call.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const PKG = fileURLToPath(new URL("../../bindings-wasm/js/", import.meta.url));

test("npm pack installs into an ESM project and works through the node entry", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "fact-resilience-pack-"));
  try {
    execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: PKG, stdio: ["ignore", "pipe", "inherit"] });
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote a tarball");
    const app = join(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", join(dir, tarball)], {
      cwd: app,
      stdio: ["ignore", "pipe", "inherit"],
    });
    // Also the cache layer as the package ships it: put/delete while OPEN, recover, get ->
    // the new value or a miss, never the old one.
    writeFileSync(
      join(app, "main.js"),
      `import { CircuitBreaker, ResilientCache, ShedError } from "fact-resilience";
       const b = new CircuitBreaker({ failureThreshold: 1 });
       const c = new ResilientCache(new Map(), b);
       await c.put("k", "v");
       const got = await c.get("k");
       b.forceOpen();
       const degraded = (await c.get("k")) ?? null;

       let now = 0;
       const store = new Map([["a", "old-a"], ["b", "old-b"]]);
       let failing = true;
       const kv = {
         async get(k) { if (failing) throw new Error("down"); return store.get(k); },
         async put(k, v) { if (failing) throw new Error("down"); store.set(k, v); },
         async delete(k) { if (failing) throw new Error("down"); return store.delete(k) ? 1 : 0; },
       };
       const b2 = new CircuitBreaker({ failureThreshold: 1, successThreshold: 1, timeoutSeconds: 1 }, { clock: () => now });
       const rc = new ResilientCache(kv, b2);
       await rc.get("x");
       const open = b2.state;
       const skipped = [await rc.put("a", "new-a"), await rc.delete("b")];
       failing = false;
       now = 1000;
       const after = [(await rc.get("a")) ?? null, (await rc.get("b")) ?? null, b2.state];
       const guard = rc.metrics().guard;
       console.log(JSON.stringify({ got, state: b.state, degraded, open, skipped, after,
         flushes: guard.flushes, inFlight: guard.inFlight, shed: new ShedError().code }));`,
    );
    const out = execFileSync("node", ["main.js"], { cwd: app, encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), {
      got: "v",
      state: "open",
      degraded: null,
      open: "open",
      skipped: [true, 0],
      after: [null, null, "closed"],
      flushes: 1,
      inFlight: 0,
      shed: "CACHE_SHED",
    });
    const files = execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: PKG, encoding: "utf8" });
    const names = JSON.parse(files)[0].files.map((f) => f.path).sort();
    assert.ok(names.includes("pkg/fact_resilience_wasm_bg.wasm"), names.join(", "));
    assert.ok(names.includes("cache.js"), names.join(", "));
    assert.ok(!names.some((n) => n.startsWith("node_modules/") || n.startsWith("scripts/")), names.join(", "));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
