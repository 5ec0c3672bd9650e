#include "autograd/ops_glu.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

Tensor glu(Tape& tape, const Tensor& a, const Tensor& b, kernels::GluActivation act) {
  const kernels::Backend& kern = kernels::backend(a.device());
  TINYR2_CHECK(a.shape() == b.shape(), "glu: gate {} and up {} differ", shape_str(a.shape()),
               shape_str(b.shape()));
  Tensor out = Tensor::empty(a.shape());
  kern.glu_forward(a.data(), b.data(), out.data(), a.numel(), act);
  if (tape.needs_grad({&a, &b})) {
    tape.record({out}, [&kern, a, b, out, act] {
      kern.glu_backward(a.data(), b.data(), out.grad().data(),
                        a.requires_grad() ? a.grad_accumulator() : nullptr,
                        b.requires_grad() ? b.grad_accumulator() : nullptr, a.numel(), act);
    });
  }
  return out;
}

}  // namespace tinyr2::ops
