"""rmsnorm, softmax, log_softmax, cross_entropy, linear_cross_entropy, rope, embedding, gather_rows,
scatter_add_rows and topk cases (SPEC §2, §2.2)."""
import torch
import torch.nn.functional as F

from opcases import Case, randint, randn


def _rmsnorm(x, idx, a):
    X = x["x"]
    return X / torch.sqrt((X * X).mean(dim=-1, keepdim=True) + a["eps"]) * x["w"]


def _softmax(x, idx, a):
    return torch.softmax(x["x"], dim=-1)


def _log_softmax(x, idx, a):
    return torch.log_softmax(x["x"], dim=-1)


def _cross_entropy(x, idx, a):
    logits = x["logits"]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), idx["targets"].reshape(-1),
                           ignore_index=a["ignore_index"])


def _linear_cross_entropy(x, idx, a):
    logits = x["x"] @ x["w"].T
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), idx["targets"].reshape(-1),
                           ignore_index=a["ignore_index"])


def _rope(x, idx, a):
    X = x["x"]
    D = X.shape[-1]
    half = D // 2
    f = a["theta"] ** (-2.0 * torch.arange(half, dtype=torch.float64) / D)
    ang = torch.tensor(a["positions"], dtype=torch.float64)[:, None] * f  # (T, D/2)
    if X.dim() == 4:
        ang = ang[:, None, :]  # (T, 1, D/2) broadcast over heads
    c, s = torch.cos(ang), torch.sin(ang)
    xa, xb = X[..., :half], X[..., half:]
    return torch.cat([xa * c - xb * s, xa * s + xb * c], dim=-1)


def _embedding(x, idx, a):
    return F.embedding(idx["ids"], x["weight"])


def _gather_rows(x, idx, a):
    return x["x"][idx["idx"]]


def _scatter_add_rows(x, idx, a):
    src = x["src"]
    out = torch.zeros(a["num_rows"], src.shape[1], dtype=src.dtype)
    return out.index_add(0, idx["idx"], src)


def _topk(x, idx, a):
    v, i = torch.topk(x["x"], a["k"], dim=-1, largest=True, sorted=True)
    return v, i


CASES = []

# C = 1 is left out: there dx ≈ w·g·eps/|x|³ is pure cancellation, ill-conditioned in float32.
for i, (shape, eps) in enumerate([((3, 5), 1e-6), ((2, 7, 33), 1e-5), ((17, 64), 1e-6),
                                  ((4, 3), 1e-6), ((1, 3, 2, 129), 1e-6),
                                  ((300, 200), 1e-6)]):  # the last one runs threaded
    w = randn(shape[-1], seed=200 + i, scale=0.3) + 1.0
    CASES.append(Case(f"rmsnorm__{i}", "rmsnorm", _rmsnorm,
                      {"x": randn(*shape, seed=210 + i), "w": w}, attrs={"eps": eps},
                      seed=220 + i))

for i, (shape, scale) in enumerate([((3, 5), 1.0), ((2, 7, 33), 3.0), ((4, 1), 1.0),
                                    ((2, 1000), 5.0), ((3, 2, 4097), 2.0), ((1, 2), 30.0),
                                    ((40, 1000), 2.0)]):
    CASES.append(Case(f"softmax__{i}", "softmax", _softmax,
                      {"x": randn(*shape, seed=230 + i, scale=scale)}, seed=240 + i))
    CASES.append(Case(f"log_softmax__{i}", "log_softmax", _log_softmax,
                      {"x": randn(*shape, seed=250 + i, scale=scale)}, seed=260 + i))

# (logits shape, logit scale, ignore_index, rows to ignore)
for i, (shape, scale, ignore, drop) in enumerate([
    ((8, 50257), 2.0, -1, ()),        # the GPT-2 vocabulary
    ((8, 50257), 1.0, -1, (1, 6)),    # ... with ignored rows
    ((5, 7), 1.0, -1, ()),
    ((13, 3), 4.0, -1, (0, 4, 12)),
    ((2, 3, 11), 2.0, -1, (2,)),      # (B, T, V) logits, (B, T) targets
    ((6, 9), 1.0, 4, ()),             # a real class id as ignore_index
    ((1, 1), 1.0, -1, ()),
]):
    V = shape[-1]
    t = randint(V, *shape[:-1], seed=270 + i).reshape(-1)
    for r in drop:
        t[r] = ignore
    if ignore >= 0:
        t[0], t[1] = ignore, ignore
    CASES.append(Case(f"cross_entropy__{i}", "cross_entropy", _cross_entropy,
                      {"logits": randn(*shape, seed=280 + i, scale=scale)},
                      idx={"targets": t.reshape(shape[:-1])},
                      attrs={"ignore_index": ignore}, seed=290 + i))

# The tied head + loss. 300 rows of the GPT-2 vocabulary span three row chunks of the
# kernel (128 rows each), the last one partial.
for i, (rows, C, V, ignore, drop) in enumerate([
    ((300,), 32, 50257, -1, (5, 130, 299)),
    ((2, 3), 16, 11, -1, (2,)),          # (B, T, C) input, (B, T) targets
    ((6,), 8, 9, 4, ()),                 # a real class id as ignore_index
    ((1,), 4, 1, -1, ()),
]):
    N = 1
    for r in rows:
        N *= r
    t = randint(V, N, seed=1270 + i)
    for r in drop:
        t[r] = ignore
    if ignore >= 0:
        t[0], t[1] = ignore, ignore
    CASES.append(Case(f"linear_cross_entropy__{i}", "linear_cross_entropy", _linear_cross_entropy,
                      {"x": randn(*rows, C, seed=1280 + i), "w": randn(V, C, seed=1285 + i, scale=0.5)},
                      idx={"targets": t.reshape(rows)},
                      attrs={"ignore_index": ignore}, seed=1290 + i))

for i, (shape, positions, theta) in enumerate([
    ((2, 3, 4, 8), [0, 1, 2], 10000.0),
    ((1, 3, 2, 64), [15, 31, 47], 10000.0),             # compressed-block positions
    ((2, 5, 16), [0, 7, 1000, 32767, 32768], 10000.0),  # (B, T, D), large positions
    ((3, 1, 3, 2), [5], 500.0),                        # D = 2
    ((1, 7, 1, 30), [3, 1, 4, 1, 5, 9, 26], 1e6),
    ((2, 128, 4, 64), list(range(100, 228)), 10000.0),  # threaded
]):
    CASES.append(Case(f"rope__{i}", "rope", _rope, {"x": randn(*shape, seed=300 + i)},
                      attrs={"positions": positions, "theta": theta}, seed=310 + i))

for i, (V, C, ids_shape) in enumerate([(5, 3, (2, 7)), (11, 33, (19,)), (1, 4, (3, 2)),
                                       (50, 16, (2, 3, 5)),
                                       (13, 64, (8, 100))]):  # threaded, many repeats
    CASES.append(Case(f"embedding__{i}", "embedding", _embedding,
                      {"weight": randn(V, C, seed=320 + i)},
                      idx={"ids": randint(V, *ids_shape, seed=330 + i)}, seed=340 + i))

for i, (N, C, M) in enumerate([(5, 3, 9), (7, 33, 4), (1, 8, 6), (20, 129, 40),
                                 (7, 96, 600)]):  # threaded, many repeats
    CASES.append(Case(f"gather_rows__{i}", "gather_rows", _gather_rows,
                      {"x": randn(N, C, seed=350 + i)}, idx={"idx": randint(N, M, seed=360 + i)},
                      seed=370 + i))
    CASES.append(Case(f"scatter_add_rows__{i}", "scatter_add_rows", _scatter_add_rows,
                      {"src": randn(M, C, seed=380 + i)}, idx={"idx": randint(N, M, seed=390 + i)},
                      attrs={"num_rows": N}, seed=400 + i))

# Continuous random inputs: no ties (ties are tested in C++).
for i, (shape, k) in enumerate([((3, 5), 2), ((2, 7, 33), 5), ((4, 64), 64), ((1, 1), 1),
                                 ((6, 50257), 40), ((3, 9), 0)]):
    CASES.append(Case(f"topk__{i}", "topk", _topk, {"x": randn(*shape, seed=410 + i)},
                      attrs={"k": k}, no_grad=("x",), seed=420 + i))
