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
      if (x.requires_grad()) {  // dx (M,in) += dy (M,out) · W (out,in)
        float bx = 1.f;         // 0 when the buffer is new (every element written)
        float* gx = x.grad_accumulator(bx);
        gemm(false, false, M, in, out_dim, g, out_dim, w.data(), in, bx, gx, in);
      }
      if (w.requires_grad()) {  // dW (out,in) += dyᵀ · x
        float bw = 1.f;
        float* gw = w.grad_accumulator(bw);
        gemm(true, false, out_dim, in, M, g, out_dim, x.data(), in, bw, gw, in);
      }
      if (u.requires_grad()) {  // du (M,r) += dy · B
        float bu = 1.f;
        float* gu = u.grad_accumulator(bu);
        gemm(false, false, M, r, out_dim, g, out_dim, b.data(), r, bu, gu, r);
      }
      if (b.requires_grad()) {  // dB (out,r) += dyᵀ · u
        float bb = 1.f;
        float* gb = b.grad_accumulator(bb);
        gemm(true, false, out_dim, r, M, g, out_dim, u.data(), r, bb, gb, r);
      }
    });
  }
  return y;
}

}  // namespace tinyr2::ops
