"""Minimal safetensors reader/writer for the reference (Debian has no python3-safetensors).

Format: 8-byte little-endian header length, JSON header {name: {dtype, shape,
data_offsets}, "__metadata__": {str: str}}, then the raw little-endian bytes.
"""
import json
import struct

import numpy as np
import torch

_NP = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
       "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def load(path):
    """Returns ({name: torch.Tensor}, metadata). F32/BF16/F16 come back as float32."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        raw = body[a:b]
        if e["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=_NP[e["dtype"]])
            if e["dtype"] == "F16":
                arr = arr.astype(np.float32)
        out[name] = torch.from_numpy(arr.copy().reshape(e["shape"]))
    return out, meta


def save(path, tensors, metadata=None):
    """Writes float tensors as F32 and integer tensors as I64, names sorted."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu()
        if t.is_floating_point():
            arr, dt = t.to(torch.float32).contiguous().numpy(), "F32"
        else:
            arr, dt = t.to(torch.int64).contiguous().numpy(), "I64"
        raw = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - (len(hj) + 8) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for raw in blobs:
            f.write(raw)
