#include "nn/model.h"

#include <filesystem>

#include "autograd/ops.h"
#include "core/error.h"
#include "io/file_io.h"
#include "io/safetensors.h"
#include "nn/gguf_model.h"
#include "nn/lora_files.h"
#include "nn/lora_recompute.h"
#include "nn/memory_estimate.h"
#include "nn/rope_positions.h"

namespace tinyr2::nn {

Model::Model(const ModelConfig& c) : Model(c, {}) {}

Model::Model(const ModelConfig& c, const std::set<std::string>& unfilled) : cfg(c) {
  params.leave_unfilled(unfilled);
  const float std = static_cast<float>(cfg.init_std);
  token_embedding =
      params.add("token_embedding_table.weight", {cfg.vocab_size, cfg.n_embd}, Init::normal(std));
  if (cfg.pos_embedding == PosEmbedding::Learned)  // SPEC §10: "rope" has no table
    position_embedding =
        params.add("position_embedding_table.weight", {cfg.ctx_len, cfg.n_embd}, Init::normal(std));
  for (int64_t i = 0; i < cfg.n_layer; ++i)
    blocks.push_back(std::make_unique<Block>(params, i, cfg));
  rm_f = std::make_unique<RMSNorm>(params, "rm_f.", cfg.n_embd, cfg.norm_eps);
}

Tensor Model::hidden(ForwardContext& ctx, const IndexTensor& ids, int64_t pos0,
                     ModelCache* cache) const {
  std::vector<int32_t> pos(static_cast<size_t>(ids.shape[1]));
  for (size_t i = 0; i < pos.size(); ++i)
    pos[i] = static_cast<int32_t>(pos0 + static_cast<int64_t>(i));
  return hidden_with(ctx, ids, pos, [&](size_t i, const Tensor& R, const Shape& btc) {
    if (cache) return blocks[i]->forward_cached(ctx, R, btc, cache->layer(i), pos0);
    if (lora_recomputes(ctx, i, blocks.size())) return recomputed_block(ctx, *blocks[i], R, btc);
    return blocks[i]->forward(ctx, R, btc);
  });
}

Tensor Model::hidden_with(
    ForwardContext& ctx, const IndexTensor& ids, const std::vector<int32_t>& pos,
    const std::function<Tensor(size_t, const Tensor&, const Shape&)>& block) const {
  Tape& t = ctx.tape;
  const int64_t B = ids.shape[0], T = ids.shape[1], C = cfg.n_embd, N = B * T, S = cfg.streams();
  ctx.v_first = Tensor();
  ctx.balance_losses.clear();
  ctx.quantized = quantized.get();
  ctx.lora = lora.get();

  const kernels::QuantizedMatrix* q_emb = nn::quantized(ctx, token_embedding);
  Tensor x = q_emb ? ops::quant_embedding(*q_emb, ids)
                   : ops::embedding(t, token_embedding, ids);  // (B,T,C)
  if (position_embedding.defined())
    x = ops::add(t, x, ops::embedding(t, position_embedding, IndexTensor({T}, pos)));
  const Shape btc = {B, T, C};
  Tensor R =
      S > 1 ? ops::stream_mix(t, ops::reshape(t, x, {N, 1, C}), Tensor::full({1, S}, 1.f)) : x;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (ctx.block_marks) ctx.block_marks->push_back(t.size());
    R = block(i, R, btc);
  }
  Tensor h = S > 1 ? ops::reshape(t, ops::stream_mix(t, R, Tensor::full({S, 1}, 1.f)), btc) : R;
  return rm_f->forward(ctx, h);
}

namespace {
void check_ids(const IndexTensor& ids, int64_t vocab_size) {
  TINYR2_CHECK(ids.shape.size() == 2, "model input ids must be (B,T), got {}",
               shape_str(ids.shape));
  for (int32_t id : ids.data)
    if (id < 0 || id >= vocab_size)
      fail("token id {} is outside the vocabulary [0, {})", id, vocab_size);
}
}  // namespace

Tensor Model::forward_cached(ForwardContext& ctx, const IndexTensor& ids, ModelCache& cache,
                             bool last_only) const {
  check_ids(ids, cfg.vocab_size);
  TINYR2_CHECK(ids.shape[0] == 1, "cached decoding runs one sequence, got ids {}",
               shape_str(ids.shape));
  TINYR2_CHECK(!ctx.training, "cached decoding is for evaluation only");
  TINYR2_CHECK(cache.num_layers() == blocks.size(), "cache of {} layers for {} blocks",
               cache.num_layers(), blocks.size());
  const int64_t T = ids.shape[1], pos0 = cache.length();
  if (T == 0) fail("cached forward of no tokens");
  if (pos0 + T > cfg.ctx_len)
    fail("{} cached + {} new tokens exceed ctx_len = {}", pos0, T, cfg.ctx_len);
  Tape& t = ctx.tape;
  Tensor h = hidden(ctx, ids, pos0, &cache);
  cache.set_length(pos0 + T);
  if (last_only && T > 1) h = ops::slice(t, h, 1, T - 1, T);
  return linear(ctx, h, token_embedding);  // tied head
}

ModelOutput Model::forward(ForwardContext& ctx, const IndexTensor& ids,
                           const IndexTensor* targets) const {
  Tape& t = ctx.tape;
  check_ids(ids, cfg.vocab_size);
  const int64_t B = ids.shape[0], T = ids.shape[1], N = B * T;
  if (T > cfg.ctx_len) fail("sequence of {} tokens exceeds ctx_len = {}", T, cfg.ctx_len);
  const Tensor h = hidden(ctx, ids, 0, nullptr);

  ModelOutput out;
  if (!targets) {
    out.logits = linear(ctx, h, token_embedding);  // tied head, (B,T,V)
    return out;
  }
  TINYR2_CHECK(targets->shape == ids.shape, "targets {} vs ids {}", shape_str(targets->shape),
               shape_str(ids.shape));
  // Tied head and loss fused: the (N, V) logits are never held (412 MB at N = 2048).
  if (const kernels::QuantizedMatrix* q = nn::quantized(ctx, token_embedding))
    out.ce = ops::quant_linear_cross_entropy(ops::reshape(t, h, {N, cfg.n_embd}), *q,
                                             IndexTensor({N}, targets->data), quantized->path);
  else
    out.ce = ops::linear_cross_entropy(t, ops::reshape(t, h, {N, cfg.n_embd}), token_embedding,
                                       IndexTensor({N}, targets->data));
  if (ctx.balance_losses.empty()) {
    out.bal = Tensor::scalar(0.f);
    out.loss = out.ce;
  } else {
    Tensor bal = ctx.balance_losses[0];
    for (size_t i = 1; i < ctx.balance_losses.size(); ++i)
      bal = ops::add(t, bal, ctx.balance_losses[i]);
    out.bal = ops::scale(t, bal, 1.f / static_cast<float>(ctx.balance_losses.size()));
    // SPEC §11: L_aux of topk / attention layers weighs moe_aux_coef (one router per model).
    const double coef = cfg.router == Router::Deepseek ? cfg.moe_balance_coef : cfg.moe_aux_coef;
    out.loss = ops::add(t, out.ce, ops::scale(t, out.bal, static_cast<float>(coef)));
  }
  return out;
}

std::vector<DSMoE*> Model::moe_layers() const {
  std::vector<DSMoE*> out;
  for (const auto& b : blocks)
    if (b->moe) out.push_back(b->moe.get());
  return out;
}

int64_t Model::active_params_per_token() const {
  // Every parameter except the routed experts a token does not visit.
  int64_t inactive = 0;
  for (const DSMoE* m : moe_layers()) inactive += m->inactive_params_per_token();
  return num_params() - inactive;
}

void Model::save(const std::string& dir) const {
  if (quantized)
    fail("{}: a model loaded from a quantized GGUF file cannot be saved as a model directory", dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("{}: cannot create directory: {}", dir, ec.message());
  io::write_file_atomically(dir + "/config.json", cfg.to_json().dump(2) + "\n");
  if (lora) {  // SPEC §12: a LoRA run saves its adapters, not the frozen base
    save_adapter(dir, *lora, lora->base_name, lora->base_sha256);
    return;
  }
  io::save_safetensors(dir + "/model.safetensors", params.state_dict(), {{"format", "pt"}});
}

std::unique_ptr<Model> Model::load(const std::string& dir, int64_t ctx) {
  if (is_gguf_path(dir)) return load_gguf(dir, ctx);
  if (!std::filesystem::is_directory(dir)) fail("{}: not a model directory", dir);
  const ModelConfig cfg = ModelConfig::from_file(dir + "/config.json");
  check_memory(cfg, dir + "/config.json", {});  // before allocating (memory_estimate.h)
  // SPEC §10 --ctx: a RoPE model is built for the new limit (and NTK scale); a learned
  // position table keeps its ctx_len rows and only the limit drops.
  const ModelConfig run_cfg = ctx != 0 ? with_context_limit(cfg, ctx) : cfg;
  auto model = std::make_unique<Model>(run_cfg.pos_embedding == PosEmbedding::Rope ? run_cfg : cfg);
  const std::string path = dir + "/model.safetensors";
  model->params.load_state_dict(io::load_safetensors(path).tensors, path);
  model->cfg.ctx_len = run_cfg.ctx_len;
  return model;
}

}  // namespace tinyr2::nn
