// What a cell is to the rest of rnn: one entry of the table in index.ts. Everything cell-specific — gates,
// carried state, buffers, layer forward/backward, bias, label, what diagnose inspects — is declared here
// and written in the cell's own file (rnn.ts, lstm.ts, gru.ts); model, init, diagnose, checkpoints and
// metrics look the cell up instead of branching on its name.
import type { ModelConfig } from "../../config.ts";
import type { Arr, Kernels } from "../../kernels/types.ts";
import type { LayerBuffers, LayerWeights } from "../layer.ts";
import type { Normalisation } from "../norm.ts";
import type { LayerViews } from "../params.ts";

/** A state carried from step to step and from chunk to chunk, [B × H] per layer: h, and c for the LSTM. */
export type StateName = "h" | "c";

export type Nonlinearity = "sigmoid" | "tanh" | "relu";

/** diagnose: one activation whose saturation is counted, unit j of row n (of N = T·B) after a forward pass */
export interface Watched {
  name: string;
  fn: Nonlinearity;
  at: (n: number, j: number) => number;
}

/** probe (diagnostics only; absent in training): called with t = T…1 and the total ∂L/∂h_t [B × H] of each
 *  step, then with t = 0 and ∂L/∂h_0, the gradient into the carried-in state (otherwise not computed). */
export type Probe = (t: number, dh: Arr) => void;

export interface Cell {
  /** gate names in PyTorch's row order of weight_ih / weight_hh / the biases (and the columns of the gates
   *  buffer): G = gates.length; the gate "f", where there is one, is the forget gate (--forget-bias) */
  gates: readonly string[];
  /** the states it carries, h first */
  state: readonly StateName[];
  /**
   * Where the hidden projection h_{t−1}·W_hhᵀ goes:
   *  "summed": into the hot [B × G·H] scratch hhStep, which the cell kernel adds to the step's gates. Both
   *    biases are then folded into the input projection (b_ih + b_hh, pack()'s bsum), and ∂L/∂gates is also
   *    the gradient of the hidden projection.
   *  "kept": with b_hh into the buffer hh, one block per step, which the backward pass needs and where it
   *    leaves the hidden projection's gradient. The input projection carries b_ih alone.
   */
  hidden: "summed" | "kept";
  /**
   * --norm: the normalisation of its projections (and of c_t, for a cell that carries c), cells/*-norm.ts.
   * Such a cell adds the biases itself, after normalising: the input projection model.forward leaves in
   * L.gates has none. Its backward makes the gradients of its gains and biases itself (into dW), leaves in
   * L.gates ∂L/∂(x·W_ihᵀ) and in L.norm.xhatH ∂L/∂(h·W_hhᵀ), both before normalisation (hiddenGrad).
   */
  norm?: Normalisation;
  /** --activation (tanh | relu) chooses its nonlinearity */
  takesActivation: boolean;
  /** the name shown in describeModel, plot titles and diagnose: "lstm", "rnn-tanh" */
  label(m: ModelConfig): string;
  /** Runs T steps. In: the input projection of every step in L.gates, the carried-in states in block 0 of
   *  their histories (L.hAt, L.cAt). Out: the states of steps 1..T in the histories. */
  forward(ops: Kernels, L: LayerBuffers, W: LayerWeights, B: number, T: number, H: number, m: ModelConfig): void;
  /** dOut[N × H] = ∂L/∂h_t for t = 1..T from above. Leaves ∂L/∂(gate pre-activations) in L.gates, and the
   *  hidden projection's gradient in L.hh ("kept"), for the weight-gradient GEMMs. The gradient into the
   *  carried-in state is dropped (truncated BPTT) unless probed. dW: the layer's gradient views, into which a
   *  cell that makes parameter gradients itself (a normalised one: its gains and biases) adds them; null when
   *  none are wanted (diagnose). */
  backward(ops: Kernels, L: LayerBuffers, W: LayerWeights, dW: LayerViews | null, dOut: Arr, B: number, T: number, H: number, m: ModelConfig, probe?: Probe): void;
  /** diagnose: the activations of a forward pass whose saturation is counted, in the order shown */
  watched(L: LayerBuffers, B: number, H: number, m: ModelConfig): Watched[];
}

/** The bias folded into the input projection: b_ih + b_hh ("summed"), or b_ih alone ("kept"); none for a
 *  normalised cell, which adds it after normalising. */
export function inputBias(cell: Cell, W: LayerWeights): Arr | null {
  if (cell.norm) return null;
  return cell.hidden === "summed" ? W.bsum : W.bih;
}

/** After backward: ∂L/∂(hidden projection) [N × G·H] — the gates' gradient itself ("summed"), or hh ("kept");
 *  a normalised cell's, before normalisation, in L.norm.xhatH. */
export function hiddenGrad(cell: Cell, L: LayerBuffers): Arr {
  if (L.norm) return L.norm.xhatH;
  return cell.hidden === "summed" ? L.gates : L.hh;
}

/** diagnose: the gates' activations after a forward pass (in L.gates [N × G·H]), gate g through fns[g]. */
export function watchGates(cell: Cell, L: LayerBuffers, H: number, fns: readonly Nonlinearity[]): Watched[] {
  const G = cell.gates.length;
  return cell.gates.map((name, g) => ({ name, fn: fns[g], at: (n: number, j: number) => L.gates[n * G * H + g * H + j] }));
}
