"""Shape ops: reshape, transpose, permute, concat, stack, split, slice, expand."""
import torch

from opcases import Case, randn

CASES = []

for i, (shape, new) in enumerate([((6, 4), (4, 6)), ((2, 3, 5), (-1, 5)), ((2, 3, 5), (30,)),
                                  ((7,), (1, 7, 1)), ((4, 9, 11), (2, -1, 11, 3))]):
    CASES.append(Case(f"reshape__{i}", "reshape", lambda x, idx, a: x["x"].reshape(a["shape"]),
                      {"x": randn(*shape, seed=100 + i)}, attrs={"shape": list(new)}, seed=150 + i))

for i, (shape, d0, d1) in enumerate([((5, 7), 0, 1), ((3, 4, 6), -1, -2), ((2, 3, 4, 5), 1, 2),
                                     ((2, 3, 4, 5), 0, 3), ((3, 1, 5), 0, 1), ((4, 6), 1, 1),
                                     ((130, 67), 0, 1), ((3, 70, 45), 0, 2)]):
    CASES.append(Case(f"transpose__{i}", "transpose",
                      lambda x, idx, a: x["x"].transpose(a["d0"], a["d1"]),
                      {"x": randn(*shape, seed=200 + i)}, attrs={"d0": d0, "d1": d1}, seed=250 + i))

for i, (shape, dims) in enumerate([((2, 3, 4), (2, 0, 1)), ((2, 3, 4, 5), (0, 2, 1, 3)),
                                   ((2, 3, 4, 5), (3, 1, 0, 2)), ((3, 5), (-1, -2)),
                                   ((2, 1, 3, 7), (3, 2, 1, 0)), ((4, 37, 3, 33), (0, 2, 1, 3)),
                                   ((5, 33, 65), (2, 0, 1))]):
    CASES.append(Case(f"permute__{i}", "permute", lambda x, idx, a: x["x"].permute(a["dims"]),
                      {"x": randn(*shape, seed=300 + i)}, attrs={"dims": list(dims)}, seed=350 + i))


def _cat(x, idx, a):
    return torch.cat([x[f"x{j}"] for j in range(a["n"])], dim=a["dim"])


def _stack(x, idx, a):
    return torch.stack([x[f"x{j}"] for j in range(a["n"])], dim=a["dim"])


for i, (shapes, dim) in enumerate([([(3, 4), (5, 4)], 0), ([(3, 4), (3, 1), (3, 7)], 1),
                                   ([(2, 3, 5), (2, 2, 5), (2, 1, 5)], -2),
                                   ([(2, 3, 5), (2, 3, 6)], -1), ([(7,), (9,), (1,)], 0),
                                   ([(200, 100), (200, 80)], 1), ([(3, 4)], 0)]):
    inputs = {f"x{j}": randn(*s, seed=400 + 10 * i + j) for j, s in enumerate(shapes)}
    CASES.append(Case(f"concat__{i}", "concat", _cat, inputs,
                      attrs={"n": len(shapes), "dim": dim}, seed=450 + i))

for i, (shape, n, dim) in enumerate([((3, 4), 2, 0), ((3, 4), 3, 1), ((3, 4), 3, 2),
                                     ((2, 3, 5), 4, -1), ((2, 3, 5), 2, -4), ((7,), 3, 0)]):
    inputs = {f"x{j}": randn(*shape, seed=500 + 10 * i + j) for j in range(n)}
    CASES.append(Case(f"stack__{i}", "stack", _stack, inputs, attrs={"n": n, "dim": dim},
                      seed=550 + i))

for i, (shape, sizes, dim) in enumerate([((10, 3), [3, 7], 0), ((4, 9), [2, 3, 4], 1),
                                         ((2, 6, 5), [1, 0, 5], -2), ((2, 3, 8), [8], -1),
                                         ((3, 5, 7), [2, 2, 3], 2), ((100, 384), [128, 64, 192], 1)]):
    CASES.append(Case(f"split__{i}", "split",
                      lambda x, idx, a: torch.split(x["x"], a["sizes"], dim=a["dim"]),
                      {"x": randn(*shape, seed=600 + i)}, attrs={"sizes": sizes, "dim": dim},
                      seed=650 + i))

def _slice(x, idx, a):
    size = x["x"].shape[a["dim"]]
    b, e = a["begin"], a["end"]
    b, e = b + size if b < 0 else b, e + size if e < 0 else e
    return x["x"].narrow(a["dim"], b, e - b)


for i, (shape, dim, b, e) in enumerate([((10, 3), 0, 2, 7), ((4, 9), 1, 0, 9),
                                        ((2, 6, 5), -2, 5, 6), ((3, 5, 7), 2, -4, -1),
                                        ((3, 5, 7), 1, 2, 2), ((300, 200), 1, 50, 173)]):
    CASES.append(Case(f"slice__{i}", "slice", _slice, {"x": randn(*shape, seed=700 + i)},
                      attrs={"dim": dim, "begin": b, "end": e}, seed=750 + i))

for i, (shape, target) in enumerate([((1, 5), (4, 5)), ((3, 1), (3, 6)), ((5,), (2, 3, 5)),
                                     ((4, 1, 3), (4, 5, 3)), ((1, 1), (-1, 7)), ((2, 1, 3), (6, 2, -1, 3)),
                                     ((), (3, 2)), ((3, 4), (3, 4)), ((1, 129), (300, 129)),
                                     ((300, 1), (300, 129))]):
    x = randn(1, seed=800 + i).reshape(()) if shape == () else randn(*shape, seed=800 + i)
    CASES.append(Case(f"expand__{i}", "expand",
                      lambda x, idx, a: x["x"].expand(*a["shape"]), {"x": x},
                      attrs={"shape": list(target)}, seed=850 + i))
