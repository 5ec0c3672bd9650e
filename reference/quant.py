"""ggml's Q8_0 / Q4_0 block quantizers and bf16 rounding in numpy (SPEC §13), written from
ggml's reference C (quantize_row_q8_0_ref, quantize_row_q4_0_ref, ggml_compute_fp32_to_bf16)
independently of the C++ code, as the oracle of tests/ops/test_quant_format.cpp.

    python3 reference/quant.py --type q8_0|q4_0|bf16|f16 IN.f32 OUT.bin

IN.f32 holds little-endian float32 values (a multiple of 32 of them for q8_0 / q4_0);
OUT.bin receives the encoded bytes. `--dequantize` reads OUT-format bytes and writes float32.
"""
import argparse
import sys

import numpy as np

QK = 32


def _round_half_away(v):
    """C's roundf on float32 values, exactly (the float64 sum and floor are exact)."""
    a = np.abs(v.astype(np.float64))
    return (np.sign(v) * np.floor(a + 0.5)).astype(np.int64)


def quantize_q8_0(x):
    x = np.asarray(x, dtype=np.float32).reshape(-1, QK)
    amax = np.max(np.abs(x), axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, np.float32(1)), np.float32(0))
    inv = inv.astype(np.float32)
    q = _round_half_away((x * inv[:, None]).astype(np.float32)).astype(np.int8)
    out = np.zeros((x.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quantize_q4_0(x):
    x = np.asarray(x, dtype=np.float32).reshape(-1, QK)
    out = np.zeros((x.shape[0], 18), dtype=np.uint8)
    for b in range(x.shape[0]):
        row = x[b]
        # the first element of largest magnitude, sign kept (ggml: strict "<" while scanning)
        amax, m = np.float32(0), np.float32(0)
        for v in row:
            if amax < abs(v):
                amax, m = abs(v), v
        d = np.float32(m / np.float32(-8))
        inv = np.float32(1) / d if d != 0 else np.float32(0)
        v = (row * inv).astype(np.float32) + np.float32(8.5)
        q = np.minimum(15, np.trunc(v.astype(np.float64)).astype(np.int64))
        out[b, 0:2] = np.array([d], dtype="<f2").view(np.uint8)
        out[b, 2:] = (q[:16] | (q[16:] << 4)).astype(np.uint8)
    return out.tobytes()


def to_bf16(x):
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = np.where(nan, (u >> 16) | 64, (u + 0x7FFF + ((u >> 16) & 1)) >> 16)
    return r.astype("<u2").tobytes()


def to_f16(x):
    with np.errstate(over="ignore"):
        return np.asarray(x, dtype=np.float32).astype("<f2").tobytes()


def dequantize(kind, raw):
    b = np.frombuffer(raw, dtype=np.uint8)
    if kind == "q8_0":
        b = b.reshape(-1, 34)
        d = b[:, 0:2].copy().view("<f2").astype(np.float32)
        return (d * b[:, 2:].view(np.int8).astype(np.float32)).astype(np.float32).ravel()
    if kind == "q4_0":
        b = b.reshape(-1, 18)
        d = b[:, 0:2].copy().view("<f2").astype(np.float32)
        lo = (b[:, 2:] & 15).astype(np.int32) - 8
        hi = (b[:, 2:] >> 4).astype(np.int32) - 8
        q = np.concatenate([lo, hi], axis=1).astype(np.float32)
        return (d * q).astype(np.float32).ravel()
    if kind == "bf16":
        return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    if kind == "f16":
        return np.frombuffer(raw, dtype="<f2").astype(np.float32)
    raise SystemExit(f"unknown type {kind}")


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--type", required=True, choices=["q8_0", "q4_0", "bf16", "f16"])
    ap.add_argument("--dequantize", action="store_true")
    ap.add_argument("inp")
    ap.add_argument("out")
    a = ap.parse_args(argv)
    raw = open(a.inp, "rb").read()
    if a.dequantize:
        data = dequantize(a.type, raw).astype("<f4").tobytes()
    else:
        x = np.frombuffer(raw, dtype="<f4")
        fn = {"q8_0": quantize_q8_0, "q4_0": quantize_q4_0, "bf16": to_bf16, "f16": to_f16}
        data = fn[a.type](x)
    open(a.out, "wb").write(data)


if __name__ == "__main__":
    main(sys.argv[1:])
