#include "kernels/cpu/gemm_paths.h"

#include <algorithm>

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.h>

#include <cblas.h>

#include "kernels/gemm_rule.h"

namespace tinyr2::kernels {

namespace cpu {

namespace {

// The shape classes of the rule (gemm_paths.h).
constexpr int64_t kTinyVolume = int64_t{1} << 19;   // M·N·K below (80³): tiny
constexpr int64_t kLargeVolume = int64_t{1} << 29;  // M·N·K from (2048×1024×256) ...
constexpr int64_t kLargeSide = 256;                 // ... with every side from: large
// NT products computed transposed: M in [16, 32], N from 64, K from 512.
constexpr int64_t kTransposedRows[2] = {16, 32};
constexpr int64_t kTransposedMinN = 64;
constexpr int64_t kTransposedMinK = 512;

const char* onednn_isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

}  // namespace

const char* gemm_path_name(GemmPath path) {
  return path == GemmPath::OneDnn ? "oneDNN" : "OpenBLAS";
}

GemmPath gemm_path_for(bool /*trans_a*/, bool /*trans_b*/, int64_t M, int64_t N, int64_t K,
                       tinyr2::cpu::IsaLevel level) {
  if (level < tinyr2::cpu::IsaLevel::Avx512) return GemmPath::OpenBlas;
  const int64_t side = std::min({M, N, K});
  // M·N·K in double: no overflow for any int64 sides.
  const double volume = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (volume < static_cast<double>(kTinyVolume)) return GemmPath::OpenBlas;
  if (side >= kLargeSide && volume >= static_cast<double>(kLargeVolume)) return GemmPath::OpenBlas;
  return GemmPath::OneDnn;
}

bool gemm_transposed_for(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                         tinyr2::cpu::IsaLevel level) {
  return level >= tinyr2::cpu::IsaLevel::Avx512 && !trans_a && trans_b && M >= kTransposedRows[0] &&
         M <= kTransposedRows[1] && N >= kTransposedMinN && K >= kTransposedMinK;
}

tinyr2::cpu::IsaLevel gemm_isa_level() {
  // Read once: the features do not change while the program runs (TINYR2_ISA is read at
  // start-up, like OPENBLAS_CORETYPE).
  static const tinyr2::cpu::IsaLevel level = tinyr2::cpu::isa_level(tinyr2::cpu::cpu_features());
  return level;
}

std::string gemm_rule_summary(tinyr2::cpu::IsaLevel level) {
  const std::string openblas = fmt::format("OpenBLAS {}", openblas_get_corename());
  if (level < tinyr2::cpu::IsaLevel::Avx512)
    return fmt::format("{} for every product (ISA level {} is below avx512){}", openblas,
                       tinyr2::cpu::isa_name(level),
                       level >= tinyr2::cpu::IsaLevel::Avx2
                           ? ", except one-row products x·Wᵀ: own AVX2 GEMV"
                           : "");
  const dnnl_version_t* v = dnnl_version();
  return fmt::format(
      "oneDNN {}.{}.{} (jit {}) for M·N·K >= 2^19 (skinny ones too), except large ones; "
      "{} for tiny (M·N·K < 2^19) and large (every side >= 256, M·N·K >= 2^29) products and "
      "for syrk; own AVX-512 GEMV for one-row products x·Wᵀ; NT products with 16-32 rows, "
      "N >= 64, K >= 512 computed transposed",
      v->major, v->minor, v->patch, onednn_isa_name(dnnl_get_effective_cpu_isa()), openblas);
}

void gemm_openblas(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                   int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta,
              C, static_cast<int>(ldc));
}

bool gemm_onednn(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
  // dnnl_sgemm is row-major, like cblas_sgemm(CblasRowMajor, ...).
  return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc) == dnnl_success;
}

}  // namespace cpu

std::string gemm_rule_summary() {
  return cpu::gemm_rule_summary(cpu::gemm_isa_level());
}

}  // namespace tinyr2::kernels
