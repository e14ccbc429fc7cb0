// The helper thread's protocol: the control words both sides use, named once. Posting side:
// wasm-helper.ts; helper side: helper.mjs. Plain JavaScript, so the helper (a worker without a TypeScript
// loader) imports it as it is; helper-protocol.d.mts gives the names their types.
//
// The control words are an Int32Array of CTL_WORDS in the kernels' shared memory. Per job the poster
// writes the command and gemm_nt's arguments (byte offsets c, a, b, bias; M, N, K; acc; the leading
// dimensions are N, K, K), the rows per chunk and the chunk count, resets DONE, sets CLAIM to the new
// generation with chunk 0, then bumps GEN and notifies. Either thread takes the next chunk with a
// compareExchange on CLAIM; the helper adds 1 to DONE (and notifies) after each chunk it computed.

export const CTL_WORDS = 16;
export const CTL = Object.freeze({
  /** job generation (24 bits), bumped by the poster per job; the helper sleeps on it */
  GEN: 0,
  /** CMD_GEMM_NT or CMD_EXIT */
  CMD: 1,
  C: 2,
  A: 3,
  B: 4,
  M: 5,
  N: 6,
  K: 7,
  ACC: 8,
  /** byte offset of the bias, 0 for none */
  BIAS: 9,
  /** rows of C (rows of B) per chunk */
  ROWS: 10,
  /** chunks in this job */
  CHUNKS: 11,
  /** 1 once the helper runs */
  READY: 12,
  /** generation << CLAIM_SHIFT | next unclaimed chunk */
  CLAIM: 13,
  /** chunks the helper has finished */
  DONE: 14,
});

export const CMD_GEMM_NT = 1;
export const CMD_EXIT = 2;

/** CLAIM's low CLAIM_SHIFT bits count chunks, the rest hold the generation (GEN_MASK of it) */
export const CLAIM_SHIFT = 8;
export const GEN_MASK = 0xffffff;

/**
 * Chunk `chunk` of a job: rows [chunk·rows, chunk·rows + rows) of B (and columns of C, and of the bias),
 * through gemm_nt's leading dimensions N, K, K, what both threads run per chunk.
 */
export function runChunk(gemmNT, ws, c, a, b, m, n, k, acc, bias, rows, chunk) {
  const r0 = chunk * rows;
  gemmNT(c + r0 * 4, n, a, k, b + r0 * k * 4, k, m, Math.min(rows, n - r0), k, acc, ws, bias ? bias + r0 * 4 : 0);
}
