// One spec → one slab. Parameters, gradients and optimizer state each live in one flat array allocated by
// the kernel backend; every named tensor is a view into it at the offset the spec gives. Clipping, updates
// and saving are flat loops over the slab.
//
// Names and shapes are exactly those of this PyTorch module's state_dict (test/reference/char_rnn.py):
//   embedding = nn.Embedding(V, E)        # embedding.weight [V×E]            (only when E > 0)
//   rnn = nn.LSTM(E or V, H, L)           # rnn.weight_ih_l{k} [G·H×In], rnn.weight_hh_l{k} [G·H×H],
//                                         # rnn.bias_ih_l{k} [G·H], rnn.bias_hh_l{k} [G·H]
//   decoder = nn.Linear(H, V)             # decoder.weight [V×H], decoder.bias [V]
import type { ModelConfig } from "../config.ts";
import { gateCount } from "../config.ts";
import type { Arr } from "../kernels/types.ts";

export interface TensorSpec {
  name: string;
  shape: number[];
  /** element offset into the slab */
  offset: number;
  /** element count */
  size: number;
}

export interface ParamSpec {
  tensors: TensorSpec[];
  /** total element count */
  size: number;
}

export function paramSpec(m: ModelConfig): ParamSpec {
  const V = m.vocabSize, H = m.hidden, E = m.embed, G = gateCount(m.cell);
  const shapes: [string, number[]][] = [];
  if (E > 0) shapes.push(["embedding.weight", [V, E]]);
  for (let k = 0; k < m.layers; k++) {
    const In = k === 0 ? (E > 0 ? E : V) : H;
    shapes.push([`rnn.weight_ih_l${k}`, [G * H, In]]);
    shapes.push([`rnn.weight_hh_l${k}`, [G * H, H]]);
    shapes.push([`rnn.bias_ih_l${k}`, [G * H]]);
    shapes.push([`rnn.bias_hh_l${k}`, [G * H]]);
  }
  shapes.push(["decoder.weight", [V, H]]);
  shapes.push(["decoder.bias", [V]]);
  let offset = 0;
  const tensors = shapes.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, offset, size };
    offset += size;
    return t;
  });
  return { tensors, size: offset };
}

export interface Slab {
  spec: ParamSpec;
  /** the whole slab */
  data: Arr;
  /** named views into data */
  views: Record<string, Arr>;
}

export function viewsOf(spec: ParamSpec, data: Arr): Record<string, Arr> {
  const views: Record<string, Arr> = {};
  for (const t of spec.tensors) views[t.name] = data.subarray(t.offset, t.offset + t.size);
  return views;
}

export function makeSlab(spec: ParamSpec, alloc: (n: number) => Arr): Slab {
  const data = alloc(spec.size);
  return { spec, data, views: viewsOf(spec, data) };
}

/** Parameter count of a model (for messages and bench output). */
export function paramCount(m: ModelConfig): number {
  return paramSpec(m).size;
}
