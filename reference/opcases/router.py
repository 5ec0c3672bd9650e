"""Yuan 2.0-M32's attention router as one op (SPEC §11): qkv (N, 3E) = [q ‖ k ‖ v] per token,
z_i = sum_j softmax_j(q_i k_j) v_j."""
import torch

from opcases import Case, randn


def _router_attention(x, idx, a):
    q, k, v = x["qkv"].chunk(3, dim=1)
    s = q[:, :, None] * k[:, None, :]                # (N, E, E)
    return (torch.softmax(s, dim=-1) * v[:, None, :]).sum(dim=-1)


CASES = []
# One expert (z = v), a few, the benchmark's 8, 64; scale 6 makes the softmax rows peaked
# (products up to ~10³: the row max must be subtracted).
for i, (N, E, scale) in enumerate([(5, 1, 1.0), (7, 3, 1.0), (33, 8, 1.0), (9, 8, 6.0),
                                   (4, 64, 1.0), (3, 17, 4.0)]):
    CASES.append(Case(f"router_attention__{i}", "router_attention", _router_attention,
                      {"qkv": randn(N, 3 * E, seed=900 + i, scale=scale)}, seed=910 + i))
