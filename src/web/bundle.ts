// The pages' script, bundled at run time with esbuild (a dependency; ~0.3 s, once per process): the page
// code in src/web/page/ with everything it imports — the library's browser entry, the model code, the same
// sampling code and the kernel builds (embedded as bytes) — into one script, and the HTML around it. Bundling
// for the browser makes esbuild apply package.json's "browser" map, which swaps the three Node-bound kernel
// files for src/web/kernels/. Nothing in the result loads anything from elsewhere: the page's
// Content-Security-Policy forbids it (test/web.test.ts checks the export has no URL at all).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions } from "esbuild";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export type PageEntry = "playground" | "dashboard";

const cache = new Map<PageEntry, Promise<{ js: string; css: string }>>();

/** The bundled script and stylesheet of a page (memoised). */
export function pageAssets(entry: PageEntry): Promise<{ js: string; css: string }> {
  let p = cache.get(entry);
  if (!p) {
    p = bundle(entry);
    p.catch(() => cache.delete(entry));
    cache.set(entry, p);
  }
  return p;
}

/** esbuild's options for a browser bundle of `entry` (a path under the repository): the pages', and the tests'. */
export function browserBuild(entry: string): BuildOptions & { write: false } {
  return {
    absWorkingDir: ROOT,
    entryPoints: [path.join(ROOT, entry)],
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "es2022",
    minify: true,
    legalComments: "none",
    charset: "utf8",
    loader: { ".wasm": "binary" },
    write: false,
    logLevel: "silent",
  };
}

async function bundle(entry: PageEntry): Promise<{ js: string; css: string }> {
  const r = await build(browserBuild(`src/web/page/${entry}-main.ts`));
  return { js: r.outputFiles![0].text, css: await styleSheet(entry) };
}

/** src/web/page/style.css, after uPlot's own stylesheet on the dashboard. */
async function styleSheet(entry: PageEntry): Promise<string> {
  const own = await readFile(path.join(ROOT, "src/web/page/style.css"), "utf8");
  if (entry !== "dashboard") return own;
  return `${await readFile(createRequire(import.meta.url).resolve("uplot/dist/uPlot.min.css"), "utf8")}\n${own}`;
}

/** What a page's Content-Security-Policy allows: its own inline script and style, WebAssembly, and `connect`. */
export function contentSecurityPolicy(connect: "none" | "self"): string {
  return [
    "default-src 'none'", "script-src 'unsafe-inline' 'wasm-unsafe-eval'", "style-src 'unsafe-inline'",
    `img-src ${connect === "self" ? "'self' " : ""}data:`, `connect-src ${connect === "none" ? "'none'" : "'self'"}`,
    "base-uri 'none'", "form-action 'none'",
  ].join("; ");
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface PageOptions {
  title: string;
  entry: PageEntry;
  /** extra elements before the script (the embedded model) */
  body?: string;
  /** may the page fetch from where it came from (the dashboard) or from nowhere (the export) */
  connect: "none" | "self";
}

/** One self-contained HTML page: the stylesheet and the bundled script inline. */
export async function pageHtml(o: PageOptions): Promise<string> {
  const { js, css } = await pageAssets(o.entry);
  // "</script" cannot end the inline script early: esbuild escapes it in strings; this covers the rest
  const script = js.replace(/<\/(script)/gi, "<\\/$1");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(o.connect)}">
<title>${escapeHtml(o.title)}</title>
<link rel="icon" href="data:,">
<style>${css}</style>
</head>
<body>
<main id="app"></main>
${o.body ?? ""}
<script>${script}</script>
</body>
</html>
`;
}

/** The playground page with a checkpoint in it (`rnn export --html`, and a run's playground in `rnn serve`). */
export function playgroundHtml(checkpoint: Uint8Array, name: string): Promise<string> {
  const b64 = Buffer.from(checkpoint.buffer, checkpoint.byteOffset, checkpoint.length).toString("base64");
  return pageHtml({
    title: `rnn playground — ${name}`,
    entry: "playground",
    connect: "none",
    body: `<script type="application/octet-stream" id="rnn-model" data-name="${escapeHtml(name)}">${b64}</script>`,
  });
}
