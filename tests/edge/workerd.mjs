// What a Node process needs to serve a Worker in the real workerd on 127.0.0.1: the binary npm
// installs, a free loopback port, and a way to stop the process group it was started in.
// Shared by the edge tests and benches/js_cold_start.mjs.
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The workerd binary from the package's dev dependencies (`make setup-js`). */
export const WORKERD = fileURLToPath(new URL("../../bindings-wasm/js/node_modules/.bin/workerd", import.meta.url));

/** A loopback port free at the time of asking. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Kills the process group of `child` (spawned with `detached: true`), if it still runs. */
export function stopGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}
