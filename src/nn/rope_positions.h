// RoPE positions and NTK scaling (SPEC §10 pos_embedding, rope_scaling).
//
// Every RoPE in the model (Sparse's q/k rope parts, FULL and LFA heads with
// pos_embedding "rope", Retention) rotates with the NTK-aware base
//   θ' = rope_theta · s^(D/(D−2)),  s = rope_scaling,  D = that RoPE's vector size
// (seed 003: θ 10000, D 128, s 4 → 40890). s = 1 gives rope_theta itself. The config
// guarantees D > 2 whenever s > 1 (nn/config.cpp validate()).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "nn/config.h"

namespace tinyr2::nn {

// The base of a RoPE over vectors of size D under cfg's rope_theta and rope_scaling.
inline double rope_base(const ModelConfig& cfg, int64_t D) {
  if (cfg.rope_scaling == 1.0) return cfg.rope_theta;
  const double d = static_cast<double>(D);
  return cfg.rope_theta * std::pow(cfg.rope_scaling, d / (d - 2.0));
}

// True when FULL and LFA layers rotate q and k (and the model has no position table).
inline bool uses_rope_positions(const ModelConfig& cfg) {
  return cfg.pos_embedding == PosEmbedding::Rope;
}

// `--ctx N` of generate / eval / serve (SPEC §10): the config to run with a context limit
// of N. N > ctx_len needs RoPE positions (a learned table has no rows beyond ctx_len) and
// scales RoPE by s = max(rope_scaling, N / ctx_len); N ≤ ctx_len only sets the limit.
inline ModelConfig with_context_limit(ModelConfig cfg, int64_t N) {
  if (N < 1) fail("--ctx {}: the context must be at least 1 token", N);
  if (N > cfg.ctx_len) {
    if (!uses_rope_positions(cfg))
      fail(
          "--ctx {} exceeds ctx_len = {}, but this model has learned positions "
          "(pos_embedding \"learned\": no position beyond ctx_len); only pos_embedding "
          "\"rope\" models take a longer context",
          N, cfg.ctx_len);
    cfg.rope_scaling =
        std::max(cfg.rope_scaling, static_cast<double>(N) / static_cast<double>(cfg.ctx_len));
  }
  cfg.ctx_len = N;
  cfg.validate();
  return cfg;
}

}  // namespace tinyr2::nn
