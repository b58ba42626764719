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
    writeFileSync(
      join(app, "main.js"),
      `import { CircuitBreaker, ResilientCache } from "fact-resilience";
       const b = new CircuitBreaker({ failureThreshold: 1 });
       const c = new ResilientCache(new Map(), b);
       await c.put("k", "v");
       const got = await c.get("k");
       b.forceOpen();
       console.log(JSON.stringify({ got, state: b.state, degraded: await c.get("k") ?? null }));`,
    );
    const out = execFileSync("node", ["main.js"], { cwd: app, encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), { got: "v", state: "open", degraded: null });
    const files = execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: PKG, encoding: "utf8" });
    const names = JSON.parse(files)[0].files.map((f) => f.path).sort();
    assert.ok(names.includes("pkg/fact_resilience_wasm_bg.wasm"), names.join(", "));
    assert.ok(!names.some((n) => n.startsWith("node_modules/") || n.startsWith("scripts/")), names.join(", "));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
