"""Attention primitives (SPEC §2.1, §2.3): causal / sliding-window / range attention and index
attention. The oracle is plain softmax attention in float64 with an explicit (Tq, Tk)
visibility mask; a query that sees no key gets 0 (and its lse output is written as 0, which the
C++ test maps from its -inf)."""
import math

import torch

from opcases import Case, randn


def _masked_attention(q, k, v, mask, scale):
    """q (B,Tq,H,Dk), k (B,Tk,H,Dk), v (B,Tk,H,Dv), mask (B or 1, Tq, Tk) bool.
    Returns o (B,Tq,H,Dv) and lse (B,Tq,H) with 0 where nothing is visible."""
    s = torch.einsum("bthd,bjhd->bhtj", q, k) * scale
    m = mask[:, None, :, :]
    s = s.masked_fill(~m, -1e30)  # exp underflows to exactly 0; an all-masked row is uniform
    p = torch.softmax(s, dim=-1) * m  # … and then zeroed
    o = torch.einsum("bhtj,bjhd->bthd", p, v)
    any_visible = m.any(dim=-1)  # (B,H,Tq)
    lse = torch.where(any_visible, torch.logsumexp(s, dim=-1), torch.zeros((), dtype=s.dtype))
    return o, lse.permute(0, 2, 1).detach()


def _range_mask(lo, hi, Tk):
    j = torch.arange(Tk)
    lo, hi = torch.tensor(lo), torch.tensor(hi)
    return ((j[None, :] >= lo[:, None]) & (j[None, :] < hi[:, None]))[None]


def _causal_ranges(Tq, Tk, window, q_offset):
    lo, hi = [], []
    for t in range(Tq):
        pos = q_offset + t
        h = min(pos + 1, Tk)
        lo.append(min(max(0, pos - window + 1) if window > 0 else 0, h))
        hi.append(h)
    return lo, hi


def _causal(x, idx, a):
    Tq, Tk = x["q"].shape[1], x["k"].shape[1]
    lo, hi = _causal_ranges(Tq, Tk, a["window"], a["q_offset"])
    # Independent of the ranges helper: the mask straight from the definition.
    t = torch.arange(Tq)[:, None] + a["q_offset"]
    j = torch.arange(Tk)[None, :]
    mask = j <= t
    if a["window"] > 0:
        mask = mask & (j > t - a["window"])
    assert torch.equal(mask, _range_mask(lo, hi, Tk)[0])
    return _masked_attention(x["q"], x["k"], x["v"], mask[None], a["scale"])[0]


def _range(x, idx, a):
    Tk = x["k"].shape[1]
    o, lse = _masked_attention(x["q"], x["k"], x["v"], _range_mask(a["lo"], a["hi"], Tk), a["scale"])
    return (o, lse) if a["with_lse"] else o


def _index(x, idx, a):
    B, Tq = x["q"].shape[:2]
    Tk = x["k"].shape[1]
    ix = idx["idx"]  # (B,Tq,n), -1 padding
    mask = torch.zeros(B, Tq, Tk + 1, dtype=torch.bool)
    mask.scatter_(2, torch.where(ix < 0, Tk, ix), True)
    return _masked_attention(x["q"], x["k"], x["v"], mask[..., :Tk], a["scale"])[0]


def _qkv(B, Tq, Tk, H, Dk, Dv, seed):
    return {"q": randn(B, Tq, H, Dk, seed=seed), "k": randn(B, Tk, H, Dk, seed=seed + 1),
            "v": randn(B, Tk, H, Dv, seed=seed + 2)}


CASES = []

# Causal, Tq = Tk: odd sizes, sizes around the 4-query / 32-key / 64-query tiles, Dk != Dv.
for i, (B, T, H, Dk, Dv, sc) in enumerate([
    (1, 1, 1, 8, 8, None),
    (2, 7, 3, 16, 8, None),
    (1, 33, 2, 12, 20, None),
    (2, 100, 3, 16, 12, None),
    (1, 130, 2, 24, 8, None),
    (2, 65, 1, 96, 32, None),    # MLA widths
    (1, 70, 2, 16, 16, 1.0),     # large logits: exercises the running-max rescaling
]):
    scale = sc if sc is not None else 1.0 / math.sqrt(Dk)
    CASES.append(Case(f"causal_attention__{i}", "causal_attention", _causal,
                      _qkv(B, T, T, H, Dk, Dv, 1000 + 10 * i),
                      attrs={"scale": scale, "window": 0, "q_offset": 0}, seed=1100 + i))

# Sliding window (window 1, 5, > T) and decoding with q_offset > 0 (Tk > Tq).
for i, (B, Tq, Tk, H, Dk, Dv, window, q_offset) in enumerate([
    (1, 9, 9, 2, 8, 8, 1, 0),
    (2, 33, 33, 3, 16, 8, 5, 0),
    (1, 100, 100, 2, 12, 16, 37, 0),
    (1, 20, 20, 1, 8, 4, 64, 0),       # window larger than T: plain causal
    (2, 5, 12, 3, 16, 8, 0, 7),        # decode chunk at the end of a 12-token cache
    (1, 1, 40, 2, 16, 16, 0, 39),      # one-token decode
    (1, 6, 50, 2, 8, 12, 9, 44),       # windowed decode
    (2, 4, 30, 2, 8, 8, 0, 3),         # chunk in the middle: keys after it stay invisible
]):
    CASES.append(Case(f"window_attention__{i}", "causal_attention", _causal,
                      _qkv(B, Tq, Tk, H, Dk, Dv, 1200 + 10 * i),
                      attrs={"scale": 1.0 / math.sqrt(Dk), "window": window, "q_offset": q_offset},
                      seed=1300 + i))


def _compression_ranges(T, d, l):
    """NSA branch 1: block i (tokens [i·d, i·d+l)) is visible to t iff i·d + l − 1 <= t."""
    nblocks = (T - l) // d + 1
    hi = [sum(1 for i in range(nblocks) if i * d + l - 1 <= t) for t in range(T)]
    return [0] * T, hi, nblocks


for i, (B, T, H, Dk, Dv, d, l, with_lse) in enumerate([
    (1, 40, 2, 16, 8, 4, 8, True),
    (2, 100, 3, 24, 16, 8, 16, True),
    (1, 37, 2, 96, 32, 2, 4, False),
    (2, 200, 2, 16, 16, 2, 4, True),   # 99 compressed keys: several key tiles
]):
    lo, hi, Tk = _compression_ranges(T, d, l)
    CASES.append(Case(f"range_attention__{i}", "range_attention", _range,
                      _qkv(B, T, Tk, H, Dk, Dv, 1400 + 10 * i),
                      attrs={"scale": 1.0 / math.sqrt(Dk), "lo": lo, "hi": hi, "with_lse": with_lse},
                      seed=1500 + i))

# Arbitrary ranges, some empty, not monotone in t.
_g = torch.Generator().manual_seed(1600)
for i, (B, Tq, Tk, H, Dk, Dv) in enumerate([(1, 23, 17, 2, 8, 12), (2, 70, 90, 2, 16, 8)]):
    a = torch.randint(0, Tk + 1, (Tq,), generator=_g)
    b = torch.randint(0, Tk + 1, (Tq,), generator=_g)
    lo, hi = torch.minimum(a, b).tolist(), torch.maximum(a, b).tolist()
    lo[0], hi[0] = 3, 3  # empty
    lo[-1], hi[-1] = 0, Tk
    CASES.append(Case(f"range_attention__arb{i}", "range_attention", _range,
                      _qkv(B, Tq, Tk, H, Dk, Dv, 1700 + 10 * i),
                      attrs={"scale": 1.0 / math.sqrt(Dk), "lo": lo, "hi": hi, "with_lse": True},
                      seed=1800 + i))


def _index_sets(B, Tq, Tk, n, seed):
    """Distinct random keys per query, some entries -1, query (0,1) all padding."""
    g = torch.Generator().manual_seed(seed)
    ix = torch.stack([torch.randperm(Tk, generator=g)[:n] for _ in range(B * Tq)]).view(B, Tq, n)
    pad = torch.rand(B, Tq, n, generator=g) < 0.25
    ix = torch.where(pad, torch.full_like(ix, -1), ix)
    if Tq > 1:
        ix[0, 1, :] = -1
    return ix


for i, (B, Tq, Tk, H, Dk, Dv, n) in enumerate([
    (1, 5, 9, 2, 8, 8, 4),
    (2, 17, 40, 3, 16, 12, 11),
    (2, 9, 100, 2, 96, 32, 70),   # several 32-key chunks, MLA widths
    (1, 3, 6, 1, 8, 4, 6),        # every key, some rows padded
]):
    CASES.append(Case(f"index_attention__{i}", "index_attention", _index,
                      _qkv(B, Tq, Tk, H, Dk, Dv, 1900 + 10 * i),
                      idx={"idx": _index_sets(B, Tq, Tk, n, 2000 + i)},
                      attrs={"scale": 1.0 / math.sqrt(Dk)}, seed=2100 + i))
