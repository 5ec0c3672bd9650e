// Differentiable elementwise ops: broadcasting add/sub/mul, scalar ops and activations.
// Kernels in kernels/cpu/elementwise.
#pragma once

#include "autograd/tape.h"

namespace tinyr2::ops {

// The numpy broadcast of two shapes (aligned on the trailing dims; each pair of sizes equal or
// one of them 1). Throws, naming both shapes and `op`, when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");

// a ⊕ b with numpy broadcasting: (B,T,C)+(C), (B,T,C)·(B,T,1), (4,1,3)+(1,5,1), () scalars.
// The backward sums each operand's gradient over the dims it was broadcast along.
Tensor add(Tape& tape, const Tensor& a, const Tensor& b);
Tensor sub(Tape& tape, const Tensor& a, const Tensor& b);
Tensor mul(Tape& tape, const Tensor& a, const Tensor& b);

// x · s and x + s for a constant s.
Tensor scale(Tape& tape, const Tensor& x, float s);
Tensor add_scalar(Tape& tape, const Tensor& x, float s);

// Activations. relu2 / gelu / silu save their input, sigmoid / tanh / exp their output.
Tensor relu2(Tape& tape, const Tensor& x);  // relu(x)², the MLP activation (SPEC)
Tensor gelu(Tape& tape, const Tensor& x);   // x·Φ(x), the exact erf form (torch's default)
Tensor silu(Tape& tape, const Tensor& x);   // x·σ(x)
Tensor sigmoid(Tape& tape, const Tensor& x);
Tensor tanh(Tape& tape, const Tensor& x);
Tensor exp(Tape& tape, const Tensor& x);

}  // namespace tinyr2::ops
