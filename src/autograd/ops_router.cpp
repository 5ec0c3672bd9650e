#include "autograd/ops_router.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

Tensor router_attention(Tape& tape, const Tensor& qkv) {
  const kernels::Backend& kern = kernels::backend(qkv.device());
  TINYR2_CHECK(qkv.dim() == 2 && qkv.size(1) > 0 && qkv.size(1) % 3 == 0,
               "router_attention: qkv must be (N, 3E), got {}", shape_str(qkv.shape()));
  const int64_t N = qkv.size(0), E = qkv.size(1) / 3;
  Tensor z = Tensor::empty({N, E});
  kern.router_attention_forward(qkv.data(), z.data(), N, E);
  if (tape.needs_grad({&qkv})) {
    tape.record({z}, [&kern, qkv, z, N, E] {
      kern.router_attention_backward(qkv.data(), z.grad().data(), qkv.grad_accumulator(), N, E);
    });
  }
  return z;
}

}  // namespace tinyr2::ops
