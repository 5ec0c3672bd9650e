#include "autograd/ops_attention.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {

struct AttnDims {
  int64_t B, Tq, Tk, H, Dk, Dv;
};

AttnDims check_qkv(const char* op, const Tensor& q, const Tensor& k, const Tensor& v) {
  TINYR2_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
               "{}: q {}, k {}, v {} must be (B,T,H,D)", op, shape_str(q.shape()),
               shape_str(k.shape()), shape_str(v.shape()));
  const AttnDims d{q.size(0), q.size(1), k.size(1), q.size(2), q.size(3), v.size(3)};
  TINYR2_CHECK(k.size(0) == d.B && v.size(0) == d.B && k.size(2) == d.H && v.size(2) == d.H &&
                   k.size(3) == d.Dk && v.size(1) == d.Tk,
               "{}: q {}, k {}, v {} do not match as (B,Tq,H,Dk), (B,Tk,H,Dk), (B,Tk,H,Dv)", op,
               shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
  return d;
}

float* grad_or_null(const Tensor& t) {
  return t.requires_grad() ? t.grad_accumulator() : nullptr;
}

}  // namespace

Tensor range_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                       const std::vector<int32_t>& lo, const std::vector<int32_t>& hi,
                       Tensor* lse) {
  const kernels::Backend& kern = kernels::backend(q.device());
  const AttnDims d = check_qkv("range_attention", q, k, v);
  TINYR2_CHECK(static_cast<int64_t>(lo.size()) == d.Tq && static_cast<int64_t>(hi.size()) == d.Tq,
               "range_attention: lo has {} and hi {} entries for q {} (Tq = {})", lo.size(),
               hi.size(), shape_str(q.shape()), d.Tq);
  for (int64_t t = 0; t < d.Tq; ++t)
    TINYR2_CHECK(0 <= lo[t] && lo[t] <= hi[t] && hi[t] <= d.Tk,
                 "range_attention: query {} has range [{}, {}), not within [0, Tk = {}]", t, lo[t],
                 hi[t], d.Tk);
  Tensor out = Tensor::empty({d.B, d.Tq, d.H, d.Dv});
  const bool grad = tape.needs_grad({&q, &k, &v});
  Tensor lse_t = grad || lse ? Tensor::empty({d.B, d.Tq, d.H}) : Tensor();
  kern.range_attention_forward(q.data(), k.data(), v.data(), out.data(),
                               lse_t.defined() ? lse_t.data() : nullptr, d.B, d.Tq, d.Tk, d.H, d.Dk,
                               d.Dv, scale, lo.data(), hi.data());
  if (lse) *lse = grad ? lse_t.clone() : lse_t;  // the tape keeps its own copy
  if (grad) {
    tape.record({out}, [&kern, q, k, v, out, lse_t, d, scale, lo, hi] {
      kern.range_attention_backward(q.data(), k.data(), v.data(), out.data(), lse_t.data(),
                                    out.grad().data(), grad_or_null(q), grad_or_null(k),
                                    grad_or_null(v), d.B, d.Tq, d.Tk, d.H, d.Dk, d.Dv, scale,
                                    lo.data(), hi.data());
    });
  }
  return out;
}

void causal_ranges(int64_t Tq, int64_t Tk, int64_t window, int64_t q_offset,
                   std::vector<int32_t>& lo, std::vector<int32_t>& hi) {
  TINYR2_CHECK(window >= 0 && q_offset >= 0,
               "causal_attention: window {} and q_offset {} must be >= 0", window, q_offset);
  lo.resize(Tq);
  hi.resize(Tq);
  for (int64_t t = 0; t < Tq; ++t) {
    const int64_t pos = q_offset + t;
    hi[t] = static_cast<int32_t>(std::min(pos + 1, Tk));
    lo[t] = static_cast<int32_t>(
        std::min<int64_t>(window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0, hi[t]));
  }
}

Tensor causal_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                        int64_t window, int64_t q_offset) {
  const AttnDims d = check_qkv("causal_attention", q, k, v);
  std::vector<int32_t> lo, hi;
  causal_ranges(d.Tq, d.Tk, window, q_offset, lo, hi);
  return range_attention(tape, q, k, v, scale, lo, hi);
}

Tensor index_attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v,
                       const IndexTensor& idx, float scale) {
  const kernels::Backend& kern = kernels::backend(q.device());
  const AttnDims d = check_qkv("index_attention", q, k, v);
  TINYR2_CHECK(idx.shape.size() == 3 && idx.shape[0] == d.B && idx.shape[1] == d.Tq,
               "index_attention: idx {} must be (B,Tq,n) for q {}", shape_str(idx.shape),
               shape_str(q.shape()));
  const int64_t n = idx.shape[2];
  for (int64_t i = 0; i < idx.numel(); ++i)
    TINYR2_CHECK(idx.data[i] >= -1 && idx.data[i] < d.Tk,
                 "index_attention: idx[{}] = {} is neither -1 (padding) nor in [0, Tk = {})", i,
                 idx.data[i], d.Tk);
  Tensor out = Tensor::empty({d.B, d.Tq, d.H, d.Dv});
  const bool grad = tape.needs_grad({&q, &k, &v});
  Tensor lse_t = grad ? Tensor::empty({d.B, d.Tq, d.H}) : Tensor();
  kern.index_attention_forward(q.data(), k.data(), v.data(), idx.data.data(), out.data(),
                               grad ? lse_t.data() : nullptr, d.B, d.Tq, d.Tk, d.H, d.Dk, d.Dv, n,
                               scale);
  if (grad) {
    tape.record({out}, [&kern, q, k, v, idx, out, lse_t, d, n, scale] {
      kern.index_attention_backward(q.data(), k.data(), v.data(), idx.data.data(), out.data(),
                                    lse_t.data(), out.grad().data(), grad_or_null(q),
                                    grad_or_null(k), grad_or_null(v), d.B, d.Tq, d.Tk, d.H, d.Dk,
                                    d.Dv, n, scale);
    });
  }
  return out;
}

}  // namespace tinyr2::ops
