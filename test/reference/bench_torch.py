#!/usr/bin/python3
"""The `rnn bench` workloads in PyTorch, for side-by-side numbers on the same machine:

    /usr/bin/python3 test/reference/bench_torch.py [--seconds 5] [--threads 1] [--only P1,P2] [--json]

Same synthetic setup as src/bench/bench.ts: V = 65, one-hot input (F.one_hot, as PyTorch users write it),
nn.LSTM / nn.RNN / nn.GRU + nn.Linear decoder, Adam lr 2e-3, clip_grad_norm_ 5, hidden state carried
(detached) between chunks; sampling at batch 1 with temperature-1 multinomial draws. torch threads default
to 1 (its fastest setting on this 2-core machine); OpenBLAS keeps its own threads.
Prints chars/s, ms/step and GFLOP/s (the same FLOP count as rnn bench) and the peak RSS of this process.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V = 65
WORKLOADS = [
    ("P1", "train", "lstm", 2, 128, 50, 50, "LSTM 2×128, B50 T50 (char-rnn's default)"),
    ("P2", "train", "lstm", 2, 512, 50, 50, "LSTM 2×512, B50 T50"),
    ("P3", "train", "rnn", 1, 100, 1, 25, "RNN 1×100, B1 T25 (min-char-rnn)"),
    ("P4", "train", "gru", 2, 256, 32, 64, "GRU 2×256, B32 T64"),
    ("S1", "sample", "lstm", 2, 512, 1, 1, "sampling LSTM 2×512, batch 1"),
    ("S2", "sample", "lstm", 2, 128, 1, 1, "sampling LSTM 2×128, batch 1"),
]
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def train_flops(cell, L, H, B, T):
    # same count as rnn bench: one-hot input projection counts nothing (in rnn it is a gather)
    N, GH = B * T, GATES[cell] * H
    f = 0
    for l in range(L):
        In = 0 if l == 0 else H  # layer ≥ 1 projects its H-wide input; layer 0's one-hot projection counts 0
        f += 2 * N * In * GH * 3 + 2 * N * H * GH * 3
    return f + 2 * N * H * V * 3


def sample_flops(cell, L, H):
    GH = GATES[cell] * H
    return sum(2 * ((0 if l == 0 else H) + H) * GH for l in range(L)) + 2 * H * V


class Net(nn.Module):
    def __init__(self, cell, L, H):
        super().__init__()
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](V, H, L)
        self.decoder = nn.Linear(H, V)

    def forward(self, x, h):
        out, h = self.rnn(F.one_hot(x, V).float(), h)
        return self.decoder(out), h


def detach(h):
    return tuple(s.detach() for s in h) if isinstance(h, tuple) else h.detach()


def bench_train(cell, L, H, B, T, seconds):
    net = Net(cell, L, H)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    data = torch.randint(0, V, (8, T + 1, B))
    h = None

    def step(i):
        nonlocal h
        x, y = data[i % 8, :T], data[i % 8, 1:]
        logits, h = net(x, h)
        h = detach(h)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()

    for i in range(3):
        step(i)
    steps, t0 = 0, time.perf_counter()
    while True:
        step(steps)
        steps += 1
        t = time.perf_counter() - t0
        if t >= seconds and steps >= 5:
            break
    return steps * B * T / t, 1000 * t / steps, train_flops(cell, L, H, B, T) * steps / t / 1e9


@torch.no_grad()
def bench_sample(cell, L, H, seconds):
    net = Net(cell, L, H).eval()

    def go(n):
        x, h = torch.zeros(1, 1, dtype=torch.long), None
        for _ in range(n):
            logits, h = net(x, h)
            p = torch.softmax(logits.view(-1), 0)
            x = torch.multinomial(p, 1).view(1, 1)

    go(50)
    n = 200
    while True:
        t0 = time.perf_counter()
        go(n)
        t = time.perf_counter() - t0
        if t >= seconds * 0.5:
            break
        n = int(n * min(10, seconds / max(t, 1e-3) * 0.6)) + 1
    cps = n / t
    return cps, 1000 / cps, sample_flops(cell, L, H) * cps / 1e9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", default=None)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    only = set(a.only.upper().split(",")) if a.only else None
    if not a.json:
        print(f"torch {torch.__version__} · {a.threads} thread(s) · {a.seconds}s per workload")
    for wid, kind, cell, L, H, B, T, note in WORKLOADS:
        if only and wid not in only:
            continue
        if kind == "train":
            cps, ms, gf = bench_train(cell, L, H, B, T, a.seconds)
        else:
            cps, ms, gf = bench_sample(cell, L, H, a.seconds)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if a.json:
            print(json.dumps({"id": wid, "note": note, "charsPerSec": cps, "msPerStep": ms, "gflops": gf, "maxRssBytes": rss}), flush=True)
        else:
            print(f"{wid:4}{note:44}{cps:10.0f}{ms:10.2f}{gf:10.1f}", flush=True)


if __name__ == "__main__":
    main()
