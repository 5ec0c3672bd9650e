#include "autograd/ops_reduce.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {

// scale · Σ x → shape ().
Tensor sum_all(Tape& tape, const Tensor& x, double scale) {
  const kernels::Backend& kern = kernels::backend(x.device());
  Tensor out = Tensor::empty({});
  out.data()[0] = static_cast<float>(kern.sum_all_forward(x.data(), x.numel(), scale));
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, out, scale] {  // dx += scale · g
      kern.sum_all_backward(out.grad().data()[0], x.grad_accumulator(), x.numel(), scale);
    });
  }
  return out;
}

// scale · Σ over dim, x viewed as (outer, n, inner).
Tensor sum_over(Tape& tape, const char* op, const Tensor& x, int64_t dim, bool keepdim, bool mean) {
  const kernels::Backend& kern = kernels::backend(x.device());
  const int64_t nd = x.dim();
  TINYR2_CHECK(dim >= -nd && dim < nd, "{}: dim {} out of range for shape {}", op, dim,
               shape_str(x.shape()));
  if (dim < 0) dim += nd;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < nd; ++d) inner *= x.size(d);
  const int64_t n = x.size(dim);
  const double scale = mean ? 1.0 / static_cast<double>(n) : 1.0;
  Shape shape = x.shape();
  if (keepdim)
    shape[dim] = 1;
  else
    shape.erase(shape.begin() + dim);
  Tensor out = Tensor::empty(shape);
  kern.sum_dim_forward(x.data(), out.data(), outer, n, inner, scale);
  if (tape.needs_grad({&x})) {
    tape.record({out}, [&kern, x, out, outer, n, inner, scale] {  // dx[o,k,i] += scale · g[o,i]
      kern.sum_dim_backward(out.grad().data(), x.grad_accumulator(), outer, n, inner, scale);
    });
  }
  return out;
}

}  // namespace

Tensor sum(Tape& tape, const Tensor& x) {
  return sum_all(tape, x, 1.0);
}

Tensor mean(Tape& tape, const Tensor& x) {
  return sum_all(tape, x, 1.0 / static_cast<double>(x.numel()));
}

Tensor sum(Tape& tape, const Tensor& x, int64_t dim, bool keepdim) {
  return sum_over(tape, "sum", x, dim, keepdim, false);
}

Tensor mean(Tape& tape, const Tensor& x, int64_t dim, bool keepdim) {
  return sum_over(tape, "mean", x, dim, keepdim, true);
}

}  // namespace tinyr2::ops
