// rnn serve and rnn export --html without a browser: the server refuses every path out of the served
// directory and every method but GET/HEAD, warns in one line when not on loopback, streams a growing
// metrics.jsonl; the exported page is self-contained; the browser bundle imports nothing from Node and, run in
// Node, gives the CLI's numbers bit for bit; metrics lines are read defensively; the pages type-check.
// (test/web_browser.test.ts drives the same in Chromium.)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostWarning } from "../src/cli/serve.ts";
import { relaxedSimdSupported } from "../src/kernels/wasm-module.ts";
import { browserBuild } from "../src/web/bundle.ts";
import { diffText, parseMetrics, parseSamples } from "../src/web/runlog.ts";
import { findRuns, isLoopback, type RunningServer, startServer } from "../src/web/server.ts";
import { errLines, rnn, startRnn, tempDir } from "./helpers/cli.ts";
import { corpusSlice } from "./helpers/web.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECRET = "the-secret-outside-the-served-directory";
let tmp: { dir: string; cleanup: () => void };
let runs: string;
let run: string;

beforeAll(async () => {
  tmp = tempDir("web");
  runs = path.join(tmp.dir, "served", "runs");
  run = path.join(runs, "a");
  const r = await rnn(["train", corpusSlice(tmp.dir, 30_000), "--hidden", "16", "--batch", "4", "--seq", "16", "--steps", "30", "--eval-every", "10", "--threads", "1", "--out", run, "-q"], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  // outside the served directory: a secret file and a run; inside: links that lead to them
  fs.writeFileSync(path.join(tmp.dir, "secret.txt"), SECRET);
  fs.writeFileSync(path.join(tmp.dir, "served", "secret.txt"), SECRET);
  fs.mkdirSync(path.join(tmp.dir, "outside-run"));
  fs.copyFileSync(path.join(run, "metrics.jsonl"), path.join(tmp.dir, "outside-run", "metrics.jsonl"));
  fs.writeFileSync(path.join(tmp.dir, "outside-run", "samples.jsonl"), JSON.stringify({ step: 1, text: SECRET }) + "\n");
  fs.symlinkSync(path.join(tmp.dir, "outside-run"), path.join(runs, "evil"));
  fs.symlinkSync(path.join(tmp.dir, "secret.txt"), path.join(run, "diagnose.svg"));
  fs.symlinkSync(path.join(tmp.dir, "secret.txt"), path.join(run, "samples.jsonl"));
}, 150_000);
afterAll(() => tmp?.cleanup());

/** A raw GET (or other method) with the path sent exactly as written: no client-side normalisation. */
function request(base: string, rawPath: string, opts: { method?: string; host?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method: opts.method ?? "GET", headers: opts.host ? { Host: opts.host } : {} }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d) => (body += d)).on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("rnn serve: read-only, nothing outside the served directory", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ dir: runs, host: "127.0.0.1", port: 0 });
  });
  afterAll(() => server?.close());

  it("lists the runs under the directory, not a symbolic link that leads out of it", async () => {
    const r = await request(server.url, "/api/runs");
    expect(r.status).toBe(200);
    const ids = JSON.parse(r.body).runs.map((x: { id: string }) => x.id);
    expect(ids).toEqual(["a"]);
    expect(findRuns(runs).map((x) => x.id)).toEqual(["a"]);
    const one = JSON.parse((await request(server.url, "/api/runs/a")).body);
    expect(one.config.model.hidden).toBe(16);
    expect(one.step).toBe(30);
  });

  it("finds runs in subdirectories: the id is the path, its slash encoded in URLs", async () => {
    const nested = path.join(runs, "group", "b");
    fs.mkdirSync(nested, { recursive: true });
    fs.copyFileSync(path.join(run, "metrics.jsonl"), path.join(nested, "metrics.jsonl"));
    try {
      expect(JSON.parse((await request(server.url, "/api/runs")).body).runs.map((x: { id: string }) => x.id)).toEqual(["a", "group/b"]);
      expect((await request(server.url, "/api/runs/group%2Fb/files/metrics.jsonl")).status).toBe(200);
      expect((await request(server.url, "/api/runs/group/b/files/metrics.jsonl")).status).toBe(404);
    } finally {
      fs.rmSync(path.join(runs, "group"), { recursive: true });
    }
  });

  it("hands out a run's own files", async () => {
    const r = await request(server.url, "/api/runs/a/files/metrics.jsonl");
    expect(r.status).toBe(200);
    expect(r.body).toBe(fs.readFileSync(path.join(run, "metrics.jsonl"), "utf8"));
    expect((await request(server.url, "/api/runs/a/files/latest.safetensors")).status).toBe(200);
    expect((await request(server.url, "/", { method: "HEAD" })).status).toBe(200);
  });

  const ATTEMPTS = [
    "/api/runs/a/files/../../secret.txt",
    "/api/runs/a/files/..%2f..%2fsecret.txt",
    "/api/runs/a/files/..%2F..%2F..%2Fsecret.txt",
    "/api/runs/a/files/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/api/runs/a/files/%2e%2e/%2e%2e/secret.txt",
    "/api/runs/%2e%2e/files/secret.txt",
    "/api/runs/..%2f..%2f/files/secret.txt",
    "/api/runs/a%2f..%2f..%2f/files/secret.txt",
    "/api/runs/..%2F..%2Foutside-run/files/samples.jsonl",
    "/api/runs/a/files/%2Fetc%2Fpasswd",
    "/api/runs/%2Fetc/files/passwd",
    `/api/runs/a/files/${encodeURIComponent(path.join(tmp?.dir ?? "/tmp", "secret.txt"))}`,
    "/api/runs/a/files/latest.state.safetensors",
    "/api/runs/a/files/diagnose.svg", // a symbolic link in the run that points out
    "/api/runs/a/files/samples.jsonl", // another one
    "/api/runs/evil/files/samples.jsonl", // a run reached through a link that leads out
    "/api/runs/evil/events",
    "/playground/evil",
    "/playground/..%2f..%2fsecret.txt",
    "/../secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e/secret.txt",
    "/secret.txt",
    "//etc/passwd",
    "/api/runs/a/files/%ZZ",
  ];
  it(`refuses ${ATTEMPTS.length} ways out: .., %2e%2e, %2f, absolute paths, symbolic links pointing out`, async () => {
    for (const p of ATTEMPTS) {
      const r = await request(server.url, p);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.body, p).not.toContain(SECRET);
      expect(r.body, p).not.toContain("root:");
    }
  });

  it("answers only GET and HEAD: nothing writes or deletes", async () => {
    const before = fs.readdirSync(run).sort();
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      for (const p of ["/api/runs", "/api/runs/a", "/api/runs/a/files/latest.safetensors", "/"]) {
        const r = await request(server.url, p, { method });
        expect(r.status, `${method} ${p}`).toBe(405);
        expect(r.headers.allow).toBe("GET, HEAD");
      }
    }
    expect(fs.readdirSync(run).sort()).toEqual(before);
  });

  it("on loopback, refuses requests that name another host (DNS rebinding)", async () => {
    expect((await request(server.url, "/api/runs", { host: "attacker.example" })).status).toBe(421);
    expect((await request(server.url, "/api/runs", { host: "localhost:1234" })).status).toBe(200);
  });

  it("streams metrics.jsonl as it grows (Server-Sent Events): everything first, then only the new lines", async () => {
    const dir = path.join(runs, "growing");
    fs.mkdirSync(dir);
    const line = (step: number) => JSON.stringify({ step, trainLoss: 3 - step / 100, valLoss: 3.1 - step / 100, lr: 0.002, gradNorm: 1, clippedFrac: 0 }) + "\n";
    fs.writeFileSync(path.join(dir, "metrics.jsonl"), line(10) + line(20));
    const got: { reset: boolean; text: string }[] = [];
    const u = new URL(server.url);
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: u.hostname, port: u.port, path: "/api/runs/growing/events" }, (res) => {
        expect(res.headers["content-type"]).toContain("text/event-stream");
        let buf = "";
        res.setEncoding("utf8").on("data", (d) => {
          buf += d;
          for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
            const ev = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = /^event: metrics\ndata: (.*)$/m.exec(ev)?.[1];
            if (!data) continue;
            got.push(JSON.parse(data));
            if (got.length === 1) fs.appendFileSync(path.join(dir, "metrics.jsonl"), line(30) + '{"step": 40, "trainL'); // a half-written line
            if (got.length === 2) { req.destroy(); resolve(); }
          }
        });
      });
      req.on("error", (e) => (got.length >= 2 ? resolve() : reject(e)));
    });
    expect(got[0]).toEqual({ reset: false, text: line(10) + line(20) });
    expect(got[1]).toEqual({ reset: false, text: line(30) });
    fs.rmSync(dir, { recursive: true });
  });
});

describe("rnn serve: where it listens", () => {
  it("knows loopback when it sees it", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST", "app.localhost"]) expect(isLoopback(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "128.0.0.1", "127.0.0.1.example.com"]) expect(isLoopback(h), h).toBe(false);
    expect(hostWarning("127.0.0.1")).toBeNull();
    expect(hostWarning("0.0.0.0")).toMatch(/^rnn: warning: listening on 0\.0\.0\.0, not loopback/);
  });

  it("a host that is not loopback gets one line of warning before anything else (here it then cannot bind: 192.0.2.1 is TEST-NET, on no machine)", async () => {
    const r = await rnn(["serve", "--dir", runs, "--host", "192.0.2.1", "--port", "0"]);
    expect(r.code).toBe(1);
    const lines = errLines(r.stderr);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("rnn: warning: listening on 192.0.2.1, not loopback: anyone who can reach this machine can read these runs (there is no login)");
    expect(lines[1]).toBe("rnn: error: cannot listen on 192.0.2.1:0: no such address on this machine");
  });

  it("on loopback: no warning, the URL on the first line of stdout, stops on SIGTERM", async () => {
    const s = startRnn(["serve", "--dir", runs, "--port", "0"]);
    const url = await s.waitForLine((l) => l.startsWith("http://"));
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect((await request(url, "/api/runs")).status).toBe(200);
    s.child.kill("SIGTERM");
    const r = await s.result;
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("warning");
    expect(errLines(r.stderr)).toHaveLength(1);
  });

  it("refuses a --dir that is not a directory and a RUN that is not a run, in one line", async () => {
    const a = await rnn(["serve", "--dir", path.join(tmp.dir, "nope")]);
    expect(a.code).toBe(2);
    expect(errLines(a.stderr)).toEqual([`rnn: error: --dir ${path.join(tmp.dir, "nope")} is not a directory: train a run first (rnn train FILE writes runs/<name>), or give --dir`]);
    const b = await rnn(["serve", tmp.dir, "--port", "0"]);
    expect(b.code).toBe(2);
    expect(errLines(b.stderr)[0]).toMatch(/is not a run directory/);
  });
});

describe("rnn export --html", () => {
  it("writes one self-contained page: the checkpoint in it, no URL of anything elsewhere, nothing it may fetch", async () => {
    const out = path.join(tmp.dir, "model.html");
    const r = await rnn(["export", "--html", run, "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const html = fs.readFileSync(out, "utf8");
    expect(r.stdout).toMatch(new RegExp(`^wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: [\\d.]+ kB \\(lstm 2×16, one-hot`));
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(?!data:)[^"'\s>]/i);
    expect(html).not.toMatch(/<link[^>]+stylesheet|@import|url\(/i);
    expect(html).toContain(`content="default-src 'none'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src data:; connect-src 'none'`);
    // exactly two scripts: the checkpoint (data) and the program; the checkpoint is the run's, byte for byte
    expect(html.match(/<script/g)).toHaveLength(2);
    const b64 = /<script type="application\/octet-stream" id="rnn-model" data-name="a">([A-Za-z0-9+/=]+)<\/script>/.exec(html)?.[1];
    expect(Buffer.from(b64!, "base64").equals(fs.readFileSync(path.join(run, "latest.safetensors")))).toBe(true);
    // both kernel builds are inside
    expect(html).toContain(fs.readFileSync(path.join(ROOT, "src/kernels/kernels.wasm")).subarray(0, 30).toString("base64").slice(0, 36));
  });

  it("names the model after the run; best.safetensors is run-best; a corrupt checkpoint is refused in one line", async () => {
    const cwd = path.join(tmp.dir, "cwd");
    fs.mkdirSync(cwd, { recursive: true });
    expect((await rnn(["export", "--html", run], { cwd })).code).toBe(0);
    expect(fs.existsSync(path.join(cwd, "a.html"))).toBe(true);
    expect((await rnn(["export", "--html", path.join(run, "best.safetensors")], { cwd })).code).toBe(0);
    expect(fs.readFileSync(path.join(cwd, "a-best.html"), "utf8")).toContain('data-name="a-best"');
    const bad = path.join(tmp.dir, "bad.safetensors");
    const bytes = fs.readFileSync(path.join(run, "latest.safetensors"));
    bytes[bytes.length - 5] ^= 1;
    fs.writeFileSync(bad, bytes);
    const r = await rnn(["export", "--html", bad, "-o", path.join(tmp.dir, "bad.html")]);
    expect(r.code).toBe(1);
    expect(errLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/checksum mismatch/);
    expect(fs.existsSync(path.join(tmp.dir, "bad.html"))).toBe(false);
    const n = await rnn(["export", run]);
    expect(n.code).toBe(2);
    expect(errLines(n.stderr)).toEqual(["rnn: error: say what to export: --html (one self-contained HTML page; the only format so far)"]);
  });
});

describe("the browser bundle", () => {
  it("imports nothing from Node, and in Node gives the CLI's numbers bit for bit (same kernels, same sampling)", async () => {
    const opts = browserBuild("src/lib/browser.ts");
    const r = await build({ ...opts, format: "esm", minify: false, metafile: true });
    const inputs = Object.keys(r.metafile!.inputs);
    expect(inputs.filter((f) => /^node:|src\/io\/|src\/checkpoint\/|src\/kernels\/wasm-(module|memory|helper)\.ts|worker|helper\.mjs/.test(f) && !f.startsWith("(disabled)"))).toEqual([]);
    expect(inputs).toContain("src/web/kernels/wasm-module.ts");
    const file = path.join(tmp.dir, "browser.mjs");
    fs.writeFileSync(file, r.outputFiles![0].text);
    const lib = await import(pathToFileURL(file).href);
    relaxedSimdSupported(); // as the CLI does: turn on relaxed SIMD in this Node, so both pick the same build
    const model = await lib.loadModel(new Uint8Array(fs.readFileSync(path.join(run, "latest.safetensors"))), { name: "a" });
    expect(model.kernels).toBe((await import("../src/kernels/index.ts").then((k) => k.selectKernels())).name);
    const cli = await rnn(["sample", "-m", run, "--prime", "Sofia ", "--length", "150", "-t", "0.9", "--top-p", "0.95", "--seed", "12"]);
    expect(lib.generate(model, { prime: "Sofia ", length: 150, temperature: 0.9, topP: 0.95, seed: 12 }) + "\n").toBe(cli.stdout);
    const pred = JSON.parse((await rnn(["predict", "-m", run, "Paula ", "-k", "0", "--json"])).stdout);
    expect(lib.predict(model, "Paula ", { topK: 0 }).top).toEqual(pred.top);
  }, 60_000);

  it("the page code type-checks (DOM types; scripts/typecheck-pages.mjs)", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts/typecheck-pages.mjs")], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr + r.stdout).toBe(0);
  }, 130_000);
});

describe("metrics.jsonl and samples.jsonl, read defensively (src/web/runlog.ts)", () => {
  it("takes evaluation lines and per-step lines, skips what it cannot read, never throws", () => {
    const text = [
      '{"step":10,"trainLoss":3.5,"valLoss":3.6,"lr":0.002,"gradNorm":1.5,"clippedFrac":0.1,"penalty":0}',
      '{"kind":"train","step":11,"loss":3.4,"lr":0.002,"gradNorm":2,"clipped":true,"charsPerSec":12000,"elapsed":1.5}',
      '{"kind":"train","step":12,"loss":null,"lr":"fast","elapsed":2}',
      "not json",
      '["an array"]',
      '{"no":"step"}',
      '{"kind":"something-new","step":13}',
      '{"step":20,"valLoss":null,"trainLoss":3.1}',
      '{"step":30,"trainLo',
    ].join("\n");
    const log = parseMetrics(text);
    expect(log.evals).toEqual([
      { step: 10, trainLoss: 3.5, valLoss: 3.6, lr: 0.002, gradNorm: 1.5, clippedFrac: 0.1 },
      { step: 20, trainLoss: 3.1 },
    ]);
    expect(log.steps).toEqual([
      { step: 11, time: 1.5, trainLoss: 3.4, lr: 0.002, gradNorm: 2, clippedFrac: 1, charsPerSec: 12000 },
      { step: 12, time: 2 },
    ]);
    expect(log.skipped).toBe(5);
    // an evaluation line without a time takes its step's per-step time
    const timed = parseMetrics('{"kind":"train","step":5,"loss":3,"elapsed":4.5}\n{"step":5,"valLoss":3.2}\n{"step":6,"valLoss":3.1}\n');
    expect(timed.evals.map((p) => p.time)).toEqual([4.5, undefined]);
    // clock times become seconds since the first, across appended parts
    const clocked = parseMetrics('{"kind":"train","step":1,"time":1700000000000}\n');
    parseMetrics('{"kind":"train","step":2,"time":1700000002500}\n', clocked);
    expect(clocked.steps.map((p) => p.time)).toEqual([0, 2.5]);
    expect(parseSamples('{"step":200,"text":"hello","temperature":0.8}\nbroken\n{"samples":["a","b"]}\n{"step":1}\n')).toEqual([
      { step: 200, text: "hello", extra: { temperature: 0.8 } },
      { step: null, text: "a\n\nb", extra: {} },
    ]);
  });

  it("sends what was appended, or everything again when the file was rewritten", () => {
    expect(diffText("", "a\nb\n")).toEqual({ reset: false, text: "a\nb\n" });
    expect(diffText("a\nb\n", "a\nb\nc\nd")).toEqual({ reset: false, text: "c\n" });
    expect(diffText("a\nb\nc\nd", "a\nb\nc\ndone\n")).toEqual({ reset: false, text: "done\n" });
    expect(diffText("a\nb\nc\n", "a\nx\n")).toEqual({ reset: true, text: "a\nx\n" });
    expect(diffText("a\n", "")).toEqual({ reset: true, text: "" });
  });
});
