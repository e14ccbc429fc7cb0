#!/usr/bin/python3
"""PyTorch trained under exactly rnn train's protocol, for side-by-side comparisons:

    /usr/bin/python3 test/reference/train_torch.py CORPUS [--cell lstm --layers 2 --hidden 128 --batch 50
        --seq 50 --lr 2e-3 --clip 5 --steps 2000 --val-frac 0.05 --threads 1 --seed 42 --out FILE.safetensors]

Protocol (src/corpus/batches.ts, src/train/train.ts, src/eval/evaluate.ts):
  * vocabulary = distinct code points of the corpus, sorted; validation = the last floor(len·val_frac) chars;
  * B streams, stream b = train[b·L : b·L + L + 1] with L = (len(train) − 1) // B; chunk c of an epoch covers
    steps c·T … c·T + T − 1 of every stream; hidden state carried (detached) across chunks, reset each epoch;
  * Adam (torch defaults but lr), clip_grad_norm_(clip), PyTorch's default initialisation;
  * validation loss = eval_text: the held-out text as one stream from a zero state (char_rnn.py).
Prints one JSON object: final validation loss, training chars/s (validation time excluded), seconds.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from char_rnn import CharRNN, eval_text, save_checkpoint  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("corpus")
    p.add_argument("--cell", default="lstm")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=0)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--seq", type=int, default=50)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--val-frac", type=float, default=0.05)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    text = open(a.corpus, encoding="utf-8").read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    n_val = int(math.floor(len(ids) * a.val_frac))
    train, val_text = ids[: len(ids) - n_val], text[len(text) - n_val :]
    B, T = a.batch, a.seq
    L = (len(train) - 1) // B
    chunks = L // T
    streams = torch.stack([train[b * L : b * L + L + 1] for b in range(B)])  # [B, L+1]

    model = CharRNN(a.cell, len(vocab), a.hidden, a.layers, a.embed)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    h = None
    t_train = 0.0
    loss = None
    for step in range(a.steps):
        c = step % chunks
        if c == 0:
            h = None
        t0 = time.perf_counter()
        x = streams[:, c * T : c * T + T].t().contiguous()  # [T, B]
        y = streams[:, c * T + 1 : c * T + T + 1].t().contiguous()
        logits, h = model(x, h)
        h = tuple(s.detach() for s in h) if isinstance(h, tuple) else h.detach()
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        t_train += time.perf_counter() - t0
    model.eval()
    v = eval_text(model, vocab, val_text)
    if a.out:
        save_checkpoint(a.out, model, vocab, {"model": {"cell": a.cell, "layers": a.layers, "hidden": a.hidden, "embed": a.embed, "activation": "tanh", "residual": False, "vocabSize": len(vocab)}})
    print(json.dumps({
        "torch": torch.__version__, "threads": a.threads, "steps": a.steps, "train_loss": loss.item(),
        "val_loss": v["loss"], "val_bpc": v["bpc"], "chars_per_sec": a.steps * B * T / t_train, "train_seconds": t_train,
    }))


if __name__ == "__main__":
    main()
