#!/usr/bin/python3
"""Writes test/fixtures/torch-*.json: PyTorch's forward, gradients and a 10-step Adam trajectory of small
CharRNNs, for test/torch_golden.test.ts; test/fixtures/adamw-*.json: a 10-step torch.optim.AdamW
trajectory (weight decay 0.1, a learning rate that changes every step, clipping); and
test/fixtures/cayley-*.json: 10 steps of `--ortho-opt cayley` (cayley.py). Deterministic: rerunning rewrites
the same files.

    /usr/bin/python3 test/reference/make_fixtures.py

Each case (rnn-tanh, rnn-relu, lstm, gru, lstm-nofg: the LSTM without forget gate, char_rnn.NoForgetLSTM;
then each of them with --norm layer, "ln-…", and with --norm batch, "bn-…", char_rnn.NormedRNN):
V=11, H=8, L=2, B=3 (batch norm: 8), T=5, float32, default PyTorch init, random inputs/targets, a non-zero
carried state h0 (and c0). With a normalisation, its gains are drawn from U(0.5, 1.5) and the LSTM's β_c from
U(−0.5, 0.5), so that none is at its initial value; batch norm's running statistics start at means
U(−0.5, 0.5) and variances U(0.5, 1.5), and the module runs in training mode (each step's statistics over the
B = 8 streams, folded into the running estimates). Shapes in the JSON: inputs/targets [T][B];
h0/c0/h_n/c_n [L][B][H]; logits [T][B][V]; params/grads/final_params {state_dict name: flat row-major list}
(parameters only); batch norm also has buffers (the running statistics before), buffers_step (after the one
forward pass) and final_buffers (after the 10 Adam steps, which start again from `buffers`).

Cayley cases (CAYLEY_CASES: rnn one-hot and lstm with an embedding, × Adam and SGD with momentum, both with
weight decay 0.01 — which the recurrent blocks do not get): the same sizes, PyTorch's init but every gate
block of weight_hh orthogonal (torch.nn.init.orthogonal_), then 10 steps of cayley.cayley_step on the same
batch from h0, clip_grad_norm_ 0.2 first: the loss and pre-clip gradient norm of each step and the final
parameters, whose blocks are orthogonal.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cayley  # noqa: E402
from char_rnn import CharRNN  # noqa: E402

V, H, L, B, T = 11, 8, 2, 3, 5
B_BATCH_NORM = 8  # batch norm's statistics over 3 streams are so ill-conditioned that float32 rounding, not the
# arithmetic, would set the differences: its cases run 8 streams
LR, CLIP, STEPS = 1e-2, 0.2, 10  # default-init grad norms here are 0.17–0.55: 0.2 clips (nearly) every step
# (name, cell, activation, forget gate, norm); new cases go last, so that the seeds of the others stay
PLAIN = [("rnn-tanh", "rnn", "tanh", True), ("rnn-relu", "rnn", "relu", True), ("lstm", "lstm", "tanh", True), ("gru", "gru", "tanh", True),
         ("lstm-nofg", "lstm", "tanh", False)]
CASES = [(*c, None) for c in PLAIN] + [(f"ln-{c[0]}", *c[1:], "layer") for c in PLAIN] + [(f"bn-{c[0]}", *c[1:], "batch") for c in PLAIN]
# (name, cell, embed, optimizer); seeds 2001… in this order
CAYLEY_CASES = [("rnn-adam", "rnn", 0, {"kind": "adam", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01}),
                ("rnn-sgd", "rnn", 0, {"kind": "sgd", "lr": 0.5, "momentum": 0.9, "weight_decay": 0.01}),
                ("lstm-adam", "lstm", 5, {"kind": "adam", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01}),
                ("lstm-sgd", "lstm", 5, {"kind": "sgd", "lr": 0.5, "momentum": 0.9, "weight_decay": 0.01})]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def nested(t):
    return t.detach().double().tolist()


def mean_loss(model, x, y, h0):
    logits, hn = model(x, h0)
    return F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)), logits, hn


def check_no_forget_lstm(model, x, state0):
    """NoForgetLSTM is nn.LSTM with its forget gate held at 1: copy its i, g, o rows into an nn.LSTM whose f rows
    have zero weights and bias 100 (σ(100) = 1 in float32 and float64), and compare outputs and final states."""
    m = model.rnn
    H, L = m.hidden_size, m.num_layers
    ref = torch.nn.LSTM(m.input_size, H, L)
    with torch.no_grad():
        for k in range(L):
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                src, dst = getattr(m, f"{kind}_l{k}"), getattr(ref, f"{kind}_l{k}")
                i, g, o = src.chunk(3, dim=0)
                f = torch.full_like(i, 100.0 if kind == "bias_ih" else 0.0)
                dst.copy_(torch.cat([i, f, g, o], dim=0))
        inp = model.embedding(x) if model.E > 0 else F.one_hot(x, model.V).float()
        out, (h, c) = m(inp, state0)
        out_ref, (h_ref, c_ref) = ref(inp, state0)
    for a, b in ((out, out_ref), (h, h_ref), (c, c_ref)):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-5), float((a - b).abs().max())


def draw_batch(cell, B):
    """A case's batch, drawn after its model (the order fixes every fixture's numbers): inputs and targets
    [T×B], the carried-in h0 (and c0 for the lstm) [L×B×H], and the state as the module takes it."""
    x = torch.randint(0, V, (T, B))
    y = torch.randint(0, V, (T, B))
    h0 = torch.empty(L, B, H).uniform_(-0.8, 0.8)
    c0 = torch.empty(L, B, H).uniform_(-0.8, 0.8) if cell == "lstm" else None
    return x, y, h0, c0, ((h0, c0) if cell == "lstm" else h0)


def spread_norms(model):
    """Gains U(0.5, 1.5) and the LSTM's β_c U(−0.5, 0.5), instead of the initial 1 (or 0.1) and 0; running means
    U(−0.5, 0.5) and variances U(0.5, 1.5) instead of 0 and 1."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".norm_" in name:
                p.uniform_(0.5, 1.5) if name.endswith(".weight") else p.uniform_(-0.5, 0.5)
        for name, b in model.named_buffers():
            b.uniform_(-0.5, 0.5) if name.endswith("running_mean") else b.uniform_(0.5, 1.5)


def buffers(model):
    return {k: flat(v) for k, v in model.named_buffers()}


def make_case(seed, name, cell, act, E, forget_gate=True, norm=None):
    B = B_BATCH_NORM if norm == "batch" else globals()["B"]
    torch.manual_seed(seed)
    model = CharRNN(cell, V, H, L, E, act, forget_gate, norm)
    if norm is not None:
        spread_norms(model)
    x, y, h0, c0, state0 = draw_batch(cell, B)

    if not forget_gate and norm is None:
        check_no_forget_lstm(model, x, state0)
    names = dict(model.named_parameters())
    params0 = {k: flat(v) for k, v in model.state_dict().items() if k in names}
    buffers0 = {k: v.clone() for k, v in model.named_buffers()}
    model.zero_grad()
    loss, logits, hn = mean_loss(model, x, y, state0)
    loss.backward()
    grads = {k: flat(p.grad) for k, p in model.named_parameters()}
    h_n, c_n = (hn if cell == "lstm" else (hn, None))
    buffers_step = buffers(model)
    with torch.no_grad():  # the trajectory starts from the same running statistics
        for k, v in model.named_buffers():
            v.copy_(buffers0[k])

    # 10 Adam steps on the same batch, each from the same h0 (state not carried), clip-by-global-norm 0.2
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-8)
    losses, norms = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        l, _, _ = mean_loss(model, x, y, state0)
        l.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        losses.append(float(l))
        opt.step()
    assert any(n > CLIP for n in norms), f"{name}: clipping never triggered {norms}"

    fx = {
        "config": {"cell": cell, "activation": act, "V": V, "H": H, "L": L, "E": E, "B": B, "T": T, **({} if forget_gate else {"forgetGate": False}),
                   **({} if norm is None else {"norm": norm})},
        "torch": torch.__version__,
        "seed": seed,
        "params": params0,
        "inputs": x.tolist(),
        "targets": y.tolist(),
        "h0": nested(h0),
        "logits": nested(logits),
        "loss": float(loss),
        "h_n": nested(h_n),
        "grads": grads,
        "adam": {"lr": LR, "betas": [0.9, 0.999], "eps": 1e-8, "clip": CLIP, "steps": STEPS},
        "trajectory": losses,
        "grad_norms": norms,
        "final_params": {k: flat(v) for k, v in model.state_dict().items() if k in names},
    }
    if cell == "lstm":
        fx["c0"] = nested(c0)
        fx["c_n"] = nested(c_n)
    if buffers0:
        fx["buffers"] = {k: flat(v) for k, v in buffers0.items()}
        fx["buffers_step"] = buffers_step
        fx["final_buffers"] = buffers(model)
    return fx


def make_adamw_case(seed, cell, E):
    """10 torch.optim.AdamW steps (decoupled weight decay: p ← p·(1 − lr·wd) before the Adam update) on one
    batch, each from the same h0, clip-by-global-norm, and a learning rate changed before every step (the
    decay multiplies the step's lr). Same shapes as make_case; the JSON holds the start and the trajectory."""
    torch.manual_seed(seed)
    model = CharRNN(cell, V, H, L, E, "tanh", True)
    x, y, h0, c0, state0 = draw_batch(cell, B)
    params0 = {k: flat(v) for k, v in model.state_dict().items()}
    wd, lrs = 0.1, [LR * (1 - 0.05 * s) for s in range(STEPS)]
    opt = torch.optim.AdamW(model.parameters(), lr=lrs[0], betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    losses, norms = [], []
    for s in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = lrs[s]
        opt.zero_grad()
        l, _, _ = mean_loss(model, x, y, state0)
        l.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        losses.append(float(l))
        opt.step()
    assert any(n > CLIP for n in norms), f"adamw {cell}: clipping never triggered {norms}"
    fx = {
        "config": {"cell": cell, "activation": "tanh", "V": V, "H": H, "L": L, "E": E, "B": B, "T": T},
        "torch": torch.__version__,
        "seed": seed,
        "params": params0,
        "inputs": x.tolist(),
        "targets": y.tolist(),
        "h0": nested(h0),
        "adamw": {"lrs": lrs, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": wd, "clip": CLIP, "steps": STEPS},
        "trajectory": losses,
        "grad_norms": norms,
        "final_params": {k: flat(v) for k, v in model.state_dict().items()},
    }
    if cell == "lstm":
        fx["c0"] = nested(c0)
    return fx


def make_cayley_case(seed, cell, E, opt):
    torch.manual_seed(seed)
    model = CharRNN(cell, V, H, L, E, "tanh")
    G = {"rnn": 1, "lstm": 4}[cell]
    with torch.no_grad():
        for k in range(L):
            W = getattr(model.rnn, f"weight_hh_l{k}")
            for g in range(G):
                torch.nn.init.orthogonal_(W[g * H : (g + 1) * H])
    x, y, h0, c0, state0 = draw_batch(cell, B)
    params0 = {k: flat(v) for k, v in model.state_dict().items()}
    start = max(cayley.block_deviation(getattr(model.rnn, f"weight_hh_l{k}").detach(), G) for k in range(L))
    assert start < 1e-6, start
    cayley.check_against_torch(model, opt, lambda m: mean_loss(m, x, y, state0)[0])

    states, losses, norms = {}, [], []
    for step in range(1, STEPS + 1):
        model.zero_grad()
        l, _, _ = mean_loss(model, x, y, state0)
        l.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        losses.append(float(l))
        cayley.cayley_step(model, opt, states, step, G)
    assert any(n > CLIP for n in norms), f"{cell} {opt['kind']}: clipping never triggered {norms}"
    end = max(cayley.block_deviation(getattr(model.rnn, f"weight_hh_l{k}").detach(), G) for k in range(L))
    assert end < 1e-6, end
    return {
        "config": {"cell": cell, "activation": "tanh", "V": V, "H": H, "L": L, "E": E, "B": B, "T": T},
        "torch": torch.__version__,
        "seed": seed,
        "params": params0,
        "inputs": x.tolist(),
        "targets": y.tolist(),
        "h0": nested(h0),
        **({"c0": nested(c0)} if cell == "lstm" else {}),
        "optimizer": opt,
        "clip": CLIP,
        "steps": STEPS,
        "trajectory": losses,
        "grad_norms": norms,
        "final_params": {k: flat(v) for k, v in model.state_dict().items()},
        "block_deviation": {"start": start, "end": end},
    }


def write(fname, fx):
    with open(os.path.join(OUT, fname), "w") as f:
        json.dump(fx, f, separators=(",", ":"))
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed, cell, E in ((2001, "lstm", 5), (2002, "gru", 0)):
        fx = make_adamw_case(seed, cell, E)
        fname = f"adamw-{cell}-{'embed' if E else 'onehot'}.json"
        with open(os.path.join(OUT, fname), "w") as f:
            json.dump(fx, f, separators=(",", ":"))
            f.write("\n")
        print(f"{fname}: loss {fx['trajectory'][0]:.6f} → {fx['trajectory'][-1]:.6f}")
    seed = 1000
    for name, cell, act, forget_gate, norm in CASES:
        for E in (0, 5):
            seed += 1
            fx = make_case(seed, name, cell, act, E, forget_gate, norm)
            fname = f"torch-{name}-{'embed' if E else 'onehot'}.json"
            with open(os.path.join(OUT, fname), "w") as f:
                json.dump(fx, f, separators=(",", ":"))
                f.write("\n")
            print(f"{fname}: loss {fx['loss']:.6f} → {fx['trajectory'][-1]:.6f}, grad norms {fx['grad_norms'][0]:.3f}…{fx['grad_norms'][-1]:.3f}")

    seed = 2000
    for name, cell, E, opt in CAYLEY_CASES:
        seed += 1
        fx = make_cayley_case(seed, cell, E, opt)
        fname = f"cayley-{name}.json"
        write(fname, fx)
        print(f"{fname}: loss {fx['trajectory'][0]:.6f} → {fx['trajectory'][-1]:.6f}, grad norms {fx['grad_norms'][0]:.3f}…{fx['grad_norms'][-1]:.3f}, "
              f"‖WᵀW − I‖_max {fx['block_deviation']['start']:.1e} → {fx['block_deviation']['end']:.1e}")


if __name__ == "__main__":
    main()
