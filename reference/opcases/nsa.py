"""The Sparse layer's fused ops (SPEC §2.3, src/autograd/ops_nsa.h): block attention (the
selection branch), compressed attention with the block selection fused in, stacked projections
with RoPE on each head's tail, and the gated sum of the branch outputs. The oracle is plain
PyTorch in float64 built from the reference model's own pieces (reference/model.py:
masked_attention, rope, overlap_weights, select_blocks)."""
import math

import torch

import model
from opcases import Case, randn


# ---- block attention ---------------------------------------------------------------------

def _block(x, idx, a):
    """Query t (position q_offset + t) sees the keys u <= position of the listed blocks."""
    q, k, v = x["q"], x["k"], x["v"]
    B, Tq = q.shape[:2]
    Tk = k.shape[1]
    bl, bs = idx["blocks"], a["block_size"]
    u = torch.arange(Tk)
    pos = torch.arange(Tq) + a["q_offset"]
    in_block = (bl[:, :, :, None] >= 0) & (bl[:, :, :, None] == (u // bs)[None, None, None, :])
    mask = in_block.any(dim=2) & (u[None, None, :] <= pos[None, :, None])  # (B,Tq,Tk)
    return model.masked_attention(q, k, v, mask[:, None], a["scale"])[0]


def _random_blocks(B, Tq, Tk, n, bs, q_offset, seed, repeat=False):
    """Per query n distinct blocks that start at or before its position (−1 padding now and
    then, query (0, 0) only padding); with repeat, one block listed twice."""
    g = torch.Generator().manual_seed(seed)
    out = torch.full((B, Tq, n), -1, dtype=torch.int64)
    for b in range(B):
        for t in range(Tq):
            last = min(q_offset + t, Tk - 1) // bs  # blocks j with j·bs <= position
            perm = torch.randperm(last + 1, generator=g)[:n]
            keep = torch.rand(len(perm), generator=g) > 0.2
            out[b, t, :len(perm)] = torch.where(keep, perm, torch.full_like(perm, -1))
            if repeat and len(perm) >= 2:
                out[b, t, 1] = out[b, t, 0]
    out[0, 0, :] = -1
    return out


CASES = []

for i, (B, Tq, Tk, H, Dk, Dv, n, bs, q_offset, repeat) in enumerate([
    (1, 9, 9, 2, 8, 8, 2, 4, 0, False),
    (2, 70, 70, 2, 16, 8, 4, 32, 0, False),     # one 32-key tile per block, diagonal block
    (1, 100, 100, 3, 96, 32, 3, 16, 0, True),   # two blocks per key tile, MLA widths, repeats
    (2, 130, 130, 2, 12, 20, 3, 64, 0, False),  # a block spans two key tiles; 3 query tiles
    (1, 5, 50, 2, 16, 16, 4, 8, 45, False),     # decoding: a chunk at the end of a cache
    (1, 1, 77, 2, 8, 8, 4, 32, 76, False),      # one-token decode, partly filled last block
]):
    CASES.append(Case(f"block_attention__{i}", "block_attention", _block,
                      {"q": randn(B, Tq, H, Dk, seed=3000 + 10 * i),
                       "k": randn(B, Tk, H, Dk, seed=3001 + 10 * i),
                       "v": randn(B, Tk, H, Dv, seed=3002 + 10 * i)},
                      idx={"blocks": _random_blocks(B, Tq, Tk, n, bs, q_offset, 3100 + i, repeat)},
                      attrs={"scale": 1.0 / math.sqrt(Dk), "block_size": bs, "q_offset": q_offset},
                      seed=3200 + i))


# ---- sliding window (branch 3) -------------------------------------------------------------

def _window(x, idx, a):
    """Query t sees the keys t − window < u <= t."""
    T = x["q"].shape[1]
    t = torch.arange(T)[:, None]
    u = torch.arange(T)[None, :]
    mask = (u <= t) & (u > t - a["window"])
    return model.masked_attention(x["q"], x["k"], x["v"], mask[None, None], a["scale"])[0]


# Sizes around the kernel's tiles (4 queries, key tiles of 32 and 16 anchored at each 4-query
# group, backward chunks of max(window, 64) queries taken even then odd): T = 1, T not a
# multiple of 4 or of a chunk, window 1, window > T, windows whose w + 3 keys leave no /
# a narrow / a full tail tile, the MLA widths Dk 96 / Dv 32 (a specialised path).
for i, (B, T, H, Dk, Dv, w) in enumerate([
    (1, 1, 2, 8, 4, 3),
    (2, 37, 3, 16, 8, 5),
    (1, 70, 2, 8, 12, 1),
    (1, 20, 1, 8, 4, 64),
    (1, 150, 2, 96, 32, 29),
    (2, 201, 2, 96, 32, 46),
    (1, 300, 1, 12, 20, 128),
]):
    CASES.append(Case(f"nsa_window__{i}", "window_attention", _window,
                      {"q": randn(B, T, H, Dk, seed=4800 + 10 * i),
                       "k": randn(B, T, H, Dk, seed=4801 + 10 * i),
                       "v": randn(B, T, H, Dv, seed=4802 + 10 * i)},
                      attrs={"scale": 1.0 / math.sqrt(Dk), "window": w}, seed=4900 + i))


# ---- compressed attention + selection ----------------------------------------------------

def _compressed(x, idx, a):
    q, k, v = x["q"], x["k"], x["v"]
    B, T = q.shape[:2]
    nb = k.shape[1]
    l, d, ls, n = a["l"], a["d"], a["ls"], a["n"]
    pos = torch.arange(T) + a["q_pos0"]
    i = torch.arange(nb)
    vis = (i[None, :] * d + l - 1) <= pos[:, None]  # (T, nb)
    o, p = model.masked_attention(q, k, v, vis[None, None], a["scale"])
    # Selection exactly as the reference model does it (scores over the candidate blocks of
    # the whole cache, positions q_pos0 + t).
    n_sel = (int(pos[-1]) + ls) // ls
    W = model.overlap_weights(nb, n_sel, l, d, ls, dtype=q.dtype)
    s = torch.einsum("bhti,ij->btj", p.detach(), W)
    if a["q_pos0"] == 0:
        sel = model.select_blocks(s, ls, n, a["init"], a["local"])
    else:  # select_blocks numbers queries from 0: pad the rows before q_pos0
        pad = s.new_zeros(B, a["q_pos0"], n_sel)
        sel = model.select_blocks(torch.cat([pad, s], dim=1), ls, n, a["init"], a["local"])[:, a["q_pos0"]:]
    blocks = torch.full((B, T, n), -1, dtype=torch.int64)
    for b in range(B):
        for t in range(T):
            js = sel[b, t].nonzero().flatten()
            blocks[b, t, :len(js)] = js
    return o, blocks


def _nb(T, l, d):
    return (T - l) // d + 1


for i, (B, T, H, Dk, Dv, l, d, ls, n, init, local, q_pos0) in enumerate([
    (1, 40, 2, 16, 8, 8, 4, 8, 3, 1, 1, 0),
    (2, 100, 3, 24, 16, 16, 16, 32, 2, 1, 1, 0),    # default geometry (l = d = 16, l' = 32)
    (1, 150, 2, 96, 32, 16, 8, 16, 4, 1, 2, 0),     # overlapping blocks, MLA widths
    (2, 300, 2, 16, 16, 4, 2, 8, 4, 1, 1, 0),       # 149 compressed keys: several key tiles
    (1, 3, 2, 16, 8, 8, 4, 8, 3, 1, 1, 37),         # decoding: 3 queries after 37 cached tokens
]):
    nb = _nb(T + q_pos0, l, d)
    CASES.append(Case(f"compressed_attention__{i}", "compressed_attention", _compressed,
                      {"q": randn(B, T, H, Dk, seed=3300 + 10 * i),
                       "k": randn(B, nb, H, Dk, seed=3301 + 10 * i),
                       "v": randn(B, nb, H, Dv, seed=3302 + 10 * i)},
                      attrs={"scale": 1.0 / math.sqrt(Dk), "l": l, "d": d, "ls": ls, "n": n, "init": init,
                             "local": local, "q_pos0": q_pos0},
                      seed=3400 + i))


# ---- stacked projections with RoPE -------------------------------------------------------

def _stacked(x, idx, a):
    """outputs: [[parts: [[weight name, begin, end], ...], rope_heads, rope_dim], ...]"""
    X = x["x"]
    T = X.shape[1]
    outs = []
    for parts, heads, rope_dim in a["outputs"]:
        W = torch.cat([x[w][b:e] for w, b, e in parts], dim=0)
        y = X @ W.T
        if heads > 0:
            y = y.reshape(*y.shape[:-1], heads, -1)
            D = y.shape[-1]
            pos = torch.tensor(a["positions"])[:, None]  # (T, 1): every head of token t
            y = torch.cat([y[..., :D - rope_dim], model.rope(y[..., D - rope_dim:], pos, a["theta"])], dim=-1)
            y = y.reshape(*y.shape[:-2], -1)
        outs.append(y)
    return tuple(outs)


# The Sparse layer's two uses: x's projections (one plain, two roped heads blocks, a gate) and
# the MLA query (per head: nope rows of one weight, rope rows of another).
CASES.append(Case("stacked_linear__0", "stacked_linear", _stacked,
                  {"x": randn(2, 7, 12, seed=3500), "w0": randn(5, 12, seed=3501), "w1": randn(3 * 10, 12, seed=3502),
                   "w2": randn(4, 12, seed=3503), "w3": randn(3, 12, seed=3504)},
                  attrs={"outputs": [[[["w0", 0, 5]], 0, 0], [[["w1", 0, 30]], 3, 6], [[["w2", 0, 4]], 0, 0],
                                     [[["w3", 1, 3]], 0, 0]],
                         "positions": [0, 1, 2, 3, 4, 5, 6], "theta": 10000.0}, seed=3510))
CASES.append(Case("stacked_linear__1", "stacked_linear", _stacked,
                  {"x": randn(1, 9, 8, seed=3520), "w0": randn(2 * 3, 8, seed=3521), "w1": randn(2 * 4, 8, seed=3522)},
                  attrs={"outputs": [[[["w0", 0, 3], ["w1", 0, 4], ["w0", 3, 6], ["w1", 4, 8]], 2, 4]],
                         "positions": [100, 101, 102, 103, 104, 105, 106, 107, 5000], "theta": 500.0},
                  seed=3530))
CASES.append(Case("stacked_linear__2", "stacked_linear", _stacked,  # one plain output: no copy
                  {"x": randn(3, 4, 6, seed=3540), "w0": randn(5, 6, seed=3541)},
                  attrs={"outputs": [[[["w0", 0, 5]], 0, 0]], "positions": [0, 1, 2, 3], "theta": 10000.0},
                  seed=3550))


# ---- gated sum -----------------------------------------------------------------------------

def _gated(x, idx, a):
    n = a["n"]
    g = x["g"]
    return sum(g[..., c, None] * x[f"o{c}"] for c in range(n))


for i, (B, T, H, Dv, G, n) in enumerate([(2, 5, 3, 4, 1, 3), (1, 7, 2, 8, 2, 2), (1, 3, 4, 6, 4, 1)]):
    inputs = {f"o{c}": randn(B, T, H, Dv, seed=3600 + 10 * i + c) for c in range(n)}
    inputs["g"] = randn(B, T, G, n, seed=3609 + 10 * i)
    CASES.append(Case(f"gated_sum__{i}", "gated_sum", _gated, inputs, attrs={"n": n}, seed=3700 + i))
