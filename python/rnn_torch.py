#!/usr/bin/env python3
"""PyTorch companion of rnn: the CharRNN module of every checkpoint kind rnn writes, and its file formats.

Depends on torch (and numpy, which torch ships with); not on the `safetensors` package.

    import rnn_torch
    model, vocab, config = rnn_torch.load("runs/my-run/latest.safetensors")   # checksum verified
    print(rnn_torch.evaluate(model, vocab, rnn_torch.read_text("some.txt")))   # = `rnn eval --json`
    rnn_torch.save(model, "mine.safetensors", vocab, config)                   # rnn sample/eval accept it

Command line:

    python3 rnn_torch.py eval CKPT FILE      # prints rnn eval's JSON: {"loss","bpc","perplexity","chars","skipped"}
    python3 rnn_torch.py convert STATE_DICT.pt --out X.safetensors [--vocab FILE] [--config RUN|CKPT|FILE.json]
                                             # a torch.save'd state_dict → a plain safetensors file (names kept,
                                             # float32) for `rnn import X.safetensors --out RUN`; --config
                                             # stores rnn's config, for what the shapes cannot say (an LSTM
                                             # without forget gate has 3H rows, as a GRU)

The model (rnn's src/model/model.ts, layer by layer):
    x  = embedding(ids)                 or one_hot(ids, V) when embed = 0
    for layer k = 0 … L−1:
        y = cell_k(x, state_k)          nn.RNN (tanh|relu) / nn.LSTM / nn.GRU arithmetic, one layer, or the
                                        LSTM without forget gate (forgetGate false: StackedRNN, step by step),
                                        or with --norm layer | batch (norm: Normalise modules, step by step)
        if residual and k > 0: y = y + x
        if dropout (training):  y = y ⊙ mask_k,  mask ∈ {0, 1/(1−p)}
        x = y
    logits = decoder(x)                 nn.Linear(H, V)
The recurrent weights keep the names of one stacked nn.LSTM (rnn.weight_ih_l{k}, rnn.weight_hh_l{k},
rnn.bias_ih_l{k}, rnn.bias_hh_l{k}) although each layer runs on its own, so residual connections and
dropout after the top layer are possible. With --norm: rnn.norm_ih_l{k}.weight, rnn.norm_hh_l{k}.weight,
rnn.norm_c_l{k}.weight / .bias (LSTM), and for batch norm each one's running_mean / running_var buffers.

File format (rnn's src/io/safetensors.ts): 8-byte little-endian header length N, N bytes of JSON header
padded with spaces to a multiple of 8, then the tensors as little-endian float32 back to back.
`__metadata__` is the first header key and `checksum` its first entry: "sha256:" + the SHA-256 of the WHOLE
file with those 64 hex digits replaced by "0". Model files add format_version "1", config (JSON), vocab
(JSON list of one-code-point strings, sorted by code point), step, best_val_loss. rnn writes JSON as
JavaScript's JSON.stringify does; `js_json` reproduces that, so a file loaded and saved again here is the
same bytes.
"""
import hashlib
import json
import math
import os
import struct
import sys
import warnings

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as _e:  # `rnn import x.pt` tries the next interpreter on exit code 3
    if __name__ == "__main__":
        print(f"rnn_torch: error: this Python ({sys.executable}) cannot import {_e.name}; use one with PyTorch", file=sys.stderr)
        sys.exit(3)
    raise

FORMAT_VERSION = 1
EVAL_CHUNK = 256
GATES = {"rnn": 1, "gru": 3, "lstm": 4}

# rnn's MODEL_DEFAULTS and TRAIN_DEFAULTS (src/config.ts), in the order rnn writes a config
MODEL_DEFAULTS = {"cell": "lstm", "layers": 2, "hidden": 128, "embed": 0, "activation": "tanh", "residual": False}
TRAIN_DEFAULTS = {
    "batch": 50, "seq": 50, "valFrac": 0.05, "optimizer": "adam", "lr": 2e-3, "momentum": 0.9,
    "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weightDecay": 0, "clip": 5, "clipValue": 0, "orthoReg": 0,
    "dropout": 0, "lrDecay": 1, "lrDecayEvery": 0, "warmup": 0, "patience": 0, "init": "orthogonal",
    "forgetBias": None, "steps": 1000, "epochs": 0, "time": 0, "evalEvery": 200, "checkpointEvery": 500,
    "keep": 0, "seed": 42,
}


class RnnFormatError(ValueError):
    """A file that is not (or no longer) what rnn writes: one line naming the file and the problem."""


# ---- JSON exactly as JavaScript's JSON.stringify writes it --------------------------------------------------


def js_number(x):
    """Number → the string JavaScript's Number.prototype.toString gives (shortest round trip, JS exponents)."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if x != x or x in (math.inf, -math.inf):
        return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    if x == 0:
        return "0"
    r = repr(x)
    sign = "-" if r.startswith("-") else ""
    r = r.lstrip("-")
    mant, _, e = r.partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    exp10 = (int(e) if e else 0) - len(fp)  # value = int(digits) · 10^exp10
    stripped = digits.rstrip("0")
    exp10 += len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = k + exp10  # position of the decimal point relative to the first digit
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * (-n) + digits
    else:
        e2 = n - 1
        s = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e2 >= 0 else "-") + str(abs(e2))
    return sign + s


def js_json(o):
    """JSON.stringify(o) of JavaScript: compact, non-ASCII kept, numbers as JavaScript prints them, NaN → null."""
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, (int, float)):
        if isinstance(o, float) and (o != o or o in (math.inf, -math.inf)):
            return "null"
        return js_number(o)
    if isinstance(o, str):
        return json.dumps(o, ensure_ascii=False)
    if isinstance(o, (list, tuple)):
        return "[" + ",".join(js_json(v) for v in o) + "]"
    if isinstance(o, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + js_json(v) for k, v in o.items()) + "}"
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


# ---- safetensors with rnn's checksum ------------------------------------------------------------------------

_CHECKSUM_PREFIX = b'{"__metadata__":{"checksum":"sha256:'
_CHECKSUM_AT = 8 + len(_CHECKSUM_PREFIX)
_ZERO_HEX = b"0" * 64
_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


def _file_checksum(buf):
    h = hashlib.sha256()
    h.update(buf[:_CHECKSUM_AT])
    h.update(_ZERO_HEX)
    h.update(buf[_CHECKSUM_AT + 64 :])
    return h.hexdigest()


def encode_safetensors(tensors, metadata, rnn_file=True):
    """tensors: [(name, tensor)] in file order (written as float32); metadata: {str: str}. → bytes, with
    the checksum first and format_version second (unless metadata gives it), exactly as rnn encodes.
    rnn_file=False: no format_version (a plain state_dict file, for `rnn import`)."""
    meta = {"checksum": "sha256:" + "0" * 64}
    if rnn_file and "format_version" not in metadata:
        meta["format_version"] = str(FORMAT_VERSION)
    for k, v in metadata.items():
        if k == "checksum":
            continue
        if not isinstance(v, str):
            raise TypeError(f"metadata {k!r} must be a string")
        meta[k] = v
    header = {"__metadata__": meta}
    blobs, off = [], 0
    for name, t in tensors:
        b = t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4", copy=False).tobytes()
        header[name] = {"dtype": "F32", "shape": [int(d) for d in t.shape], "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = js_json(header).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    buf = bytearray(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    buf[_CHECKSUM_AT : _CHECKSUM_AT + 64] = _file_checksum(buf).encode("ascii")
    return bytes(buf)


def decode_safetensors(buf, what, strict=True):
    """bytes → ({name: tensor} in file order, {key: str}). strict: an rnn file (format_version and a valid
    checksum required); otherwise any safetensors file, converted to float32, a checksum that is present
    still checked."""
    L = len(buf)
    if L < 8:
        raise RnnFormatError(f"{what} is truncated ({L} bytes)")
    (n,) = struct.unpack("<Q", buf[:8])
    if n < 2 or 8 + n > L or buf[8:9] != b"{":
        raise RnnFormatError(f"{what} is not a safetensors file (or is truncated): check the path")
    try:
        header = json.loads(bytes(buf[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise RnnFormatError(f"{what} is corrupt: its header is not valid JSON ({e})") from None
    meta = header.pop("__metadata__", None) or {}
    if strict or "format_version" in meta:
        v = meta.get("format_version")
        if v is None:
            raise RnnFormatError(f"{what} is not an rnn checkpoint: its metadata has no format_version")
        if not str(v).isdigit() or int(v) < 1:
            raise RnnFormatError(f"{what} is corrupt: format_version {v!r} is not a positive integer")
        if int(v) > FORMAT_VERSION:
            raise RnnFormatError(f"{what} was written by a newer rnn (format {v}); upgrade rnn_torch.py")
    sum_ = meta.get("checksum")
    if sum_ is None:
        if strict:
            raise RnnFormatError(f"{what} is not an rnn checkpoint: it has no checksum in its metadata")
    else:
        hexd = sum_[7:] if sum_.startswith("sha256:") else ""
        if len(hexd) != 64 or bytes(buf[8:_CHECKSUM_AT + 64]) != _CHECKSUM_PREFIX + hexd.encode("ascii"):
            raise RnnFormatError(f"{what} is corrupt: checksum entry {sum_!r} is not where or what rnn writes")
        actual = _file_checksum(buf)
        if actual != hexd:
            raise RnnFormatError(f"{what} is corrupt: checksum mismatch (file says {hexd[:12]}…, contents hash to {actual[:12]}…)")
    body = memoryview(buf)[8 + n :]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    pos, tensors = 0, {}
    for name, info in entries:
        if info.get("dtype") not in _DTYPES:
            raise RnnFormatError(f"{what}: tensor {name!r} has dtype {info.get('dtype')!r}; only float tensors are read")
        dtype, size = _DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64)) if info["shape"] else 1
        if a != pos or b - a != count * size or b > len(body):
            raise RnnFormatError(f"{what} is corrupt: tensor {name!r} has data_offsets [{a}, {b}] that do not tile the data")
        pos = b
        raw = bytearray(body[a:b])
        t = torch.frombuffer(raw, dtype=dtype, count=count) if count else torch.empty(0, dtype=dtype)  # little-endian hosts
        tensors[name] = t.reshape(info["shape"]).to(torch.float32).clone()
    if pos != len(body):
        raise RnnFormatError(f"{what} is corrupt: {len(body) - pos} unexpected bytes after the last tensor")
    ordered = {name: tensors[name] for name in header.keys()}  # header order (rnn writes data in that order)
    return ordered, dict(meta)


def read_safetensors(path, strict=True):
    with open(path, "rb") as f:
        return decode_safetensors(f.read(), path, strict=strict)


_tmp_counter = 0


def write_atomic(path, data):
    """Temp file beside the target (rnn's name pattern, so rnn removes a stale one), fsync, rename, fsync dir."""
    global _tmp_counter
    d = os.path.dirname(os.path.abspath(path))
    while True:
        tmp = os.path.join(d, f".{os.path.basename(path)}.tmp-{os.getpid()}-{_tmp_counter}")
        _tmp_counter += 1
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            continue
    try:
        view = memoryview(data if isinstance(data, (bytes, bytearray)) else data.encode("utf-8"))
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    try:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# ---- the model ----------------------------------------------------------------------------------------------

try:
    from torch import _VF  # the kernels nn.LSTM / nn.GRU / nn.RNN call, one layer at a time
except ImportError:  # pragma: no cover
    _VF = None
# cuDNN copies per-layer weights into its own layout on every call, and says so; that is expected here
warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk of memory")


NORMS = ("layer", "batch")


class Normalise(nn.Module):
    """One normalisation of rnn's --norm (src/model/norm.ts): y = weight ⊙ N(x) (+ bias) for x [B, n].

    "layer": N over the n values of each row (F.layer_norm, eps 1e-5); the gain starts at 1.
    "batch": N per unit over the B rows (F.batch_norm, eps 1e-5, momentum 0.1: the biased variance normalises,
    the unbiased one goes into the running estimate), with the buffers running_mean (0) and running_var (1)
    that eval mode uses; the gain starts at 0.1 (Cooijmans et al. 2016). bias=False: no β of its own."""

    def __init__(self, n, kind, bias=False):
        super().__init__()
        if kind not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {kind!r}")
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


class StackedRNN(nn.Module):
    """L recurrent layers run one by one, with the parameter names of one stacked nn.LSTM/nn.GRU/nn.RNN.

    norm="layer" | "batch" (rnn's --norm; src/model/cells/*-norm.ts): each layer k also has the modules
    norm_ih_l{k} and norm_hh_l{k} (Normalise of G·H values, gain only) and, for the LSTM, norm_c_l{k} (H, gain and
    bias), run step by step with autograd:
        gx = norm_ih(x W_ihᵀ) + b_ih      gh = norm_hh(h_{t−1} W_hhᵀ) + b_hh      (the cell then as below)
        LSTM: c_t as below, unnormalised; h_t = o ⊙ tanh(norm_c(c_t))
    (test/reference/char_rnn.py NormedRNN, the same arithmetic).

    forget_gate=False (cell "lstm" only): Hochreiter & Schmidhuber's 1997 LSTM, rnn's `--cell lstm
    --no-forget-gate` (src/model/cells/lstm-nofg.ts). PyTorch has no kernel for it: nn.LSTM's names, its
    gate order with f left out — rows [i, g, o], 3H of them — and, step by step with autograd,
        i, g, o = σ, tanh, σ of x W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh
        c_t = c_{t−1} + i ⊙ g          h_t = o ⊙ tanh(c_t)
    (test/reference/char_rnn.py NoForgetLSTM, the same arithmetic)."""

    def __init__(self, cell, input_size, hidden, layers, activation="tanh", forget_gate=True, norm=None):
        super().__init__()
        if norm is not None and norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)} or None, got {norm!r}")
        if cell not in GATES:
            raise ValueError(f"cell must be rnn, lstm or gru, got {cell!r}")
        if activation not in ("tanh", "relu") or (activation == "relu" and cell != "rnn"):
            raise ValueError(f"activation {activation!r} applies to cell 'rnn' only (tanh or relu)")
        if forget_gate is not True and forget_gate is not False:
            raise ValueError(f"forget_gate must be True or False, got {forget_gate!r}")
        if not forget_gate and cell != "lstm":
            raise ValueError(f"the {cell} cell has no forget gate to leave out (forget_gate=False is for 'lstm')")
        self.cell, self.hidden, self.layers, self.activation, self.forget_gate, self.norm = cell, hidden, layers, activation, forget_gate, norm
        G = GATES[cell] if forget_gate else 3
        k = 1 / math.sqrt(hidden)
        for l in range(layers):
            In = input_size if l == 0 else hidden
            for name, shape in ((f"weight_ih_l{l}", (G * hidden, In)), (f"weight_hh_l{l}", (G * hidden, hidden)),
                                (f"bias_ih_l{l}", (G * hidden,)), (f"bias_hh_l{l}", (G * hidden,))):
                self.register_parameter(name, nn.Parameter(torch.empty(shape).uniform_(-k, k)))  # nn.LSTM's init
        if norm is not None:
            for l in range(layers):
                setattr(self, f"norm_ih_l{l}", Normalise(G * hidden, norm))
                setattr(self, f"norm_hh_l{l}", Normalise(G * hidden, norm))
                if cell == "lstm":
                    setattr(self, f"norm_c_l{l}", Normalise(hidden, norm, bias=True))

    def weights(self, l):
        return [getattr(self, f"{n}_l{l}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def layer(self, l, x, h, c=None):
        """x [T, B, In], h (and c) [B, H] → y [T, B, H], h_T (, c_T)."""
        w = self.weights(l)
        if self.norm is not None:
            return self._normed_loop(l, w, x, h, c)
        if _VF is not None and self.forget_gate:
            if self.cell == "lstm":
                y, hn, cn = _VF.lstm(x, (h.unsqueeze(0), c.unsqueeze(0)), w, True, 1, 0.0, self.training, False, False)
                return y, hn[0], cn[0]
            fn = _VF.gru if self.cell == "gru" else (_VF.rnn_tanh if self.activation == "tanh" else _VF.rnn_relu)
            y, hn = fn(x, h.unsqueeze(0), w, True, 1, 0.0, self.training, False, False)
            return y, hn[0], None
        return self._layer_loop(w, x, h, c)  # the LSTM without forget gate (and any cell without torch._VF)

    def _layer_loop(self, w, x, h, c):  # the same arithmetic, step by step
        wih, whh, bih, bhh = w
        gx = x @ wih.t() + bih
        ys = []
        for t in range(x.shape[0]):
            gh = h @ whh.t() + bhh
            if not self.forget_gate:  # rows [i, g, o]; c_t = c_{t−1} + i ⊙ g: nothing is forgotten
                i, g, o = (gx[t] + gh).chunk(3, 1)
                c = c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            elif self.cell == "lstm":
                i, f, g, o = (gx[t] + gh).chunk(4, 1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            elif self.cell == "gru":
                xr, xz, xn = gx[t].chunk(3, 1)
                hr, hz, hn = gh.chunk(3, 1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                n = torch.tanh(xn + r * hn)
                h = (1 - z) * n + z * h
            else:
                h = torch.tanh(gx[t] + gh) if self.activation == "tanh" else torch.relu(gx[t] + gh)
            ys.append(h)
        return torch.stack(ys), h, c

    def _normed_loop(self, l, w, x, h, c):  # --norm: both projections (and the LSTM's c) normalised, step by step
        wih, whh, bih, bhh = w
        n_ih, n_hh = getattr(self, f"norm_ih_l{l}"), getattr(self, f"norm_hh_l{l}")
        ys = []
        for t in range(x.shape[0]):
            gx = n_ih(x[t] @ wih.t()) + bih
            gh = n_hh(h @ whh.t()) + bhh
            if self.cell == "lstm":
                if self.forget_gate:
                    i, f, g, o = (gx + gh).chunk(4, 1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                else:
                    i, g, o = (gx + gh).chunk(3, 1)
                    c = c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(getattr(self, f"norm_c_l{l}")(c))
            elif self.cell == "gru":
                xr, xz, xn = gx.chunk(3, 1)
                hr, hz, hn = gh.chunk(3, 1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                h = (1 - z) * torch.tanh(xn + r * hn) + z * h
            else:
                h = torch.tanh(gx + gh) if self.activation == "tanh" else torch.relu(gx + gh)
            ys.append(h)
        return torch.stack(ys), h, c

    def rnn_order(self):
        """Its state_dict names in the order rnn writes them: per layer the four weights and biases, then the
        norm modules' weight and bias (src/model/params.ts paramSpec); after the decoder, the running
        statistics (batch norm), layer by layer."""
        names, stats = [], []
        for l in range(self.layers):
            names += [f"{n}_l{l}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            for q in ("ih", "hh", "c"):
                m = getattr(self, f"norm_{q}_l{l}", None)
                if m is None:
                    continue
                names += [f"norm_{q}_l{l}.{p}" for p in ("weight", "bias") if getattr(m, p) is not None]
                stats += [f"norm_{q}_l{l}.{b}" for b in ("running_mean", "running_var") if hasattr(m, b)]
        return names, stats


class CharRNN(nn.Module):
    """rnn's character model. state_dict names and shapes are those of rnn's checkpoints.

    forward(x [T, B] long, state=None, masks=None) → (logits [T, B, V], state); state is h [L, B, H], or
    (h, c) for lstm (with or without forget gate), None = zeros. masks: per layer [T, B, H] dropout masks
    (values 0 or 1/(1−p)) to use instead of drawing new ones (train_ddp.py passes rnn's own); without masks,
    training mode draws inverted-dropout masks from torch's generator when dropout > 0, eval mode uses none.
    """

    def __init__(self, cell, vocab_size, hidden, layers=1, embed=0, activation="tanh", residual=False, dropout=0.0, forget_gate=True, norm=None):
        super().__init__()
        if residual and layers < 2:
            raise ValueError("residual needs at least 2 layers")
        self.cell, self.vocab_size, self.hidden, self.layers, self.embed = cell, vocab_size, hidden, layers, embed
        self.activation, self.residual, self.dropout = activation, bool(residual), float(dropout)
        self.forget_gate, self.norm = forget_gate, norm
        if embed > 0:
            self.embedding = nn.Embedding(vocab_size, embed)
        self.rnn = StackedRNN(cell, embed if embed > 0 else vocab_size, hidden, layers, activation, forget_gate, norm)
        self.decoder = nn.Linear(hidden, vocab_size)

    @classmethod
    def from_config(cls, mc, dropout=0.0):
        """mc: rnn's model config {cell, layers, hidden, embed, activation, residual, vocabSize[, forgetGate][, norm]}
        (forgetGate false: the LSTM without forget gate; absent = true. norm "layer" | "batch"; absent = none)."""
        return cls(mc["cell"], mc["vocabSize"], mc["hidden"], mc["layers"], mc.get("embed", 0),
                   mc.get("activation", "tanh"), mc.get("residual", False), dropout, mc.get("forgetGate", True), mc.get("norm"))

    @property
    def model_config(self):
        """As rnn stores it: forgetGate only when false, after vocabSize; norm only when set, after that."""
        mc = {"cell": self.cell, "layers": self.layers, "hidden": self.hidden, "embed": self.embed,
              "activation": self.activation, "residual": self.residual, "vocabSize": self.vocab_size}
        if not self.forget_gate:
            mc["forgetGate"] = False
        if self.norm is not None:
            mc["norm"] = self.norm
        return mc

    @property
    def label(self):
        """The cell as rnn names it to people: rnn-tanh, rnn-relu, lstm, lstm-nofg, gru; ln-lstm, bn-gru (--norm)."""
        base = f"rnn-{self.activation}" if self.cell == "rnn" else self.cell if self.forget_gate else f"{self.cell}-nofg"
        return base if self.norm is None else f"{self.norm[0]}n-{base}"

    def rnn_state(self):
        """(name, tensor) of its state_dict in the order rnn writes a checkpoint (params.ts paramSpec, then the
        running statistics of batch norm): a model file written here is then byte for byte rnn's."""
        sd = self.state_dict()
        names, stats = self.rnn.rnn_order()
        order = (["embedding.weight"] if self.embed > 0 else []) + [f"rnn.{n}" for n in names] + ["decoder.weight", "decoder.bias"] + [f"rnn.{n}" for n in stats]
        assert sorted(order) == sorted(sd), "rnn_order does not name every tensor"
        return [(n, sd[n]) for n in order]

    def zero_state(self, B):
        p = self.decoder.weight
        h = torch.zeros(self.layers, B, self.hidden, dtype=p.dtype, device=p.device)
        return (h, torch.zeros_like(h)) if self.cell == "lstm" else h

    def forward(self, x, state=None, masks=None):
        T, B = x.shape
        if state is None:
            state = self.zero_state(B)
        h0, c0 = state if self.cell == "lstm" else (state, None)
        inp = self.embedding(x) if self.embed > 0 else F.one_hot(x, self.vocab_size).to(self.decoder.weight.dtype)
        hs, cs = [], []
        for l in range(self.layers):
            y, hn, cn = self.rnn.layer(l, inp, h0[l], c0[l] if c0 is not None else None)
            hs.append(hn)
            cs.append(cn)
            if self.residual and l > 0:
                y = y + inp
            if masks is not None:
                y = y * masks[l]
            elif self.training and self.dropout > 0:
                y = F.dropout(y, self.dropout, True)
            inp = y
        h = torch.stack(hs)
        return self.decoder(inp), ((h, torch.stack(cs)) if self.cell == "lstm" else h)


# ---- checkpoints --------------------------------------------------------------------------------------------


def default_config(model, corpus=None, **train):
    """A complete rnn training config for a model made here (rnn's defaults for everything else)."""
    cfg = dict(TRAIN_DEFAULTS)
    cfg["dropout"] = model.dropout
    if model.cell == "lstm" and model.forget_gate and cfg["init"] != "pytorch":  # no forget gate, no forget bias
        cfg["forgetBias"] = 1
    cfg.update({"corpus": [os.path.abspath(p) for p in (corpus or [])], "out": "", "threads": 1})
    cfg.update(train)
    cfg["model"] = model.model_config
    return cfg


def check_vocab(vocab, what="vocab"):
    if not isinstance(vocab, list) or not all(isinstance(c, str) and len(c) == 1 for c in vocab):
        raise RnnFormatError(f"{what} must be a list of one-character strings (code points)")
    if len(set(vocab)) != len(vocab):
        raise RnnFormatError(f"{what} has a character twice")


def load(path, map_location="cpu"):
    """An rnn checkpoint (a run directory: its latest.safetensors) → (model in eval mode, vocab, config).
    The checksum and format version are checked as rnn checks them."""
    if os.path.isdir(path):
        path = os.path.join(path, "latest.safetensors")
    tensors, meta = read_safetensors(path, strict=True)
    try:
        config, vocab = json.loads(meta["config"]), json.loads(meta["vocab"])
        mc = config["model"]
    except (KeyError, ValueError, TypeError):
        raise RnnFormatError(f"{path} is not an rnn checkpoint: its metadata has no readable config and vocabulary") from None
    check_vocab(vocab, f"{path}: vocab")
    if len(vocab) != mc["vocabSize"]:
        raise RnnFormatError(f"{path} is not an rnn checkpoint: config and vocabulary do not agree")
    try:
        model = CharRNN.from_config(mc, config.get("dropout", 0))
    except (KeyError, TypeError, ValueError) as e:
        raise RnnFormatError(f"{path}: its config.model cannot be built: {e}") from None
    want = model.state_dict()
    for name, t in tensors.items():
        if name not in want:
            raise RnnFormatError(f"{path}: unknown tensor {name} for this {model.label} model")
        if tuple(t.shape) != tuple(want[name].shape):
            raise RnnFormatError(f"{path}: tensor {name} has shape {list(t.shape)}, expected {list(want[name].shape)}")
    missing = [n for n in want if n not in tensors]
    if missing:
        raise RnnFormatError(f"{path} lacks tensor {missing[0]}")
    model.load_state_dict(tensors, strict=True)
    model.to(map_location).eval()
    model.meta = dict(meta)  # the file's metadata strings as written (config, vocab, step, best_val_loss, …)
    return model, vocab, config


def encode_model(model, vocab, config, step=0, best_val_loss=None):
    """rnn's model file (src/checkpoint/checkpoint.ts encodeModel) as bytes."""
    mc = model.model_config
    cfg = json.loads(config) if isinstance(config, str) else config  # a string is written as it is
    for k, v in mc.items():
        if cfg["model"].get(k) != v:
            raise ValueError(f"config model.{k} is {cfg['model'].get(k)!r} but the model's is {v!r}")
    if cfg["model"].get("forgetGate", True) is not model.forget_gate:
        raise ValueError(f"config model.forgetGate is {cfg['model'].get('forgetGate')!r} but the model's forget_gate is {model.forget_gate!r}")
    if cfg["model"].get("norm") != model.norm:
        raise ValueError(f"config model.norm is {cfg['model'].get('norm')!r} but the model's norm is {model.norm!r}")
    check_vocab(vocab)
    if len(vocab) != model.vocab_size:
        raise ValueError(f"the vocabulary has {len(vocab)} characters, the model {model.vocab_size}")
    return encode_safetensors(model.rnn_state(), {
        "format_version": str(FORMAT_VERSION),
        "config": config if isinstance(config, str) else js_json(config),
        "vocab": js_json(vocab),
        "step": str(int(step)),
        "best_val_loss": "null" if best_val_loss is None else js_number(best_val_loss),
    })


def save(model, path, vocab, config=None, step=0, best_val_loss=None):
    """Writes model as a checkpoint rnn sample / eval / info accept (atomically). config: rnn's training
    config (as load returned it); None = default_config(model)."""
    if config is None:
        config = default_config(model)
    write_atomic(path, encode_model(model, vocab, config, step, best_val_loss))


# ---- run state (latest.state.safetensors) -------------------------------------------------------------------


def decode_state(buf, what):
    tensors, meta = decode_safetensors(buf, what, strict=True)
    if meta.get("kind") != "rnn-train-state":
        raise RnnFormatError(f"{what} is not an rnn training-state file")
    s = json.loads(meta["counters"])
    if "optimizer" not in tensors or "h" not in tensors:
        raise RnnFormatError(f"{what} is missing optimizer or hidden state")
    s.update(optimizer=tensors["optimizer"], h=tensors["h"], c=tensors.get("c"))
    return s


def encode_state(s):
    tensors = [("optimizer", s["optimizer"].reshape(-1)), ("h", s["h"].reshape(-1))]
    if s.get("c") is not None:
        tensors.append(("c", s["c"].reshape(-1)))
    counters = {k: s[k] for k in ("step", "epoch", "chunk", "rng", "optStep", "bestValLoss", "evalsSinceBest", "lastValLoss")}
    return encode_safetensors(tensors, {"format_version": str(FORMAT_VERSION), "kind": "rnn-train-state", "counters": js_json(counters)})


def load_run_state(run, step):
    """The state of DIR/latest.safetensors at `step` (latest.state, else next.state: rnn's crash rule)."""
    for name in ("latest.state.safetensors", "next.state.safetensors"):
        p = os.path.join(run, name)
        if not os.path.exists(p):
            continue
        try:
            with open(p, "rb") as f:
                s = decode_state(f.read(), p)
        except (RnnFormatError, ValueError, KeyError):
            continue
        if s["step"] == step:
            return s
    raise RnnFormatError(f"{run} has no training state for step {step}: it cannot be resumed exactly")


# ---- text and evaluation ------------------------------------------------------------------------------------


def read_text(path):
    """A file's text as rnn reads it: strict UTF-8, a leading BOM dropped, line ends kept as they are."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RnnFormatError(f"'{path}' is not valid UTF-8 at byte offset {e.start}") from None
    if "\x00" in s:
        raise RnnFormatError(f"'{path}' looks binary: it contains a NUL byte")
    return s[1:] if s.startswith("\ufeff") else s


def read_corpus(paths):
    """rnn's corpus reader: files concatenated → (vocab: distinct code points sorted, ids: int64 numpy array)."""
    text = "".join(read_text(p) for p in paths)
    cps = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    distinct = np.unique(cps)
    lut = np.zeros(int(distinct[-1]) + 1 if len(distinct) else 1, dtype=np.int64)
    lut[distinct] = np.arange(len(distinct))
    return [chr(int(c)) for c in distinct], lut[cps]


@torch.no_grad()
def evaluate_ids(model, ids, chunk=EVAL_CHUNK):
    """Σ cross-entropy and count: ids as ONE stream from a zero state, chunks of 256 steps, state carried."""
    was = model.training
    model.eval()
    dev = model.decoder.weight.device
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long, device=dev)
    n = len(ids) - 1
    total, state = 0.0, None
    for s in range(0, max(n, 0), chunk):
        e = min(s + chunk, n)
        logits, state = model(ids[s:e].view(-1, 1), state)
        total += F.cross_entropy(logits.view(-1, model.vocab_size).double(), ids[s + 1 : e + 1], reduction="sum").item()
    model.train(was)
    return total, max(n, 0)


def evaluate(model, vocab, text, chunk=EVAL_CHUNK):
    """rnn eval's protocol and output: characters outside the vocabulary are removed first (`skipped`), the
    rest is one stream from a zero state, loss = mean cross-entropy over the `chars` = known − 1 predictions."""
    index = {c: i for i, c in enumerate(vocab)}
    ids = [index[c] for c in text if c in index]
    skipped = len(text) - len(ids)
    total, chars = evaluate_ids(model, ids, chunk)
    loss = total / chars if chars else float("nan")
    return {"loss": loss, "bpc": loss / math.log(2), "perplexity": math.exp(loss) if chars else float("nan"),
            "chars": chars, "skipped": skipped}


# ---- rnn's random numbers (src/rng.ts): xoshiro128** seeded by splitmix32 ----------------------------------

_M32 = 0xFFFFFFFF


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & _M32


def _advance(S):
    """One xoshiro128** state transition on the 128-bit int s0 | s1<<32 | s2<<64 | s3<<96 (linear over GF(2))."""
    s0, s1, s2, s3 = S & _M32, (S >> 32) & _M32, (S >> 64) & _M32, S >> 96
    t = (s1 << 9) & _M32
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 11)
    return s0 | (s1 << 32) | (s2 << 64) | (s3 << 96)


class _Linear128:
    """A GF(2)-linear map of 128-bit ints, applied by 16 byte-indexed tables."""

    def __init__(self, cols):
        self.cols = cols
        self.tab = []
        for b in range(16):
            t = [0] * 256
            for x in range(1, 256):
                low = x & -x
                t[x] = t[x ^ low] ^ cols[8 * b + low.bit_length() - 1]
            self.tab.append(t)

    def __call__(self, v):
        r, tab = 0, self.tab
        for b in range(16):
            r ^= tab[b][(v >> (8 * b)) & 255]
        return r

    def then(self, other):  # other ∘ self
        return _Linear128([other(c) for c in self.cols])


_STEP = None
_JUMPS = {}


def _jump(n):
    """The map of n state transitions (cached)."""
    global _STEP
    if n in _JUMPS:
        return _JUMPS[n]
    if _STEP is None:
        _STEP = _Linear128([_advance(1 << i) for i in range(128)])
    result, base, k = None, _STEP, n
    while k:
        if k & 1:
            result = base if result is None else result.then(base)
        k >>= 1
        if k:
            base = base.then(base)
    _JUMPS[n] = result
    return result


class Rng:
    """rnn's generator, draw for draw: next() = (32 random bits) / 2^32."""

    def __init__(self, seed=None, state=None):
        if state is not None:
            self.set_state(state)
            return
        x = seed & _M32

        def sm():
            nonlocal x
            x = (x + 0x9E3779B9) & _M32
            z = x
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & _M32
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & _M32
            return (z ^ (z >> 16)) & _M32

        s = [sm(), sm(), sm(), sm()]
        if not any(s):
            s[0] = 1
        self.set_state(s)

    def get_state(self):
        S = self.S
        return [S & _M32, (S >> 32) & _M32, (S >> 64) & _M32, S >> 96]

    def set_state(self, s):
        s = [int(v) & _M32 for v in s]
        self.S = s[0] | (s[1] << 32) | (s[2] << 64) | (s[3] << 96)

    def next_u32(self):
        s1 = (self.S >> 32) & _M32
        r = (_rotl((s1 * 5) & _M32, 7) * 9) & _M32
        self.S = _advance(self.S)
        return r

    def next(self):
        return self.next_u32() / 4294967296.0

    def u32(self, n):
        """The next n outputs as a uint32 array (as n calls of next_u32, vectorised over lanes)."""
        if n < 4096:
            return np.array([self.next_u32() for _ in range(n)], dtype=np.uint32)
        K = max(64, int(math.isqrt(n)))
        M = -(-n // K)
        K = -(-n // M)
        J = _jump(M)
        starts, S = [], self.S
        for _ in range(K):
            starts.append(S)
            S = J(S)
        st = np.array([[(v >> (32 * i)) & _M32 for i in range(4)] for v in starts], dtype=np.uint32).T.copy()
        s0, s1, s2, s3 = st
        out = np.empty((M, K), dtype=np.uint32)
        j_end, r_end = divmod(n, M)
        final = S if j_end == K else None  # n = K·M: the state after the last lane
        u5, u9 = np.uint32(5), np.uint32(9)
        for i in range(M):
            if final is None and i == r_end:
                final = int(s0[j_end]) | (int(s1[j_end]) << 32) | (int(s2[j_end]) << 64) | (int(s3[j_end]) << 96)
            m = s1 * u5
            out[i] = ((m << np.uint32(7)) | (m >> np.uint32(25))) * u9
            t = s1 << np.uint32(9)
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = (s3 << np.uint32(11)) | (s3 >> np.uint32(21))
        self.S = final
        return out.T.reshape(-1)[:n]


def dropout_masks(rng, p, L, T, B, H, threads=1):
    """rnn's dropout masks of one training step, [L, T, B, H] float32 (0 or 1/(1−p)), drawn from rng exactly
    as rnn draws them with `threads` worker threads (src/train/parallel.ts): with one, every layer's [T×B×H]
    from the run's generator in turn; with n = min(threads, B) > 1, the streams split into n contiguous parts,
    a seed ⌊next()·2^31⌋ drawn first, part 0 from the run's generator and part w from rng(seed + w·0x9e3779b1)."""
    n = max(1, min(threads, B))
    sizes = [B // n + (1 if i < B % n else 0) for i in range(n)]
    keep = np.float32(1 / (1 - p))
    parts = []
    seed = math.floor(rng.next() * 2**31) if n > 1 else 0
    for w, nb in enumerate(sizes):
        g = rng if w == 0 else Rng((seed + w * 0x9E3779B1) & _M32)
        u = g.u32(L * T * nb * H).astype(np.float64) / 4294967296.0
        parts.append(np.where(u < p, np.float32(0), keep).astype(np.float32).reshape(L, T, nb, H))
    return np.concatenate(parts, axis=2) if n > 1 else parts[0]


# ---- command line -------------------------------------------------------------------------------------------


def config_from(src, vocab=None, corpus=None):
    """--config of convert → (rnn training config, vocabulary or None). src: an rnn run directory or checkpoint
    (its config and vocabulary, as stored), or a .json file holding an rnn training config or just {"model":
    {...}}: the model's fields over rnn's defaults (vocabSize defaults to the vocabulary's size), the rest rnn's
    training defaults, as `rnn train` completes a config (corpus: the --vocab text, when one is given)."""
    if os.path.isdir(src) or not src.lower().endswith(".json"):
        path = os.path.join(src, "latest.safetensors") if os.path.isdir(src) else src
        _, meta = read_safetensors(path, strict=True)
        try:
            return json.loads(meta["config"]), json.loads(meta["vocab"])
        except (KeyError, ValueError):
            raise RnnFormatError(f"{path} is not an rnn checkpoint: its metadata has no readable config and vocabulary") from None
    with open(src, encoding="utf-8") as f:
        try:
            o = json.load(f)
        except ValueError as e:
            raise RnnFormatError(f"--config {src} is not JSON ({e})") from None
    if not isinstance(o, dict) or not isinstance(o.get("model"), dict):
        raise RnnFormatError(f'--config {src} must hold an rnn config: an object with "model" ({{"model": {{"cell": "lstm", "forgetGate": false, ...}}}})')
    unknown = [k for k in o["model"] if k not in (*MODEL_DEFAULTS, "vocabSize", "forgetGate", "norm")]
    if unknown:
        raise RnnFormatError(f"--config {src}: model.{unknown[0]} is not one of rnn's model fields ({', '.join([*MODEL_DEFAULTS, 'vocabSize', 'forgetGate', 'norm'])})")
    mc = dict(MODEL_DEFAULTS)
    mc.update(o["model"])
    if "vocabSize" not in mc:
        if vocab is None:
            raise RnnFormatError(f"--config {src}: model.vocabSize is not given and there is no --vocab to count")
        mc["vocabSize"] = len(vocab)
    if mc.get("forgetGate", True) is True:
        mc.pop("forgetGate", None)  # stored only when false, after vocabSize (rnn's order)
    else:
        mc["forgetGate"] = mc.pop("forgetGate")
    if mc.get("norm", "none") in (None, "none"):
        mc.pop("norm", None)  # stored only when set, after forgetGate
    else:
        mc["norm"] = mc.pop("norm")
    try:
        model = CharRNN.from_config(mc, o.get("dropout", 0))  # the fields make sense together
    except (KeyError, TypeError, ValueError) as e:
        raise RnnFormatError(f"--config {src}: {e}") from None
    cfg = default_config(model, corpus)
    init = o.get("init", cfg["init"])
    if o.get("forgetBias", None) is None and init == "pytorch":
        cfg["forgetBias"] = None
    cfg.update({k: v for k, v in o.items() if k != "model"})
    cfg["model"] = mc
    return cfg, None


def _convert(argv):
    import argparse

    ap = argparse.ArgumentParser(prog="rnn_torch.py convert", description="a torch.save'd state_dict → plain safetensors (float32, names kept) for `rnn import`")
    ap.add_argument("pt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", help="text file (its distinct characters, sorted) or .json list, stored as metadata 'vocab'")
    ap.add_argument("--config", help="stored as metadata 'config', for what the shapes cannot tell `rnn import` (an LSTM without "
                    "forget gate, whose 3H rows look like a GRU's; --residual; --activation): an rnn run or checkpoint (its config, and "
                    "its vocabulary unless --vocab), or FILE.json with an rnn config or just {\"model\": {\"cell\": \"lstm\", \"forgetGate\": false, ...}}")
    a = ap.parse_args(argv)
    try:
        sd = torch.load(a.pt, map_location="cpu", weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        sd = torch.load(a.pt, map_location="cpu")
    if isinstance(sd, nn.Module):
        sd = sd.state_dict()
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise RnnFormatError(f"{a.pt} is not a state_dict (a dict of tensors); save model.state_dict()")
    bad = [k for k, v in sd.items() if not v.is_floating_point()]
    meta = {}
    if a.vocab:
        if a.vocab.endswith(".json"):
            with open(a.vocab, encoding="utf-8") as f:
                vocab = json.load(f)
        else:
            vocab = read_corpus([a.vocab])[0]
        check_vocab(vocab, a.vocab)
        meta["vocab"] = js_json(vocab)
    if a.config:
        text = [a.vocab] if a.vocab and not a.vocab.endswith(".json") else None
        cfg, cvocab = config_from(a.config, json.loads(meta["vocab"]) if "vocab" in meta else None, text)
        meta["config"] = js_json(cfg)
        if "vocab" not in meta and cvocab is not None:
            check_vocab(cvocab, a.config)
            meta["vocab"] = js_json(cvocab)
    if bad:
        raise RnnFormatError(f"{a.pt}: tensor {bad[0]} is not a float tensor; rnn's CharRNN has only weights and biases")
    # a plain file (no format_version): `rnn import` reads it as a foreign state_dict
    write_atomic(a.out, encode_safetensors([(k, v) for k, v in sd.items()], meta, rnn_file=False))
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "convert":
        return _convert(argv[2:])
    if len(argv) == 4 and argv[1] == "eval":
        model, vocab, _ = load(argv[2])
        r = evaluate(model, vocab, read_text(argv[3]))
        print(js_json({k: r[k] for k in ("loss", "bpc", "perplexity", "chars", "skipped")}))
        return 0
    print("usage: rnn_torch.py eval CKPT FILE\n       rnn_torch.py convert STATE_DICT.pt --out X.safetensors [--vocab FILE] [--config RUN|CKPT|FILE.json]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (RnnFormatError, OSError) as e:
        print(f"rnn_torch: error: {e}", file=sys.stderr)
        sys.exit(1)
