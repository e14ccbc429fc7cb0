// Shared by the library and web tests: a corpus with the bundled text's words, and Chromium for the browser tests.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** dir/corpus.txt: the first n characters of the bundled corpus (it has "Sofia", "speaks", the languages). */
export function corpusSlice(dir: string, n = 60_000): string {
  const file = path.join(dir, "corpus.txt");
  fs.writeFileSync(file, [...fs.readFileSync(path.join(ROOT, "data/longrange.txt"), "utf8")].slice(0, n).join(""));
  return file;
}

/** Debian's Chromium (apt-get install chromium; .ci/run installs it), or RNN_CHROMIUM. */
export const CHROMIUM = process.env.RNN_CHROMIUM || "/usr/bin/chromium";

/**
 * Chromium, headless, through playwright-core (which downloads no browser): run as root, so without the
 * sandbox; a fresh profile; none of its background traffic (updates, sync, field trials) — the tests' only
 * requests go to 127.0.0.1 and file://.
 */
export async function launchChromium(profileDir: string) {
  const { chromium } = await import("playwright-core");
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-domain-reliability",
      "--disable-client-side-phishing-detection", "--metrics-recording-only", "--disable-features=Translate,MediaRouter,OptimizationHints",
    ],
  });
}
