// The kernels each op launches through its backend (kernels/backend.h): what
// Backend::supports_op checks, and what tests/ops/test_backend.cpp holds every backend to.
// Keep it in step with src/autograd (and optim/, nn/moe.cpp's expert-bias update) when an op
// starts or stops launching a kernel.
#include <algorithm>
#include <initializer_list>
#include <utility>

#include "kernels/backend.h"

namespace tinyr2::kernels {

namespace {

using K = Kernel;

struct OpKernels {
  std::string_view op;
  std::initializer_list<Kernel> kernels;
};

// clang-format off
constexpr OpKernels kOps[] = {
    {"range_attention", {K::range_attention_forward, K::range_attention_backward}},
    {"causal_attention", {K::range_attention_forward, K::range_attention_backward}},
    {"index_attention", {K::index_attention_forward, K::index_attention_backward}},
    {"add", {K::binary_forward, K::binary_backward}},
    {"sub", {K::binary_forward, K::binary_backward}},
    {"mul", {K::binary_forward, K::binary_backward}},
    {"scale", {K::scale_forward, K::axpy}},
    {"add_scalar", {K::add_scalar_forward, K::axpy}},
    {"relu2", {K::relu2_forward, K::relu2_backward}},
    {"gelu", {K::gelu_forward, K::gelu_backward}},
    {"silu", {K::silu_forward, K::silu_backward}},
    {"sigmoid", {K::sigmoid_forward, K::sigmoid_backward}},
    {"tanh", {K::tanh_forward, K::tanh_backward}},
    {"exp", {K::exp_forward, K::exp_backward}},
    {"stream_mix", {K::stream_mix_forward, K::stream_mix_backward}},
    {"sinkhorn", {K::sinkhorn_forward, K::sinkhorn_backward}},
    {"orthostochastic", {K::orthostochastic_forward, K::orthostochastic_backward}},
    {"matmul", {K::gemm, K::gemm_batched, K::gemm_bf16, K::gemm_bf16_batched}},
    {"linear", {K::gemm, K::gemm_batched, K::gemm_bf16, K::gemm_bf16_batched}},
    {"moe_route_weights", {K::moe_route_weights_forward, K::moe_route_weights_backward}},
    {"moe_balance_loss", {K::moe_balance_loss_forward, K::moe_balance_loss_backward}},
    {"moe_experts", {K::moe_dispatch, K::moe_experts_forward, K::moe_experts_backward}},
    {"rmsnorm", {K::rmsnorm_forward, K::rmsnorm_backward}},
    {"softmax", {K::softmax_forward, K::softmax_backward}},
    {"log_softmax", {K::log_softmax_forward, K::log_softmax_backward}},
    {"cross_entropy", {K::cross_entropy_forward, K::cross_entropy_backward}},
    {"linear_cross_entropy", {K::linear_cross_entropy, K::linear_cross_entropy_bf16, K::axpy}},
    {"rope", {K::rope_table, K::rope_forward, K::rope_backward}},
    {"embedding", {K::gather_rows, K::scatter_add_rows}},
    {"gather_rows", {K::gather_rows, K::scatter_add_rows}},
    {"scatter_add_rows", {K::scatter_add_rows, K::gather_rows}},
    {"topk", {K::topk_forward}},
    {"block_attention", {K::block_attention_forward, K::block_attention_backward}},
    {"compressed_attention", {K::nsa_compression_forward, K::nsa_compression_backward}},
    {"window_attention", {K::window_attention_forward, K::window_attention_backward}},
    {"make_rope_table", {K::rope_table}},
    {"stacked_linear", {K::gemm, K::gemm_bf16, K::copy_out_columns, K::copy_in_columns, K::axpy}},
    {"gated_sum", {K::gated_sum_forward, K::gated_sum_backward}},
    {"sum", {K::sum_all_forward, K::sum_all_backward, K::sum_dim_forward, K::sum_dim_backward}},
    {"mean", {K::sum_all_forward, K::sum_all_backward, K::sum_dim_forward, K::sum_dim_backward}},
    {"reshape", {K::axpy}},
    {"permute", {K::permute_copy}},
    {"transpose", {K::permute_copy}},
    {"concat", {K::copy_rows}},
    {"stack", {K::copy_rows}},
    {"split", {K::copy_rows}},
    {"slice", {K::copy_rows}},
    {"expand", {K::expand_forward, K::expand_backward}},
    {"adamw", {K::adamw_update}},
    {"muon", {K::muon_momentum, K::newton_schulz, K::scaled_update, K::newton_schulz_bf16}},
    {"newton_schulz", {K::newton_schulz, K::newton_schulz_bf16}},
    {"clip_grad_norm", {K::sum_squares, K::scale_in_place}},
    {"moe_update_bias", {K::moe_update_bias}},
    {"quant_linear", {K::quant_matmul, K::copy_out_columns, K::gemm, K::cross_entropy_forward}},
    {"retention", {K::retention_forward, K::retention_backward}},
    {"selective_scan", {K::selective_scan_forward, K::selective_scan_backward}},
    {"depthwise_conv1d", {K::depthwise_conv1d_forward, K::depthwise_conv1d_backward}},
    {"linear_attention", {K::linear_attention_forward, K::linear_attention_backward}},
    {"glu", {K::glu_forward, K::glu_backward}},
    {"router_attention", {K::router_attention_forward, K::router_attention_backward}},
};
// clang-format on

}  // namespace

std::span<const Kernel> op_kernels(std::string_view op) {
  for (const OpKernels& o : kOps)
    if (o.op == op) return {o.kernels.begin(), o.kernels.size()};
  return {};
}

std::vector<std::string_view> op_names() {
  std::vector<std::string_view> out;
  for (const OpKernels& o : kOps) out.push_back(o.op);
  return out;
}

}  // namespace tinyr2::kernels
