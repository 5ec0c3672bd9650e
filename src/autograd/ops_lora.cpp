#include "autograd/ops_lora.h"

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {

struct Gemm {
  const kernels::Backend& kern;
  MatmulPrecision precision;
  // C (M,N) = op(A)·op(B) + beta·C
  void operator()(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) const {
    if (precision.bf16)
      kern.gemm_bf16(precision.native, ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
    else
      kern.gemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  }
};

}  // namespace

Tensor linear_low_rank(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& u,
                       const Tensor& b) {
  TINYR2_CHECK(w.dim() == 2 && b.dim() == 2 && x.dim() >= 2 && x.size(-1) == w.size(1) &&
                   u.size(-1) == b.size(1) && b.size(0) == w.size(0) &&
                   x.numel() / x.size(-1) == u.numel() / u.size(-1),
               "linear_low_rank: x {}, W {}, u {}, B {} do not fit", shape_str(x.shape()),
               shape_str(w.shape()), shape_str(u.shape()), shape_str(b.shape()));
  const Gemm gemm{kernels::backend(x.device()), tape.matmul_precision()};
  const int64_t in = w.size(1), out_dim = w.size(0), r = b.size(1), M = x.numel() / in;
  Shape shape = x.shape();
  shape.back() = out_dim;
  Tensor y = Tensor::empty(shape);
  gemm(false, true, M, out_dim, in, x.data(), in, w.data(), in, 0.f, y.data(), out_dim);
  gemm(false, true, M, out_dim, r, u.data(), r, b.data(), r, 1.f, y.data(), out_dim);
  if (tape.needs_grad({&x, &w, &u, &b})) {
    tape.record({y}, [gemm, x, w, u, b, y, M, in, out_dim, r]() {
      const float* g = y.grad().data();
      // One product a (M,k) · Wᵀ (out,k) of the sum: da += dy · W, dW += dyᵀ · a.
      const auto backward = [&](const Tensor& a, const Tensor& wt, int64_t k) {
        if (a.requires_grad()) {
          float beta = 1.f;  // 0 when the buffer is new (every element written)
          float* ga = a.grad_accumulator(beta);
          gemm(false, false, M, k, out_dim, g, out_dim, wt.data(), k, beta, ga, k);
        }
        if (wt.requires_grad()) {
          float beta = 1.f;
          float* gw = wt.grad_accumulator(beta);
          gemm(true, false, out_dim, k, M, g, out_dim, a.data(), k, beta, gw, k);
        }
      };
      backward(x, w, in);  // the frozen base: W usually needs no gradient
      backward(u, b, r);   // the adapter's B and the rank-r middle u
    });
  }
  return y;
}

}  // namespace tinyr2::ops
