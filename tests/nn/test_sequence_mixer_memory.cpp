// Peak memory of one layer's forward + backward is linear in T for the SPEC §10 mixers
// (issue 14: "peak memory of one layer at 32k linear in T"; the benchmark figures at 8k / 16k /
// 32k are BM_mixer_fwd_bwd's peak_MB, bench/bench_mixers.cpp):
//   - the meter (bench/peak_memory.h) reads a buffer it touches to within the kernel's slack,
//     counts the peak rather than the total (a block freed, then another allocated), two
//     blocks alive at once as two, and a T² buffer 4× larger when T doubles;
//   - the same after the process freed much (blocks the heap keeps must not serve the work);
//   - Linear, LFA, Retention and Mamba at T and 2T: peak(2T) ≤ 2.2 · peak(T).
// The meter is the kernel's resident-set high-water mark; under AddressSanitizer (its
// quarantine keeps freed blocks resident) these tests skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "bench/peak_memory.h"
#include "core/memory.h"
#include "core/tensor.h"
#include "support/small_model.h"

namespace tinyr2::nn {

namespace {

// Allocates a (rows, cols) tensor and writes every float.
void touch(int64_t rows, int64_t cols) {
  Tensor t = Tensor::empty({rows, cols});
  std::fill(t.data(), t.data() + t.numel(), 1.f);
  [[maybe_unused]] const volatile float last = t.data()[t.numel() - 1];
}

// Page rounding, allocator headers, and the kernel's resident-set count, which is summed from
// per-CPU counters in batches (so it may read a few hundred KiB low or high).
constexpr int64_t kSlack = 512 << 10;

}  // namespace

TEST(PeakMemory, TheMeterReadsWhatWorkTouchesAndKeepsThePeakNotTheTotal) {
  const int64_t mib = 1 << 20;
  const std::optional<int64_t> one = bench::peak_bytes([] { touch(1024, 2048); });  // 8 MiB
  if (!one) GTEST_SKIP() << "no resident-set high-water mark to reset (or AddressSanitizer)";
  EXPECT_NEAR(double(*one), 8.0 * mib, kSlack);
  // Two 8 MiB blocks one after the other: the peak is one block.
  const std::optional<int64_t> seq = bench::peak_bytes([] {
    touch(1024, 2048);
    touch(1024, 2048);
  });
  ASSERT_TRUE(seq);
  EXPECT_NEAR(double(*seq), 8.0 * mib, kSlack);
  // Both alive at once: two.
  const std::optional<int64_t> both = bench::peak_bytes([] {
    Tensor a = Tensor::zeros({1024, 2048});
    touch(1024, 2048);
    [[maybe_unused]] const volatile float last = a.data()[a.numel() - 1];
  });
  ASSERT_TRUE(both);
  EXPECT_NEAR(double(*both), 16.0 * mib, kSlack);
  // A T×T buffer: ×4 when T doubles (what a quadratic layer would show).
  const auto square = [](int64_t T) { return *bench::peak_bytes([T] { touch(T, T); }); };
  const double ratio = double(square(2048)) / double(square(1024));
  EXPECT_GE(ratio, 3.8);
  EXPECT_LE(ratio, 4.2);
}

// A process that freed much before (a test binary run whole, a benchmark after others) keeps
// the freed blocks in its heap under the CLI's policy: the meter still reads one block, not two,
// for two blocks one after the other.
TEST(PeakMemory, ReadsThePeakNotTheTotalAfterTheProcessFreedMuch) {
  memory::keep_freed_memory();
  {
    std::vector<Tensor> freed;
    for (int i = 0; i < 8; ++i) freed.push_back(Tensor::full({1024, 2048}, 1.f));
  }  // 64 MiB back in the heap, resident
  const std::optional<int64_t> seq = bench::peak_bytes([] {
    touch(1024, 2048);
    touch(1024, 2048);
  });
  if (!seq) GTEST_SKIP() << "no resident-set high-water mark to reset (or AddressSanitizer)";
  EXPECT_NEAR(double(*seq), 8.0 * (1 << 20), kSlack);
}

class MixerMemory : public ::testing::TestWithParam<std::string> {};

TEST_P(MixerMemory, PeakOfForwardAndBackwardIsLinearInT) {
  nlohmann::json j = nlohmann::json::parse(tinyr2::testing::kSmallModelBase);
  j["attention_types"] = {GetParam()};
  j["n_embd"] = 64;
  j["ctx_len"] = 2048;
  const ModelConfig cfg = ModelConfig::from_json(j);
  const std::optional<int64_t> at_t = bench::mixer_fwd_bwd_peak_bytes(cfg, 1024);
  if (!at_t) GTEST_SKIP() << "no resident-set high-water mark to reset (or AddressSanitizer)";
  const std::optional<int64_t> at_2t = bench::mixer_fwd_bwd_peak_bytes(cfg, 2048);
  ASSERT_TRUE(at_2t);
  // x (1,T,C) alone is 256 KiB at T = 1024: a layer holds several such activations.
  EXPECT_GE(*at_t, 1 << 20);
  const double ratio = double(*at_2t) / double(*at_t);
  EXPECT_LE(ratio, 2.2) << *at_t << " bytes at T = 1024, " << *at_2t << " at 2048";
  RecordProperty("peak_bytes_1024", std::to_string(*at_t));
  RecordProperty("peak_bytes_2048", std::to_string(*at_2t));
  std::printf("[ memory   ] %-9s peak %.2f MB at T = 1024, %.2f MB at 2048: ×%.2f\n",
              GetParam().c_str(), *at_t / 1e6, *at_2t / 1e6, ratio);
}

INSTANTIATE_TEST_SUITE_P(Types, MixerMemory,
                         ::testing::Values("Linear", "LFA", "Retention", "Mamba"));

}  // namespace tinyr2::nn
