"""Op parity cases, one module per op family. See reference/gen_op_cases.py."""
import torch


class Case:
    """One op invocation: float32 inputs (random unless given), integer inputs, attributes.

    fn(inputs: {name: float64 tensor}, idx: {name: int64 tensor}, attrs: dict) returns the
    output tensor or a tuple of them, computed with plain PyTorch in float64.
    """

    def __init__(self, name, op, fn, inputs, idx=None, attrs=None, no_grad=(), seed=0):
        self.name, self.op, self.fn = name, op, fn
        self.inputs, self.idx = inputs, idx or {}
        self.attrs = attrs or {}
        self.no_grad = set(no_grad)
        self.seed = seed


def randn(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32) * scale


def randint(high, *shape, seed=0, low=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, shape, generator=g, dtype=torch.int64)
