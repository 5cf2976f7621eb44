// The server the live tests talk to. With PROMPTYARD_URL and PROMPTYARD_API_KEY set (as the Python
// suite does), that one. Otherwise this starts a real `promptyard serve` of its own in a temporary
// data dir with the repository's Python (PROMPTYARD_PYTHON, or ../../.venv/bin/python as `make test`
// creates it), and stops it when the tests end. Without either, the live tests are skipped with a
// message saying how to run them.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_PYTHON = fileURLToPath(new URL("../../../.venv/bin/python", import.meta.url));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitHealthy(url, proc, output, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`promptyard serve exited:\n${output.join("")}`);
    try {
      if ((await fetch(`${url}/-/health`)).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`promptyard serve did not become healthy in ${ms} ms:\n${output.join("")}`);
}

/** { url, key, stop, skip }: skip is a reason string when no server can be had. */
export async function liveServer() {
  const { PROMPTYARD_URL: url, PROMPTYARD_API_KEY: key } = process.env;
  if (url && key) return { url, key, stop: async () => {}, skip: false };
  const python = process.env.PROMPTYARD_PYTHON || REPO_PYTHON;
  if (!existsSync(python)) {
    return { skip: `no server: set PROMPTYARD_URL and PROMPTYARD_API_KEY (an admin key), or create ` +
      `the repository's .venv (make test) or set PROMPTYARD_PYTHON so the tests can start one` };
  }
  const dataDir = mkdtempSync(join(tmpdir(), "promptyard-js-"));
  const port = await freePort();
  const env = { ...process.env, PROMPTYARD_DATA_DIR: dataDir, PROMPTYARD_PORT: String(port),
    PROMPTYARD_LOG_LEVEL: "warning" };
  delete env.PROMPTYARD_DATABASE_URL;
  // An admin key of our own first (one line on stdout), then the server on the same data dir.
  const made = spawnSync(python, ["-m", "promptyard.cli", "keys", "create", "--name", "js-tests",
    "--scopes", "read,write,ingest,admin"], { env, encoding: "utf8" });
  if (made.status !== 0) throw new Error(`promptyard keys create failed:\n${made.stderr}`);
  const serverKey = made.stdout.trim().split("\n").pop();
  const proc = spawn(python, ["-m", "promptyard.cli", "serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const output = [];
  proc.stdout.on("data", (d) => output.push(String(d)));
  proc.stderr.on("data", (d) => output.push(String(d)));
  const serverUrl = `http://127.0.0.1:${port}`;
  await waitHealthy(serverUrl, proc, output, 60000);
  const stop = async () => {
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url: serverUrl, key: serverKey, stop, skip: false };
}
