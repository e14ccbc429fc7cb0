// The SVG line-plot writer: tick choice, coordinate mapping, broken lines at missing points, escaping, and a
// well-formed document.
import { describe, expect, it } from "vitest";
import { linePlot, logTicks, niceTicks, tickLabel, xmlEscape } from "../src/plot/svg.ts";

/** Every tag closes in order (a tiny well-formedness check: no XML parser in the dependencies). */
function balanced(svg: string): boolean {
  const body = svg.replace(/<\?xml[^>]*\?>/, "");
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z]+)([^>]*?)(\/?)>/g)) {
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  return stack.length === 0 && !/<(?![a-zA-Z/?])/.test(body);
}

const polylines = (svg: string) => [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1].split(" ").map((p) => p.split(",").map(Number)));

describe("ticks", () => {
  it("niceTicks cover the range with 1, 2 or 5 × 10^k steps", () => {
    for (const [lo, hi] of [[0.3, 4.7], [0, 1000], [1.2345, 1.2346], [-3, 17], [2.05, 2.3], [1e-9, 3e-9]]) {
      const t = niceTicks(lo, hi, 5);
      expect(t[0]).toBeLessThanOrEqual(lo);
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(hi);
      expect(t.length).toBeGreaterThanOrEqual(3);
      expect(t.length).toBeLessThanOrEqual(12);
      const step = t[1] - t[0];
      const mant = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
      expect([1, 2, 5, 10].some((c) => Math.abs(mant - c) < 1e-6), `step ${step}`).toBe(true);
      for (let i = 1; i < t.length; i++) expect(t[i] - t[i - 1]).toBeCloseTo(step, 9);
    }
  });

  it("niceTicks of an empty range still give a usable axis", () => {
    const t = niceTicks(5, 5);
    expect(t[0]).toBeLessThan(5);
    expect(t[t.length - 1]).toBeGreaterThan(5);
  });

  it("logTicks are exact powers of ten covering the range", () => {
    const t = logTicks(3e-7, 0.5);
    expect(t[0]).toBeLessThanOrEqual(3e-7);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(0.5);
    for (const v of t) expect(String(v)).toMatch(/^1(e-?\d+|0*)$|^0\.0*1$/);
    expect(logTicks(1e-30, 1).length).toBeLessThanOrEqual(9);
  });

  it("tick labels are short", () => {
    expect(tickLabel(1e-6)).toBe("1e-6");
    expect(tickLabel(2.5e-7)).toBe("2.5e-7");
    expect(tickLabel(0.3)).toBe("0.3");
    expect(tickLabel(25000)).toBe("25k");
    expect(tickLabel(0)).toBe("0");
  });
});

describe("linePlot", () => {
  it("maps the data range onto the plot box (linear)", () => {
    const svg = linePlot([{ name: "a", points: [[0, 0], [10, 5], [20, 10]] }], { width: 500, height: 300 });
    const [pts] = polylines(svg);
    expect(pts).toHaveLength(3);
    // x grows left→right, y grows bottom→top, equal spacing for equal steps
    expect(pts[1][0] - pts[0][0]).toBeCloseTo(pts[2][0] - pts[1][0], 1);
    expect(pts[0][1]).toBeGreaterThan(pts[1][1]);
    expect(pts[1][1] - pts[2][1]).toBeCloseTo(pts[0][1] - pts[1][1], 1);
    for (const [x, y] of pts) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(500);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(300);
    }
    expect(balanced(svg)).toBe(true);
  });

  it("a log y axis makes an exponential a straight line", () => {
    const points = Array.from({ length: 30 }, (_, k): [number, number] => [k, 0.3 * Math.pow(0.5, k)]);
    const svg = linePlot([{ name: "decay", points }], { logY: true });
    const [pts] = polylines(svg);
    const dy = pts[1][1] - pts[0][1];
    expect(dy).toBeGreaterThan(0);
    for (let i = 1; i < pts.length; i++) expect(pts[i][1] - pts[i - 1][1]).toBeCloseTo(dy, 1);
    expect(svg).toMatch(/>1e-\d+</); // power-of-ten tick labels
  });

  it("breaks the line at non-finite points and at y ≤ 0 on a log axis", () => {
    const svg = linePlot([{ name: "s", points: [[0, 1], [1, 2], [2, NaN], [3, 3], [4, 4], [5, Infinity], [6, 5]] }]);
    expect(polylines(svg).map((p) => p.length)).toEqual([2, 2]); // [6,5] alone is a dot, not a line
    const log = linePlot([{ name: "s", points: [[0, 1], [1, 0.1], [2, 0], [3, 0.01], [4, 0.001]] }], { logY: true });
    expect(polylines(log).map((p) => p.length)).toEqual([2, 2]);
  });

  it("has a legend entry per series, escapes text, draws dashed series dashed", () => {
    const svg = linePlot(
      [
        { name: "train <a&b>", points: [[0, 1], [1, 2]] },
        { name: "val", points: [[0, 2], [1, 3]], dashed: true },
      ],
      { title: `"loss" & more`, xLabel: "step", yLabel: "nats" },
    );
    expect(svg).toContain("train &lt;a&amp;b&gt;");
    expect(svg).toContain("&quot;loss&quot; &amp; more");
    expect(svg).not.toContain("<a&b>");
    expect((svg.match(/<g class="legend">[\s\S]*?<\/g>/)![0].match(/<text /g) ?? []).length).toBe(2);
    expect((svg.match(/<polyline [^>]*stroke-dasharray/g) ?? []).length).toBe(1);
    expect(balanced(svg)).toBe(true);
    expect(svg.startsWith("<?xml")).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
  });

  it("draws axes and a note when there is no data", () => {
    const svg = linePlot([{ name: "train", points: [] }], { logY: true });
    expect(svg).toContain("no data yet");
    expect(polylines(svg)).toHaveLength(0);
    expect(balanced(svg)).toBe(true);
    expect(xmlEscape(`<&>"`)).toBe("&lt;&amp;&gt;&quot;");
  });

  it("a right-hand axis in its own unit (nats → bits) and ringed marks listed in the legend; without them, nothing changes", () => {
    const series = [{ name: "val", points: [[0, 2.8], [10, 1.4], [20, 1.5]] as [number, number][] }];
    const plain = linePlot(series, { yLabel: "nats" });
    const svg = linePlot(series, { yLabel: "nats", y2: { label: "bits per character", scale: 1 / Math.LN2 }, marks: [{ x: 10, y: 1.4, label: "best <here>" }] });
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain("bits per character");
    expect(svg).toContain("best &lt;here&gt;");
    // the right axis' ticks are bits: 1.4 nats = 2.02 bits … 2.8 nats = 4.04 bits; each sits at the height of its value in nats
    const ticks2 = [...svg.matchAll(/<g class="ticks2"[^]*?<\/g>/g)][0][0];
    const labels = [...ticks2.matchAll(/y="([\d.]+)"[^>]*>([^<]+)</g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(labels.length).toBeGreaterThanOrEqual(3);
    const yOfNats = (v: number) => { // from the left axis' own ticks
      const left = [...svg.matchAll(/<text x="64" y="([\d.]+)" text-anchor="end">([^<]+)</g)].map((m) => [Number(m[1]) - 4, Number(m[2])]);
      const [[y0, v0], [y1, v1]] = [left[0], left.at(-1)!];
      return y0 + ((v - v0) / (v1 - v0)) * (y1 - y0);
    };
    for (const [y, bits] of labels) expect(y - 4).toBeCloseTo(yOfNats(bits * Math.LN2), 0);
    // the ring sits on the marked point, which is on the line
    const ring = /<g class="marks">\n<circle cx="([\d.]+)" cy="([\d.]+)" r="7"/.exec(svg)!;
    expect(polylines(svg)[0]).toContainEqual([Number(ring[1]), Number(ring[2])]);
    expect(plain).not.toContain("marks");
    expect(plain).not.toContain("ticks2");
  });

  it("a mark outside the series' range widens the axes instead of falling off the plot", () => {
    const series = [{ name: "val", points: [[2, 1.55], [60, 1.47]] as [number, number][] }];
    const svg = linePlot(series, { width: 600, height: 400, marks: [{ x: 2.2, y: 1.874, label: "anchor" }] });
    const ring = /<g class="marks">\n<circle cx="([\d.]+)" cy="([\d.]+)" r="7"/.exec(svg)!;
    const [cx, cy] = [Number(ring[1]), Number(ring[2])];
    // inside the plot box (right of the left axis, below the title) and above the series' highest point
    const top = Math.min(...polylines(svg)[0].map((p) => p[1]));
    expect(cx).toBeGreaterThan(72);
    expect(cy).toBeGreaterThan(30);
    expect(cy).toBeLessThan(top); // higher loss, higher on the plot than the series' highest point
    const leftTicks = [...svg.matchAll(/<text x="64" y="[\d.]+" text-anchor="end">([^<]+)</g)].map((m) => Number(m[1]));
    expect(Math.max(...leftTicks)).toBeGreaterThanOrEqual(1.874);
  });
});
