"""Sums and means over everything or one dim (long rows test the double accumulation)."""

from opcases import Case, randn

CASES = []

for i, shape in enumerate([(7, 5), (3, 4, 33), (1,), (70001,), (300, 257)]):
    x = randn(*shape, seed=900 + i) + 0.5  # a non-zero mean: long float sums drift
    CASES.append(Case(f"sum__{i}", "sum", lambda x, idx, a: x["x"].sum(), {"x": x}, seed=950 + i))
    CASES.append(Case(f"mean__{i}", "mean", lambda x, idx, a: x["x"].mean(), {"x": x}, seed=960 + i))

for i, (shape, dim, keep) in enumerate([((7, 5), 0, False), ((7, 5), 1, True), ((3, 4, 33), 1, False),
                                        ((3, 4, 33), -1, True), ((3, 4, 33), -3, False),
                                        ((2, 50001), -1, False), ((50001, 3), 0, True),
                                        ((40, 300, 5), 1, False), ((1, 1, 1), 1, False),
                                        ((9,), 0, False)]):
    x = randn(*shape, seed=1000 + i) + 0.5
    CASES.append(Case(f"sum_dim__{i}", "sum_dim",
                      lambda x, idx, a: x["x"].sum(dim=a["dim"], keepdim=a["keepdim"]), {"x": x},
                      attrs={"dim": dim, "keepdim": keep}, seed=1050 + i))
    CASES.append(Case(f"mean_dim__{i}", "mean_dim",
                      lambda x, idx, a: x["x"].mean(dim=a["dim"], keepdim=a["keepdim"]), {"x": x},
                      attrs={"dim": dim, "keepdim": keep}, seed=1060 + i))
