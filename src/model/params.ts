// One spec → one slab. Parameters, gradients and optimizer state each live in one flat array allocated by
// the kernel backend; every named tensor is a view into it at the offset the spec gives. Clipping, updates
// and saving are flat loops over the slab.
//
// Names and shapes are exactly those of this PyTorch module's state_dict (test/reference/char_rnn.py):
//   embedding = nn.Embedding(V, E)        # embedding.weight [V×E]            (only when E > 0)
//   rnn = nn.LSTM(E or V, H, L)           # rnn.weight_ih_l{k} [G·H×In], rnn.weight_hh_l{k} [G·H×H],
//                                         # rnn.bias_ih_l{k} [G·H], rnn.bias_hh_l{k} [G·H]
//   decoder = nn.Linear(H, V)             # decoder.weight [V×H], decoder.bias [V]
// With --norm, each layer k also has the gains of its normalisations (test/reference/char_rnn.py NormedRNN,
// python/rnn_torch.py): rnn.norm_ih_l{k}.weight [G·H] (γ_x), rnn.norm_hh_l{k}.weight [G·H] (γ_h), and for a cell
// that carries c, rnn.norm_c_l{k}.weight [H], rnn.norm_c_l{k}.bias [H] (γ_c, β_c): after layer k's four.
// Batch norm's running statistics are buffers, not parameters: a slab of their own (statsSpec), untouched by
// the optimizer, weight decay and clipping, with the buffer names of the same modules (rnn.norm_ih_l{k}.
// running_mean, .running_var, …), written after the parameters in every model checkpoint.
import type { ModelConfig } from "../config.ts";
import type { Arr } from "../kernels/types.ts";
import { cellOf } from "./cells/index.ts";

/** The tensors of one recurrent layer k, as nn.RNN / nn.LSTM / nn.GRU name them (rnn.weight_ih_l{k} …). */
export type LayerTensor = "wih" | "whh" | "bih" | "bhh";
/** --norm: layer k's gains γ_x, γ_h of its projections' normalisations, and γ_c, β_c of c_t's (rnn.norm_…_l{k}). */
export type NormTensor = "gih" | "ghh" | "gc" | "bc";
/** A layer's tensors in a slab: the four, and those of its normalisations where the model has them. */
export type LayerViews = Record<LayerTensor, Arr> & Partial<Record<NormTensor, Arr>>;
/** Every parameter tensor's name: a name outside this type (a typo) fails to compile. */
export type ParamName =
  | "embedding.weight" | "decoder.weight" | "decoder.bias" | `rnn.${"weight" | "bias"}_${"ih" | "hh"}_l${number}`
  | `rnn.norm_${"ih" | "hh" | "c"}_l${number}.${"weight" | "bias"}`;

/** Every running statistic's name (batch norm's buffers, statsSpec). */
export type StatName = `rnn.norm_${"ih" | "hh" | "c"}_l${number}.running_${"mean" | "var"}`;
/** The quantities a layer normalises: its input and hidden projections, and c_t (cells that carry c). */
export type NormQuantity = "ih" | "hh" | "c";

/** The one place the parameter names are spelled. */
export const tensorNames = {
  embedding: "embedding.weight",
  decoderWeight: "decoder.weight",
  decoderBias: "decoder.bias",
  /** layer k's tensors */
  layer: (k: number) => ({
    wih: `rnn.weight_ih_l${k}`,
    whh: `rnn.weight_hh_l${k}`,
    bih: `rnn.bias_ih_l${k}`,
    bhh: `rnn.bias_hh_l${k}`,
  }) as const satisfies Record<LayerTensor, ParamName>,
  /** layer k's normalisation tensors (--norm) */
  norm: (k: number) => ({
    gih: `rnn.norm_ih_l${k}.weight`,
    ghh: `rnn.norm_hh_l${k}.weight`,
    gc: `rnn.norm_c_l${k}.weight`,
    bc: `rnn.norm_c_l${k}.bias`,
  }) as const satisfies Record<NormTensor, ParamName>,
  /** the running mean and variance of layer k's normalisation of quantity q (batch norm) */
  stats: (k: number, q: NormQuantity) => ({ mean: `rnn.norm_${q}_l${k}.running_mean`, var: `rnn.norm_${q}_l${k}.running_var` }) as const satisfies Record<"mean" | "var", StatName>,
} as const;

/** Which normalisation tensor a name is (null for every other tensor). */
export function normTensorOf(name: ParamName): NormTensor | null {
  const m = /^rnn\.norm_(ih|hh|c)_l\d+\.(weight|bias)$/.exec(name); // tensorNames.norm's spelling
  return m ? (m[1] === "c" ? (m[2] === "weight" ? "gc" : "bc") : (`g${m[1]}` as NormTensor)) : null;
}

/** Which of a layer's four tensors a name is (null for the embedding and the decoder). */
export function layerTensorOf(name: ParamName): LayerTensor | null {
  const m = /^rnn\.(weight|bias)_(ih|hh)_l\d+$/.exec(name); // tensorNames.layer's spelling
  return m ? (`${m[1] === "weight" ? "w" : "b"}${m[2]}` as LayerTensor) : null;
}

export interface TensorSpec<Name extends string = ParamName> {
  name: Name;
  shape: number[];
  /** element offset into the slab */
  offset: number;
  /** element count */
  size: number;
}

export interface ParamSpec<Name extends string = ParamName> {
  tensors: TensorSpec<Name>[];
  /** total element count */
  size: number;
}

export function paramSpec(m: ModelConfig): ParamSpec {
  const V = m.vocabSize, H = m.hidden, E = m.embed, cell = cellOf(m), G = cell.gates.length;
  const shapes: [ParamName, number[]][] = [];
  if (E > 0) shapes.push([tensorNames.embedding, [V, E]]);
  for (let k = 0; k < m.layers; k++) {
    const In = k === 0 ? (E > 0 ? E : V) : H;
    const n = tensorNames.layer(k);
    shapes.push([n.wih, [G * H, In]]);
    shapes.push([n.whh, [G * H, H]]);
    shapes.push([n.bih, [G * H]]);
    shapes.push([n.bhh, [G * H]]);
    if (cell.norm) {
      const g = tensorNames.norm(k);
      shapes.push([g.gih, [G * H]], [g.ghh, [G * H]]);
      if (cell.state.includes("c")) shapes.push([g.gc, [H]], [g.bc, [H]]);
    }
  }
  shapes.push([tensorNames.decoderWeight, [V, H]]);
  shapes.push([tensorNames.decoderBias, [V]]);
  return specOf(shapes);
}

/**
 * The running statistics a model keeps (batch norm; none otherwise): per layer, the mean and variance of the
 * input projection [G·H], of the hidden projection [G·H] and of c_t [H] (cells that carry c).
 */
export function statsSpec(m: ModelConfig): ParamSpec<StatName> {
  const cell = cellOf(m), GH = cell.gates.length * m.hidden;
  const shapes: [StatName, number[]][] = [];
  if (cell.norm?.running) {
    for (let k = 0; k < m.layers; k++) {
      for (const q of ["ih", "hh", "c"] as const) {
        if (q === "c" && !cell.state.includes("c")) continue;
        const n = tensorNames.stats(k, q), size = q === "c" ? m.hidden : GH;
        shapes.push([n.mean, [size]], [n.var, [size]]);
      }
    }
  }
  return specOf(shapes);
}

/** Lays the tensors out one after another in the order given. */
export function specOf<Name extends string>(shapes: [Name, number[]][]): ParamSpec<Name> {
  let offset = 0;
  const tensors = shapes.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, offset, size };
    offset += size;
    return t;
  });
  return { tensors, size: offset };
}

export interface Slab<Name extends string = ParamName> {
  spec: ParamSpec<Name>;
  /** the whole slab */
  data: Arr;
  /** named views into data */
  views: Record<Name, Arr>;
}

export function viewsOf<Name extends string>(spec: ParamSpec<Name>, data: Arr): Record<Name, Arr> {
  const views = {} as Record<Name, Arr>;
  for (const t of spec.tensors) views[t.name] = data.subarray(t.offset, t.offset + t.size);
  return views;
}

export function makeSlab<Name extends string>(spec: ParamSpec<Name>, alloc: (n: number) => Arr): Slab<Name> {
  const data = alloc(spec.size);
  return { spec, data, views: viewsOf(spec, data) };
}

/** Layer k's tensors in a slab of parameters (or of their gradients): its four, and its normalisations'. */
export function layerViews(slab: Slab, k: number): LayerViews {
  const n = tensorNames.layer(k), g = tensorNames.norm(k);
  const v: LayerViews = { wih: slab.views[n.wih], whh: slab.views[n.whh], bih: slab.views[n.bih], bhh: slab.views[n.bhh] };
  for (const t of ["gih", "ghh", "gc", "bc"] as const) if (slab.views[g[t]]) v[t] = slab.views[g[t]];
  return v;
}

/** Parameter count of a model (for messages and bench output). */
export function paramCount(m: ModelConfig): number {
  return paramSpec(m).size;
}
