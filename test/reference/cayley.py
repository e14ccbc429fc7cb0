#!/usr/bin/python3
"""`rnn train --ortho-opt cayley` in PyTorch: the reference of one optimizer step (src/train/cayley.ts,
src/model/orthogonal.ts), used by make_fixtures.py for test/fixtures/cayley-*.json.

The step. Every parameter gets its optimizer's usual update U, computed here by hand exactly as torch.optim
does it (Adam; SGD with momentum), gradients clipped first (clip_grad_norm_). Every H × H gate block W of
every rnn.weight_hh_l{k} (G blocks: 1 for rnn, 4 for lstm, 3 for gru) is then not set to W − U but retracted
on the orthogonal group, in float64:

    A = ½ (U Wᵀ − W Uᵀ)                         skew-symmetric
    W ← (I + A/2)⁻¹ (I − A/2) W                 torch.linalg.solve; orthogonal, ≈ W − P_T(U) to first order

and stored back as float32. Weight decay does not apply to the blocks (their U is computed with weight decay 0).
Every other parameter is updated as torch.optim updates it (checked against torch.optim itself in
check_against_torch). rnn also corrects the blocks' float32 rounding every 100th step (a Newton–Schulz step);
the fixtures' 10 steps do not reach it.
"""
import math

import torch


def adam_update(p, g, st, step, lr, betas, eps, wd):
    """The amount torch.optim.Adam (1.13, single-tensor) subtracts from p, given its gradient g; updates the
    state st {"exp_avg", "exp_avg_sq"} (zeros before the first step). step counts from 1."""
    b1, b2 = betas
    if wd:
        g = g.add(p, alpha=wd)
    st["exp_avg"].mul_(b1).add_(g, alpha=1 - b1)
    st["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
    step_size = lr / (1 - b1**step)
    denom = (st["exp_avg_sq"].sqrt() / math.sqrt(1 - b2**step)).add_(eps)
    return (st["exp_avg"] / denom) * step_size


def sgd_update(p, g, st, step, lr, momentum, wd):
    """The amount torch.optim.SGD (dampening 0, not Nesterov) subtracts from p; st["momentum_buffer"] is the
    momentum (set at the first step)."""
    d = g.add(p, alpha=wd) if wd else g.clone()
    if momentum:
        d = st["momentum_buffer"] = d.clone() if step == 1 else st["momentum_buffer"].mul_(momentum).add_(d)
    return d * lr


def cayley_retract(W, U):
    """W [n × n] orthogonal, U [n × n] its update (float32): the retracted W, in float64."""
    W, U = W.double(), U.double()
    A = 0.5 * (U @ W.T - W @ U.T)
    I = torch.eye(W.shape[0], dtype=torch.float64)
    return torch.linalg.solve(I + A / 2, (I - A / 2) @ W)


def is_block_tensor(name):
    return name.startswith("rnn.weight_hh_l")


def new_state(kind, p):
    if kind == "adam":
        return {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
    return {}


def update_of(opt, p, g, st, step, wd):
    if opt["kind"] == "adam":
        return adam_update(p, g, st, step, opt["lr"], opt["betas"], opt["eps"], wd)
    return sgd_update(p, g, st, step, opt["lr"], opt["momentum"], wd)


@torch.no_grad()
def cayley_step(model, opt, states, step, G):
    """One optimizer step of --ortho-opt cayley on model's gradients (already clipped). opt: {"kind": "adam",
    "lr", "betas", "eps", "weight_decay"} or {"kind": "sgd", "lr", "momentum", "weight_decay"}; states: one
    per parameter name (new_state); G: gate blocks per weight_hh."""
    wd = opt["weight_decay"]
    for name, p in model.named_parameters():
        st = states.setdefault(name, new_state(opt["kind"], p))
        if not is_block_tensor(name):
            p.sub_(update_of(opt, p, p.grad, st, step, wd))
            continue
        U = update_of(opt, p, p.grad, st, step, 0.0)  # no weight decay on the blocks
        H = p.shape[1]
        for g in range(G):
            rows = slice(g * H, (g + 1) * H)
            p[rows] = cayley_retract(p[rows], U[rows]).float()


@torch.no_grad()
def check_against_torch(model, opt, loss_fn):
    """The hand-written updates are torch.optim's: one step of each on a copy of the model, every parameter
    treated as unconstrained, with the same gradients."""
    import copy

    a, b = copy.deepcopy(model), copy.deepcopy(model)
    with torch.enable_grad():
        for m in (a, b):
            m.zero_grad()
            loss_fn(m).backward()
    if opt["kind"] == "adam":
        torch_opt = torch.optim.Adam(a.parameters(), lr=opt["lr"], betas=opt["betas"], eps=opt["eps"], weight_decay=opt["weight_decay"])
    else:
        torch_opt = torch.optim.SGD(a.parameters(), lr=opt["lr"], momentum=opt["momentum"], weight_decay=opt["weight_decay"])
    torch_opt.step()
    for (name, p), q in zip(b.named_parameters(), a.parameters()):
        U = update_of(opt, p, p.grad, new_state(opt["kind"], p), 1, opt["weight_decay"])
        assert torch.allclose(p - U, q, rtol=0, atol=1e-7), (name, float((p - U - q).abs().max()))


def block_deviation(W, G):
    """max over the G blocks of ‖WᵀW − I‖_max, in float64."""
    H = W.shape[1]
    worst = 0.0
    for g in range(G):
        B = W[g * H : (g + 1) * H].double()
        worst = max(worst, float((B.T @ B - torch.eye(H, dtype=torch.float64)).abs().max()))
    return worst
