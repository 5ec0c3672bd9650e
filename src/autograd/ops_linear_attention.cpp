#include "autograd/ops_linear_attention.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {
float* grad_or_null(const Tensor& t) {
  return t.requires_grad() ? t.grad_accumulator() : nullptr;
}
}  // namespace

Tensor linear_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, Tensor* S,
                        Tensor* z) {
  const kernels::Backend& kern = kernels::backend(q.device());
  TINYR2_CHECK(q.dim() == 4 && q.shape() == k.shape() && q.shape() == v.shape(),
               "linear_attention: q {}, k {}, v {} must all be (B,T,H,D)", shape_str(q.shape()),
               shape_str(k.shape()), shape_str(v.shape()));
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t chunk = kLinearAttentionChunk;
  TINYR2_CHECK((S == nullptr) == (z == nullptr), "linear_attention: give both S and z, or none");
  if (S) {
    TINYR2_CHECK(S->shape() == Shape({B, H, D, D}) && z->shape() == Shape({B, H, D}),
                 "linear_attention: state S {} and z {} must be (B,H,D,D) and (B,H,D) for q {}",
                 shape_str(S->shape()), shape_str(z->shape()), shape_str(q.shape()));
    TINYR2_CHECK(!tape.needs_grad({&q, &k, &v}),
                 "linear_attention: a decode state carries no gradient (use NoGradGuard)");
  }
  Tensor o = Tensor::empty(q.shape());
  const bool grad = !S && tape.needs_grad({&q, &k, &v});
  Tensor den = grad ? Tensor::empty({B, T, H}) : Tensor();
  kern.linear_attention_forward(q.data(), k.data(), v.data(), o.data(), grad ? den.data() : nullptr,
                                S ? S->data() : nullptr, z ? z->data() : nullptr, B, T, H, D,
                                chunk);
  if (grad) {
    tape.record({o}, [&kern, q, k, v, o, den, B, T, H, D, chunk] {
      kern.linear_attention_backward(q.data(), k.data(), v.data(), o.data(), den.data(),
                                     o.grad().data(), grad_or_null(q), grad_or_null(k),
                                     grad_or_null(v), B, T, H, D, chunk);
    });
  }
  return o;
}

}  // namespace tinyr2::ops
