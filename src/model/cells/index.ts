// The cells rnn knows: one entry each. Adding a cell is a file beside these (see cell.ts for what it
// declares), its kernels, and one line here (docs/architecture.md, "How to add a cell").
//
// A model's cell is looked up from its config, not from --cell alone: `--cell lstm --no-forget-gate` is the
// entry NO_FORGET_GATE.lstm (lstm-nofg.ts, gates i g o), stored as cell "lstm" with forgetGate false, so
// that every checkpoint says what it is and every older one (no forgetGate: true) loads as it always did.
// Likewise `--norm layer` (or batch) makes each of those cells the entry NORMED.layer.get(cell) (*-norm.ts),
// stored as the cell plus norm "layer"; a config without norm has none.
import type { ModelConfig } from "../../config.ts";
import { RnnError } from "../../errors.ts";
import { type Normalisation, type NormKind, NORMS } from "../norm.ts";
import type { Cell } from "./cell.ts";
import { gru } from "./gru.ts";
import { normedGru } from "./gru-norm.ts";
import { lstm } from "./lstm.ts";
import { lstmNoForget } from "./lstm-nofg.ts";
import { normedLstm } from "./lstm-norm.ts";
import { rnn } from "./rnn.ts";
import { normedRnn } from "./rnn-norm.ts";

export const CELL_TABLE = { rnn, lstm, gru } satisfies Record<string, Cell>;

/** --cell: a key of the table ("rnn" | "lstm" | "gru") */
export type CellKind = keyof typeof CELL_TABLE;

/** --no-forget-gate: the cell a --cell becomes without its forget gate (only cells that have one). */
export const NO_FORGET_GATE: Partial<Record<CellKind, Cell>> = { lstm: lstmNoForget };

/** --norm: the cell each cell above becomes with its projections (and c_t) normalised, per normalisation. */
export const NORMED: Record<NormKind, ReadonlyMap<Cell, Cell>> = mapNorms((norm) => new Map<Cell, Cell>([
  [rnn, normedRnn(norm)], [lstm, normedLstm(norm, true)], [lstmNoForget, normedLstm(norm, false)], [gru, normedGru(norm)],
]));

function mapNorms<T>(f: (norm: Normalisation) => T): Record<NormKind, T> {
  return Object.fromEntries(Object.entries(NORMS).map(([k, n]) => [k, f(n)])) as Record<NormKind, T>;
}

/** What selects a model's cell: --cell, --no-forget-gate (forgetGate false; absent = true) and --norm (absent = none). */
export type CellChoice = Pick<ModelConfig, "cell" | "forgetGate" | "norm">;

/** The table entry of a model's cell (a config read from a file may name one this rnn does not know). */
export function cellOf(m: CellChoice): Cell {
  const cell: Cell | undefined = m.forgetGate === false ? NO_FORGET_GATE[m.cell] : CELL_TABLE[m.cell];
  if (!cell) {
    if (m.forgetGate === false && CELL_TABLE[m.cell]) throw new RnnError(`the ${m.cell} cell has no forget gate to leave out (forgetGate false)`);
    throw new RnnError(`unknown cell '${m.cell}': this rnn knows ${Object.keys(CELL_TABLE).join(", ")}`);
  }
  if (m.norm === undefined) return cell;
  const normed = Object.hasOwn(NORMED, m.norm) ? NORMED[m.norm].get(cell) : undefined;
  if (!normed) throw new RnnError(`unknown normalisation '${m.norm}': this rnn knows ${Object.keys(NORMED).join(", ")}`);
  return normed;
}

/** Gate count G: the weight_ih / weight_hh matrices are [G·H × In] and [G·H × H]. */
export function gateCount(m: CellChoice): number {
  return cellOf(m).gates.length;
}

/** Row block of the forget gate in the gate layout (--forget-bias), or −1 for a cell without one. */
export function forgetGate(m: CellChoice): number {
  return cellOf(m).gates.indexOf("f");
}

/** The cell's name as shown to people: "lstm", "rnn-tanh", "lstm-nofg", "ln-lstm". */
export function cellLabel(m: ModelConfig): string {
  return cellOf(m).label(m);
}
