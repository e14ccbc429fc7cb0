// Small DOM helpers shared by the pages.

type Child = Node | string | null | undefined | false;

/** document.createElement with attributes and children: el("p", { class: "x" }, "text", el("b", {}, "bold")). */
export function el(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** A character as a label: visible names for whitespace and control characters. */
export function showChar(c: string): string {
  if (c === " ") return "␠";
  if (c === "\n") return "↵";
  if (c === "\t") return "⇥";
  const cp = c.codePointAt(0) ?? 0;
  if (cp < 0x20 || cp === 0x7f) return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return c;
}

/** nats → "1.234 bits" */
export const fmtBits = (nats: number): string => `${(nats / Math.LN2).toFixed(3)} bits`;
