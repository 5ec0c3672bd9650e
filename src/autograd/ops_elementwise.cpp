#include "autograd/ops_elementwise.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t d = 0; d < n; ++d) {
    const int64_t da = d + a.size() >= n ? a[d + a.size() - n] : 1;
    const int64_t db = d + b.size() >= n ? b[d + b.size() - n] : 1;
    TINYR2_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} do not broadcast", op,
                 shape_str(a), shape_str(b));
    out[d] = da == 1 ? db : da;
  }
  return out;
}

namespace {

Tensor binary(Tape& tape, kernels::BinaryOp op, const char* name, const Tensor& a,
              const Tensor& b) {
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  const kernels::BroadcastPlan plan = kernels::make_broadcast_plan(a.shape(), b.shape(), out_shape);
  const kernels::Backend& kern = kernels::backend(a.device());
  Tensor out = Tensor::empty(out_shape);
  kern.binary_forward(op, plan, a.data(), b.data(), out.data());
  if (tape.needs_grad({&a, &b})) {
    tape.record({out}, [&kern, op, plan, a, b, out] {
      kern.binary_backward(op, plan, a.data(), b.data(), out.grad().data(),
                           a.requires_grad() ? a.grad_accumulator() : nullptr,
                           b.requires_grad() ? b.grad_accumulator() : nullptr);
    });
  }
  return out;
}

// The backend entries of a unary op (kernels/cpu/elementwise.h): y = f(x) and dx += g · f'.
using UnaryForward = kernels::Entry<void(const float* x, float* y, int64_t n)> kernels::Backend::*;
using UnaryBackward = kernels::Entry<void(const float* saved, const float* g, float* dx, int64_t n)>
    kernels::Backend::*;

// y = f(x); the backward reads the saved input x, or the output y when save_output.
Tensor unary(Tape& tape, const Tensor& x, UnaryForward forward, UnaryBackward backward,
             bool save_output) {
  const kernels::Backend& kern = kernels::backend(x.device());
  Tensor out = Tensor::empty(x.shape());
  (kern.*forward)(x.data(), out.data(), x.numel());
  if (tape.needs_grad({&x})) {
    if (save_output) {
      tape.record({out}, [&kern, x, out, backward] {
        (kern.*backward)(out.data(), out.grad().data(), x.grad_accumulator(), x.numel());
      });
    } else {
      tape.record({out}, [&kern, x, out, backward] {
        (kern.*backward)(x.data(), out.grad().data(), x.grad_accumulator(), x.numel());
      });
    }
  }
  return out;
}

}  // namespace

Tensor add(Tape& tape, const Tensor& a, const Tensor& b) {
  return binary(tape, kernels::BinaryOp::Add, "add", a, b);
}

Tensor sub(Tape& tape, const Tensor& a, const Tensor& b) {
  return binary(tape, kernels::BinaryOp::Sub, "sub", a, b);
}

Tensor mul(Tape& tape, const Tensor& a, const Tensor& b) {
  return binary(tape, kernels::BinaryOp::Mul, "mul", a, b);
}

Tensor scale(Tape& tape, const Tensor& x, float s) {
  const kernels::Backend& kern = kernels::backend(x.device());
  Tensor out = Tensor::empty(x.shape());
  kern.scale_forward(x.data(), s, out.data(), x.numel());
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, out, s] {  // dx += s · g
      kern.axpy(x.numel(), s, out.grad().data(), x.grad_accumulator());
    });
  }
  return out;
}

Tensor add_scalar(Tape& tape, const Tensor& x, float s) {
  const kernels::Backend& kern = kernels::backend(x.device());
  Tensor out = Tensor::empty(x.shape());
  kern.add_scalar_forward(x.data(), s, out.data(), x.numel());
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, out] {  // dx += g
      kern.axpy(x.numel(), 1.f, out.grad().data(), x.grad_accumulator());
    });
  }
  return out;
}

Tensor relu2(Tape& tape, const Tensor& x) {
  return unary(tape, x, &kernels::Backend::relu2_forward, &kernels::Backend::relu2_backward, false);
}

Tensor gelu(Tape& tape, const Tensor& x) {
  return unary(tape, x, &kernels::Backend::gelu_forward, &kernels::Backend::gelu_backward, false);
}

Tensor silu(Tape& tape, const Tensor& x) {
  return unary(tape, x, &kernels::Backend::silu_forward, &kernels::Backend::silu_backward, false);
}

Tensor sigmoid(Tape& tape, const Tensor& x) {
  return unary(tape, x, &kernels::Backend::sigmoid_forward, &kernels::Backend::sigmoid_backward,
               true);
}

Tensor tanh(Tape& tape, const Tensor& x) {
  return unary(tape, x, &kernels::Backend::tanh_forward, &kernels::Backend::tanh_backward, true);
}

Tensor exp(Tape& tape, const Tensor& x) {
  return unary(tape, x, &kernels::Backend::exp_forward, &kernels::Backend::exp_backward, true);
}

}  // namespace tinyr2::ops
