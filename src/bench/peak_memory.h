// Peak memory of a piece of work, as the kernel counts it (issue 14, SPEC §10: "peak memory of
// one layer at 32k linear in T").
//
// peak_bytes(work): the most bytes the process held resident while `work` ran, above what it
// held when it began. How: for the measurement glibc maps every block of 64 KiB or more on its
// own and unmaps it when freed (M_MMAP_THRESHOLD, with the calling thread's free heap chunks
// of that size held meanwhile, so that none of them serves such a block: the resident size
// follows the live blocks, not the heap's leftovers, however much the process freed before),
// malloc_trim(0) hands every free heap page back, then
// writing "5" to /proc/self/clear_refs resets the resident-set high-water mark (VmHWM) to the
// current size; after `work`, VmHWM − the resident size before is the peak. Page granularity,
// every thread's allocations and short-lived scratch buffers included; the kernel sums the
// resident size from per-CPU counters, so a figure may be a few hundred KiB off. Afterwards
// the allocator is left in memory::keep_freed_memory()'s policy (core/memory.h: the CLI's and
// the benchmarks'). nullopt when the kernel does not offer the reset, or under
// AddressSanitizer (its allocator keeps freed blocks in quarantine).
//
// MixerLayerPass(cfg, T): layer 0's sequence mixer of cfg (nn::make_sequence_mixer, initialised)
// with x (1,T,C) and dy (1,T,C); run() is one forward of x + backward of dy. The constructor
// runs one pass on 64 positions first, unmeasured: the first pass of a process starts the
// worker threads (stacks, malloc arenas: a few MB that are no layer's) and allocates the
// parameter gradients (a constant term).
//
// mixer_fwd_bwd_peak_bytes(cfg, T): peak_bytes of one run() of a new MixerLayerPass, as
// BM_mixer_fwd_bwd reports it (bench/bench_mixers.cpp). Parameters, x and dy are allocated
// before the measurement; x's gradient is part of it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "core/tensor.h"
#include "nn/config.h"
#include "nn/parameters.h"
#include "nn/sequence_mixer.h"

namespace tinyr2::bench {

std::optional<int64_t> peak_bytes(const std::function<void()>& work);

class MixerLayerPass {
 public:
  MixerLayerPass(const nn::ModelConfig& cfg, int64_t T);
  void run() const;
  void zero_grads();

 private:
  nn::Parameters params_;
  std::unique_ptr<nn::SequenceMixer> mixer_;
  Tensor x_, dy_;
};

std::optional<int64_t> mixer_fwd_bwd_peak_bytes(const nn::ModelConfig& cfg, int64_t T);

}  // namespace tinyr2::bench
