"""Hyper-connection primitives: stream mixing, Sinkhorn and orthostochastic projections."""
import math

import torch

from opcases import Case, randn


def _stream_mix(x, idx, a):
    R, M = x["R"], x["M"]
    if M.dim() == 2:
        return torch.einsum("nsc,st->ntc", R, M)
    return torch.einsum("nsc,nst->ntc", R, M)


def _sinkhorn(x, idx, a):
    Z = x["logits"] / a["tau"]
    S = Z.shape[0]
    m = -math.log(S)
    u = torch.zeros(S, dtype=Z.dtype)
    v = torch.zeros(S, dtype=Z.dtype)
    for _ in range(a["iters"]):
        u = m - torch.logsumexp(Z + v[None, :], dim=1)
        v = m - torch.logsumexp(Z + u[:, None], dim=0)
    return S * torch.exp(Z + u[:, None] + v[None, :])


def _ortho(x, idx, a):
    L = x["logits"]
    X = L / (L.norm() + a["eps"])
    ca, cb, cc = a["coeffs"]
    for _ in range(a["steps"]):
        A = X @ X.t()
        X = ca * X + (cb * A + cc * A @ A) @ X
    return X * X


CASES = []
for i, (N, S, T, C, per_token) in enumerate([
        (5, 4, 4, 7, False), (3, 4, 1, 33, False), (6, 1, 4, 16, False),
        (4, 4, 5, 9, True), (2, 3, 4, 5, True), (300, 4, 4, 64, False)]):
    M = randn(N, S, T, seed=60 + i) if per_token else randn(S, T, seed=60 + i)
    CASES.append(Case(f"stream_mix__{i}", "stream_mix", _stream_mix,
                      {"R": randn(N, S, C, seed=50 + i), "M": M}, seed=70 + i))

for i, (S, tau, iters, scale) in enumerate([(4, 0.05, 10, 0.05), (4, 0.05, 10, 1.0),
                                            (3, 0.5, 3, 1.0), (2, 1.0, 0, 1.0)]):
    CASES.append(Case(f"sinkhorn__{i}", "sinkhorn", _sinkhorn,
                      {"logits": randn(S, S, seed=80 + i, scale=scale)},
                      attrs={"tau": tau, "iters": iters}, seed=90 + i))

for i, (S, steps) in enumerate([(4, 5), (3, 2), (4, 0)]):
    L = torch.eye(S) + randn(S, S, seed=100 + i, scale=0.3)
    CASES.append(Case(f"orthostochastic__{i}", "orthostochastic", _ortho, {"logits": L},
                      attrs={"steps": steps, "eps": 1e-7, "coeffs": [3.0, -3.2, 1.2]},
                      seed=110 + i))
