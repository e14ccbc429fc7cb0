// Types of helper-protocol.mjs (the values live there only).
export declare const CTL_WORDS: number;
export declare const CTL: Readonly<{
  GEN: number; CMD: number; C: number; A: number; B: number; M: number; N: number; K: number; ACC: number; BIAS: number;
  ROWS: number; CHUNKS: number; READY: number; CLAIM: number; DONE: number;
}>;
export declare const CMD_GEMM_NT: number;
export declare const CMD_EXIT: number;
export declare const CLAIM_SHIFT: number;
export declare const GEN_MASK: number;
export declare function runChunk(
  gemmNT: (c: number, ldc: number, a: number, lda: number, b: number, ldb: number, M: number, N: number, K: number, acc: number, ws: number, bias: number) => void,
  ws: number, c: number, a: number, b: number, m: number, n: number, k: number, acc: number, bias: number, rows: number, chunk: number,
): void;
