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
#pragma once

namespace tinyr2::memory {

void keep_freed_memory();

}  // namespace tinyr2::memory
