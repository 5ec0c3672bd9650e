"""Optimizer cases: Newton-Schulz, Muon steps and AdamW steps (reference/optim.py).

A step case has parameters w{i} and, for each step s, gradients g{s}_{i}; attrs give the
learning rate of each step ("lrs"), the hyper-parameters, and "skip": [[s, i], ...] pairs
whose gradient is absent (None) in step s. No input requires grad (no_grad = all): the
outputs are the parameters after the last step followed by the optimizer state, in the
order documented by each fn.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import optim  # noqa: E402  (reference/optim.py)
from opcases import Case, randn  # noqa: E402


def _newton_schulz(x, idx, a):
    return optim.newton_schulz(x["g"], a["steps"])


def _run(opt, x, a, n):
    params = [p for _, p in opt.params]
    skip = {tuple(v) for v in a["skip"]}
    for s, lr in enumerate(a["lrs"]):
        for i, p in enumerate(params):
            p.grad = None if (s, i) in skip else x[f"g{s}_{i}"].clone()
        opt.step(lr)
    return params


def _muon_step(x, idx, a):
    """Outputs: w0..w{n-1}, then the momentum buffers in the same order."""
    n = a["n_params"]
    named = [(f"w{i}", x[f"w{i}"].clone()) for i in range(n)]
    opt = optim.Muon(named, momentum=a["momentum"], weight_decay=a["weight_decay"])
    params = _run(opt, x, a, n)
    return tuple(params) + tuple(opt.buffers[f"w{i}"] for i in range(n))


def _adamw_step(x, idx, a):
    """Outputs: w0..w{n-1}, then for each parameter exp_avg, exp_avg_sq, step."""
    n = a["n_params"]
    named = [(f"w{i}", x[f"w{i}"].clone()) for i in range(n)]
    opt = optim.AdamW(named, betas=tuple(a["betas"]), eps=a["eps"],
                      weight_decay=a["weight_decay"])
    params = _run(opt, x, a, n)
    state = []
    for i in range(n):
        state += [opt.exp_avg[f"w{i}"], opt.exp_avg_sq[f"w{i}"], opt.steps[f"w{i}"]]
    return tuple(params) + tuple(state)


def _randn(shape, seed, scale):
    return randn(*shape, seed=seed, scale=scale) if shape else randn(1, seed=seed, scale=scale)[0]


def _step_case(name, op, fn, shapes, lrs, attrs, seed, skip=(), wscale=0.02):
    inputs = {}
    for i, shape in enumerate(shapes):
        inputs[f"w{i}"] = _randn(shape, seed + 10 * i, wscale)
        for s in range(len(lrs)):
            # gradients of varied size per step, so momentum and moments matter
            inputs[f"g{s}_{i}"] = _randn(shape, seed + 10 * i + 1 + s, 0.1 * (s + 1))
    attrs = dict(attrs, n_params=len(shapes), lrs=list(lrs), skip=[list(v) for v in skip])
    return Case(name, op, fn, inputs, attrs=attrs, no_grad=tuple(inputs), seed=seed)


CASES = []

# Newton-Schulz alone: square, tall (transposed path), wide, odd, 3-D (flattened).
for i, (shape, steps) in enumerate([((16, 16), 5), ((48, 16), 5), ((16, 40), 5), ((33, 17), 5),
                                    ((17, 50), 5), ((6, 4, 5), 5), ((64, 64), 5), ((9, 20), 1),
                                    ((20, 9), 2), ((5, 7), 0)]):
    CASES.append(Case(f"newton_schulz__{i}", "newton_schulz", _newton_schulz,
                      {"g": randn(*shape, seed=500 + i)}, attrs={"steps": steps},
                      no_grad=("g",), seed=500 + i))

# The same with bf16 products (train.precision "bf16"): each product's operands rounded to
# bfloat16, the products in float64. Wide, tall, odd, 3-D; one and two steps (the C++ test
# holds them to fp32 accumulation), and five (a loose check: see the test).
for i, (shape, steps) in enumerate([((16, 40), 2), ((48, 16), 2), ((33, 17), 2), ((37, 300), 2),
                                    ((9, 20), 1), ((6, 4, 5), 2), ((16, 40), 5), ((48, 16), 5),
                                    ((37, 300), 5)]):
    CASES.append(Case(f"newton_schulz_bf16__{i}", "newton_schulz_bf16",
                      lambda x, idx, a: optim.newton_schulz(x["g"], a["steps"], precision="bf16"),
                      {"g": randn(*shape, seed=520 + i)}, attrs={"steps": steps},
                      no_grad=("g",), seed=520 + i))

MUON = {"momentum": 0.95, "weight_decay": 0.0}
for i, (shape, lrs, wd) in enumerate([
        ((32, 32), [0.02], 0.0),                      # square, one step
        ((64, 24), [0.02], 0.0),                      # tall: transposed path, scale sqrt(64/24)
        ((24, 64), [0.02], 0.0),                      # wide
        ((37, 19), [0.02], 0.1),                      # odd, tall, weight decay
        ((19, 37), [0.01, 0.02, 0.015], 0.0),         # odd, wide, three steps
        ((48, 20), [0.01, 0.02, 0.015], 0.1),         # tall, three steps, weight decay
        ((4, 6, 5), [0.02, 0.01, 0.005], 0.0)]):      # 3-D: seen as (4, 30)
    CASES.append(_step_case(f"muon_step__{i}", "muon_step", _muon_step, [shape], lrs,
                            dict(MUON, weight_decay=wd), seed=600 + 50 * i))
# Several parameters in one optimizer, one of them without a gradient in step 1.
CASES.append(_step_case("muon_step__multi", "muon_step", _muon_step,
                        [(24, 24), (40, 12), (12, 40), (5, 3, 7)], [0.02, 0.015, 0.01],
                        dict(MUON, weight_decay=0.05, momentum=0.9), seed=1000,
                        skip=[(1, 2)]))

ADAMW = {"betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1}
for i, (shapes, lrs) in enumerate([
        ([(7, 5)], [1e-3]),                                  # 2-D: decayed
        ([(13,)], [1e-3]),                                   # 1-D: not decayed
        ([(7, 5), (13,), (), (3, 4, 5)], [1e-3]),            # mixed, scalar included
        ([(7, 5), (13,), (), (3, 4, 5)], [5e-4, 1e-3, 8e-4]),  # three steps: bias correction
        ([(33, 17), (17,)], [1e-2, 1e-2, 1e-2])]):
    CASES.append(_step_case(f"adamw_step__{i}", "adamw_step", _adamw_step, shapes, lrs, ADAMW,
                            seed=1100 + 50 * i, wscale=1.0))
CASES.append(_step_case("adamw_step__skip", "adamw_step", _adamw_step, [(6, 9), (9,)],
                        [1e-3, 1e-3, 1e-3], dict(ADAMW, betas=[0.8, 0.99], weight_decay=0.5),
                        seed=1400, skip=[(0, 1), (1, 0)], wscale=1.0))
