// What both checkpoint readers share once a file's bytes are decoded — src/checkpoint/checkpoint.ts (files, in
// Node) and src/lib/checkpoint-bytes.ts (bytes, also in the browser): a model's one-line description and its
// weights set from the decoded tensors. Nothing from Node here.
import type { ModelConfig } from "../config.ts";
import { RnnError } from "../errors.ts";
import { cellLabel } from "./cells/index.ts";
import { type Model, pack } from "./model.ts";
import type { Slab } from "./params.ts";

/** "lstm 2×128, one-hot, V=65" */
export function describeModel(m: ModelConfig): string {
  return `${cellLabel(m)} ${m.layers}×${m.hidden}${m.embed ? `, embedding ${m.embed}` : ", one-hot"}, V=${m.vocabSize}${m.residual ? ", residual" : ""}`;
}

/**
 * Sets every parameter of `model` (and every running statistic, --norm batch) from the decoded tensor of the
 * same name, which must be there with exactly the spec's shape (`what` names the checkpoint in the one-line
 * error), then packs the model.
 */
export function setWeights(model: Model, tensors: Map<string, { shape: number[]; data: ArrayLike<number> }>, what: string): void {
  for (const slab of [model.params, model.stats] as Slab<string>[]) {
    for (const t of slab.spec.tensors) {
      const src = tensors.get(t.name);
      if (!src) throw new RnnError(`${what} lacks tensor ${t.name} for a ${describeModel(model.cfg)}`);
      if (src.shape.join("×") !== t.shape.join("×")) {
        throw new RnnError(`${what}: tensor ${t.name} has shape [${src.shape.join("×")}], expected [${t.shape.join("×")}]`);
      }
      slab.views[t.name].set(src.data);
    }
  }
  pack(model);
}
