// The one dispatch point between the autograd ops and the kernels: a kernel backend per
// device, in the spirit of ggml's backends.
//
// A Backend is a table with one entry per kernel the ops launch (forward and backward, GEMM,
// attention, NSA, MoE, optimizer steps, ...). Every entry has a device-neutral signature:
// raw pointers into the device's memory, sizes, and the plain parameter structs of
// kernels/broadcast.h, kernels/params.h and kernels/nsa_params.h. The formulas and layouts
// of each kernel are documented once, at the CPU kernel named in the group comment.
//
// An op takes the backend of its inputs' device and calls through it, once per launch:
//
//   const kernels::Backend& kern = kernels::backend(x.device());
//   kern.rmsnorm_forward(x.data(), w.data(), y.data(), rstd.data(), R, C, eps);
//
// Which backward entries accumulate (+=) and which write their gradient buffer is part of
// each kernel's contract (docs/ops.md, "Gradient buffers"); a backend keeps it.
//
// An entry a backend lacks is null: supports(kernel) / supports_op(op) report it, and calling
// it throws an Error naming the kernel and the backend (never a crash).
//
// Adding a backend (e.g. CUDA): add its value to Device (core/tensor.h), write its kernels
// under src/kernels/<name>/ with a <name>/backend.cpp that fills a Backend like
// cpu/backend.cpp does, and add its one registration line to backends() in backend.cpp. No
// op changes: they reach it through backend(device), and the op-parity tests run every case
// on it (tests/support/op_case.h).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "kernels/broadcast.h"
#include "kernels/nsa_params.h"
#include "kernels/params.h"
#include "kernels/quant_format.h"

namespace tinyr2::kernels {

// Every entry of a Backend, in declaration order (the X-macro behind Kernel, kernel_name and
// the naming of the entries; a static_assert in backend.cpp checks it matches the members).
// clang-format off
#define TINYR2_BACKEND_KERNELS(X)                                                             \
  X(gemm) X(gemm_batched) X(gemm_bf16) X(gemm_bf16_batched)                                  \
  X(binary_forward) X(binary_backward) X(expand_forward) X(expand_backward) X(axpy)           \
  X(scale_forward) X(add_scalar_forward) X(relu2_forward) X(relu2_backward) X(gelu_forward)   \
  X(gelu_backward) X(silu_forward) X(silu_backward) X(sigmoid_forward) X(sigmoid_backward)    \
  X(tanh_forward) X(tanh_backward) X(exp_forward) X(exp_backward)                             \
  X(copy_rows) X(permute_copy) X(gather_rows) X(scatter_add_rows)                             \
  X(sum_dim_forward) X(sum_dim_backward) X(sum_all_forward) X(sum_all_backward)               \
  X(rmsnorm_forward) X(rmsnorm_backward) X(softmax_forward) X(softmax_backward)               \
  X(log_softmax_forward) X(log_softmax_backward) X(cross_entropy_forward)                     \
  X(cross_entropy_backward) X(linear_cross_entropy) X(linear_cross_entropy_bf16)              \
  X(rope_table) X(rope_forward) X(rope_backward) X(topk_forward)                              \
  X(range_attention_forward) X(range_attention_backward) X(index_attention_forward)           \
  X(index_attention_backward)                                                                 \
  X(block_attention_forward) X(block_attention_backward) X(nsa_compression_forward)           \
  X(nsa_compression_backward) X(window_attention_forward) X(window_attention_backward)                                    \
  X(copy_out_columns) X(copy_in_columns) X(gated_sum_forward) X(gated_sum_backward)           \
  X(stream_mix_forward) X(stream_mix_backward) X(sinkhorn_forward) X(sinkhorn_backward)       \
  X(orthostochastic_forward) X(orthostochastic_backward)                                      \
  X(moe_route_weights_forward) X(moe_route_weights_backward) X(moe_balance_loss_forward)      \
  X(moe_balance_loss_backward) X(moe_dispatch) X(moe_experts_forward) X(moe_experts_backward) \
  X(moe_update_bias)                                                                          \
  X(newton_schulz) X(sum_squares) X(adamw_update) X(muon_momentum) X(scaled_update)           \
  X(scale_in_place) X(quant_matmul)                                                           \
  X(retention_forward) X(retention_backward) X(selective_scan_forward)                        \
  X(selective_scan_backward) X(depthwise_conv1d_forward) X(depthwise_conv1d_backward)       \
  X(linear_attention_forward) X(linear_attention_backward)                                    \
  X(glu_forward) X(glu_backward)                                                              \
  X(router_attention_forward) X(router_attention_backward)                                    \
  X(newton_schulz_bf16)
// clang-format on

enum class Kernel {
#define TINYR2_KERNEL_ENUM(name) name,
  TINYR2_BACKEND_KERNELS(TINYR2_KERNEL_ENUM)
#undef TINYR2_KERNEL_ENUM
};

std::string_view kernel_name(Kernel kernel);
// Every Kernel, in declaration order.
std::span<const Kernel> all_kernels();

// "cpu", ...; for a value without a name, "device #<value>".
std::string device_name(Device device);

// Throws the Error of a call to an entry the backend lacks.
[[noreturn]] void missing_kernel(std::string_view backend, Kernel kernel);

// One entry: a function pointer (null when the backend lacks the kernel) that knows its
// kernel and backend, so a call through a null entry throws instead of crashing. Calling it
// costs one test and one indirect call per kernel launch.
template <typename Signature>
class Entry;

template <typename R, typename... Args>
class Entry<R(Args...)> {
 public:
  using Fn = R (*)(Args...);

  Entry& operator=(Fn fn) {
    fn_ = fn;
    return *this;
  }
  // Taking another backend's entry takes its function only (this entry keeps its names).
  Entry& operator=(const Entry& other) {
    fn_ = other.fn_;
    return *this;
  }
  bool defined() const { return fn_ != nullptr; }
  R operator()(Args... args) const {
    if (fn_ == nullptr) [[unlikely]]
      missing_kernel(backend_, kernel_);
    return fn_(std::forward<Args>(args)...);
  }

 private:
  friend struct Backend;
  Fn fn_ = nullptr;
  std::string_view backend_;
  Kernel kernel_{};
};

struct Backend {
  // Names every entry (for the error of a missing one), then lets `fill` set the entries
  // this backend has; the others stay null.
  Backend(std::string_view name, Device device, void (*fill)(Backend&));
  // Backends live for the whole program and ops hold them by reference (also in backward
  // closures): never copied.
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const std::string_view name;
  const Device device;

  // Whether the entry of `kernel` is filled.
  bool supports(Kernel kernel) const;
  // Whether every kernel the op `op` launches (an autograd op's name, e.g. "rmsnorm",
  // "causal_attention"; op_kernels()) is filled. Throws for an unknown op name.
  bool supports_op(std::string_view op) const;
  // The kernels this backend lacks.
  std::vector<Kernel> missing() const;

  // ---- GEMM (cpu/gemm.h): C = alpha·op(A)·op(B) + beta·C, row-major
  Entry<void(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
             const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
             int64_t ldc)>
      gemm;
  Entry<void(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
             float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
             int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c)>
      gemm_batched;
  // ---- bf16 GEMM (cpu/gemm_bf16.h, SPEC §13): the same products with both operands rounded
  // to bf16, fp32 accumulation; `native` picks the AVX512_BF16 path, else the emulation.
  Entry<void(bool native, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
             const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
             int64_t ldc)>
      gemm_bf16;
  Entry<void(bool native, int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N,
             int64_t K, float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
             int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c)>
      gemm_bf16_batched;
  // ---- Elementwise (cpu/elementwise.h): broadcasting binary ops, scalar ops, activations
  Entry<void(BinaryOp op, const BroadcastPlan& p, const float* a, const float* b, float* out)>
      binary_forward;
  Entry<void(BinaryOp op, const BroadcastPlan& p, const float* a, const float* b, const float* g,
             float* da, float* db)>
      binary_backward;
  Entry<void(const BroadcastPlan& p, const float* a, float* out)> expand_forward;
  Entry<void(const BroadcastPlan& p, const float* g, float* da)> expand_backward;
  Entry<void(int64_t n, float alpha, const float* x, float* y)> axpy;
  Entry<void(const float* x, float s, float* y, int64_t n)> scale_forward;
  Entry<void(const float* x, float s, float* y, int64_t n)> add_scalar_forward;
  Entry<void(const float* x, float* y, int64_t n)> relu2_forward;
  Entry<void(const float* x, const float* g, float* dx, int64_t n)> relu2_backward;
  Entry<void(const float* x, float* y, int64_t n)> gelu_forward;
  Entry<void(const float* x, const float* g, float* dx, int64_t n)> gelu_backward;
  Entry<void(const float* x, float* y, int64_t n)> silu_forward;
  Entry<void(const float* x, const float* g, float* dx, int64_t n)> silu_backward;
  Entry<void(const float* x, float* y, int64_t n)> sigmoid_forward;
  Entry<void(const float* y, const float* g, float* dx, int64_t n)> sigmoid_backward;
  Entry<void(const float* x, float* y, int64_t n)> tanh_forward;
  Entry<void(const float* y, const float* g, float* dx, int64_t n)> tanh_backward;
  Entry<void(const float* x, float* y, int64_t n)> exp_forward;
  Entry<void(const float* y, const float* g, float* dx, int64_t n)> exp_backward;
  // ---- Layout copies (cpu/elementwise.h) and row gathers (cpu/gather.h)
  Entry<void(const float* src, int64_t src_ld, float* dst, int64_t dst_ld, int64_t rows,
             int64_t len, bool accumulate)>
      copy_rows;
  Entry<void(const float* x, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& perm,
             float* out, bool accumulate)>
      permute_copy;
  Entry<void(const float* x, const int32_t* idx, float* out, int64_t M, int64_t C, bool accumulate)>
      gather_rows;
  Entry<void(const float* src, const int32_t* idx, float* out, int64_t M, int64_t N, int64_t C)>
      scatter_add_rows;
  // ---- Sums (cpu/reduce.h)
  Entry<void(const float* x, float* out, int64_t outer, int64_t n, int64_t inner, double scale)>
      sum_dim_forward;
  Entry<void(const float* g, float* dx, int64_t outer, int64_t n, int64_t inner, double scale)>
      sum_dim_backward;
  Entry<double(const float* x, int64_t n, double scale)> sum_all_forward;
  Entry<void(float g, float* dx, int64_t n, double scale)> sum_all_backward;
  // ---- Normalisation, softmax, losses (cpu/rmsnorm.h, softmax.h, cross_entropy.h,
  // linear_cross_entropy.h)
  Entry<void(const float* x, const float* w, float* y, float* rstd, int64_t R, int64_t C,
             float eps)>
      rmsnorm_forward;
  Entry<void(const float* x, const float* w, const float* rstd, const float* g, float* dx,
             float* dw, int64_t R, int64_t C)>
      rmsnorm_backward;
  Entry<void(const float* x, float* y, int64_t R, int64_t C)> softmax_forward;
  Entry<void(const float* y, const float* g, float* dx, int64_t R, int64_t C)> softmax_backward;
  Entry<void(const float* x, float* y, int64_t R, int64_t C)> log_softmax_forward;
  Entry<void(const float* y, const float* g, float* dx, int64_t R, int64_t C)> log_softmax_backward;
  Entry<double(const float* logits, const int32_t* targets, float* lse, int64_t N, int64_t V,
               int32_t ignore_index)>
      cross_entropy_forward;
  Entry<void(const float* logits, const int32_t* targets, const float* lse, float scale,
             float* dlogits, int64_t N, int64_t V, int32_t ignore_index)>
      cross_entropy_backward;
  Entry<double(const float* h, const float* W, const int32_t* targets, int64_t N, int64_t C,
               int64_t V, int32_t ignore_index, float scale, float* lse, float* dh, float* dW,
               int64_t chunk_rows)>
      linear_cross_entropy;
  // The same head with bf16 products (cpu/linear_cross_entropy_bf16.h).
  Entry<double(bool native, const float* h, const float* W, const int32_t* targets, int64_t N,
               int64_t C, int64_t V, int32_t ignore_index, float scale, float* lse, float* dh,
               float* dW, int64_t chunk_rows)>
      linear_cross_entropy_bf16;
  // ---- RoPE (cpu/rope.h) and top-k (cpu/topk.h)
  Entry<void(const int32_t* pos, int64_t T, int64_t D, float theta, float* cos_tab, float* sin_tab)>
      rope_table;
  Entry<void(const float* x, const float* cos_tab, const float* sin_tab, float* y, int64_t B,
             int64_t T, int64_t H, int64_t D)>
      rope_forward;
  Entry<void(const float* g, const float* cos_tab, const float* sin_tab, float* dx, int64_t B,
             int64_t T, int64_t H, int64_t D)>
      rope_backward;
  Entry<void(const float* x, float* values, int32_t* indices, int64_t R, int64_t n, int64_t k)>
      topk_forward;
  // ---- Attention (cpu/attention.h, index_attention.h)
  Entry<void(const float* q, const float* k, const float* v, float* o, float* lse, int64_t B,
             int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv, float scale,
             const int32_t* lo, const int32_t* hi)>
      range_attention_forward;
  Entry<void(const float* q, const float* k, const float* v, const float* o, const float* lse,
             const float* dout, float* dq, float* dk, float* dv, int64_t B, int64_t Tq, int64_t Tk,
             int64_t H, int64_t Dk, int64_t Dv, float scale, const int32_t* lo, const int32_t* hi)>
      range_attention_backward;
  Entry<void(const float* q, const float* k, const float* v, const int32_t* idx, float* o,
             float* lse, int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv,
             int64_t n, float scale)>
      index_attention_forward;
  Entry<void(const float* q, const float* k, const float* v, const int32_t* idx, const float* o,
             const float* lse, const float* dout, float* dq, float* dk, float* dv, int64_t B,
             int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv, int64_t n, float scale)>
      index_attention_backward;
  // ---- NSA (cpu/nsa_block_attention.h, nsa_compression.h, nsa_window_attention.h, nsa_fused.h)
  Entry<void(const float* q, const float* k, const float* v, const int32_t* blocks, float* o,
             float* lse, int64_t B, int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv,
             int64_t n, int64_t block_size, int64_t q_offset, float scale)>
      block_attention_forward;
  Entry<void(const float* q, const float* k, const float* v, const int32_t* blocks, const float* o,
             const float* lse, const float* dout, float* dq, float* dk, float* dv, int64_t B,
             int64_t Tq, int64_t Tk, int64_t H, int64_t Dk, int64_t Dv, int64_t n,
             int64_t block_size, int64_t q_offset, float scale)>
      block_attention_backward;
  Entry<void(const float* q, const float* k, const float* v, float* o, float* lse, int32_t* blocks,
             int64_t B, int64_t T, int64_t nb, int64_t H, int64_t Dk, int64_t Dv, float scale,
             const NsaSelectParams& p, int64_t q_pos0)>
      nsa_compression_forward;
  Entry<void(const float* q, const float* k, const float* v, const float* o, const float* lse,
             const float* dout, float* dq, float* dk, float* dv, int64_t B, int64_t T, int64_t nb,
             int64_t H, int64_t Dk, int64_t Dv, float scale, const NsaSelectParams& p,
             int64_t q_pos0)>
      nsa_compression_backward;
  Entry<void(const float* q, const float* k, const float* v, float* o, float* lse, float* scores,
             int64_t B, int64_t T, int64_t H, int64_t Dk, int64_t Dv, int64_t window, float scale)>
      window_attention_forward;
  Entry<void(const float* q, const float* k, const float* v, const float* o, const float* lse,
             const float* scores, const float* dout, float* dq, float* dk, float* dv, int64_t B,
             int64_t T, int64_t H, int64_t Dk, int64_t Dv, int64_t window, float scale)>
      window_attention_backward;
  Entry<void(const float* y, int64_t M, int64_t N, const ColumnBlock& block, const float* cos_tab,
             const float* sin_tab, int64_t T, float* out)>
      copy_out_columns;
  Entry<void(const float* g, int64_t M, int64_t N, const ColumnBlock& block, const float* cos_tab,
             const float* sin_tab, int64_t T, float* dy)>
      copy_in_columns;
  Entry<void(const float* const* outs, const float* gates, float* y, int64_t M, int64_t H,
             int64_t Dv, int64_t G, int64_t n)>
      gated_sum_forward;
  Entry<void(const float* const* outs, const float* gates, const float* dy, float* const* douts,
             float* dgates, int64_t M, int64_t H, int64_t Dv, int64_t G, int64_t n)>
      gated_sum_backward;
  // ---- Hyper-connections (cpu/stream_mix.h)
  Entry<void(const float* R, const float* M, float* out, int64_t N, int64_t S, int64_t T, int64_t C,
             bool per_token)>
      stream_mix_forward;
  Entry<void(const float* R, const float* M, const float* g, float* dR, float* dM, int64_t N,
             int64_t S, int64_t T, int64_t C, bool per_token)>
      stream_mix_backward;
  Entry<void(const float* logits, float* H, int64_t S, double tau, int64_t iters)> sinkhorn_forward;
  Entry<void(const float* logits, const float* dH, float* dlogits, int64_t S, double tau,
             int64_t iters)>
      sinkhorn_backward;
  Entry<void(const float* L, float* H, int64_t S, int64_t steps, double eps,
             const std::array<double, 3>& coeffs)>
      orthostochastic_forward;
  Entry<void(const float* L, const float* dH, float* dL, int64_t S, int64_t steps, double eps,
             const std::array<double, 3>& coeffs)>
      orthostochastic_backward;
  // ---- DSMoE (cpu/moe.h, moe_experts.h)
  Entry<void(const float* p, const int32_t* idx, float* w, int64_t N, int64_t E, int64_t K,
             bool normalize)>
      moe_route_weights_forward;
  Entry<void(const float* p, const int32_t* idx, const float* dw, float* dp, int64_t N, int64_t E,
             int64_t K, bool normalize)>
      moe_route_weights_backward;
  Entry<float(const float* w, const int32_t* idx, int64_t N, int64_t E, int64_t K, float c)>
      moe_balance_loss_forward;
  Entry<void(const float* w, const int32_t* idx, float dloss, float* dw, int64_t N, int64_t E,
             int64_t K, float c)>
      moe_balance_loss_backward;
  // The dispatch plan (host data) from the routing choice idx (N, K).
  Entry<MoeDispatch(const int32_t* idx, int64_t N, int64_t K, int64_t E)> moe_dispatch;
  Entry<void(const MoeDispatch& d, const float* x, const float* g, const float* mask,
             const MoeExpertWeights& w, int64_t C, int64_t H, float* xg, float* z, float* y,
             float* out)>
      moe_experts_forward;
  Entry<void(const MoeDispatch& d, const float* dout, const float* g, const float* mask,
             const MoeExpertWeights& w, int64_t C, int64_t H, const float* xg, const float* z,
             const float* y, float* dx, float* dg, const MoeExpertGrads& dw)>
      moe_experts_backward;
  // The expert-bias update after a step (counts: host data, per expert).
  Entry<void(float* bias, const int64_t* counts, int64_t E, float rate)> moe_update_bias;
  // ---- Optimizers (cpu/newton_schulz.h, optim.h)
  Entry<void(const float* G, float* out, int64_t rows, int64_t cols, int steps,
             NewtonSchulzCoeffs coeffs, float eps)>
      newton_schulz;
  Entry<double(const float* x, int64_t n)> sum_squares;
  Entry<void(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s)>
      adamw_update;
  Entry<void(const float* g, float* m, float* u, int64_t n, float beta, float one_minus_beta)>
      muon_momentum;
  Entry<void(float* p, const float* u, int64_t n, float decay, float alpha)> scaled_update;
  Entry<void(float* x, int64_t n, float s)> scale_in_place;
  // ---- Quantized products (cpu/quant_dot.h, SPEC §13): y (M × rows, row stride ldy) =
  // x (M × cols) · Wᵀ, W Q8_0 / Q4_0, x quantized to Q8_0 on the fly, integer dot products.
  Entry<void(QuantType type, const uint8_t* w, int64_t rows, int64_t cols, const float* x,
             int64_t M, float* y, int64_t ldy, QuantPath path)>
      quant_matmul;
  // ---- Retention (cpu/retention.h, SPEC §10): chunked, state (B,H,D,D) or null
  Entry<void(const float* q, const float* k, const float* v, float* o, float* state, int64_t B,
             int64_t T, int64_t H, int64_t D, float scale)>
      retention_forward;
  Entry<void(const float* q, const float* k, const float* v, const float* go, float* dq, float* dk,
             float* dv, int64_t B, int64_t T, int64_t H, int64_t D, float scale)>
      retention_backward;
  // ---- Mamba (cpu/selective_scan.h, cpu/depthwise_conv.h, SPEC §10)
  Entry<void(const float* u, const float* dt, const float* dt_bias, const float* A_log,
             const float* Bm, const float* Cm, const float* D, float* y, float* state, int64_t B,
             int64_t T, int64_t d, int64_t N)>
      selective_scan_forward;
  Entry<void(const float* u, const float* dt, const float* dt_bias, const float* A_log,
             const float* Bm, const float* Cm, const float* D, const float* gy, float* du,
             float* ddt, float* ddt_bias, float* dA_log, float* dBm, float* dCm, float* dD,
             int64_t B, int64_t T, int64_t d, int64_t N)>
      selective_scan_backward;
  Entry<void(const float* x, const float* w, const float* bias, float* y, int64_t B, int64_t T,
             int64_t d, int64_t K)>
      depthwise_conv1d_forward;
  Entry<void(const float* x, const float* w, const float* gy, float* dx, float* dw, float* dbias,
             int64_t B, int64_t T, int64_t d, int64_t K)>
      depthwise_conv1d_backward;
  // ---- Causal linear attention, chunked (cpu/linear_attention.h; SPEC §10 "Linear")
  Entry<void(const float* q, const float* k, const float* v, float* o, float* den, float* S,
             float* z, int64_t B, int64_t T, int64_t H, int64_t D, int64_t chunk)>
      linear_attention_forward;
  Entry<void(const float* q, const float* k, const float* v, const float* o, const float* den,
             const float* dout, float* dq, float* dk, float* dv, int64_t B, int64_t T, int64_t H,
             int64_t D, int64_t chunk)>
      linear_attention_backward;
  // ---- Gated linear unit act(a) ⊙ b (cpu/glu.h; SPEC §11)
  Entry<void(const float* a, const float* b, float* y, int64_t n, GluActivation act)> glu_forward;
  Entry<void(const float* a, const float* b, const float* dy, float* da, float* db, int64_t n,
             GluActivation act)>
      glu_backward;
  // ---- Yuan 2.0-M32's attention router, fused (cpu/router_attention.h; SPEC §11)
  Entry<void(const float* qkv, float* z, int64_t N, int64_t E)> router_attention_forward;
  Entry<void(const float* qkv, const float* dz, float* dqkv, int64_t N, int64_t E)>
      router_attention_backward;
  // ---- Newton–Schulz with bf16 products (cpu/newton_schulz_bf16.h; SPEC §13): Muon under
  // train.precision "bf16"; `native` picks the AVX512_BF16 path, else the emulation.
  Entry<void(bool native, const float* G, float* out, int64_t rows, int64_t cols, int steps,
             NewtonSchulzCoeffs coeffs, float eps)>
      newton_schulz_bf16;
};

// The backend of `device`; throws an Error naming the device when this build has none.
const Backend& backend(Device device);
// Every backend of this build, and their devices (what the op-parity harness loops over).
std::span<const Backend* const> backends();
std::vector<Device> devices();
// The lookup behind backend(device), among the given backends.
const Backend& find_backend(Device device, std::span<const Backend* const> among);

// The kernels each autograd op launches (forward and backward), by op name; empty for an
// unknown name. op_names() lists every op of the table.
std::span<const Kernel> op_kernels(std::string_view op);
std::vector<std::string_view> op_names();

}  // namespace tinyr2::kernels
