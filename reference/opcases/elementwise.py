"""Broadcasting add/sub/mul, scalar ops and activations."""
import torch

from opcases import Case, randn


def _scalar(seed):
    return randn(1, seed=seed).reshape(())


def _binary(fn):
    return lambda x, idx, a: fn(x["a"], x["b"])


# (a shape, b shape): same shapes, row vectors, per-row scalars, both sides broadcast,
# () scalars, middle-dim broadcasts, and sizes above the kernels' parallel threshold.
BROADCAST_SHAPES = [
    ((7, 5), (7, 5)),
    ((3, 4, 33), (3, 4, 33)),
    ((2, 9, 31), (31,)),          # (B,T,C) + (C)
    ((2, 9, 31), (2, 9, 1)),      # (B,T,C) · (B,T,1)
    ((4, 1, 3), (1, 5, 1)),       # both broadcast
    ((5, 3), ()),                 # scalar b
    ((), (6, 2)),                 # scalar a
    ((), ()),
    ((31,), (2, 9, 31)),          # a is the row vector
    ((3, 1, 7), (3, 5, 7)),       # middle dim
    ((2, 3, 4, 5), (3, 1, 5)),    # general
    ((6, 1), (1, 7)),             # outer product
    ((300, 129), (129,)),         # large row vector
    ((601, 70), (601, 1)),        # large per-row scalar
    ((40, 1, 70), (40, 30, 70)),  # large middle-dim broadcast
    ((1, 40001), (1, 40001)),     # large same shape
    ((40001,), ()),               # large scalar broadcast
]


def _tensor(shape, seed):
    return _scalar(seed) if shape == () else randn(*shape, seed=seed)


CASES = []
for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)]:
    for i, (ash, bsh) in enumerate(BROADCAST_SHAPES):
        CASES.append(Case(f"{op}__{i}", op, _binary(fn),
                          {"a": _tensor(ash, 1000 + i), "b": _tensor(bsh, 2000 + i)},
                          seed=3000 + i))
    # Only one operand wants a gradient.
    CASES.append(Case(f"{op}__nograd_b", op, _binary(fn),
                      {"a": randn(4, 6, seed=4000), "b": randn(6, seed=4001)}, no_grad=("b",),
                      seed=4002))
    CASES.append(Case(f"{op}__nograd_a", op, _binary(fn),
                      {"a": randn(4, 1, seed=4003), "b": randn(4, 6, seed=4004)}, no_grad=("a",),
                      seed=4005))

for i, (shape, s) in enumerate([((7, 5), 0.37), ((3, 11, 17), -2.5), ((50001,), 1e-3)]):
    CASES.append(Case(f"scale__{i}", "scale", lambda x, idx, a: x["x"] * a["s"],
                      {"x": randn(*shape, seed=5000 + i)}, attrs={"s": s}, seed=5100 + i))
    CASES.append(Case(f"add_scalar__{i}", "add_scalar", lambda x, idx, a: x["x"] + a["s"],
                      {"x": randn(*shape, seed=5200 + i)}, attrs={"s": s}, seed=5300 + i))

ACTIVATIONS = {
    "relu2": lambda t: torch.relu(t) ** 2,
    "gelu": lambda t: torch.nn.functional.gelu(t),  # the exact erf form
    "silu": lambda t: torch.nn.functional.silu(t),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "exp": torch.exp,
}


def _activation(f):
    return lambda x, idx, a: f(x["x"])


for k, (op, f) in enumerate(ACTIVATIONS.items()):
    for i, (shape, scale) in enumerate([((7, 5), 1.0), ((3, 17, 33), 3.0), ((41, 1001), 2.0)]):
        CASES.append(Case(f"{op}__{i}", op, _activation(f),
                          {"x": randn(*shape, seed=6000 + 10 * k + i, scale=scale)},
                          seed=7000 + 10 * k + i))
    # Exact zeros and large magnitudes.
    x = torch.tensor([0.0, -0.0, 1e-8, -1e-8, 12.0, -12.0, 30.0, -30.0, 0.5, -0.5, 3.0])
    if op == "exp":
        x = x.clamp(max=10.0)
    CASES.append(Case(f"{op}__edges", op, _activation(f), {"x": x}, seed=7100 + k))
