#!/usr/bin/python3
"""The PyTorch CharRNN whose state_dict names rnn's checkpoints use (with NoForgetLSTM, the LSTM without forget
gate that PyTorch lacks, and NormedRNN, the cells with --norm layer | batch), a plain safetensors loader (no
`safetensors` package needed), and the evaluation protocol `rnn eval` follows.

    /usr/bin/python3 test/reference/char_rnn.py eval CKPT FILE   # prints {"loss","bpc","perplexity","chars","skipped"}

Evaluation protocol (identical in rnn's TypeScript `eval`):
  * characters of FILE that are not in the checkpoint's vocabulary are removed from the stream first and
    counted as `skipped`;
  * the remaining characters run as ONE stream (batch 1) from a zero state, in chunks of 256 steps with the
    state carried from chunk to chunk, no dropout, no gradient;
  * every character after the first is predicted from all before it: loss = mean cross-entropy (nats) over
    those `chars` = (known characters − 1) predictions; bpc = loss / ln 2; perplexity = exp(loss).
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
EVAL_CHUNK = 256


class NoForgetLSTM(nn.Module):
    """Hochreiter & Schmidhuber's 1997 LSTM, without forget gate: rnn's `--cell lstm --no-forget-gate`.

    nn.LSTM's interface (input [T, B, In], state (h0, c0) [L, B, H] each or None → output [T, B, H], (h_n, c_n))
    and parameter names (weight_ih_l{k} [3H × In], weight_hh_l{k} [3H × H], bias_ih_l{k}, bias_hh_l{k} [3H]),
    nn.LSTM's init U(±1/√H), and its gate order with f left out — [i, g, o]:
        i, g, o = σ(·), tanh(·), σ(·) of x W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh
        c_t = c_{t−1} + i ⊙ g          h_t = o ⊙ tanh(c_t)
    Written with plain torch ops, one step at a time; autograd gives the gradients.
    """

    def __init__(self, input_size, hidden_size, num_layers=1):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        H = hidden_size
        for k in range(num_layers):
            In = input_size if k == 0 else H
            setattr(self, f"weight_ih_l{k}", nn.Parameter(torch.empty(3 * H, In)))
            setattr(self, f"weight_hh_l{k}", nn.Parameter(torch.empty(3 * H, H)))
            setattr(self, f"bias_ih_l{k}", nn.Parameter(torch.empty(3 * H)))
            setattr(self, f"bias_hh_l{k}", nn.Parameter(torch.empty(3 * H)))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x, state=None):
        T, B, _ = x.shape
        L, H = self.num_layers, self.hidden_size
        if state is None:
            z = x.new_zeros(L, B, H)
            state = (z, z)
        h0, c0 = state
        inp, h_n, c_n = x, [], []
        for k in range(L):
            W_ih, W_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            b_ih, b_hh = getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}")
            gx = F.linear(inp, W_ih, b_ih)  # [T, B, 3H], every step at once
            h, c, out = h0[k], c0[k], []
            for t in range(T):
                i, g, o = (gx[t] + F.linear(h, W_hh, b_hh)).chunk(3, dim=1)
                c = c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                out.append(h)
            inp = torch.stack(out)
            h_n.append(h)
            c_n.append(c)
        return inp, (torch.stack(h_n), torch.stack(c_n))


class Normalise(nn.Module):
    """One normalisation of rnn's --norm (src/model/norm.ts): y = weight ⊙ N(x) (+ bias) for x [B, n].

    kind "layer": N over the n values of each row (F.layer_norm, eps 1e-5); weight starts at 1.
    kind "batch": N per unit over the B rows (F.batch_norm, eps 1e-5, momentum 0.1: biased variance for the
    normalisation, the unbiased one into the running estimate), with the buffers running_mean (0) and
    running_var (1), used in eval mode; weight starts at 0.1 (Cooijmans et al. 2016).
    bias=False: no β of its own (the recurrent layer's bias_ih / bias_hh follow it).
    """

    def __init__(self, n, kind, bias=False):
        super().__init__()
        if kind not in ("layer", "batch"):
            raise ValueError(f"norm must be layer or batch, got {kind!r}")
        self.n, self.kind = n, kind
        self.weight = nn.Parameter(torch.full((n,), 1.0 if kind == "layer" else 0.1))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None
        if kind == "batch":
            self.register_buffer("running_mean", torch.zeros(n))
            self.register_buffer("running_var", torch.ones(n))

    def forward(self, x):
        if self.kind == "layer":
            return F.layer_norm(x, (self.n,), self.weight, self.bias, 1e-5)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training, 0.1, 1e-5)


class NormedRNN(nn.Module):
    """rnn's cells with --norm layer | batch (nn.RNN / nn.LSTM / nn.GRU have no normalisation). Per layer k,
    nn.RNN's parameter names (weight_ih_l{k} [G·H × In], weight_hh_l{k} [G·H × H], bias_ih_l{k}, bias_hh_l{k}
    [G·H]) plus the modules norm_ih_l{k}, norm_hh_l{k} (Normalise, G·H, gain only) and, for the LSTM,
    norm_c_l{k} (H, gain and bias). Step by step, with autograd for the gradients:
        gx = norm_ih(x_t W_ihᵀ) + b_ih          gh = norm_hh(h_{t−1} W_hhᵀ) + b_hh
        rnn   h = act(gx + gh)
        lstm  i, f, g, o = σ, σ, tanh, σ of gx + gh (no f without forget gate: i, g, o; f ≡ 1)
              c = f ⊙ c + i ⊙ g          h = o ⊙ tanh(norm_c(c))          (c carried unnormalised)
        gru   r = σ(gx_r + gh_r)   z = σ(gx_z + gh_z)   n = tanh(gx_n + r ⊙ gh_n)   h = (1 − z) ⊙ n + z ⊙ h
    Interface of nn.LSTM / nn.GRU (input [T, B, In], state h0 [L, B, H], or (h0, c0) for the LSTM).
    """

    def __init__(self, cell, input_size, hidden_size, num_layers, norm, nonlinearity="tanh", forget_gate=True):
        super().__init__()
        self.cell, self.hidden_size, self.num_layers, self.nonlinearity, self.forget_gate = cell, hidden_size, num_layers, nonlinearity, forget_gate
        H = hidden_size
        G = {"rnn": 1, "gru": 3, "lstm": 4 if forget_gate else 3}[cell]
        bound = 1.0 / math.sqrt(H)
        for k in range(num_layers):
            In = input_size if k == 0 else H
            for name, shape in ((f"weight_ih_l{k}", (G * H, In)), (f"weight_hh_l{k}", (G * H, H)), (f"bias_ih_l{k}", (G * H,)), (f"bias_hh_l{k}", (G * H,))):
                setattr(self, name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
            setattr(self, f"norm_ih_l{k}", Normalise(G * H, norm))
            setattr(self, f"norm_hh_l{k}", Normalise(G * H, norm))
            if cell == "lstm":
                setattr(self, f"norm_c_l{k}", Normalise(H, norm, bias=True))

    def forward(self, x, state=None):
        T, B, _ = x.shape
        L, H, lstm = self.num_layers, self.hidden_size, self.cell == "lstm"
        if state is None:
            z = x.new_zeros(L, B, H)
            state = (z, z) if lstm else z
        h0, c0 = state if lstm else (state, None)
        inp, h_n, c_n = x, [], []
        for k in range(L):
            W_ih, W_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            b_ih, b_hh = getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}")
            n_ih, n_hh = getattr(self, f"norm_ih_l{k}"), getattr(self, f"norm_hh_l{k}")
            h, c, out = h0[k], c0[k] if lstm else None, []
            for t in range(T):
                gx = n_ih(F.linear(inp[t], W_ih)) + b_ih
                gh = n_hh(F.linear(h, W_hh)) + b_hh
                if self.cell == "rnn":
                    h = torch.tanh(gx + gh) if self.nonlinearity == "tanh" else torch.relu(gx + gh)
                elif self.cell == "gru":
                    xr, xz, xn = gx.chunk(3, 1)
                    hr, hz, hn = gh.chunk(3, 1)
                    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                    h = (1 - z) * torch.tanh(xn + r * hn) + z * h
                else:
                    if self.forget_gate:
                        i, f, g, o = (gx + gh).chunk(4, 1)
                        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    else:
                        i, g, o = (gx + gh).chunk(3, 1)
                        c = c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(getattr(self, f"norm_c_l{k}")(c))
                out.append(h)
            inp = torch.stack(out)
            h_n.append(h)
            c_n.append(c)
        return inp, ((torch.stack(h_n), torch.stack(c_n)) if lstm else torch.stack(h_n))


class CharRNN(nn.Module):
    def __init__(self, cell, V, H, L, E=0, nonlinearity="tanh", forget_gate=True, norm=None):
        super().__init__()
        self.cell, self.V, self.H, self.L, self.E = cell, V, H, L, E
        if E > 0:
            self.embedding = nn.Embedding(V, E)
        In = E if E > 0 else V
        if norm is not None:
            if not forget_gate and cell != "lstm":
                raise ValueError(f"forgetGate false: the {cell} cell has no forget gate")
            self.rnn = NormedRNN(cell, In, H, L, norm, nonlinearity, forget_gate)
        elif not forget_gate:
            if cell != "lstm":
                raise ValueError(f"forgetGate false: the {cell} cell has no forget gate")
            self.rnn = NoForgetLSTM(In, H, L)
        elif cell == "rnn":
            self.rnn = nn.RNN(In, H, L, nonlinearity=nonlinearity)
        else:
            self.rnn = CELLS[cell](In, H, L)
        self.decoder = nn.Linear(H, V)

    def forward(self, x, h0=None):
        """x [T, B] long; h0 [L, B, H] (a tuple (h0, c0) for lstm) or None for zeros → logits [T, B, V], h_n."""
        inp = self.embedding(x) if self.E > 0 else F.one_hot(x, self.V).to(self.decoder.weight.dtype)
        out, hn = self.rnn(inp, h0)  # out [T, B, H]
        return self.decoder(out), hn


# ---- safetensors, by hand -----------------------------------------------------------------------------

_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8)}


def read_safetensors(path):
    """→ ({name: tensor}, {metadata key: string})"""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(raw)[8 + n :]
    tensors = {}
    for name, info in header.items():
        dtype, size = _DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        count = (b - a) // size
        t = torch.frombuffer(bytearray(body[a:b]), dtype=dtype, count=count) if count else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors, metadata):
    """tensors {name: float32 tensor}; metadata {str: str}. Header padded with spaces to 8 bytes."""
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_checkpoint(path):
    """→ (CharRNN in eval mode with the checkpoint's weights, metadata dict with "config" and "vocab" parsed)"""
    tensors, meta = read_safetensors(path)
    config = json.loads(meta["config"])
    vocab = json.loads(meta["vocab"])
    mc = config["model"]
    if mc.get("residual"):
        raise ValueError("this reference CharRNN has no residual connections")
    model = CharRNN(mc["cell"], mc["vocabSize"], mc["hidden"], mc["layers"], mc.get("embed", 0), mc.get("activation", "tanh"),
                    mc.get("forgetGate", True), mc.get("norm"))
    model.load_state_dict(tensors, strict=True)
    model.eval()
    out = dict(meta)
    out["config"], out["vocab"] = config, vocab
    return model, out


def save_checkpoint(path, model, vocab, config, extra=None):
    """Writes a checkpoint in rnn's layout (state_dict names, metadata "config" and "vocab" as JSON strings)."""
    meta = {"config": json.dumps(config), "vocab": json.dumps(vocab)}
    meta.update(extra or {})
    write_safetensors(path, model.state_dict(), meta)


# ---- evaluation ----------------------------------------------------------------------------------------


@torch.no_grad()
def eval_text(model, vocab, text, chunk=EVAL_CHUNK):
    index = {c: i for i, c in enumerate(vocab)}
    ids = [index[c] for c in text if c in index]
    skipped = len(text) - len(ids)
    chars = max(len(ids) - 1, 0)
    total = 0.0
    h = None
    for s in range(0, chars, chunk):
        e = min(s + chunk, chars)
        x = torch.tensor(ids[s:e], dtype=torch.long).view(-1, 1)  # [T, 1]
        y = torch.tensor(ids[s + 1 : e + 1], dtype=torch.long)  # [T]
        logits, h = model(x, h)
        total += F.cross_entropy(logits.view(-1, model.V).double(), y, reduction="sum").item()
    loss = total / chars if chars else float("nan")
    return {"loss": loss, "bpc": loss / math.log(2), "perplexity": math.exp(loss) if chars else float("nan"), "chars": chars, "skipped": skipped}


def main(argv):
    if len(argv) != 4 or argv[1] != "eval":
        print("usage: char_rnn.py eval CKPT FILE", file=sys.stderr)
        return 2
    model, meta = load_checkpoint(argv[2])
    with open(argv[3], encoding="utf-8") as f:
        text = f.read()
    print(json.dumps(eval_text(model, meta["vocab"], text)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
