// Numbers and durations as people read them: shared by the terminal output (src/cli/) and the explanations
// that pure code composes for it (src/train/autosize.ts). Pure: no I/O.

/** 12345 → "12.3k" */
export function human(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(2)}k`;
  return `${Math.round(n)}`;
}

/** seconds → "1h02m", "3m05s", "12s" */
export function duration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "–";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}
