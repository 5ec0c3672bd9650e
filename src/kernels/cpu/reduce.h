// Sums on the CPU, accumulated in double (rows of 10^5 floats sum to float precision).
//
// A tensor reduced over one dim is viewed as (outer, n, inner):
//
//   sum_dim:   out[o,i] = scale · Σ_k x[o,k,i]          (scale = 1 for sum, 1/n for mean)
//              dx[o,k,i] += scale · g[o,i]
//   sum_all:   out = scale · Σ_j x[j]
//              dx[j] += scale · g
//
// sum_f64 / dot_f64 are the serial row primitives the other kernel families reuse.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

// Σ_j x[j] and Σ_j x[j]·y[j] over one row, in double, serial (call them inside a parallel loop).
double sum_f64(const float* x, int64_t n);
double dot_f64(const float* x, const float* y, int64_t n);

void sum_dim_forward(const float* x, float* out, int64_t outer, int64_t n, int64_t inner,
                     double scale);
void sum_dim_backward(const float* g, float* dx, int64_t outer, int64_t n, int64_t inner,
                      double scale);

// Returns scale · Σ x (parallel).
double sum_all_forward(const float* x, int64_t n, double scale);
void sum_all_backward(float g, float* dx, int64_t n, double scale);

}  // namespace tinyr2::kernels::cpu
