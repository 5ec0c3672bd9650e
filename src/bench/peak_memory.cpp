#include "bench/peak_memory.h"

#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "bench/workloads.h"
#include "core/memory.h"
#include "nn/mixer_factory.h"

namespace tinyr2::bench {

namespace {

// "VmRSS:" / "VmHWM:" of /proc/self/status in bytes; -1 when missing.
int64_t status_bytes(const std::string& key) {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size())) * 1024;  // "… kB"
  return -1;
}

// Holds every free chunk of 64 KiB or more in the calling thread's heap arena, largest first,
// so that while they are held each block of 64 KiB or more that work allocates is a mapping of
// its own. Without this, a process that already freed much (a test binary run whole, a
// benchmark after others) serves work's blocks from free heap chunks, and a block freed mid-work
// stays resident while the next one lands elsewhere: the peak read the total. A request no free
// chunk fits is mapped (the mmap threshold is 64 KiB here), which the mapped-bytes count shows;
// then the size halves. Each held chunk costs its header's page, read before work starts.
std::vector<void*> hold_free_heap_chunks() {
  std::vector<void*> held;
  for (size_t size = size_t(1) << 30; size >= (size_t(64) << 10);) {
    const size_t mapped = mallinfo2().hblkhd;
    void* p = std::malloc(size);
    if (p != nullptr && mallinfo2().hblkhd == mapped) {
      held.push_back(p);
      continue;
    }
    std::free(p);
    size /= 2;
  }
  return held;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

}  // namespace

std::optional<int64_t> peak_bytes(const std::function<void()>& work) {
  if (kAddressSanitizer) return std::nullopt;
  // Every block of 64 KiB or more its own mapping, unmapped when freed: the resident size then
  // follows the live blocks instead of what the heap keeps (glibc does not reuse a freed
  // aligned block for the next one of the same size).
  mallopt(M_MMAP_THRESHOLD, 64 << 10);
  mallopt(M_MMAP_MAX, 1 << 24);
  malloc_trim(0);
  struct Held {
    std::vector<void*> blocks = hold_free_heap_chunks();
    ~Held() {
      for (void* p : blocks) std::free(p);
    }
  } held;
  const int64_t before = status_bytes("VmRSS:");
  {
    std::ofstream reset("/proc/self/clear_refs");
    reset << "5";
    if (!reset.flush() || before < 0) {
      memory::keep_freed_memory();
      return std::nullopt;
    }
  }
  if (status_bytes("VmHWM:") > before + (1 << 20)) {  // not reset
    memory::keep_freed_memory();
    return std::nullopt;
  }
  work();
  const int64_t high = status_bytes("VmHWM:");
  memory::keep_freed_memory();  // back to the CLI's and the benchmarks' policy
  if (high < 0) return std::nullopt;
  return high - before;
}

MixerLayerPass::MixerLayerPass(const nn::ModelConfig& cfg, int64_t T)
    : mixer_(nn::make_sequence_mixer(params_, "attn.", cfg, 0)) {
  params_.init_all(1);
  // Warm-up on 64 positions (see the header), then the measured inputs.
  x_ = random_normal({1, 64, cfg.n_embd}, 4);
  dy_ = random_normal({1, 64, cfg.n_embd}, 5);
  x_.set_requires_grad(true);
  run();
  x_ = random_normal({1, T, cfg.n_embd}, 2);
  dy_ = random_normal({1, T, cfg.n_embd}, 3);
  x_.set_requires_grad(true);
}

void MixerLayerPass::run() const {
  Tape tape;
  nn::ForwardContext ctx(tape);
  const Tensor y = mixer_->forward(ctx, x_);
  tape.backward(y, dy_);
}

void MixerLayerPass::zero_grads() {
  for (const auto& e : params_.all()) e.tensor.zero_grad();
  x_.zero_grad();
}

std::optional<int64_t> mixer_fwd_bwd_peak_bytes(const nn::ModelConfig& cfg, int64_t T) {
  const MixerLayerPass pass(cfg, T);
  return peak_bytes([&] { pass.run(); });
}

}  // namespace tinyr2::bench
