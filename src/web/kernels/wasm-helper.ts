// Browser stand-in for src/kernels/wasm-helper.ts (package.json's "browser" map): no helper thread — a page
// has no shared memory to give one — so every NT GEMM runs whole on this thread, through the export the
// helper's chunks run through in Node. The helper splits at multiples of NT_ROW_TILE rows so that both give
// the same bits; here there is simply one chunk.
import type { Exports } from "../../kernels/wasm-module.ts";
import type { GemmNTHelper } from "../../kernels/wasm-helper.ts";

export function createGemmNTHelper(ex: Exports, ws: number): GemmNTHelper {
  return {
    gemmNT(c, a, b, M, N, K, acc, bias) {
      ex.gemm_nt(c, N, a, K, b, K, M, N, K, acc, ws, bias);
    },
    start: async () => {},
    set: () => {},
  };
}
