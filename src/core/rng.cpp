#include "core/rng.h"

#include <cmath>
#include <numbers>

namespace tinyr2 {

std::array<uint32_t, 4> philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n1 = static_cast<uint32_t>(p1);
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    const uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kWeyl0, k1 += kWeyl1;
  }
  return {c0, c1, c2, c3};
}

void Rng::uniform(float* out, int64_t n, float lo, float hi) {
  const int64_t blocks = (n + 3) / 4;
  const uint64_t base = offset_;
  const float span = hi - lo;
#pragma omp parallel for schedule(static) if (blocks > 4096)
  for (int64_t b = 0; b < blocks; ++b) {
    const auto r = philox4x32(base + static_cast<uint64_t>(b), 0, seed_);
    for (int64_t w = 0; w < 4 && 4 * b + w < n; ++w) out[4 * b + w] = lo + span * u32_to_unit(r[w]);
  }
  offset_ += static_cast<uint64_t>(blocks);
}

void Rng::normal(float* out, int64_t n, float mean, float stddev) {
  const int64_t blocks = (n + 3) / 4;
  const uint64_t base = offset_;
#pragma omp parallel for schedule(static) if (blocks > 4096)
  for (int64_t b = 0; b < blocks; ++b) {
    const auto r = philox4x32(base + static_cast<uint64_t>(b), 0, seed_);
    float z[4];
    for (int pair = 0; pair < 2; ++pair) {
      // u1 in (0, 1] so the log is finite; Box-Muller in double for accuracy.
      const double u1 = (static_cast<double>(r[2 * pair] >> 8) + 1.0) / 16777216.0;
      const double u2 = static_cast<double>(r[2 * pair + 1] >> 8) / 16777216.0;
      const double radius = std::sqrt(-2.0 * std::log(u1));
      const double angle = 2.0 * std::numbers::pi * u2;
      z[2 * pair] = static_cast<float>(radius * std::cos(angle));
      z[2 * pair + 1] = static_cast<float>(radius * std::sin(angle));
    }
    for (int64_t w = 0; w < 4 && 4 * b + w < n; ++w) out[4 * b + w] = mean + stddev * z[w];
  }
  offset_ += static_cast<uint64_t>(blocks);
}

float Rng::next_uniform() {
  return u32_to_unit(philox4x32(offset_++, 0, seed_)[0]);
}

uint64_t Rng::next_below(uint64_t n) {
  const auto r = philox4x32(offset_++, 0, seed_);
  const uint64_t x = (static_cast<uint64_t>(r[0]) << 32) | r[1];
  return n ? x % n : 0;
}

}  // namespace tinyr2
