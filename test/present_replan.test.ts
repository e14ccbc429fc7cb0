// What the terminal says when an auto-sized run plans its horizon again (src/cli/present.ts): the first plan
// says what a plan does (the cosine bends to end at the new horizon); the later ones, every 10% of the time,
// say the window their speed was measured over and the new horizon, one short line each.
import { describe, expect, it } from "vitest";
import { humanPresenter } from "../src/cli/present.ts";
import { emaFor } from "../src/train/autosize.ts";

const said = (events: Parameters<ReturnType<typeof humanPresenter>>[0][]) => {
  let text = "";
  const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  const present = humanPresenter({ tty: false, out });
  for (const e of events) present(e);
  return text.replace(/\x1b\[[0-9;]*m/g, "").split("\n").filter(Boolean);
};

describe("the re-plan lines", () => {
  it("the first explains, the later ones name their window; the average's span where the rule chose one", () => {
    expect(said([
      { type: "replan", step: 265, elapsed: 108.3, since: 0, charsPerSec: 6116, planned: 9448, steps: 8543, ema: emaFor(8543, 0.15) },
      { type: "replan", step: 1168, elapsed: 468.0, since: 108.3, charsPerSec: 6276, planned: 8543, steps: 8786, ema: emaFor(8786, 0.15) },
      { type: "replan", step: 2155, elapsed: 827.8, since: 468.0, charsPerSec: 6859, planned: 8786, steps: 9523 },
    ])).toEqual([
      "  --time: 6.12k chars/s over the first 1m48s; horizon 9448 → 8543 steps (the learning rate's cosine bends to end there; weights averaged over ~1281)",
      "  --time: 6.28k chars/s from 1m48s to 7m48s; horizon 8543 → 8786 steps; weights averaged over ~1318",
      "  --time: 6.86k chars/s from 7m48s to 13m48s; horizon 8786 → 9523 steps",
    ]);
  });
});
