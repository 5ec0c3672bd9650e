"""DSMoE routing weights and load-balance loss (SPEC §2.4)."""
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
