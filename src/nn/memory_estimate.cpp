#include "nn/memory_estimate.h"

#include "core/error.h"
#include "core/memory.h"

namespace tinyr2::nn {

MemoryEstimate estimate_memory(const ModelConfig& c, const MemoryUse& use) {
  // In double: a hostile config's products overflow int64 (n_embd, vocab_size up to 2^31).
  const double C = static_cast<double>(c.n_embd), H = static_cast<double>(c.n_head);
  const double V = static_cast<double>(c.vocab_size), T = static_cast<double>(c.ctx_len);
  const double nope = static_cast<double>(c.qk_nope_head_dim);
  const double rope = static_cast<double>(c.qk_rope_head_dim);
  const double vdim = static_cast<double>(c.v_head_dim);
  const double ql = static_cast<double>(c.q_lora_rank), kvl = static_cast<double>(c.kv_lora_rank);
  // MLA (SPEC §2): q down/up, kv down/up, output.
  const double attention =
      C * ql + ql * H * (nope + rope) + C * (kvl + rope) + kvl * H * (nope + vdim) + H * vdim * C;
  // The feed-forward matrices (nn/block.cpp): an MLP has c_fc and c_proj (hidden 4·C), a GLU
  // c_gate, c_up and c_proj (glu_hidden); a MoE has n_experts experts of moe_hidden, each an
  // MLP or a GLU (moe_expert, SPEC §11).
  const double moe_matrices = c.moe_expert == MoeExpert::Glu ? 3 : 2;
  const double moe = static_cast<double>(c.n_experts) * moe_matrices * C *
                     static_cast<double>(c.moe_hidden_size());
  double params = V * C;  // the embedding, tied with the head
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const FfnType f = c.ffn_type(l);
    const double ffn = f == FfnType::Moe   ? moe
                       : f == FfnType::Glu ? 3 * C * static_cast<double>(c.glu_hidden_size())
                                           : 2 * C * 4 * C;
    params += attention + ffn;
  }
  MemoryEstimate e;
  e.params = params;
  e.weights = 4 * params;
  const double B = static_cast<double>(use.batch);
  if (use.training) {
    e.training = 3 * 4 * params;  // gradient + two moments
    // The residual stream of every layer, kept for the backward pass (the logits are computed
    // in chunks, so they are not counted).
    e.activations = 4 * B * T * C * static_cast<double>(c.streams() * c.n_layer);
  }
  return e;
}

void check_memory(const ModelConfig& cfg, const std::string& context, const MemoryUse& use) {
  const MemoryEstimate e = estimate_memory(cfg, use);
  const uint64_t available = memory::available_bytes();
  if (available == 0 || e.total() <= static_cast<double>(available)) return;
  using memory::format_bytes;
  std::string parts =
      fmt::format("{:.3g} parameters: {} of weights", e.params, format_bytes(e.weights));
  if (use.training)
    parts += fmt::format(
        ", {} of gradients and optimizer state, {} of activations for a batch of {} × {}",
        format_bytes(e.training), format_bytes(e.activations), use.batch, cfg.ctx_len);
  fail("{}: this model needs at least {} ({}), more than the {} of memory available", context,
       format_bytes(e.total()), parts, format_bytes(static_cast<double>(available)));
}

}  // namespace tinyr2::nn
