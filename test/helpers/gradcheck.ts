// Float64 central-difference gradient check (torch-rnn's gradcheck, for a whole parameter slab).
// Compares the analytic gradient of a scalar loss with the five-point central difference
//   (−L(θ+2ε) + 8L(θ+ε) − 8L(θ−ε) + L(θ−2ε)) / 12ε
// for every element, and returns the worst relative error |a − n| / max(|a| + |n|, floor). The fourth-order
// stencil lets ε be large (1e-3) so float64 round-off in L stays far below the 1e-6 we demand, even for
// gradient elements of size 1e-6.
import type { Arr } from "../../src/kernels/types.ts";

export interface GradcheckResult {
  maxRelError: number;
  worst: { index: number; analytic: number; numeric: number };
  checked: number;
}

export function gradcheck(theta: Arr, analytic: Arr, loss: () => number, opts: { eps?: number; floor?: number; indices?: number[] } = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-3;
  const floor = opts.floor ?? 1e-6; // below this, |a − n| ≤ 1e-12 counts as exact
  const indices = opts.indices ?? [...Array(theta.length).keys()];
  let maxRelError = 0;
  let worst = { index: -1, analytic: 0, numeric: 0 };
  for (const i of indices) {
    const old = theta[i];
    const at = (d: number): number => {
      theta[i] = old + d;
      return loss();
    };
    const numeric = (-at(2 * eps) + 8 * at(eps) - 8 * at(-eps) + at(-2 * eps)) / (12 * eps);
    theta[i] = old;
    const a = analytic[i];
    const rel = Math.abs(a - numeric) / Math.max(Math.abs(a) + Math.abs(numeric), floor);
    if (rel > maxRelError) {
      maxRelError = rel;
      worst = { index: i, analytic: a, numeric };
    }
  }
  return { maxRelError, worst, checked: indices.length };
}
