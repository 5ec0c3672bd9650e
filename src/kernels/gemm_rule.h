// Which sgemm runs which matrix product on this machine (SPEC §16), for `tinyr2 version`:
// the rule of kernels/cpu/gemm_paths.h at the instruction-set level in use.
#pragma once

#include <string>

namespace tinyr2::kernels {

// One line, e.g. "oneDNN 2.6.3 (jit avx512_core_bf16) for …; OpenBLAS Cooperlake for …".
std::string gemm_rule_summary();

}  // namespace tinyr2::kernels
