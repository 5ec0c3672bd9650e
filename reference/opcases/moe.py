"""DSMoE routing weights, load-balance loss and the routed experts (SPEC §2.4)."""
import torch

from opcases import Case, randn


def _distinct_choices(N, E, K, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(E, generator=g)[:K] for _ in range(N)])


def _route(x, idx, a):
    w = torch.gather(x["p"], 1, idx["idx"])
    if a["normalize"]:
        w = w / w.sum(dim=1, keepdim=True)
    return w


def _balance(x, idx, a):
    E, c = a["E"], a["c"]
    R = torch.zeros(x["w"].shape[0], E, dtype=x["w"].dtype)
    R = R.scatter(1, idx["idx"], c * x["w"])
    col = R.sum(0)
    load = col / col.sum()
    return E * ((load - 1.0 / E) ** 2).sum()


def _experts(x, idx, a):
    """out[n] = sum_j g[n,j] * relu(x[n] @ W_fc[e].T)^2 @ W_proj[e].T, e = idx[n,j]."""
    X, g, ix = x["x"], x["g"], idx["idx"]
    out = torch.zeros_like(X)
    for e in range(a["E"]):
        rows, slots = (ix == e).nonzero(as_tuple=True)
        h = torch.relu(X[rows] @ x[f"fc{e}"].T) ** 2 @ x[f"proj{e}"].T
        out = out.index_add(0, rows, g[rows, slots][:, None] * h)
    return out


def _covering_choices(N, E, K, seed):
    """Distinct experts per token, every expert chosen at least once (N >= E): a random
    token per expert takes it as its first choice."""
    ix = _distinct_choices(N, E, K, seed)
    tokens = torch.randperm(N, generator=torch.Generator().manual_seed(seed + 1))[:E]
    for e, n in enumerate(tokens.tolist()):
        rest = [v for v in ix[n].tolist() if v != e][:K - 1]
        ix[n] = torch.tensor([e] + rest)
    return ix


CASES = []
for i, (N, E, K, normalize) in enumerate([(9, 7, 1, False), (13, 7, 2, True), (5, 3, 3, True),
                                          (64, 63, 1, False)]):
    p = torch.softmax(randn(N, E, seed=120 + i), dim=1)
    CASES.append(Case(f"moe_route_weights__{i}", "moe_route_weights", _route, {"p": p},
                      idx={"idx": _distinct_choices(N, E, K, 130 + i)},
                      attrs={"normalize": normalize}, seed=140 + i))
    w = torch.rand(N, K, generator=torch.Generator().manual_seed(150 + i)) + 0.1
    CASES.append(Case(f"moe_balance_loss__{i}", "moe_balance_loss", _balance, {"w": w},
                      idx={"idx": _distinct_choices(N, E, K, 160 + i)},
                      attrs={"E": E, "c": K / (K + 1.0)}, seed=170 + i))

# The routed experts: few experts (one after another, threaded GEMMs) and many (in parallel).
for i, (N, E, K, C, H) in enumerate([(40, 7, 1, 8, 16), (30, 3, 2, 8, 12), (50, 20, 2, 6, 10),
                                     (64, 63, 1, 4, 8)]):
    inputs = {"x": randn(N, C, seed=1300 + i),
              "g": torch.rand(N, K, generator=torch.Generator().manual_seed(1310 + i)) + 0.1}
    for e in range(E):
        inputs[f"fc{e}"] = randn(H, C, seed=1400 + 100 * i + e, scale=0.5)
        inputs[f"proj{e}"] = randn(C, H, seed=1450 + 100 * i + e, scale=0.5)
    CASES.append(Case(f"moe_experts__{i}", "moe_experts", _experts, inputs,
                      idx={"idx": _covering_choices(N, E, K, 1320 + i)}, attrs={"E": E},
                      seed=1330 + i))
