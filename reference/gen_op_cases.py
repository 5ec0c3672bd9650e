#!/usr/bin/python3
"""Writes the PyTorch oracle for the C++ op parity tests.

Every module in reference/opcases/ defines CASES, a list of Case objects. For each case
this script runs the op in float64 on the case's float32 inputs, draws a random upstream
gradient for every output, back-propagates, and writes <out>/<case.name>.safetensors with

    input.<k>        the float inputs (F32)           idx.<k>   integer inputs (I64)
    output.<i>       the op's outputs                  grad_output.<i>  the upstream gradient
    grad.<k>         d(sum_i <output.i, grad_output.i>)/d(input.k), for inputs with grad
    __metadata__     {"op": name, "attrs": json}

The C++ test for an op loads every file whose metadata names that op, runs the C++ op on
the same inputs and compares (tests/support/op_case.h).
"""
import argparse
import importlib
import json
import os
import pkgutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import opcases  # noqa: E402


def run_case(case, out_dir):
    gen = torch.Generator().manual_seed(case.seed)
    inputs64 = {}
    for k, t in case.inputs.items():
        t = t.to(torch.float32)  # the C++ side sees exactly these float32 values
        inputs64[k] = t.to(torch.float64).requires_grad_(k not in case.no_grad)
    outputs = case.fn(inputs64, case.idx, case.attrs)
    if not isinstance(outputs, (tuple, list)):
        outputs = (outputs,)
    tensors = {f"input.{k}": v for k, v in case.inputs.items()}
    tensors.update({f"idx.{k}": v for k, v in case.idx.items()})
    grad_outputs = []
    for i, o in enumerate(outputs):
        tensors[f"output.{i}"] = o.detach()
        if o.is_floating_point() and o.requires_grad:
            g = torch.randn(o.shape, generator=gen, dtype=torch.float32).to(torch.float64)
            tensors[f"grad_output.{i}"] = g
            grad_outputs.append((o, g))
    if grad_outputs:
        torch.autograd.backward([o for o, _ in grad_outputs], [g for _, g in grad_outputs])
        for k, t in inputs64.items():
            if t.requires_grad:
                tensors[f"grad.{k}"] = t.grad if t.grad is not None else torch.zeros_like(t)
    meta = {"op": case.op, "attrs": json.dumps(case.attrs)}
    safetensors_io.save(os.path.join(out_dir, case.name + ".safetensors"), tensors, meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for the case files")
    ap.add_argument("--only", default=None, help="only cases whose op has this name")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    names = set()
    count = 0
    for mod in pkgutil.iter_modules(opcases.__path__):
        m = importlib.import_module(f"opcases.{mod.name}")
        for case in m.CASES:
            assert case.name not in names, f"duplicate case name {case.name}"
            names.add(case.name)
            if args.only and case.op != args.only:
                continue
            run_case(case, args.out)
            count += 1
    print(f"wrote {count} op cases to {args.out}")


if __name__ == "__main__":
    main()
