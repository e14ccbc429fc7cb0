// Small DOM helpers shared by the pages.

type Child = Node | string | null | undefined | false;

/** document.createElement with attributes and children: el("p", { class: "x" }, "text", el("b", {}, "bold")). */
export function el(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

const NAMED: Record<string, string> = { "\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "␣", "\f": "\\f", "\v": "\\v", "\b": "\\b", "\0": "\\0" };

/** A character as a label, as `rnn predict` shows it (src/cli/show.ts): ␣ for a space, \n, \t, \u{…} for other invisibles. */
export function showChar(c: string): string {
  if (NAMED[c]) return NAMED[c];
  if (/^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u.test(c)) return `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}}`;
  if (/^\p{M}$/u.test(c)) return `◌${c}`;
  return c;
}

/** nats → "1.234 bits" */
export const fmtBits = (nats: number): string => `${(nats / Math.LN2).toFixed(3)} bits`;
