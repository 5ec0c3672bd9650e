// Rotary position embedding, half-split layout (SPEC §2.2), on x (B, T, H, D), D even:
//
//   f_i = theta^(−2i/D),  i < D/2;   a = x[..., :D/2],  b = x[..., D/2:];  p = pos[t]
//   y = [a·cos(p f) − b·sin(p f)  ‖  a·sin(p f) + b·cos(p f)]
//
// Backward is the inverse rotation (the transpose of the rotation matrix):
//   dx = [ga·cos + gb·sin  ‖  −ga·sin + gb·cos]   (accumulated)
//
// The angles p·f_i are formed and reduced mod 2π in double, then tabulated once as float
// cos/sin (T, D/2), so large positions (32k and beyond) keep full float accuracy; the
// forward and backward kernels share the table.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

// cos_tab[t, i] = cos(pos[t] · f_i), sin_tab likewise; both (T, D/2).
void rope_table(const int32_t* pos, int64_t T, int64_t D, float theta, float* cos_tab,
                float* sin_tab);

void rope_forward(const float* x, const float* cos_tab, const float* sin_tab, float* y, int64_t B,
                  int64_t T, int64_t H, int64_t D);
void rope_backward(const float* g, const float* cos_tab, const float* sin_tab, float* dx, int64_t B,
                   int64_t T, int64_t H, int64_t D);

}  // namespace tinyr2::kernels::cpu
