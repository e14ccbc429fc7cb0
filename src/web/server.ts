// `rnn serve`: a read-only HTTP server for the runs under one directory (or the runs named), for the
// dashboard page and each run's playground.
//
//   GET /                              the dashboard (one page, its script inline)
//   GET /api/runs                      the runs: id, name, step, model, when last written
//   GET /api/runs/ID                   one run: its config, vocabulary size, step, files
//   GET /api/runs/ID/events            Server-Sent Events: metrics.jsonl and samples.jsonl as they grow
//   GET /api/runs/ID/files/NAME        one of the run's files (NAME from FILES below, nothing else)
//   GET /playground/ID[?checkpoint=best]   the playground page with the run's checkpoint in it (as rnn export --html)
//
// Reading only: GET and HEAD, nothing writes or deletes. No path is ever built from a request: a run ID is
// looked up among the runs found under the directory (a symbolic link that leads outside it is not a run), a
// file NAME must be one of FILES, and the file's real path must lie inside the run's real directory (a
// symbolic link in a run that points out is refused). Bound to loopback by default; while it is, requests
// must name a loopback host (a page elsewhere cannot reach it through DNS rebinding).
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { decodeCheckpoint } from "../lib/checkpoint-bytes.ts";
import { BEST, LATEST, METRICS, isRunFile } from "../run/dir.ts";
import { contentSecurityPolicy, pageHtml, playgroundHtml } from "./bundle.ts";
import { diffText } from "./runlog.ts";

/** The files of a run the server hands out. */
export const FILES = [LATEST, BEST, METRICS, "samples.jsonl", "loss.svg", "diagnose.svg"] as const;
const TYPES: Record<string, string> = {
  ".safetensors": "application/octet-stream", ".jsonl": "application/x-ndjson; charset=utf-8", ".svg": "image/svg+xml",
};
const SCAN_DEPTH = 4;
const POLL_MS = 600;

export interface ServeOptions {
  /** the directory whose runs are served */
  dir: string;
  /** only these run directories (default: every run under dir) */
  runs?: string[];
  host: string;
  /** 0 = any free port */
  port: number;
}

export interface Served {
  /** the run's id: its path under the served directory, "/"-separated */
  id: string;
  /** its real absolute path */
  real: string;
}

export interface RunningServer {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** Is `host` a loopback address or name (127.0.0.0/8, ::1, localhost)? */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
const isRunDir = (d: string) => {
  try {
    return fs.readdirSync(d).some(isRunFile);
  } catch {
    return false;
  }
};

/** The runs to serve: the ones named, or every run directory under `dir` whose real path stays inside it. */
export function findRuns(dir: string, named?: string[]): Served[] {
  const root = fs.realpathSync(dir);
  const out: Served[] = [];
  const idOf = (real: string) => (inside(root, real) && real !== root ? path.relative(root, real).split(path.sep).join("/") : path.basename(real));
  if (named?.length) {
    for (const n of named) {
      const real = fs.realpathSync(n);
      let id = idOf(real);
      for (let i = 2; out.some((r) => r.id === id); i++) id = `${idOf(real)}-${i}`;
      out.push({ id, real });
    }
    return out;
  }
  const walk = (d: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith(".") || e.name === "node_modules") continue;
      let real: string;
      try {
        real = fs.realpathSync(path.join(d, e.name));
        if (!fs.statSync(real).isDirectory()) continue;
      } catch {
        continue;
      }
      if (!inside(root, real) || real === root) continue; // a link that leads out of the served directory
      if (isRunDir(real)) {
        if (!out.some((r) => r.real === real)) out.push({ id: path.relative(root, path.join(d, e.name)).split(path.sep).join("/"), real });
      } else if (depth > 1) walk(path.join(d, e.name), depth - 1);
    }
  };
  if (isRunDir(root)) out.push({ id: path.basename(root), real: root });
  else walk(root, SCAN_DEPTH);
  return out;
}

/** The real path of a run's file NAME, or null: not one of FILES, absent, or leading outside the run. */
export function runFile(run: Served, name: string): string | null {
  if (!(FILES as readonly string[]).includes(name)) return null;
  try {
    const real = fs.realpathSync(path.join(run.real, name));
    return inside(run.real, real) && fs.statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}

/** A checkpoint's metadata without its tensors (the header only): for listings. */
function checkpointHeader(file: string): { config?: Record<string, unknown>; vocabSize?: number; step?: number; bestValLoss?: number | null } {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    if (n < 2 || n > 10_000_000) return {};
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, 8);
    const meta = JSON.parse(buf.toString("utf8")).__metadata__ ?? {};
    const config = JSON.parse(meta.config ?? "null") ?? undefined;
    const vocab = JSON.parse(meta.vocab ?? "null");
    const bv = meta.best_val_loss;
    return { config, vocabSize: Array.isArray(vocab) ? vocab.length : undefined, step: Number(meta.step ?? NaN), bestValLoss: bv === undefined || bv === "null" ? null : Number(bv) };
  } catch {
    return {};
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function summary(run: Served) {
  const files = FILES.flatMap((name) => {
    const f = runFile(run, name);
    if (!f) return [];
    const st = fs.statSync(f);
    return [{ name, bytes: st.size, mtime: st.mtimeMs }];
  });
  const latest = runFile(run, LATEST);
  return { id: run.id, name: path.basename(run.real), updated: Math.max(0, ...files.map((f) => f.mtime)), files, ...(latest ? checkpointHeader(latest) : {}) };
}

export function startServer(opts: ServeOptions): Promise<RunningServer> {
  const root = fs.realpathSync(opts.dir);
  const named = opts.runs?.length ? findRuns(root, opts.runs) : null;
  const runs = () => named ?? findRuns(root);
  const loopback = isLoopback(opts.host);

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", `rnn serve: ${(e as Error).message}\n`);
      else res.destroy();
    });
  });

  function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) {
    res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", ...extra });
    res.end(res.req.method === "HEAD" ? undefined : body);
  }
  const json = (res: http.ServerResponse, v: unknown) => send(res, 200, "application/json; charset=utf-8", JSON.stringify(v));
  const notFound = (res: http.ServerResponse, what = "no such page") => send(res, 404, "text/plain; charset=utf-8", `${what}\n`);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain; charset=utf-8", "rnn serve only reads: GET and HEAD\n", { Allow: "GET, HEAD" });
    if (loopback && !isLoopback((req.headers.host ?? "").replace(/:\d+$/, ""))) return send(res, 421, "text/plain; charset=utf-8", "wrong host\n");
    const raw = (req.url ?? "/").split("?")[0];
    const query = new URLSearchParams((req.url ?? "").split("?")[1] ?? "");
    // segments split before decoding: an encoded "/" or ".." is part of a name, looked up, never a path
    let parts: string[];
    try {
      parts = raw.split("/").slice(1).map(decodeURIComponent);
    } catch {
      return notFound(res);
    }
    if (raw === "/") {
      return send(res, 200, "text/html; charset=utf-8", await pageHtml({ title: `rnn — ${path.basename(root)}`, entry: "dashboard", connect: "self" }), { "Content-Security-Policy": contentSecurityPolicy("self") });
    }
    if (parts[0] === "api" && parts[1] === "runs") {
      if (parts.length === 2) return json(res, { dir: root, runs: runs().map(summary) });
      const run = runs().find((r) => r.id === parts[2]);
      if (!run) return notFound(res, "no such run");
      if (parts.length === 3) return json(res, summary(run));
      if (parts.length === 4 && parts[3] === "events") return events(req, res, run);
      if (parts.length === 5 && parts[3] === "files") {
        const f = runFile(run, parts[4]);
        if (!f) return notFound(res, "no such file in this run");
        return send(res, 200, TYPES[path.extname(f)] ?? "application/octet-stream", await fs.promises.readFile(f),
          path.extname(f) === ".svg" ? { "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'" } : {});
      }
      return notFound(res);
    }
    if (parts[0] === "playground" && parts.length === 2) {
      const run = runs().find((r) => r.id === parts[1]);
      if (!run) return notFound(res, "no such run");
      const name = query.get("checkpoint") === "best" ? BEST : LATEST;
      const f = runFile(run, name);
      if (!f) return notFound(res, `this run has no ${name} yet`);
      const bytes = await fs.promises.readFile(f);
      try {
        decodeCheckpoint(bytes, `${run.id}/${name}`);
      } catch (e) {
        return send(res, 409, "text/plain; charset=utf-8", `${(e as Error).message}\n`);
      }
      return send(res, 200, "text/html; charset=utf-8", await playgroundHtml(bytes, run.id + (name === BEST ? " (best)" : "")), { "Content-Security-Policy": contentSecurityPolicy("none") });
    }
    return notFound(res);
  }

  /** metrics.jsonl and samples.jsonl as events: everything at first, then what was appended (or all again). */
  function events(req: http.IncomingMessage, res: http.ServerResponse, run: Served) {
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", Connection: "keep-alive", "X-Content-Type-Options": "nosniff" });
    if (req.method === "HEAD") return void res.end();
    const seen = new Map<string, { text: string; stamp: string }>([[METRICS, { text: "", stamp: "" }], ["samples.jsonl", { text: "", stamp: "" }]]);
    let beats = 0;
    const tick = () => {
      for (const [name, s] of seen) {
        const f = runFile(run, name);
        let stamp = "none", text = "";
        if (f) {
          try {
            const st = fs.statSync(f);
            stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
            if (stamp !== s.stamp) text = fs.readFileSync(f, "utf8");
          } catch {
            stamp = "none";
          }
        }
        if (stamp === s.stamp) continue;
        const d = diffText(s.text, text);
        s.stamp = stamp;
        s.text = text;
        if (d.reset || d.text) res.write(`event: ${name === METRICS ? "metrics" : "samples"}\ndata: ${JSON.stringify(d)}\n\n`);
      }
      if (++beats % 25 === 0) res.write(": still here\n\n");
    };
    tick();
    const timer = setInterval(tick, POLL_MS);
    req.on("close", () => clearInterval(timer));
  }

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      const a = server.address() as AddressInfo;
      const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${host}:${a.port}/`,
        server,
        close: () => new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      });
    });
  });
}
