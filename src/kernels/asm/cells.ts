// Fused per-step cell kernels (math in src/model/cells/{rnn,lstm,lstm-nofg,gru}.ts). Four columns j at a time, the last
// H mod 4 columns one at a time through the same code (lane 0). Every element of an aliased buffer is read
// before it is written within its column group, so the in-place uses of the contract hold.
import { sigmoid4, tanh4 } from "./math";
import { ld, splat, st } from "./simd";

/** dh (+ dh2 when two), four lanes or lane 0 */
@inline function dsum(dh: usize, dh2: usize, two: bool, full: bool): v128 {
  return two ? f32x4.add(ld(dh, full), ld(dh2, full)) : ld(dh, full);
}

/** pre2 ≠ 0: the pre-activations are pre + pre2 */
export function rnn_fwd(h: usize, pre: usize, n: i32, relu: bool, pre2: usize): void {
  if (pre2) rnnFLoop(h, pre, n, relu, pre2, true);
  else rnnFLoop(h, pre, n, relu, 0, false);
}
@inline function rnnFLoop(h: usize, pre: usize, n: i32, relu: bool, pre2: usize, two: bool): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) rnnF(h + <usize>i * 4, pre + <usize>i * 4, relu, pre2 + <usize>i * 4, two, true);
  for (; i < n; i++) rnnF(h + <usize>i * 4, pre + <usize>i * 4, relu, pre2 + <usize>i * 4, two, false);
}
@inline function rnnF(h: usize, pre: usize, relu: bool, pre2: usize, two: bool, full: bool): void {
  const x = dsum(pre, pre2, two, full);
  if (two) st(pre, x, full); // keep the summed pre-activation (the backward pass reads h, but keep P whole)
  st(h, relu ? v128.and(x, f32x4.gt(x, splat(0))) : tanh4(x), full);
}

/** dh2 ≠ 0: the gradient is dh + dh2 (the part from above plus the part carried from step t+1) */
export function rnn_bwd(dPre: usize, dh: usize, h: usize, n: i32, relu: bool, dh2: usize): void {
  if (dh2) rnnBLoop(dPre, dh, h, n, relu, dh2, true);
  else rnnBLoop(dPre, dh, h, n, relu, 0, false);
}
@inline function rnnBLoop(dPre: usize, dh: usize, h: usize, n: i32, relu: bool, dh2: usize, two: bool): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) rnnB(dPre + <usize>i * 4, dh + <usize>i * 4, h + <usize>i * 4, relu, dh2 + <usize>i * 4, two, true);
  for (; i < n; i++) rnnB(dPre + <usize>i * 4, dh + <usize>i * 4, h + <usize>i * 4, relu, dh2 + <usize>i * 4, two, false);
}
@inline function rnnB(dPre: usize, dh: usize, h: usize, relu: bool, dh2: usize, two: bool, full: bool): void {
  const hv = ld(h, full), d = dsum(dh, dh2, two, full);
  st(dPre, relu ? v128.and(d, f32x4.gt(hv, splat(0))) : f32x4.mul(d, f32x4.sub(splat(1), f32x4.mul(hv, hv))), full);
}

/** gh ≠ 0: the pre-activations are gates + gh (the recurrent product kept in its own, hot, buffer) */
export function lstm_fwd(h: usize, c: usize, gates: usize, cPrev: usize, B: i32, H: i32, gh: usize): void {
  if (gh) lstmFLoop(h, c, gates, cPrev, B, H, gh, true);
  else lstmFLoop(h, c, gates, cPrev, B, H, 0, false);
}
@inline function lstmFLoop(h: usize, c: usize, gates: usize, cPrev: usize, B: i32, H: i32, gh: usize, two: bool): void {
  const Hb = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const g = gates + <usize>b * 4 * Hb, g2 = gh + <usize>b * 4 * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmF(h + r, c + r, g, cPrev + r, Hb, <usize>j * 4, g2, two, true);
    for (; j < H; j++) lstmF(h + r, c + r, g, cPrev + r, Hb, <usize>j * 4, g2, two, false);
  }
}
@inline function lstmF(h: usize, c: usize, g: usize, cPrev: usize, Hb: usize, o: usize, g2: usize, two: bool, full: bool): void {
  const ig = sigmoid4(dsum(g + o, g2 + o, two, full));
  const fg = sigmoid4(dsum(g + Hb + o, g2 + Hb + o, two, full));
  const gg = tanh4(dsum(g + 2 * Hb + o, g2 + 2 * Hb + o, two, full));
  const og = sigmoid4(dsum(g + 3 * Hb + o, g2 + 3 * Hb + o, two, full));
  st(g + o, ig, full);
  st(g + Hb + o, fg, full);
  st(g + 2 * Hb + o, gg, full);
  st(g + 3 * Hb + o, og, full);
  const cv = f32x4.add(f32x4.mul(fg, ld(cPrev + o, full)), f32x4.mul(ig, gg));
  st(c + o, cv, full);
  st(h + o, f32x4.mul(og, tanh4(cv)), full);
}

export function lstm_bwd(dGates: usize, dc: usize, dh: usize, gates: usize, c: usize, cPrev: usize, B: i32, H: i32, dh2: usize): void {
  if (dh2) lstmBLoop(dGates, dc, dh, gates, c, cPrev, B, H, dh2, true);
  else lstmBLoop(dGates, dc, dh, gates, c, cPrev, B, H, 0, false);
}
@inline function lstmBLoop(dGates: usize, dc: usize, dh: usize, gates: usize, c: usize, cPrev: usize, B: i32, H: i32, dh2: usize, two: bool): void {
  const Hb = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const dg = dGates + <usize>b * 4 * Hb, g = gates + <usize>b * 4 * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmB(dg, dc + r, dh + r, g, c + r, cPrev + r, Hb, <usize>j * 4, dh2 + r, two, true);
    for (; j < H; j++) lstmB(dg, dc + r, dh + r, g, c + r, cPrev + r, Hb, <usize>j * 4, dh2 + r, two, false);
  }
}
@inline function lstmB(dg: usize, dc: usize, dh: usize, g: usize, c: usize, cPrev: usize, Hb: usize, o: usize, dh2: usize, two: bool, full: bool): void {
  const one = splat(1);
  const ig = ld(g + o, full), fg = ld(g + Hb + o, full), gg = ld(g + 2 * Hb + o, full), og = ld(g + 3 * Hb + o, full);
  const tc = tanh4(ld(c + o, full));
  const dhv = dsum(dh + o, dh2 + o, two, full);
  const dcv = f32x4.add(ld(dc + o, full), f32x4.mul(f32x4.mul(dhv, og), f32x4.sub(one, f32x4.mul(tc, tc))));
  st(dg + o, f32x4.mul(f32x4.mul(dcv, gg), f32x4.mul(ig, f32x4.sub(one, ig))), full);
  st(dg + Hb + o, f32x4.mul(f32x4.mul(dcv, ld(cPrev + o, full)), f32x4.mul(fg, f32x4.sub(one, fg))), full);
  st(dg + 2 * Hb + o, f32x4.mul(f32x4.mul(dcv, ig), f32x4.sub(one, f32x4.mul(gg, gg))), full);
  st(dg + 3 * Hb + o, f32x4.mul(f32x4.mul(dhv, tc), f32x4.mul(og, f32x4.sub(one, og))), full);
  st(dc + o, f32x4.mul(dcv, fg), full);
}

/** The LSTM without forget gate (gates i g o, c = cPrev + i⊙g); gh ≠ 0 as in lstm_fwd */
export function nflstm_fwd(h: usize, c: usize, gates: usize, cPrev: usize, B: i32, H: i32, gh: usize): void {
  if (gh) nflstmFLoop(h, c, gates, cPrev, B, H, gh, true);
  else nflstmFLoop(h, c, gates, cPrev, B, H, 0, false);
}
@inline function nflstmFLoop(h: usize, c: usize, gates: usize, cPrev: usize, B: i32, H: i32, gh: usize, two: bool): void {
  const Hb = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const g = gates + <usize>b * 3 * Hb, g2 = gh + <usize>b * 3 * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) nflstmF(h + r, c + r, g, cPrev + r, Hb, <usize>j * 4, g2, two, true);
    for (; j < H; j++) nflstmF(h + r, c + r, g, cPrev + r, Hb, <usize>j * 4, g2, two, false);
  }
}
@inline function nflstmF(h: usize, c: usize, g: usize, cPrev: usize, Hb: usize, o: usize, g2: usize, two: bool, full: bool): void {
  const ig = sigmoid4(dsum(g + o, g2 + o, two, full));
  const gg = tanh4(dsum(g + Hb + o, g2 + Hb + o, two, full));
  const og = sigmoid4(dsum(g + 2 * Hb + o, g2 + 2 * Hb + o, two, full));
  st(g + o, ig, full);
  st(g + Hb + o, gg, full);
  st(g + 2 * Hb + o, og, full);
  const cv = f32x4.add(ld(cPrev + o, full), f32x4.mul(ig, gg));
  st(c + o, cv, full);
  st(h + o, f32x4.mul(og, tanh4(cv)), full);
}

export function nflstm_bwd(dGates: usize, dc: usize, dh: usize, gates: usize, c: usize, B: i32, H: i32, dh2: usize): void {
  if (dh2) nflstmBLoop(dGates, dc, dh, gates, c, B, H, dh2, true);
  else nflstmBLoop(dGates, dc, dh, gates, c, B, H, 0, false);
}
@inline function nflstmBLoop(dGates: usize, dc: usize, dh: usize, gates: usize, c: usize, B: i32, H: i32, dh2: usize, two: bool): void {
  const Hb = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const dg = dGates + <usize>b * 3 * Hb, g = gates + <usize>b * 3 * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) nflstmB(dg, dc + r, dh + r, g, c + r, Hb, <usize>j * 4, dh2 + r, two, true);
    for (; j < H; j++) nflstmB(dg, dc + r, dh + r, g, c + r, Hb, <usize>j * 4, dh2 + r, two, false);
  }
}
@inline function nflstmB(dg: usize, dc: usize, dh: usize, g: usize, c: usize, Hb: usize, o: usize, dh2: usize, two: bool, full: bool): void {
  const one = splat(1);
  const ig = ld(g + o, full), gg = ld(g + Hb + o, full), og = ld(g + 2 * Hb + o, full);
  const tc = tanh4(ld(c + o, full));
  const dhv = dsum(dh + o, dh2 + o, two, full);
  const dcv = f32x4.add(ld(dc + o, full), f32x4.mul(f32x4.mul(dhv, og), f32x4.sub(one, f32x4.mul(tc, tc))));
  st(dg + o, f32x4.mul(f32x4.mul(dcv, gg), f32x4.mul(ig, f32x4.sub(one, ig))), full);
  st(dg + Hb + o, f32x4.mul(f32x4.mul(dcv, ig), f32x4.sub(one, f32x4.mul(gg, gg))), full);
  st(dg + 2 * Hb + o, f32x4.mul(f32x4.mul(dhv, tc), f32x4.mul(og, f32x4.sub(one, og))), full);
  st(dc + o, dcv, full);
}

export function gru_fwd(h: usize, gates: usize, gx: usize, gh: usize, hPrev: usize, B: i32, H: i32): void {
  const Hb = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const g0 = <usize>b * 3 * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) gruF(h + r, gates + g0, gx + g0, gh + g0, hPrev + r, Hb, <usize>j * 4, true);
    for (; j < H; j++) gruF(h + r, gates + g0, gx + g0, gh + g0, hPrev + r, Hb, <usize>j * 4, false);
  }
}
@inline function gruF(h: usize, gates: usize, gx: usize, gh: usize, hPrev: usize, Hb: usize, o: usize, full: bool): void {
  const rg = sigmoid4(f32x4.add(ld(gx + o, full), ld(gh + o, full)));
  const zg = sigmoid4(f32x4.add(ld(gx + Hb + o, full), ld(gh + Hb + o, full)));
  const ng = tanh4(f32x4.add(ld(gx + 2 * Hb + o, full), f32x4.mul(rg, ld(gh + 2 * Hb + o, full))));
  st(gates + o, rg, full);
  st(gates + Hb + o, zg, full);
  st(gates + 2 * Hb + o, ng, full);
  st(h + o, f32x4.add(f32x4.mul(f32x4.sub(splat(1), zg), ng), f32x4.mul(zg, ld(hPrev + o, full))), full);
}

export function gru_bwd(dgx: usize, dgh: usize, dhPrev: usize, dh: usize, gates: usize, gh: usize, hPrev: usize, B: i32, H: i32, dh2: usize): void {
  if (dh2) gruBLoop(dgx, dgh, dhPrev, dh, gates, gh, hPrev, B, H, dh2, true);
  else gruBLoop(dgx, dgh, dhPrev, dh, gates, gh, hPrev, B, H, 0, false);
}
@inline function gruBLoop(dgx: usize, dgh: usize, dhPrev: usize, dh: usize, gates: usize, gh: usize, hPrev: usize, B: i32, H: i32, dh2: usize, two: bool): void {
  const Hb = <usize>H * 4;
  for (let b = 0; b < B; b++) {
    const g0 = <usize>b * 3 * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) gruB(dgx + g0, dgh + g0, dhPrev + r, dh + r, gates + g0, gh + g0, hPrev + r, Hb, <usize>j * 4, dh2 + r, two, true);
    for (; j < H; j++) gruB(dgx + g0, dgh + g0, dhPrev + r, dh + r, gates + g0, gh + g0, hPrev + r, Hb, <usize>j * 4, dh2 + r, two, false);
  }
}
@inline function gruB(dgx: usize, dgh: usize, dhPrev: usize, dh: usize, gates: usize, gh: usize, hPrev: usize, Hb: usize, o: usize, dh2: usize, two: bool, full: bool): void {
  const one = splat(1);
  const rg = ld(gates + o, full), zg = ld(gates + Hb + o, full), ng = ld(gates + 2 * Hb + o, full);
  const ghn = ld(gh + 2 * Hb + o, full);
  const d = dsum(dh + o, dh2 + o, two, full);
  const dnPre = f32x4.mul(f32x4.mul(d, f32x4.sub(one, zg)), f32x4.sub(one, f32x4.mul(ng, ng)));
  const dzPre = f32x4.mul(f32x4.mul(d, f32x4.sub(ld(hPrev + o, full), ng)), f32x4.mul(zg, f32x4.sub(one, zg)));
  const drPre = f32x4.mul(f32x4.mul(dnPre, ghn), f32x4.mul(rg, f32x4.sub(one, rg)));
  st(dgx + o, drPre, full);
  st(dgx + Hb + o, dzPre, full);
  st(dgx + 2 * Hb + o, dnPre, full);
  st(dgh + o, drPre, full);
  st(dgh + Hb + o, dzPre, full);
  st(dgh + 2 * Hb + o, f32x4.mul(dnPre, rg), full);
  st(dhPrev + o, f32x4.add(ld(dhPrev + o, full), f32x4.mul(d, zg)), full);
}

// ---- the LSTM with its cell state normalised (--norm; lstm-norm.ts), with forget gate (i f g o) or without
// (i g o): the step is split where c_t is normalised, between lstmn_fwd and lstmn_out_fwd (forward) and
// between lstmn_out_bwd and lstmn_bwd (backward).

/** gates → activations (gh ≠ 0: of gates + gh); c = f⊙cPrev + i⊙g (f ≡ 1 without forget gate) */
export function lstmn_fwd(c: usize, gates: usize, cPrev: usize, B: i32, H: i32, forget: bool, gh: usize): void {
  if (forget) {
    if (gh) lstmnFLoop(c, gates, cPrev, B, H, true, gh, true);
    else lstmnFLoop(c, gates, cPrev, B, H, true, 0, false);
  } else if (gh) lstmnFLoop(c, gates, cPrev, B, H, false, gh, true);
  else lstmnFLoop(c, gates, cPrev, B, H, false, 0, false);
}
@inline function lstmnFLoop(c: usize, gates: usize, cPrev: usize, B: i32, H: i32, forget: bool, gh: usize, two: bool): void {
  const Hb = <usize>H * 4, G: usize = forget ? 4 : 3;
  for (let b = 0; b < B; b++) {
    const g = gates + <usize>b * G * Hb, g2 = gh + <usize>b * G * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmnF(c + r, g, cPrev + r, Hb, <usize>j * 4, g2, forget, two, true);
    for (; j < H; j++) lstmnF(c + r, g, cPrev + r, Hb, <usize>j * 4, g2, forget, two, false);
  }
}
@inline function lstmnF(c: usize, g: usize, cPrev: usize, Hb: usize, o: usize, g2: usize, forget: bool, two: bool, full: bool): void {
  const gb: usize = forget ? 2 * Hb : Hb, ob: usize = forget ? 3 * Hb : 2 * Hb;
  const ig = sigmoid4(dsum(g + o, g2 + o, two, full));
  const gg = tanh4(dsum(g + gb + o, g2 + gb + o, two, full));
  const og = sigmoid4(dsum(g + ob + o, g2 + ob + o, two, full));
  st(g + o, ig, full);
  st(g + gb + o, gg, full);
  st(g + ob + o, og, full);
  let cv = f32x4.mul(ig, gg);
  if (forget) {
    const fg = sigmoid4(dsum(g + Hb + o, g2 + Hb + o, two, full));
    st(g + Hb + o, fg, full);
    cv = f32x4.add(f32x4.mul(fg, ld(cPrev + o, full)), cv);
  } else cv = f32x4.add(ld(cPrev + o, full), cv);
  st(c + o, cv, full);
}

/** tc = tanh(tc) in place (γ_c ⊙ N(c) + β_c on entry); h = o ⊙ tc */
export function lstmn_out_fwd(h: usize, tc: usize, gates: usize, B: i32, H: i32, forget: bool): void {
  const Hb = <usize>H * 4, G: usize = forget ? 4 : 3;
  for (let b = 0; b < B; b++) {
    const og = gates + <usize>b * G * Hb + (G - 1) * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmnOutF(h + r, tc + r, og, <usize>j * 4, true);
    for (; j < H; j++) lstmnOutF(h + r, tc + r, og, <usize>j * 4, false);
  }
}
@inline function lstmnOutF(h: usize, tc: usize, og: usize, o: usize, full: bool): void {
  const t = tanh4(ld(tc + o, full));
  st(tc + o, t, full);
  st(h + o, f32x4.mul(ld(og + o, full), t), full);
}

/** d = dh (+ dh2): dcn = d ⊙ o ⊙ (1 − tc²); the o block of dGates = d ⊙ tc ⊙ o(1−o) */
export function lstmn_out_bwd(dGates: usize, dcn: usize, dh: usize, tc: usize, gates: usize, B: i32, H: i32, forget: bool, dh2: usize): void {
  if (dh2) lstmnOutBLoop(dGates, dcn, dh, tc, gates, B, H, forget, dh2, true);
  else lstmnOutBLoop(dGates, dcn, dh, tc, gates, B, H, forget, 0, false);
}
@inline function lstmnOutBLoop(dGates: usize, dcn: usize, dh: usize, tc: usize, gates: usize, B: i32, H: i32, forget: bool, dh2: usize, two: bool): void {
  const Hb = <usize>H * 4, G: usize = forget ? 4 : 3;
  for (let b = 0; b < B; b++) {
    const ob = <usize>b * G * Hb + (G - 1) * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmnOutB(dGates + ob, dcn + r, dh + r, tc + r, gates + ob, <usize>j * 4, dh2 + r, two, true);
    for (; j < H; j++) lstmnOutB(dGates + ob, dcn + r, dh + r, tc + r, gates + ob, <usize>j * 4, dh2 + r, two, false);
  }
}
@inline function lstmnOutB(dog: usize, dcn: usize, dh: usize, tc: usize, og: usize, o: usize, dh2: usize, two: bool, full: bool): void {
  const one = splat(1);
  const d = dsum(dh + o, dh2 + o, two, full), ov = ld(og + o, full), t = ld(tc + o, full);
  st(dcn + o, f32x4.mul(f32x4.mul(d, ov), f32x4.sub(one, f32x4.mul(t, t))), full);
  st(dog + o, f32x4.mul(f32x4.mul(d, t), f32x4.mul(ov, f32x4.sub(one, ov))), full);
}

/** dcv = dc + dcd; the i, f, g blocks of dGates from dcv; dc = dcv ⊙ f (dcv without forget gate) */
export function lstmn_bwd(dGates: usize, dc: usize, dcd: usize, gates: usize, cPrev: usize, B: i32, H: i32, forget: bool): void {
  if (forget) lstmnBLoop(dGates, dc, dcd, gates, cPrev, B, H, true);
  else lstmnBLoop(dGates, dc, dcd, gates, cPrev, B, H, false);
}
@inline function lstmnBLoop(dGates: usize, dc: usize, dcd: usize, gates: usize, cPrev: usize, B: i32, H: i32, forget: bool): void {
  const Hb = <usize>H * 4, G: usize = forget ? 4 : 3;
  for (let b = 0; b < B; b++) {
    const dg = dGates + <usize>b * G * Hb, g = gates + <usize>b * G * Hb, r = <usize>b * Hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmnB(dg, dc + r, dcd + r, g, cPrev + r, Hb, <usize>j * 4, forget, true);
    for (; j < H; j++) lstmnB(dg, dc + r, dcd + r, g, cPrev + r, Hb, <usize>j * 4, forget, false);
  }
}
@inline function lstmnB(dg: usize, dc: usize, dcd: usize, g: usize, cPrev: usize, Hb: usize, o: usize, forget: bool, full: bool): void {
  const one = splat(1), gb: usize = forget ? 2 * Hb : Hb;
  const ig = ld(g + o, full), gg = ld(g + gb + o, full);
  const dcv = f32x4.add(ld(dc + o, full), ld(dcd + o, full));
  st(dg + o, f32x4.mul(f32x4.mul(dcv, gg), f32x4.mul(ig, f32x4.sub(one, ig))), full);
  st(dg + gb + o, f32x4.mul(f32x4.mul(dcv, ig), f32x4.sub(one, f32x4.mul(gg, gg))), full);
  if (forget) {
    const fg = ld(g + Hb + o, full);
    st(dg + Hb + o, f32x4.mul(f32x4.mul(dcv, ld(cPrev + o, full)), f32x4.mul(fg, f32x4.sub(one, fg))), full);
    st(dc + o, f32x4.mul(dcv, fg), full);
  } else st(dc + o, dcv, full);
}
