#include "autograd/ops_retention.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

Tensor retention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& state) {
  const kernels::Backend& kern = kernels::backend(q.device());
  TINYR2_CHECK(q.dim() == 4 && q.shape() == k.shape() && q.shape() == v.shape(),
               "retention: q {}, k {}, v {} must all be the same (B,T,H,D)", shape_str(q.shape()),
               shape_str(k.shape()), shape_str(v.shape()));
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3);
  if (state.defined())
    TINYR2_CHECK(state.shape() == Shape({B, H, D, D}), "retention: state {} must be (B,H,D,D) = {}",
                 shape_str(state.shape()), shape_str({B, H, D, D}));
  Tensor o = Tensor::empty(q.shape());
  Tensor st = state;  // a handle: advancing it advances the caller's state
  kern.retention_forward(q.data(), k.data(), v.data(), o.data(), st.defined() ? st.data() : nullptr,
                         B, T, H, D, scale);
  if (tape.needs_grad({&q, &k, &v})) {
    TINYR2_CHECK(!state.defined(), "retention: no gradient through a decode state");
    tape.record({o}, [&kern, q, k, v, o, B, T, H, D, scale] {
      kern.retention_backward(q.data(), k.data(), v.data(), o.grad().data(), q.grad_accumulator(),
                              k.grad_accumulator(), v.grad_accumulator(), B, T, H, D, scale);
    });
  }
  return o;
}

}  // namespace tinyr2::ops
