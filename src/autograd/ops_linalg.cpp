#include "autograd/ops_linalg.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/backend.h"

namespace tinyr2::ops {

Tensor matmul(Tape& tape, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const kernels::Backend& kern = kernels::backend(a.device());
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
    kern.gemm(false, trans_b, batch * M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f, out.data(),
              N);
  } else {
    kern.gemm_batched(batch, trans_a, trans_b, M, N, K, 1.f, a.data(), lda, sa, b.data(), ldb, sb,
                      0.f, out.data(), N, sc);
  }

  if (tape.needs_grad({&a, &b})) {
    tape.record({out}, [&kern, a, b, out, trans_a, trans_b, batch, M, N, K, b_batched, lda, ldb, sa,
                        sb, sc]() mutable {
      const float* g = out.grad().data();
      if (a.requires_grad()) {
        // dA = dC · op(B)ᵀ  (or its transpose when a was transposed)
        float beta = 1.f;  // 0: ga is new and every element gets written
        float* ga = a.grad_accumulator(beta);
        if (!trans_a) {
          if (!b_batched)
            kern.gemm(false, !trans_b, batch * M, K, N, 1.f, g, N, b.data(), ldb, beta, ga, lda);
          else
            kern.gemm_batched(batch, false, !trans_b, M, K, N, 1.f, g, N, sc, b.data(), ldb, sb,
                              beta, ga, lda, sa);
        } else {  // A stored (K, M): dA = op(B) · dCᵀ
          kern.gemm_batched(batch, trans_b, true, K, M, N, 1.f, b.data(), ldb, sb, g, N, sc, beta,
                            ga, lda, sa);
        }
      }
      if (b.requires_grad()) {
        float beta = 1.f;
        float* gb = b.grad_accumulator(beta);
        if (b_batched) {
          if (!trans_b)  // dB (K,N) = op(A)ᵀ · dC
            kern.gemm_batched(batch, !trans_a, false, K, N, M, 1.f, a.data(), lda, sa, g, N, sc,
                              beta, gb, ldb, sb);
          else  // B stored (N,K): dB = dCᵀ · op(A)
            kern.gemm_batched(batch, true, trans_a, N, K, M, 1.f, g, N, sc, a.data(), lda, sa, beta,
                              gb, ldb, sb);
        } else if (!trans_a) {  // shared B: one product over all batch rows
          if (!trans_b)
            kern.gemm(true, false, K, N, batch * M, 1.f, a.data(), lda, g, N, beta, gb, ldb);
          else
            kern.gemm(true, false, N, K, batch * M, 1.f, g, N, a.data(), lda, beta, gb, ldb);
        } else {  // shared B with transposed A: accumulate one batch at a time
          if (batch == 0 && beta == 0.f) std::fill(gb, gb + b.numel(), 0.f);
          for (int64_t i = 0; i < batch; ++i, beta = 1.f) {
            if (!trans_b)
              kern.gemm(false, false, K, N, M, 1.f, a.data() + i * sa, lda, g + i * sc, N, beta, gb,
                        ldb);
            else
              kern.gemm(true, true, N, K, M, 1.f, g + i * sc, N, a.data() + i * sa, lda, beta, gb,
                        ldb);
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
