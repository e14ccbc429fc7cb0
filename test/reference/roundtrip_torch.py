#!/usr/bin/python3
"""PyTorch side of test/torch_roundtrip.test.ts, in one process (importing torch is the slow part).

    /usr/bin/python3 test/reference/roundtrip_torch.py DIR CORPUS PROBE RUNS_JSON

RUNS_JSON maps names to rnn run directories (trained by the test). Prints one JSON object:
  rnn_runs   {name: {eval, same_bytes}}   python/rnn_torch.py loads each (checksum checked) and scores PROBE
                                          under rnn eval's protocol; same_bytes: saved again, the file is
                                          byte for byte the one rnn wrote
  py_models  {name: {file, eval}}         CharRNNs made here (every kind), weights ×3 so they are not near
                                          uniform, saved with rnn_torch.save into DIR, scored here
  user       {eval, files}                a user's own module (nn.Embedding + nn.LSTM + nn.Linear, its own
                                          names) as plain safetensors, as torch.save'd .pt, and with a shuffled
                                          vocabulary (.json) plus the matching permuted weights; scored by its own
                                          forward under the same protocol
  nofg       {pt, config, eval}           an LSTM without forget gate (rnn_torch.CharRNN forget_gate=False)
                                          torch.save'd, with the JSON model config `rnn_torch.py convert
                                          --config` takes (its 3H rows alone look like a GRU); scored here
  bad        {name: file}                 files rnn import must refuse
  rng        first / at / state           rnn's RNG (xoshiro128**) as rnn_torch draws it, lanes path
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import rnn_torch as R  # noqa: E402


def user_eval(net, vocab, text, V):
    idx = {c: i for i, c in enumerate(vocab)}
    ids = [idx[c] for c in text if c in idx]
    total, h = 0.0, None
    with torch.no_grad():
        for s in range(0, len(ids) - 1, 256):
            e = min(s + 256, len(ids) - 1)
            logits, h = net(torch.tensor(ids[s:e]).view(-1, 1), h)
            total += F.cross_entropy(logits.view(-1, V).double(), torch.tensor(ids[s + 1 : e + 1]), reduction="sum").item()
    n = len(ids) - 1
    return {"loss": total / n, "chars": n, "skipped": len(text) - len(ids)}


class UserNet(nn.Module):
    def __init__(self, V):
        super().__init__()
        self.embed = nn.Embedding(V, 7)
        self.lstm = nn.LSTM(7, 12, 2)
        self.fc = nn.Linear(12, V)

    def forward(self, x, h=None):
        y, h = self.lstm(self.embed(x), h)
        return self.fc(y), h


def main(out_dir, corpus, probe, runs_json):
    torch.manual_seed(0)
    text = R.read_text(probe)
    vocab, _ = R.read_corpus([corpus])
    V = len(vocab)
    res = {"rnn_runs": {}, "py_models": {}, "bad": {}}

    for name, run in json.loads(runs_json).items():
        model, voc, cfg = R.load(run)
        path = os.path.join(run, "latest.safetensors")
        with open(path, "rb") as f:
            orig = f.read()
        m = model.meta
        again = R.encode_model(model, voc, cfg, int(m["step"]), None if m["best_val_loss"] == "null" else float(m["best_val_loss"]))
        res["rnn_runs"][name] = {"eval": R.evaluate(model, voc, text), "same_bytes": again == orig}

    kinds = {
        "rnn-tanh-onehot": dict(cell="rnn", layers=1, embed=0),
        "rnn-relu-embed": dict(cell="rnn", layers=2, embed=6, activation="relu"),
        "lstm-onehot-residual": dict(cell="lstm", layers=2, embed=0, residual=True),
        "lstm-embed-dropout": dict(cell="lstm", layers=1, embed=5, dropout=0.3),
        "gru-embed-residual": dict(cell="gru", layers=3, embed=6, residual=True, dropout=0.1),
        "gru-onehot": dict(cell="gru", layers=2, embed=0),
        "lstm-nofg-embed-residual": dict(cell="lstm", layers=2, embed=6, residual=True, forget_gate=False),
        "lstm-nofg-onehot": dict(cell="lstm", layers=1, embed=0, forget_gate=False),
    }
    for name, k in kinds.items():
        model = R.CharRNN(k["cell"], V, 12, k["layers"], k["embed"], k.get("activation", "tanh"), k.get("residual", False), k.get("dropout", 0.0),
                          k.get("forget_gate", True))
        with torch.no_grad():
            for n, p in model.named_parameters():
                if not (k.get("activation") == "relu" and n.startswith("rnn.weight_hh")):  # relu would blow up
                    p.mul_(3)
        f = os.path.join(out_dir, f"py-{name}.safetensors")
        R.save(model, f, vocab)
        res["py_models"][name] = {"file": f, "eval": R.evaluate(model.eval(), vocab, text)}

    # a user's own module, its own tensor names
    net = UserNet(V)
    sd = net.state_dict()
    files = {"safetensors": os.path.join(out_dir, "user.safetensors"), "pt": os.path.join(out_dir, "user.pt"),
             "shuffled": os.path.join(out_dir, "user-shuffled.safetensors"), "shuffled_vocab": os.path.join(out_dir, "shuffled.json")}
    R.write_atomic(files["safetensors"], R.encode_safetensors(list(sd.items()), {}, rnn_file=False))
    torch.save(sd, files["pt"])
    perm = torch.randperm(V).tolist()  # the same model, trained with the vocabulary in another order
    with open(files["shuffled_vocab"], "w", encoding="utf-8") as f:
        json.dump([vocab[i] for i in perm], f, ensure_ascii=False)
    sd2 = dict(sd)
    for n in ("embed.weight", "fc.weight", "fc.bias"):
        sd2[n] = sd[n][perm]
    R.write_atomic(files["shuffled"], R.encode_safetensors(list(sd2.items()), {}, rnn_file=False))
    res["user"] = {"eval": user_eval(net, vocab, text, V), "files": files}

    # an LSTM without forget gate, torch.save'd: convert needs its config (--config), the shapes say GRU
    nofg = R.CharRNN("lstm", V, 10, 2, 5, residual=True, forget_gate=False)
    with torch.no_grad():
        for p in nofg.parameters():
            p.mul_(2)
    res["nofg"] = {"pt": os.path.join(out_dir, "nofg.pt"), "config": os.path.join(out_dir, "nofg-config.json")}
    torch.save(nofg.state_dict(), res["nofg"]["pt"])
    with open(res["nofg"]["config"], "w") as f:
        json.dump({"model": {"cell": "lstm", "forgetGate": False, "layers": 2, "hidden": 10, "embed": 5, "residual": True}}, f)
    res["nofg"]["eval"] = R.evaluate(nofg.eval(), vocab, text)

    # files rnn import refuses
    bad = dict(sd)
    bad["lstm.weight_hh_l1"] = torch.zeros(48, 11)
    res["bad"]["shape"] = os.path.join(out_dir, "bad-shape.safetensors")
    R.write_atomic(res["bad"]["shape"], R.encode_safetensors(list(bad.items()), {}, rnn_file=False))
    bad = dict(sd)
    bad["norm.running_mean"] = torch.zeros(12)
    res["bad"]["unknown"] = os.path.join(out_dir, "bad-unknown.safetensors")
    R.write_atomic(res["bad"]["unknown"], R.encode_safetensors(list(bad.items()), {}, rnn_file=False))

    g = R.Rng(7)
    draws = g.u32(5000)
    res["rng"] = {"first": [int(x) for x in draws[:3]], "at": {str(i): int(draws[i]) for i in (0, 1234, 4095, 4096, 4999)}, "state": g.get_state()}
    print(json.dumps(res))


if __name__ == "__main__":
    main(*sys.argv[1:5])
