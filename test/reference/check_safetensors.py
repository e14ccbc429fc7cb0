"""Load an rnn checkpoint (safetensors) in PyTorch with nothing but json, struct, hashlib and torch.

Proves checkpoints are readable without rnn and without the `safetensors` package:

    /usr/bin/python3 test/reference/check_safetensors.py runs/x/latest.safetensors

Prints one JSON object: metadata, and for each tensor its shape, float64 sum and first values.
Exits non-zero if the file breaks the safetensors layout or its rnn checksum does not match.
"""
import hashlib
import json
import struct
import sys

import torch


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]

    # rnn's checksum: SHA-256 of the whole file with its own 64 hex digits read as '0'
    checksum = meta.get("checksum")
    if checksum is not None:
        digits = checksum[len("sha256:") :]
        zeroed = raw.replace(digits.encode("ascii"), b"0" * 64, 1)
        actual = hashlib.sha256(zeroed).hexdigest()
        if actual != digits:
            sys.exit(f"{path}: checksum mismatch ({digits[:12]}... vs {actual[:12]}...)")

    tensors = {}
    pos = 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = e["data_offsets"]
        assert e["dtype"] == "F32", (name, e["dtype"])
        assert begin == pos, (name, "not contiguous")
        pos = end
        count = 1
        for d in e["shape"]:
            count *= d
        assert 4 * count == end - begin, (name, "size mismatch")
        buf = bytearray(data[begin:end])  # writable copy: frombuffer warns on read-only bytes
        t = torch.frombuffer(buf, dtype=torch.float32) if count else torch.empty(0)
        tensors[name] = t.reshape(e["shape"]).clone()
    assert pos == len(data), "data section not covered"
    return tensors, meta


def main():
    tensors, meta = load(sys.argv[1])
    out = {
        "metadata": meta,
        "tensors": {
            name: {
                "shape": list(t.shape),
                "sum": float(t.double().sum()),
                "first": [float(v) for v in t.flatten()[:4]],
            }
            for name, t in tensors.items()
        },
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
