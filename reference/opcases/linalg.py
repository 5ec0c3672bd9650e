"""matmul / linear cases."""
from opcases import Case, randn


def _matmul(x, idx, a):
    A, B = x["a"], x["b"]
    if a["trans_a"]:
        A = A.transpose(-1, -2)
    if a["trans_b"]:
        B = B.transpose(-1, -2)
    return A @ B


def _linear(x, idx, a):
    return x["x"] @ x["w"].t()


CASES = []
for i, (ash, bsh, ta, tb) in enumerate([
    ((3, 5), (5, 7), False, False),
    ((17, 33), (33, 9), False, False),
    ((2, 4, 6), (6, 3), False, False),       # batched a, shared b
    ((2, 3, 4, 6), (2, 3, 6, 5), False, False),  # batched both
    ((6, 4), (6, 5), True, False),
    ((4, 6), (5, 6), False, True),
    ((3, 6, 4), (5, 6), True, True),         # batched transposed a, shared transposed b
    ((3, 6, 4), (3, 6, 5), True, False),
    ((3, 4, 6), (3, 5, 6), False, True),
]):
    ak = ash
    CASES.append(Case(f"matmul__{i}", "matmul", _matmul,
                      {"a": randn(*ash, seed=10 + i), "b": randn(*bsh, seed=20 + i)},
                      attrs={"trans_a": ta, "trans_b": tb}, seed=i))

for i, (xsh, out) in enumerate([((7, 5), 3), ((2, 9, 31), 17), ((4, 3, 2, 64), 96)]):
    CASES.append(Case(f"linear__{i}", "linear", _linear,
                      {"x": randn(*xsh, seed=30 + i), "w": randn(out, xsh[-1], seed=40 + i, scale=0.1)},
                      seed=100 + i))
