// The differentiable ops of the Mamba layer (SPEC §10): the depthwise causal conv1d and
// the selective scan. Kernels and formulas in kernels/cpu/depthwise_conv.h and
// kernels/cpu/selective_scan.h.
#pragma once

#include "autograd/tape.h"

namespace tinyr2::ops {

// x (B,T,d), w (d,1,K), bias (d) → (B,T,d): y_t[c] = bias[c] + Σ_j w[c,0,j]·x_{t−K+1+j}[c],
// zeros before position 0.
Tensor depthwise_conv1d(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& bias);

// Mamba-1 scan with softplus(dt + dt_bias), A = −exp(A_log) and the D skip fused in:
// u, dt (B,T,d), dt_bias, D (d), A_log (d,N), Bm, Cm (B,T,N) → y (B,T,d). `state`:
// undefined, or a (B,d,N) decode state h of the positions before these, advanced in place
// past them (decoding: no gradient may be asked for).
Tensor selective_scan(Tape& tape, const Tensor& u, const Tensor& dt, const Tensor& dt_bias,
                      const Tensor& A_log, const Tensor& Bm, const Tensor& Cm, const Tensor& D,
                      const Tensor& state = Tensor());

}  // namespace tinyr2::ops
