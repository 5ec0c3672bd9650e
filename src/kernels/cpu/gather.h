// Row gather and row scatter-add: embeddings and MoE token dispatch / combine.
//
//   gather_rows:       out[m, :] (+)= x[idx[m], :]     for m < M   (x has N rows of C)
//   scatter_add_rows:  out[idx[m], :] += src[m, :]      for m < M   (out has N rows of C)
//
// Each is the other's backward: d(gather)/dx = scatter_add of the output gradient, and
// d(scatter_add)/dsrc = gather of the output gradient. An embedding lookup is gather_rows.
// scatter_add_rows is race-free and deterministic with repeated indices: a counting sort
// groups the m's by destination row (keeping ascending m within a row), and each
// destination row is then summed by exactly one thread, in ascending m.
// Indices must already be checked to lie in [0, N).
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

// accumulate = false overwrites out, true adds into it.
void gather_rows(const float* x, const int32_t* idx, float* out, int64_t M, int64_t C,
                 bool accumulate);

void scatter_add_rows(const float* src, const int32_t* idx, float* out, int64_t M, int64_t N,
                      int64_t C);

}  // namespace tinyr2::kernels::cpu
