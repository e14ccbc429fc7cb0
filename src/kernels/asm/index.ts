// Entry of the WebAssembly kernels (AssemblyScript, built by scripts/build-wasm.mjs into
// src/kernels/kernels.wasm and kernels-relaxed.wasm; their signatures as JavaScript sees them:
// src/kernels/wasm-module.ts). Every pointer is a byte offset into the imported shared memory; the module
// has no data segments and no mutable globals (only the two constants it exports), so any number of
// instances (one per worker thread) can run over the same memory.
export { NT_ROW_TILE, SCRATCH_BYTES, gemm_nn, gemm_nn_packed, gemm_nt, gemm_tn, pack_b, packed_size } from "./gemm";
export { add_bias, bias_backward, check_idx, gather_rows, scatter_add_rows } from "./misc";
export { gru_bwd, gru_fwd, lstm_bwd, lstm_fwd, lstmn_bwd, lstmn_fwd, lstmn_out_bwd, lstmn_out_fwd, nflstm_bwd, nflstm_fwd, rnn_bwd, rnn_fwd } from "./cells";
export { bn_bwd, bn_fwd, bn_infer, ln_bwd, ln_fwd } from "./norm";
export { softmax_xent } from "./loss";
export { adam, add_to, scale, sum_squares, transpose } from "./vec";
