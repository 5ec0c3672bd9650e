// Process memory policy.
//
// Training allocates and frees the same large buffers every step (logits, their gradient,
// activations). glibc serves blocks above its mmap threshold (≤ 32 MiB) with fresh mmap
// pages, so every step would page-fault and zero hundreds of MiB again — on a virtual
// machine that cost 3× the step's arithmetic (perf: pvm_irq_enable + clear_page_erms over
// 40% of a step of the default model). keep_freed_memory() makes glibc serve every block
// from its heap and keep freed memory for reuse instead of returning it to the system, so
// after the first step the same pages are reused. It only sets allocator options (mallopt);
// it holds no state of ours. Called once at the start of the CLI and the benchmarks.
//
// available_bytes(): the memory this process can still use — MemAvailable from /proc/meminfo,
// or the cgroup's memory.max minus its memory.current when that is lower; 0 when unknown.
// Used to refuse oversized configs before allocating (nn/memory_estimate.h, issue 19).
#pragma once

#include <cstdint>
#include <string>

namespace tinyr2::memory {

void keep_freed_memory();

uint64_t available_bytes();

// 1536 → "1.5 KiB", 3e9 → "2.8 GiB", 1e30 → "8.3e+17 TiB": for messages.
std::string format_bytes(double bytes);

}  // namespace tinyr2::memory
