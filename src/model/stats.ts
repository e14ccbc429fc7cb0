// --norm batch: the running statistics of a model's normalisations (norm.ts), a slab of their own beside the
// parameters (params.ts statsSpec): created as PyTorch resets them, and seen per layer by the cells.
import type { ModelConfig } from "../config.ts";
import type { Kernels } from "../kernels/types.ts";
import type { LayerStats } from "./layer.ts";
import { type Slab, type StatName, statsSpec, tensorNames, viewsOf } from "./params.ts";

/** A model's running statistics (statsSpec; empty without batch norm), as PyTorch resets them: mean 0, variance 1. */
export function newStats(m: ModelConfig, ops: Kernels): Slab<StatName> {
  const spec = statsSpec(m), data = ops.alloc(spec.size), views = viewsOf(spec, data);
  for (const t of spec.tensors) if (t.name.endsWith(".running_var")) views[t.name].fill(1);
  return { spec, data, views };
}

/** Layer k's running statistics in the slab ({ stats } for LayerWeights), or nothing where the model keeps none. */
export function layerStats(slab: Slab<StatName>, k: number): { stats?: LayerStats } {
  const at = (q: "ih" | "hh" | "c") => {
    const n = tensorNames.stats(k, q);
    return slab.views[n.mean] ? { mean: slab.views[n.mean], var: slab.views[n.var] } : undefined;
  };
  const ih = at("ih"), hh = at("hh"), c = at("c");
  return ih && hh ? { stats: { ih, hh, ...(c ? { c } : {}) } } : {};
}
