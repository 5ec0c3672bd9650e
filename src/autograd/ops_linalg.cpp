#include "autograd/ops_linalg.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

namespace {

// The products of one matmul in the tape's precision (SPEC §13): the fp32 GEMM entries, or
// their bf16 counterparts (operands rounded to bf16, fp32 accumulation), forward and backward.
struct Products {
  const kernels::Backend& kern;
  MatmulPrecision precision;

  void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
            const float* B, int64_t ldb, float beta, float* C, int64_t ldc) const {
    if (precision.bf16)
      kern.gemm_bf16(precision.native, ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
    else
      kern.gemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  }
  void batched(int64_t batch, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A,
               int64_t lda, int64_t sa, const float* B, int64_t ldb, int64_t sb, float beta,
               float* C, int64_t ldc, int64_t sc) const {
    if (precision.bf16)
      kern.gemm_bf16_batched(precision.native, batch, ta, tb, M, N, K, 1.f, A, lda, sa, B, ldb, sb,
                             beta, C, ldc, sc);
    else
      kern.gemm_batched(batch, ta, tb, M, N, K, 1.f, A, lda, sa, B, ldb, sb, beta, C, ldc, sc);
  }
};

}  // namespace

Tensor matmul(Tape& tape, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const Products kern{kernels::backend(a.device()), tape.matmul_precision()};
  TINYR2_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul of shapes {} and {}", shape_str(a.shape()),
               shape_str(b.shape()));
  const int64_t M = trans_a ? a.size(-1) : a.size(-2);
  const int64_t K = trans_a ? a.size(-2) : a.size(-1);
  const int64_t Kb = trans_b ? b.size(-1) : b.size(-2);
  const int64_t N = trans_b ? b.size(-2) : b.size(-1);
  TINYR2_CHECK(K == Kb, "matmul inner dims differ: {}{} · {}{}", shape_str(a.shape()),
               trans_a ? "ᵀ" : "", shape_str(b.shape()), trans_b ? "ᵀ" : "");
  Shape batch_shape(a.shape().begin(), a.shape().end() - 2);
  const int64_t batch = shape_numel(batch_shape);
  const bool b_batched = b.dim() > 2;
  if (b_batched)
    TINYR2_CHECK(Shape(b.shape().begin(), b.shape().end() - 2) == batch_shape,
                 "matmul batch dims differ: {} and {}", shape_str(a.shape()), shape_str(b.shape()));
  Shape out_shape = batch_shape;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape);

  const int64_t lda = a.size(-1), ldb = b.size(-1);
  const int64_t sa = M * K, sb = b_batched ? K * N : 0, sc = M * N;
  // An untransposed a with a shared b is one big (batch·M, K) product.
  if (!b_batched && !trans_a) {
    kern.gemm(false, trans_b, batch * M, N, K, a.data(), lda, b.data(), ldb, 0.f, out.data(), N);
  } else {
    kern.batched(batch, trans_a, trans_b, M, N, K, a.data(), lda, sa, b.data(), ldb, sb, 0.f,
                 out.data(), N, sc);
  }

  if (tape.needs_grad({&a, &b})) {
    tape.record({out}, [kern, a, b, out, trans_a, trans_b, batch, M, N, K, b_batched, lda, ldb, sa,
                        sb, sc]() mutable {
      const float* g = out.grad().data();
      if (a.requires_grad()) {
        // dA = dC · op(B)ᵀ  (or its transpose when a was transposed)
        float beta = 1.f;  // 0: ga is new and every element gets written
        float* ga = a.grad_accumulator(beta);
        if (!trans_a) {
          if (!b_batched)
            kern.gemm(false, !trans_b, batch * M, K, N, g, N, b.data(), ldb, beta, ga, lda);
          else
            kern.batched(batch, false, !trans_b, M, K, N, g, N, sc, b.data(), ldb, sb, beta, ga,
                         lda, sa);
        } else {  // A stored (K, M): dA = op(B) · dCᵀ
          kern.batched(batch, trans_b, true, K, M, N, b.data(), ldb, sb, g, N, sc, beta, ga, lda,
                       sa);
        }
      }
      if (b.requires_grad()) {
        float beta = 1.f;
        float* gb = b.grad_accumulator(beta);
        if (b_batched) {
          if (!trans_b)  // dB (K,N) = op(A)ᵀ · dC
            kern.batched(batch, !trans_a, false, K, N, M, a.data(), lda, sa, g, N, sc, beta, gb,
                         ldb, sb);
          else  // B stored (N,K): dB = dCᵀ · op(A)
            kern.batched(batch, true, trans_a, N, K, M, g, N, sc, a.data(), lda, sa, beta, gb, ldb,
                         sb);
        } else if (!trans_a) {  // shared B: one product over all batch rows
          if (!trans_b)
            kern.gemm(true, false, K, N, batch * M, a.data(), lda, g, N, beta, gb, ldb);
          else
            kern.gemm(true, false, N, K, batch * M, g, N, a.data(), lda, beta, gb, ldb);
        } else {  // shared B with transposed A: accumulate one batch at a time
          if (batch == 0 && beta == 0.f) std::fill(gb, gb + b.numel(), 0.f);
          for (int64_t i = 0; i < batch; ++i, beta = 1.f) {
            if (!trans_b)
              kern.gemm(false, false, K, N, M, a.data() + i * sa, lda, g + i * sc, N, beta, gb,
                        ldb);
            else
              kern.gemm(true, true, N, K, M, g + i * sc, N, a.data() + i * sa, lda, beta, gb, ldb);
          }
        }
      }
    });
  }
  return out;
}

Tensor linear(Tape& tape, const Tensor& x, const Tensor& w) {
  TINYR2_CHECK(w.dim() == 2 && x.dim() >= 2 && x.size(-1) == w.size(1),
               "linear: input {} does not match weight {} (out, in)", shape_str(x.shape()),
               shape_str(w.shape()));
  return matmul(tape, x, w, false, true);
}

}  // namespace tinyr2::ops
