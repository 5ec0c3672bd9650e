// The CPU backend: every entry filled from the kernels of kernels/cpu (they stay plain
// functions; this is where they are registered).
#include "kernels/cpu/backend.h"

#include "kernels/cpu/attention.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/depthwise_conv.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gather.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/glu.h"
#include "kernels/cpu/index_attention.h"
#include "kernels/cpu/linear_attention.h"
#include "kernels/cpu/linear_cross_entropy.h"
#include "kernels/cpu/linear_cross_entropy_bf16.h"
#include "kernels/cpu/moe.h"
#include "kernels/cpu/moe_experts.h"
#include "kernels/cpu/newton_schulz.h"
#include "kernels/cpu/newton_schulz_bf16.h"
#include "kernels/cpu/nsa_block_attention.h"
#include "kernels/cpu/nsa_compression.h"
#include "kernels/cpu/nsa_fused.h"
#include "kernels/cpu/nsa_window_attention.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/retention.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/router_attention.h"
#include "kernels/cpu/selective_scan.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/stream_mix.h"
#include "kernels/cpu/topk.h"

namespace tinyr2::kernels {

namespace {

void fill(Backend& b) {
  b.gemm = cpu::gemm;
  b.gemm_batched = cpu::gemm_batched;
  b.gemm_bf16 = cpu::gemm_bf16;
  b.gemm_bf16_batched = cpu::gemm_bf16_batched;
  b.binary_forward = cpu::binary_forward;
  b.binary_backward = cpu::binary_backward;
  b.expand_forward = cpu::expand_forward;
  b.expand_backward = cpu::expand_backward;
  b.axpy = cpu::axpy;
  b.scale_forward = cpu::scale_forward;
  b.add_scalar_forward = cpu::add_scalar_forward;
  b.relu2_forward = cpu::relu2_forward;
  b.relu2_backward = cpu::relu2_backward;
  b.gelu_forward = cpu::gelu_forward;
  b.gelu_backward = cpu::gelu_backward;
  b.silu_forward = cpu::silu_forward;
  b.silu_backward = cpu::silu_backward;
  b.sigmoid_forward = cpu::sigmoid_forward;
  b.sigmoid_backward = cpu::sigmoid_backward;
  b.tanh_forward = cpu::tanh_forward;
  b.tanh_backward = cpu::tanh_backward;
  b.exp_forward = cpu::exp_forward;
  b.exp_backward = cpu::exp_backward;
  b.copy_rows = cpu::copy_rows;
  b.permute_copy = cpu::permute_copy;
  b.gather_rows = cpu::gather_rows;
  b.scatter_add_rows = cpu::scatter_add_rows;
  b.sum_dim_forward = cpu::sum_dim_forward;
  b.sum_dim_backward = cpu::sum_dim_backward;
  b.sum_all_forward = cpu::sum_all_forward;
  b.sum_all_backward = cpu::sum_all_backward;
  b.rmsnorm_forward = cpu::rmsnorm_forward;
  b.rmsnorm_backward = cpu::rmsnorm_backward;
  b.softmax_forward = cpu::softmax_forward;
  b.softmax_backward = cpu::softmax_backward;
  b.log_softmax_forward = cpu::log_softmax_forward;
  b.log_softmax_backward = cpu::log_softmax_backward;
  b.cross_entropy_forward = cpu::cross_entropy_forward;
  b.cross_entropy_backward = cpu::cross_entropy_backward;
  b.linear_cross_entropy = cpu::linear_cross_entropy;
  b.linear_cross_entropy_bf16 = cpu::linear_cross_entropy_bf16;
  b.rope_table = cpu::rope_table;
  b.rope_forward = cpu::rope_forward;
  b.rope_backward = cpu::rope_backward;
  b.topk_forward = cpu::topk_forward;
  b.range_attention_forward = cpu::range_attention_forward;
  b.range_attention_backward = cpu::range_attention_backward;
  b.index_attention_forward = cpu::index_attention_forward;
  b.index_attention_backward = cpu::index_attention_backward;
  b.block_attention_forward = cpu::block_attention_forward;
  b.block_attention_backward = cpu::block_attention_backward;
  b.nsa_compression_forward = cpu::nsa_compression_forward;
  b.nsa_compression_backward = cpu::nsa_compression_backward;
  b.window_attention_forward = cpu::window_attention_forward;
  b.window_attention_backward = cpu::window_attention_backward;
  b.copy_out_columns = cpu::copy_out_columns;
  b.copy_in_columns = cpu::copy_in_columns;
  b.gated_sum_forward = cpu::gated_sum_forward;
  b.gated_sum_backward = cpu::gated_sum_backward;
  b.stream_mix_forward = cpu::stream_mix_forward;
  b.stream_mix_backward = cpu::stream_mix_backward;
  b.sinkhorn_forward = cpu::sinkhorn_forward;
  b.sinkhorn_backward = cpu::sinkhorn_backward;
  b.orthostochastic_forward = cpu::orthostochastic_forward;
  b.orthostochastic_backward = cpu::orthostochastic_backward;
  b.moe_route_weights_forward = cpu::moe_route_weights_forward;
  b.moe_route_weights_backward = cpu::moe_route_weights_backward;
  b.moe_balance_loss_forward = cpu::moe_balance_loss_forward;
  b.moe_balance_loss_backward = cpu::moe_balance_loss_backward;
  b.moe_dispatch = cpu::moe_dispatch;
  b.moe_experts_forward = cpu::moe_experts_forward;
  b.moe_experts_backward = cpu::moe_experts_backward;
  b.moe_update_bias = cpu::moe_update_bias;
  b.newton_schulz = cpu::newton_schulz;
  b.sum_squares = cpu::sum_squares;
  b.adamw_update = cpu::adamw_update;
  b.muon_momentum = cpu::muon_momentum;
  b.scaled_update = cpu::scaled_update;
  b.scale_in_place = cpu::scale_in_place;
  b.quant_matmul = cpu::quant_matmul;
  b.retention_forward = cpu::retention_forward;
  b.retention_backward = cpu::retention_backward;
  b.selective_scan_forward = cpu::selective_scan_forward;
  b.selective_scan_backward = cpu::selective_scan_backward;
  b.depthwise_conv1d_forward = cpu::depthwise_conv1d_forward;
  b.depthwise_conv1d_backward = cpu::depthwise_conv1d_backward;
  b.linear_attention_forward = cpu::linear_attention_forward;
  b.linear_attention_backward = cpu::linear_attention_backward;
  b.glu_forward = cpu::glu_forward;
  b.glu_backward = cpu::glu_backward;
  b.router_attention_forward = cpu::router_attention_forward;
  b.router_attention_backward = cpu::router_attention_backward;
  b.newton_schulz_bf16 = cpu::newton_schulz_bf16;
}

}  // namespace

const Backend& cpu_backend() {
  static const Backend cpu("cpu", Device::CPU, fill);
  return cpu;
}

}  // namespace tinyr2::kernels
