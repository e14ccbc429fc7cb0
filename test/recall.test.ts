// The recall corpus of docs/remedies.md's --ortho-opt cayley experiment (experiments/longrange/recall.ts):
// deterministic by seed, every line a key, gap blanks, the marker and the same key, and recallPositions finds
// every recall character with its distance to the key.
import { describe, expect, it } from "vitest";
import { generateRecall, KEYS, recallPositions } from "../experiments/longrange/recall.ts";

describe("recall corpus", () => {
  it("is deterministic, about the size asked for, and depends on the seed", () => {
    const a = generateRecall({ chars: 5000 });
    expect(generateRecall({ chars: 5000 })).toBe(a);
    expect(a.length).toBeGreaterThanOrEqual(5000);
    expect(a.length).toBeLessThan(5000 + 80);
    expect(generateRecall({ chars: 5000, seed: 8 })).not.toBe(a);
  });

  it("every line is key, minGap–maxGap dots, '=', the key; recallPositions gives each recall and its distance", () => {
    const text = generateRecall({ chars: 20_000, minGap: 4, maxGap: 9 });
    const lines = text.split("\n").slice(0, -1);
    const gaps = new Set<number>(), keys = new Set<string>();
    for (const l of lines) {
      const m = /^([A-Z])(\.+)=([A-Z])$/.exec(l)!;
      expect(m, l).not.toBeNull();
      expect(m[3]).toBe(m[1]);
      gaps.add(m[2].length);
      keys.add(m[1]);
    }
    expect([...gaps].sort((x, y) => x - y)).toEqual([4, 5, 6, 7, 8, 9]);
    expect([...keys].sort().join("")).toBe(KEYS);
    const r = recallPositions(text);
    expect(r).toHaveLength(lines.length);
    for (const { at, distance } of r) {
      expect(text[at]).toBe(text[at - distance]); // the key, distance characters back
      expect(text[at - 1]).toBe("=");
      expect(distance).toBeGreaterThanOrEqual(6);
      expect(distance).toBeLessThanOrEqual(11);
    }
  });
});
