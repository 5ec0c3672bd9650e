#include "kernels/cpu/moe_experts.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/glu.h"

namespace tinyr2::kernels::cpu {

namespace {

constexpr int64_t kParallelWork = 32768;  // elements below which a row loop stays serial
constexpr int64_t kExpertsPerThread = 2;  // active experts per thread for the parallel mode

// Runs f(e, scratch) for every expert with rows: in parallel (largest first, one expert per
// thread at a time) or one after another. scratch holds `per_row` · rows · H floats of the
// expert.
template <typename F>
void for_each_expert(const MoeDispatch& d, int64_t H, int64_t per_row, F&& f) {
  std::vector<int64_t> active;
  int64_t max_rows = 0;
  for (int64_t e = 0; e < d.E; ++e)
    if (d.rows_of(e) > 0) {
      active.push_back(e);
      max_rows = std::max(max_rows, d.rows_of(e));
    }
  const size_t scratch_floats = static_cast<size_t>(std::max<int64_t>(per_row * max_rows * H, 1));
  if (!moe_experts_in_parallel(d, omp_get_max_threads())) {
    std::unique_ptr<float[]> scratch(new float[scratch_floats]);
    for (int64_t e : active) f(e, scratch.get());
    return;
  }
  std::stable_sort(active.begin(), active.end(),
                   [&](int64_t a, int64_t b) { return d.rows_of(a) > d.rows_of(b); });
#pragma omp parallel
  {
    std::unique_ptr<float[]> scratch(new float[scratch_floats]);
#pragma omp for schedule(dynamic, 1)
    for (size_t k = 0; k < active.size(); ++k) f(active[k], scratch.get());
  }
}

// C = op(A)·op(B) + beta·C, one expert product in the call's precision (SPEC §13): the fp32
// sgemm, or bf16 operands (round to nearest even) with fp32 accumulation (cpu/gemm_bf16.h).
// Native bf16 products always run on the own 12×32 vdpbf16ps kernel, never on oneDNN (as
// fast here, bench BM_moe_experts_fwd_bwd), so their result does not depend on the thread
// count. A weight is always op(B) of its products and is rounded and packed once per
// product: once per expert, layer call and direction (forward X·W_fcᵀ, X·W_upᵀ, A·W_projᵀ;
// backward dY·W_proj, dZ·W_fc, dU·W_up), never per row block.
void product(const MoeExpertWeights& w, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
             const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
             int64_t ldc) {
  if (!w.bf16) {
    gemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  } else if (w.bf16_native) {
    PackedBf16B packed;
    pack_bf16_b(tb, K, N, B, ldb, packed);
    gemm_bf16_packed(ta, M, K, 1.f, A, lda, packed, beta, C, ldc);
  } else {
    gemm_bf16(false, ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);  // emulated
  }
}

}  // namespace

MoeDispatch moe_dispatch(const int32_t* idx, int64_t N, int64_t K, int64_t E) {
  MoeDispatch d;
  d.N = N;
  d.K = K;
  d.E = E;
  const int64_t S = N * K;
  d.offsets.assign(static_cast<size_t>(E + 1), 0);
  for (int64_t s = 0; s < S; ++s)
    if (idx[s] >= 0) ++d.offsets[static_cast<size_t>(idx[s]) + 1];
  for (int64_t e = 0; e < E; ++e) d.offsets[e + 1] += d.offsets[e];
  const int64_t M = d.offsets[static_cast<size_t>(E)];
  d.token.resize(static_cast<size_t>(M));
  d.slot.resize(static_cast<size_t>(M));
  d.pos.assign(static_cast<size_t>(S), -1);
  std::vector<int64_t> next(d.offsets.begin(), d.offsets.end() - 1);
  for (int64_t s = 0; s < S; ++s) {  // slots in token order, so each expert's rows are too
    if (idx[s] < 0) continue;
    const int64_t i = next[static_cast<size_t>(idx[s])]++;
    d.token[i] = static_cast<int32_t>(s / K);
    d.slot[i] = static_cast<int32_t>(s);
    d.pos[s] = static_cast<int32_t>(i);
  }
  return d;
}

bool moe_experts_in_parallel(const MoeDispatch& d, int threads) {
  if (threads <= 1) return false;
  int64_t active = 0;
  for (int64_t e = 0; e < d.E; ++e) active += d.rows_of(e) > 0;
  return active >= kExpertsPerThread * threads;
}

void moe_experts_forward(const MoeDispatch& d, const float* x, const float* g, const float* mask,
                         const MoeExpertWeights& w, int64_t C, int64_t H, float* xg, float* z,
                         float* y, float* out) {
  const int64_t M = d.rows();
  for_each_expert(d, H, 1, [&](int64_t e, float* a) {
    const int64_t r0 = d.offsets[e], n = d.rows_of(e);
    float* Xe = xg + r0 * C;
    float* Ze = z + r0 * H;
    for (int64_t r = 0; r < n; ++r)
      std::memcpy(Xe + r * C, x + static_cast<int64_t>(d.token[r0 + r]) * C, sizeof(float) * C);
    product(w, false, true, n, H, C, Xe, C, w.w_fc[e], C, 0.f, Ze, H);  // Z = X · W_fcᵀ
    if (w.glu()) {
      float* Ue = z + M * H + r0 * H;
      product(w, false, true, n, H, C, Xe, C, w.w_up[e], C, 0.f, Ue, H);  // U = X · W_upᵀ
      glu_forward(Ze, Ue, a, n * H, w.act);                               // A = act(Z) ⊙ U
    } else {
      for (int64_t i = 0; i < n * H; ++i) {
        const float r = Ze[i] > 0.f ? Ze[i] : 0.f;
        a[i] = r * r;
      }
    }
    product(w, false, true, n, C, H, a, H, w.w_proj[e], H, 0.f, y + r0 * C, C);  // Y = A · W_projᵀ
  });

  // Combine: each token sums its K rows (no two threads write one token).
  const int64_t N = d.N, K = d.K;
#pragma omp parallel for schedule(static) if (N * K * C > kParallelWork)
  for (int64_t n = 0; n < N; ++n) {
    float* o = out + n * C;
    std::fill(o, o + C, 0.f);
    for (int64_t j = 0; j < K; ++j) {
      const int64_t s = n * K + j, i = d.pos[s];
      if (i < 0) continue;  // routes nowhere
      const float gs = g[s];
      const float* Yi = y + i * C;
      if (mask) {
        const float* m = mask + i * C;
        for (int64_t c = 0; c < C; ++c) o[c] += gs * m[c] * Yi[c];
      } else {
        for (int64_t c = 0; c < C; ++c) o[c] += gs * Yi[c];
      }
    }
  }
}

void moe_experts_backward(const MoeDispatch& d, const float* dout, const float* g,
                          const float* mask, const MoeExpertWeights& w, int64_t C, int64_t H,
                          const float* xg, const float* z, const float* y, float* dx, float* dg,
                          const MoeExpertGrads& dw) {
  const int64_t M = d.rows();
  // dY, row by row; later each expert overwrites its rows with dX (dY is read first).
  std::unique_ptr<float[]> dbuf(new float[static_cast<size_t>(std::max<int64_t>(M * C, 1))]);
  float* dY = dbuf.get();
#pragma omp parallel for schedule(static) if (M * C > kParallelWork)
  for (int64_t i = 0; i < M; ++i) {
    const int64_t s = d.slot[i];
    const float* go = dout + static_cast<int64_t>(d.token[i]) * C;
    const float* m = mask ? mask + i * C : nullptr;
    const float* Yi = y + i * C;
    float* dYi = dY + i * C;
    float dot = 0.f;
#pragma omp simd reduction(+ : dot)
    for (int64_t c = 0; c < C; ++c) {
      const float gm = m ? go[c] * m[c] : go[c];
      dYi[c] = g[s] * gm;
      dot += gm * Yi[c];
    }
    if (dg) dg[s] += dot;
  }

  const bool glu = w.glu();
  for_each_expert(d, H, glu ? 3 : 2, [&](int64_t e, float* scratch) {
    const int64_t r0 = d.offsets[e], n = d.rows_of(e);
    const float* Xe = xg + r0 * C;
    const float* Ze = z + r0 * H;
    float* dYe = dY + r0 * C;
    if (glu) {
      const float* Ue = z + M * H + r0 * H;
      float* act = scratch;            // act(Z), then dU
      float* dact = scratch + n * H;   // act′(Z), then dZ
      float* a = scratch + 2 * n * H;  // A = act(Z) ⊙ U, then dA
      glu_activation(Ze, act, dact, n * H, w.act);
      for (int64_t i = 0; i < n * H; ++i) a[i] = act[i] * Ue[i];
      if (dw.dw_proj[e])
        product(w, true, false, C, H, n, dYe, C, a, H, dw.beta_proj[e], dw.dw_proj[e], H);
      product(w, false, false, n, H, C, dYe, C, w.w_proj[e], H, 0.f, a, H);  // dA = dY · W_proj
      for (int64_t i = 0; i < n * H; ++i) {
        dact[i] *= a[i] * Ue[i];  // dZ
        act[i] *= a[i];           // dU
      }
      if (dw.dw_fc[e])
        product(w, true, false, H, C, n, dact, H, Xe, C, dw.beta_fc[e], dw.dw_fc[e], C);
      if (dw.dw_up[e])
        product(w, true, false, H, C, n, act, H, Xe, C, dw.beta_up[e], dw.dw_up[e], C);
      if (dx) {  // dX = dZ · W_gate + dU · W_up, over dY
        product(w, false, false, n, C, H, dact, H, w.w_fc[e], C, 0.f, dYe, C);
        product(w, false, false, n, C, H, act, H, w.w_up[e], C, 1.f, dYe, C);
      }
      return;
    }
    float* a = scratch;           // relu(Z)², recomputed
    float* dA = scratch + n * H;  // then dZ in place
    for (int64_t i = 0; i < n * H; ++i) {
      const float r = Ze[i] > 0.f ? Ze[i] : 0.f;
      a[i] = r * r;
    }
    product(w, false, false, n, H, C, dYe, C, w.w_proj[e], H, 0.f, dA, H);  // dA = dY · W_proj
    if (dw.dw_proj[e])
      product(w, true, false, C, H, n, dYe, C, a, H, dw.beta_proj[e], dw.dw_proj[e], H);
    for (int64_t i = 0; i < n * H; ++i) dA[i] *= Ze[i] > 0.f ? 2.f * Ze[i] : 0.f;  // dZ
    if (dw.dw_fc[e]) product(w, true, false, H, C, n, dA, H, Xe, C, dw.beta_fc[e], dw.dw_fc[e], C);
    if (dx) product(w, false, false, n, C, H, dA, H, w.w_fc[e], C, 0.f, dYe, C);  // dX over dY
  });

  if (!dx) return;
  const int64_t N = d.N, K = d.K;
#pragma omp parallel for schedule(static) if (N * K * C > kParallelWork)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < K; ++j) {
      const int64_t i = d.pos[n * K + j];
      if (i < 0) continue;
      const float* dXi = dY + i * C;
      float* dxn = dx + n * C;
      for (int64_t c = 0; c < C; ++c) dxn[c] += dXi[c];
    }
}

}  // namespace tinyr2::kernels::cpu
