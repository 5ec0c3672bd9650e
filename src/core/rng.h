// A seeded, counter-based random number generator (Philox-4x32-10, Salmon et al. 2011).
//
// Value number i of a stream is a pure function of (seed, i), so filling a tensor in
// parallel gives the same numbers for every thread count, and the state to save in a
// checkpoint is two integers.
#pragma once

#include <array>
#include <cstdint>

namespace tinyr2 {

// One Philox-4x32-10 block: 4 random 32-bit words for a 128-bit counter and 64-bit key.
std::array<uint32_t, 4> philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key);

class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }  // blocks consumed so far
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }

  // Fill n values. Each call consumes ceil(n/4) counter blocks; element i of the call uses
  // block offset + i/4, word i%4 (normals: a Box-Muller pair per two words).
  void uniform(float* out, int64_t n, float lo = 0.f, float hi = 1.f);
  void normal(float* out, int64_t n, float mean = 0.f, float stddev = 1.f);

  // Single draws (consume one block each).
  float next_uniform();             // in [0, 1)
  uint64_t next_below(uint64_t n);  // uniform integer in [0, n)

 private:
  uint64_t seed_;
  uint64_t offset_;
};

// Maps a 32-bit word to a float in [0, 1) using its top 24 bits.
inline float u32_to_unit(uint32_t x) {
  return static_cast<float>(x >> 8) * (1.0f / 16777216.0f);
}

}  // namespace tinyr2
