// Multi-scale retention (RetNet; SPEC §10 "Retention"), chunked: never a T×T tensor.
//
// q, k, v, o (B, T, H, D) contiguous (q and k already rotated by RoPE), head h decays with
// γ_h = 1 − 2^(−5−h), s = scale (1/sqrt(D)):
//
//   o_t = s · Σ_{u≤t} γ^(t−u) (q_t·k_u) v_u        state S_t = γ S_{t−1} + k_t v_tᵀ (D×D)
//
// The sequence runs in chunks of kRetentionChunk positions c0 … c1−1 (L = c1 − c0): inside
// a chunk the decay-masked products γ^(i−j)(q_i·k_j), j ≤ i (L×L); across chunks the state
// S before the chunk, o_{c0+i} += s·γ^(i+1)·q_{c0+i}ᵀS, then S ← γ^L S + Σ_j γ^(L−1−j) k_j v_jᵀ.
//
// Backward (accumulated into dq, dk, dv; zero initial state), per (b, h):
//   forward sweep (S recomputed):  dq_i += s·Σ_{j≤i} γ^(i−j)(do_i·v_j) k_j + s·γ^(i+1)·S do_i
//   backward sweep, G = s·Σ_{t after the chunk} γ^(t−(c1−1)) q_t do_tᵀ:
//     dk_j += s·Σ_{i≥j} γ^(i−j)(do_i·v_j) q_i + γ^(L−1−j) G v_j
//     dv_j += s·Σ_{i≥j} γ^(i−j)(q_i·k_j) do_i + γ^(L−1−j) Gᵀ k_j
//     G ← γ^L G + s·Σ_i γ^(i+1) q_i do_iᵀ
// Work O(T·(L + D)·D) per head and O(L² + D²) memory per (b, h) item; items run in parallel
// and each is serial, so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace tinyr2::kernels::cpu {

inline constexpr int64_t kRetentionChunk = 64;

// γ_h of head h (SPEC §10).
double retention_gamma(int64_t h);

// state: null (start from S = 0) or (B, H, D, D) S[a][b] = Σ γ^(·) k[a] v[b], read as the
// state before position 0 and overwritten with the state after position T−1 (decoding).
void retention_forward(const float* q, const float* k, const float* v, float* o, float* state,
                       int64_t B, int64_t T, int64_t H, int64_t D, float scale);
void retention_backward(const float* q, const float* k, const float* v, const float* go, float* dq,
                        float* dk, float* dv, int64_t B, int64_t T, int64_t H, int64_t D,
                        float scale);

}  // namespace tinyr2::kernels::cpu
