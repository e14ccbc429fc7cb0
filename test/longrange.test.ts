import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readCorpus } from "../src/corpus/corpus.ts";
import { DEFAULT_BYTES, FILLER_MAX, FILLER_MIN, cpLength, dependentOffsets, generateLongRange, markLongRange, spanDistances, type DependentSpan } from "../experiments/longrange/corpus.ts";

const committed = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "data", "longrange.txt");
const small = generateLongRange({ bytes: 40_000 });
const chars = [...small.text]; // code points: the corpus's tokens
const at = (s: DependentSpan) => chars.slice(s.start, s.end).join("");

describe("long-range corpus generator", () => {
  it("is deterministic, has about the requested size, and depends on the seed", () => {
    const again = generateLongRange({ bytes: 40_000 });
    expect(again.text).toBe(small.text);
    expect(again.spans).toEqual(small.spans);
    const n = Buffer.byteLength(small.text, "utf8");
    expect(n).toBeGreaterThanOrEqual(40_000);
    expect(n).toBeLessThan(42_000); // stops after the paragraph that reaches the size
    expect(generateLongRange({ bytes: 40_000, seed: 2 }).text).not.toBe(small.text);
  });

  it("the committed data/longrange.txt is exactly a fresh generation at the default size", () => {
    const fresh = generateLongRange();
    const onDisk = fs.readFileSync(committed);
    expect(onDisk.length).toBe(Buffer.byteLength(fresh.text, "utf8"));
    expect(onDisk.equals(Buffer.from(fresh.text, "utf8"))).toBe(true);
    expect(Math.abs(onDisk.length - DEFAULT_BYTES)).toBeLessThan(5000);
  });

  it("contains non-ASCII letters and reads as a corpus whose token positions are the span offsets", () => {
    expect(small.text).toMatch(/[éëöüøåłńçí]/);
    const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rnn-lr-")), "lr.txt");
    fs.writeFileSync(p, small.text);
    const c = readCorpus([p]);
    expect(c.ids.length).toBe(chars.length);
    for (const s of small.spans.slice(0, 50)) {
      let w = "";
      for (let i = s.start; i < s.end; i++) w += c.vocab[c.ids[i]];
      expect(w).toBe(at(s));
    }
    fs.rmSync(path.dirname(p), { recursive: true });
  });

  it("every paragraph is opener, filler of FILLER_MIN–FILLER_MAX+ characters, closer with a dependent language word", () => {
    const pars = small.text.trimEnd().split("\n\n");
    expect(pars.length).toBeGreaterThan(50);
    for (const par of pars) {
      expect(par).not.toContain("\n");
      const sentences = par.match(/[^.?!]+[.?!][)\]»]?/g)!;
      const filler = sentences.slice(1, -1).join("");
      expect(filler.length).toBeGreaterThanOrEqual(FILLER_MIN);
      expect(filler.length).toBeLessThanOrEqual(FILLER_MAX);
    }
    expect(small.spans.filter((s) => s.kind === "language").length).toBe(pars.length);
  });
});

describe("markLongRange", () => {
  it("finds exactly the spans the generator recorded (small text and the committed corpus)", () => {
    expect(markLongRange(small.text)).toEqual(small.spans);
    const big = generateLongRange();
    expect(markLongRange(big.text)).toEqual(big.spans);
  });

  it("marks the right words: language from the place, pronoun from the name, the name, matching brackets", () => {
    const kinds = new Set(small.spans.map((s) => s.kind));
    expect(kinds).toEqual(new Set(["language", "pronoun", "name", "bracket"]));
    const pars = small.text.split("\n\n");
    let base = 0;
    const female = new Set(["she", "her"]), male = new Set(["he", "his", "him"]);
    const LANG: Record<string, string> = { France: "French", "Québec": "French", Germany: "German", Austria: "German", Spain: "Spanish", Mexico: "Spanish" };
    let checkedLang = 0;
    for (const par of pars) {
      const end = base + cpLength(par);
      const mine = small.spans.filter((s) => s.start >= base && s.end <= end);
      const opener = par.slice(0, par.indexOf(".") + 1);
      const name = mine.find((s) => s.kind === "name");
      if (name) expect(opener).toContain(at(name)); // the repeated name is the one the opener introduced
      const pro = mine.filter((s) => s.kind === "pronoun").map((s) => at(s).toLowerCase());
      if (pro.length) expect(pro.every((p) => female.has(p)) || pro.every((p) => male.has(p))).toBe(true);
      for (const [place, lang] of Object.entries(LANG)) {
        if (new RegExp(`${place}\\.`).test(opener)) {
          expect(at(mine.find((s) => s.kind === "language")!)).toBe(lang);
          checkedLang++;
        }
      }
      for (const s of mine.filter((x) => x.kind === "bracket")) {
        const open = { ")": "(", "]": "[", "»": "«" }[at(s)];
        expect(open).toBeDefined();
        expect([...par].indexOf(open!)).toBeLessThan(s.start - base);
      }
      // a dependent span never lies in the opener, which introduces the facts
      for (const s of mine) expect(s.start - base).toBeGreaterThanOrEqual(cpLength(opener));
      base = end + 2;
    }
    expect(checkedLang).toBeGreaterThan(5);
  });

  it("nothing outside the spans gives the facts away: every pronoun, language or bracket closer is marked", () => {
    const offsets = new Set(dependentOffsets(small.spans));
    const re = /(?<!\p{L})(he|she|his|her|him|He|She|His|Her|French|German|Spanish|Italian|Dutch|Greek)(?!\p{L})|[)\]»]/gu;
    let n = 0;
    for (const m of small.text.matchAll(re)) {
      const cp = cpLength(small.text.slice(0, m.index));
      expect(offsets.has(cp)).toBe(true);
      n++;
    }
    expect(n).toBeGreaterThan(50);
  });

  it("dependentOffsets lists every covered position once, ascending", () => {
    const off = dependentOffsets(small.spans);
    const total = small.spans.reduce((a, s) => a + s.end - s.start, 0);
    expect(off.length).toBe(total);
    for (let i = 1; i < off.length; i++) expect(off[i]).toBeGreaterThan(off[i - 1]);
  });

  it("spanDistances: one distance per span, measured from the word or bracket that fixes it", () => {
    const d = spanDistances(small.text);
    expect(d.map((e) => e.kind)).toEqual(small.spans.map((s) => s.kind));
    const chars = [...small.text];
    small.spans.forEach((s, i) => {
      const from = s.start - d[i].distance;
      const cause = chars.slice(from, from + 12).join("");
      if (s.kind === "bracket") expect({ "(": ")", "[": "]", "«": "»" }[cause[0]]).toBe(chars[s.start]);
      else if (s.kind === "name") expect(cause.startsWith(chars.slice(s.start, s.end).join(""))).toBe(true);
      else expect(cause).toMatch(/^(\p{Lu}|the Neth)/u); // a place ("the Netherlands") or a name
    });
    // the facts sit a few dozen to a couple of hundred characters back; a share of them inside T = 100
    const lang = d.filter((e) => e.kind === "language").map((e) => e.distance);
    expect(Math.min(...lang)).toBeLessThan(40);
    expect(Math.max(...lang)).toBeLessThan(FILLER_MAX + 100);
    expect(lang.filter((x) => x < 100).length).toBeGreaterThan(lang.length * 0.2);
    expect(Math.max(...d.filter((e) => e.kind === "bracket").map((e) => e.distance))).toBeLessThan(100);
  });
});
