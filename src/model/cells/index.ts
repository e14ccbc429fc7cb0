// The cells rnn knows: one entry each. Adding a cell is a file beside these (see cell.ts for what it
// declares), its kernels, and one line here (docs/architecture.md, "How to add a cell").
import type { ModelConfig } from "../../config.ts";
import { RnnError } from "../../errors.ts";
import type { Cell } from "./cell.ts";
import { gru } from "./gru.ts";
import { lstm } from "./lstm.ts";
import { rnn } from "./rnn.ts";

export const CELL_TABLE = { rnn, lstm, gru } satisfies Record<string, Cell>;

/** --cell: a key of the table ("rnn" | "lstm" | "gru") */
export type CellKind = keyof typeof CELL_TABLE;

/** The table entry of a cell (a config read from a file may name one this rnn does not know). */
export function cellOf(kind: CellKind): Cell {
  const cell: Cell | undefined = CELL_TABLE[kind];
  if (!cell) throw new RnnError(`unknown cell '${kind}': this rnn knows ${Object.keys(CELL_TABLE).join(", ")}`);
  return cell;
}

/** Gate count G: the weight_ih / weight_hh matrices are [G·H × In] and [G·H × H]. */
export function gateCount(kind: CellKind): number {
  return cellOf(kind).gates.length;
}

/** Row block of the forget gate in the gate layout (--forget-bias), or −1 for a cell without one. */
export function forgetGate(kind: CellKind): number {
  return cellOf(kind).gates.indexOf("f");
}

/** The cell's name as shown to people: "lstm", "rnn-tanh". */
export function cellLabel(m: ModelConfig): string {
  return cellOf(m.cell).label(m);
}
