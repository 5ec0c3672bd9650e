"""The routed experts (SPEC §2.4; GLU experts SPEC §11) with train.precision "bf16" (SPEC §13):
every expert product rounds both operands to bf16 and multiplies them in float64
(reference/precision.py), forward and both backward products; the activations stay exact."""
import torch
import torch.nn.functional as F

from opcases import Case, randn
from opcases.moe import _covering_choices
from precision import matmul


def _experts_bf16(x, idx, a):
    """out[n] = sum_j g[n,j] * ffn_e(x[n]), e = idx[n,j], every product in bf16; ffn_e is
    relu(x W_fc^T)^2 W_proj^T (MLP) or (silu(x W_fc^T) * x W_up^T) W_proj^T (GLU)."""
    X, g, ix = x["x"], x["g"], idx["idx"]
    out = torch.zeros_like(X)
    for e in range(a["E"]):
        rows, slots = (ix == e).nonzero(as_tuple=True)
        Xe = X[rows]
        z = matmul(Xe, x[f"fc{e}"].T, "bf16")
        if a["glu"]:
            h = F.silu(z) * matmul(Xe, x[f"up{e}"].T, "bf16")
        else:
            h = torch.relu(z) ** 2
        h = matmul(h, x[f"proj{e}"].T, "bf16")
        out = out.index_add(0, rows, g[rows, slots][:, None] * h)
    return out


CASES = []
# Few experts (one after another) and many (in parallel on 2 threads); MLP and GLU experts;
# H past one 32-wide column panel, C past one 256-deep slab of the native kernel.
for i, (N, E, K, C, H, glu) in enumerate([(40, 7, 1, 8, 40, False), (30, 3, 2, 20, 12, True),
                                           (50, 20, 2, 6, 10, True), (26, 2, 2, 270, 33, False)]):
    inputs = {"x": randn(N, C, seed=2300 + i),
              "g": torch.rand(N, K, generator=torch.Generator().manual_seed(2310 + i)) + 0.1}
    for e in range(E):
        inputs[f"fc{e}"] = randn(H, C, seed=2400 + 100 * i + e, scale=0.5)
        inputs[f"proj{e}"] = randn(C, H, seed=2450 + 100 * i + e, scale=0.5)
        if glu:
            inputs[f"up{e}"] = randn(H, C, seed=2480 + 100 * i + e, scale=0.5)
    CASES.append(Case(f"moe_experts_bf16__{i}", "moe_experts_bf16", _experts_bf16, inputs,
                      idx={"idx": _covering_choices(N, E, K, 2320 + i)},
                      attrs={"E": E, "glu": glu}, seed=2330 + i))
