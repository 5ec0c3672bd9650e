#include "kernels/cpu/linear_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tinyr2::kernels::cpu {

namespace {

constexpr float kEps = 1e-6f;              // SPEC §10: φ(q)·z + 1e-6
constexpr double kParallelWork = 1 << 15;  // below this (T·D² per call) stay serial
// The D-long dot products are `omp simd` reductions: without one a float sum is a serial
// chain the compiler may not reorder. The lanes' order is fixed at compile time, so results do
// not depend on the thread count.

inline float phi(float u) {
  return u > 0.f ? u + 1.f : std::exp(u);
}
inline float dphi(float u) {
  return u > 0.f ? 1.f : std::exp(u);
}

// One chunk of one (b, h): rows [t0, t0+L) gathered into contiguous L×D blocks.
struct Chunk {
  std::vector<float> fq, fk, v, a;  // L×D, L×D, L×D, L×L (a[i·L+j] = φ(q_i)·φ(k_j), j ≤ i)
  explicit Chunk(int64_t L, int64_t D)
      : fq(static_cast<size_t>(L * D)),
        fk(static_cast<size_t>(L * D)),
        v(static_cast<size_t>(L * D)),
        a(static_cast<size_t>(L * L)) {}

  // Loads rows t0 … t0+n−1 of (b, h) and the masked scores.
  void load(const float* q, const float* k, const float* vv, int64_t base, int64_t rs, int64_t n,
            int64_t L, int64_t D) {
    for (int64_t i = 0; i < n; ++i) {
      const float* qi = q + base + i * rs;
      const float* ki = k + base + i * rs;
      const float* vi = vv + base + i * rs;
      for (int64_t d = 0; d < D; ++d) {
        fq[i * D + d] = phi(qi[d]);
        fk[i * D + d] = phi(ki[d]);
        v[i * D + d] = vi[d];
      }
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (int64_t d = 0; d < D; ++d) s += fq[i * D + d] * fk[j * D + d];
        a[i * L + j] = s;
      }
  }
};

}  // namespace

void linear_attention_forward(const float* q, const float* k, const float* v, float* o, float* den,
                              float* S, float* z, int64_t B, int64_t T, int64_t H, int64_t D,
                              int64_t chunk) {
  const int64_t L = std::max<int64_t>(1, std::min(chunk, T)), rs = H * D;
  const bool par = static_cast<double>(B * H) * static_cast<double>(T) * D * D > kParallelWork;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    Chunk c(L, D);
    std::vector<float> S_own, z_own;
    float* Sb = S ? S + bh * D * D : (S_own.assign(static_cast<size_t>(D * D), 0.f), S_own.data());
    float* zb = z ? z + bh * D : (z_own.assign(static_cast<size_t>(D), 0.f), z_own.data());
    for (int64_t t0 = 0; t0 < T; t0 += L) {
      const int64_t n = std::min(L, T - t0), base = (b * T + t0) * rs + h * D;
      c.load(q, k, v, base, rs, n, L, D);
      for (int64_t i = 0; i < n; ++i) {
        float* oi = o + base + i * rs;
        const float* fqi = &c.fq[i * D];
        float dn = 0.f;
#pragma omp simd reduction(+ : dn)
        for (int64_t d = 0; d < D; ++d) dn += fqi[d] * zb[d];
        dn += kEps;
        for (int64_t e = 0; e < D; ++e) oi[e] = 0.f;
        for (int64_t d = 0; d < D; ++d) {  // inter-chunk: φ(q_i)ᵀ S
          const float f = fqi[d];
          const float* Sd = Sb + d * D;
          for (int64_t e = 0; e < D; ++e) oi[e] += f * Sd[e];
        }
        for (int64_t j = 0; j <= i; ++j) {  // intra-chunk, masked
          const float a = c.a[i * L + j];
          dn += a;
          const float* vj = &c.v[j * D];
          for (int64_t e = 0; e < D; ++e) oi[e] += a * vj[e];
        }
        const float inv = 1.f / dn;
        for (int64_t e = 0; e < D; ++e) oi[e] *= inv;
        if (den) den[(b * T + t0 + i) * H + h] = dn;
      }
      for (int64_t j = 0; j < n; ++j) {  // S += φ(k)ᵀ v, z += Σ φ(k)
        const float* fkj = &c.fk[j * D];
        const float* vj = &c.v[j * D];
        for (int64_t d = 0; d < D; ++d) {
          const float f = fkj[d];
          float* Sd = Sb + d * D;
          for (int64_t e = 0; e < D; ++e) Sd[e] += f * vj[e];
          zb[d] += f;
        }
      }
    }
  }
}

void linear_attention_backward(const float* q, const float* k, const float* v, const float* o,
                               const float* den, const float* dout, float* dq, float* dk, float* dv,
                               int64_t B, int64_t T, int64_t H, int64_t D, int64_t chunk) {
  const int64_t L = std::max<int64_t>(1, std::min(chunk, T)), rs = H * D;
  const bool par = static_cast<double>(B * H) * static_cast<double>(T) * D * D > kParallelWork;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    Chunk c(L, D);
    std::vector<float> M(static_cast<size_t>(D * D)), m(static_cast<size_t>(D));
    std::vector<float> dnum(static_cast<size_t>(L * D)), dden(static_cast<size_t>(L));
    std::vector<float> acc(static_cast<size_t>(D)), acc2(static_cast<size_t>(D));
    // dnum, dden of the chunk's rows.
    auto upstream = [&](int64_t t0, int64_t n, int64_t base) {
      for (int64_t i = 0; i < n; ++i) {
        const float* gi = dout + base + i * rs;
        const float* oi = o + base + i * rs;
        const float inv = 1.f / den[(b * T + t0 + i) * H + h];
        float go = 0.f;
#pragma omp simd reduction(+ : go)
        for (int64_t e = 0; e < D; ++e) {
          dnum[i * D + e] = gi[e] * inv;
          go += gi[e] * oi[e];
        }
        dden[i] = -go * inv;
      }
    };
    // ---- pass 1, forward in t: dq with the running S, z (M, m here).
    if (dq) {
      std::fill(M.begin(), M.end(), 0.f);
      std::fill(m.begin(), m.end(), 0.f);
      for (int64_t t0 = 0; t0 < T; t0 += L) {
        const int64_t n = std::min(L, T - t0), base = (b * T + t0) * rs + h * D;
        c.load(q, k, v, base, rs, n, L, D);
        upstream(t0, n, base);
        for (int64_t i = 0; i < n; ++i) {
          const float* dni = &dnum[i * D];
          for (int64_t d = 0; d < D; ++d) {  // S dnum + dden z
            const float* Md = M.data() + d * D;
            float s = 0.f;
#pragma omp simd reduction(+ : s)
            for (int64_t e = 0; e < D; ++e) s += Md[e] * dni[e];
            s += dden[i] * m[d];
            acc[d] = s;
          }
          for (int64_t j = 0; j <= i; ++j) {
            const float* vj = &c.v[j * D];
            float da = 0.f;
#pragma omp simd reduction(+ : da)
            for (int64_t e = 0; e < D; ++e) da += dni[e] * vj[e];
            da += dden[i];
            const float* fkj = &c.fk[j * D];
            for (int64_t d = 0; d < D; ++d) acc[d] += da * fkj[d];
          }
          const float* qi = q + base + i * rs;
          float* dqi = dq + base + i * rs;
          for (int64_t d = 0; d < D; ++d) dqi[d] += acc[d] * dphi(qi[d]);
        }
        for (int64_t j = 0; j < n; ++j) {
          const float* fkj = &c.fk[j * D];
          const float* vj = &c.v[j * D];
          for (int64_t d = 0; d < D; ++d) {
            float* Md = M.data() + d * D;
            for (int64_t e = 0; e < D; ++e) Md[e] += fkj[d] * vj[e];
            m[d] += fkj[d];
          }
        }
      }
    }
    if (!dk && !dv) continue;
    // ---- pass 2, backward in t: dk, dv with R = Σ φ(q) dnumᵀ, r = Σ φ(q) dden (M, m here).
    std::fill(M.begin(), M.end(), 0.f);
    std::fill(m.begin(), m.end(), 0.f);
    const int64_t nchunks = (T + L - 1) / L;
    for (int64_t ci = nchunks - 1; ci >= 0; --ci) {
      const int64_t t0 = ci * L, n = std::min(L, T - t0), base = (b * T + t0) * rs + h * D;
      c.load(q, k, v, base, rs, n, L, D);
      upstream(t0, n, base);
      for (int64_t j = 0; j < n; ++j) {
        const float* vj = &c.v[j * D];
        const float* fkj = &c.fk[j * D];
        for (int64_t d = 0; d < D; ++d) {  // dφk = R v + r;  dv = Rᵀ φ(k)
          const float* Md = M.data() + d * D;
          float s = 0.f;
#pragma omp simd reduction(+ : s)
          for (int64_t e = 0; e < D; ++e) s += Md[e] * vj[e];
          s += m[d];
          acc[d] = s;
        }
        for (int64_t e = 0; e < D; ++e) acc2[e] = 0.f;
        for (int64_t d = 0; d < D; ++d) {
          const float f = fkj[d];
          const float* Md = M.data() + d * D;
          for (int64_t e = 0; e < D; ++e) acc2[e] += f * Md[e];
        }
        for (int64_t i = j; i < n; ++i) {
          const float* dni = &dnum[i * D];
          float da = 0.f;
#pragma omp simd reduction(+ : da)
          for (int64_t e = 0; e < D; ++e) da += dni[e] * vj[e];
          da += dden[i];
          const float a = c.a[i * L + j];
          const float* fqi = &c.fq[i * D];
          for (int64_t d = 0; d < D; ++d) acc[d] += da * fqi[d];
          for (int64_t e = 0; e < D; ++e) acc2[e] += a * dni[e];
        }
        if (dk) {
          const float* kj = k + base + j * rs;
          float* dkj = dk + base + j * rs;
          for (int64_t d = 0; d < D; ++d) dkj[d] += acc[d] * dphi(kj[d]);
        }
        if (dv) {
          float* dvj = dv + base + j * rs;
          for (int64_t e = 0; e < D; ++e) dvj[e] += acc2[e];
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        const float* fqi = &c.fq[i * D];
        const float* dni = &dnum[i * D];
        for (int64_t d = 0; d < D; ++d) {
          float* Md = M.data() + d * D;
          for (int64_t e = 0; e < D; ++e) Md[e] += fqi[d] * dni[e];
          m[d] += fqi[d] * dden[i];
        }
      }
    }
  }
}

}  // namespace tinyr2::kernels::cpu
