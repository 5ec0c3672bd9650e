#include "kernels/cpu/gemm_bf16_onednn.h"

#include <immintrin.h>

#include <oneapi/dnnl/dnnl.hpp>

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kParallelConvert = 1 << 15;        // elements below which rounding is serial
constexpr int64_t kOneDnnVolume = int64_t{1} << 26;  // M·N·K from which oneDNN may take it

#define TINYR2_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

}  // namespace

// out[i] = to_bf16(f · x[i]) for i < n, 32 at a time (vcvtne2ps2bf16: round to nearest even).
TINYR2_BF16_TARGET void to_bf16_scaled_row(const float* x, float f, int64_t n, uint16_t* out) {
  const __m512 vf = _mm512_set1_ps(f);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 hi = _mm512_mul_ps(_mm512_loadu_ps(x + i + 16), vf);
    const __m512 lo = _mm512_mul_ps(_mm512_loadu_ps(x + i), vf);
    _mm512_storeu_si512(out + i, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vf);
    _mm256_mask_storeu_epi16(out + i, m, (__m256i)_mm512_cvtneps_pbh(v));
  }
}

bool gemm_bf16_uses_onednn(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K) {
  // M·N·K in double: no overflow for any int64 sides.
  const double volume = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  return !trans_a && !trans_b && volume >= static_cast<double>(kOneDnnVolume);
}

void to_bf16_rows(const float* X, int64_t rows, int64_t cols, int64_t ld, uint16_t* out) {
  // f = 1: the product is exact, so this is the plain rounding.
#pragma omp parallel for schedule(static) if (rows * cols > kParallelConvert)
  for (int64_t r = 0; r < rows; ++r) to_bf16_scaled_row(X + r * ld, 1.f, cols, out + r * cols);
}

bool matmul_bf16_onednn(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, float beta,
                        float* C, int64_t ldc) {
  using dnnl::memory;
  using dt = memory::data_type;
  try {
    // The engine and stream are views of the CPU (cheap, ~0.1 µs): made per call, no state.
    const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(eng);
    // op(A) (M, K) and op(B) (K, N) over the row-major storage: a transpose swaps the strides.
    const memory::desc a_md({M, K}, dt::bf16,
                            trans_a ? memory::dims{1, lda} : memory::dims{lda, 1});
    const memory::desc b_md({K, N}, dt::bf16,
                            trans_b ? memory::dims{1, ldb} : memory::dims{ldb, 1});
    const memory::desc c_md({M, N}, dt::f32, memory::dims{ldc, 1});
    dnnl::primitive_attr attr;
    if (alpha != 1.f) attr.set_output_scales(0, {alpha});
    if (beta != 0.f) {  // C = alpha · A·B + beta · C
      dnnl::post_ops ops;
      ops.append_sum(beta);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, eng);
    const dnnl::matmul mm(pd);  // from oneDNN's primitive cache after the first call
    memory a_mem(a_md, eng, const_cast<uint16_t*>(A));
    memory b_mem(b_md, eng, const_cast<uint16_t*>(B));
    memory c_mem(c_md, eng, C);
    mm.execute(stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    stream.wait();
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

bool gemm_bf16_onednn(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                      float* C, int64_t ldc, std::vector<uint16_t>& workspace) {
  // Compact bf16 copies of both storages: A (a_rows, a_cols), then B.
  const int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
  const int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
  const size_t need = static_cast<size_t>(a_rows * a_cols + b_rows * b_cols);
  if (workspace.size() < need) workspace.resize(need);
  uint16_t* a16 = workspace.data();
  uint16_t* b16 = a16 + a_rows * a_cols;
  to_bf16_rows(A, a_rows, a_cols, lda, a16);
  to_bf16_rows(B, b_rows, b_cols, ldb, b16);
  return matmul_bf16_onednn(trans_a, trans_b, M, N, K, alpha, a16, a_cols, b16, b_cols, beta, C,
                            ldc);
}

}  // namespace tinyr2::kernels::cpu
