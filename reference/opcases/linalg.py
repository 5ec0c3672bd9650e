"""matmul / linear cases, in fp32 and in bf16 (SPEC §13: attrs["precision"])."""
from opcases import Case, randn
from precision import matmul


def _matmul(x, idx, a):
    A, B = x["a"], x["b"]
    if a["trans_a"]:
        A = A.transpose(-1, -2)
    if a["trans_b"]:
        B = B.transpose(-1, -2)
    return matmul(A, B, a["precision"])


def _linear(x, idx, a):
    return matmul(x["x"], x["w"].t(), a["precision"])


CASES = []
for i, (ash, bsh, ta, tb, precision) in enumerate([
    ((3, 5), (5, 7), False, False, "fp32"),
    ((17, 33), (33, 9), False, False, "fp32"),
    ((2, 4, 6), (6, 3), False, False, "fp32"),       # batched a, shared b
    ((2, 3, 4, 6), (2, 3, 6, 5), False, False, "fp32"),  # batched both
    ((6, 4), (6, 5), True, False, "fp32"),
    ((4, 6), (5, 6), False, True, "fp32"),
    ((3, 6, 4), (5, 6), True, True, "fp32"),         # batched transposed a, shared transposed b
    ((3, 6, 4), (3, 6, 5), True, False, "fp32"),
    ((3, 4, 6), (3, 5, 6), False, True, "fp32"),
    # bf16 products: the same layouts, odd sizes and K past one 256-wide slab
    ((17, 33), (33, 9), False, False, "bf16"),
    ((2, 3, 4, 6), (2, 3, 6, 5), False, False, "bf16"),
    ((6, 4), (6, 5), True, False, "bf16"),
    ((13, 300), (29, 300), False, True, "bf16"),
    ((3, 6, 4), (5, 6), True, True, "bf16"),
    ((3, 6, 4), (3, 6, 5), True, False, "bf16"),
]):
    ak = ash
    CASES.append(Case(f"matmul__{i}", "matmul", _matmul,
                      {"a": randn(*ash, seed=10 + i), "b": randn(*bsh, seed=20 + i)},
                      attrs={"trans_a": ta, "trans_b": tb, "precision": precision}, seed=i))

for i, (xsh, out, precision) in enumerate([((7, 5), 3, "fp32"), ((2, 9, 31), 17, "fp32"),
                                           ((4, 3, 2, 64), 96, "fp32"), ((2, 9, 31), 17, "bf16"),
                                           ((4, 3, 2, 64), 96, "bf16")]):
    CASES.append(Case(f"linear__{i}", "linear", _linear,
                      {"x": randn(*xsh, seed=30 + i), "w": randn(out, xsh[-1], seed=40 + i, scale=0.1)},
                      attrs={"precision": precision}, seed=100 + i))
