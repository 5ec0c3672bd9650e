// Recomputed blocks in LoRA training (SPEC §12; issue 15: a LoRA step's peak memory). With a
// frozen base almost all of a step's memory is the activations the tape keeps for backward;
// a block of a LoRA training forward keeps none of them: it runs once without
// recording, and one tape node re-runs it on a tape of its own during backward and back-
// propagates the block output's gradient through that (activation checkpointing). Only the
// block's input and output stay alive in between.
//
// Results are unchanged, bit for bit: the recomputed forward sees the same inputs, weights
// and random stream (ctx.rng is replayed from a copy), and the gradients reach R, the value
// residual v_first and the adapters in the same order as without recomputation. A block that
// produces v_first (the first FULL layer, SPEC §2) hands the later layers a stand-in that
// collects their gradient, which seeds the recomputed v_first's gradient.
//
// An MoE block's balance loss is handled like v_first: the forward's value stands in for it in
// the model's loss and collects its gradient, which seeds the recomputed balance loss's; the
// recomputation runs with ctx.replay set, so the routing statistics are counted once. No
// block of a forward with ctx.block_marks set is recomputed (data-parallel training; the
// tests use it to compare both ways).
#pragma once

#include "nn/block.h"

namespace tinyr2::nn {

// Whether block `block` of `n_blocks` is recomputed: any but the last, in a LoRA training
// forward that records.
bool lora_recomputes(const ForwardContext& ctx, size_t block, size_t n_blocks);

// b.forward(ctx, R, btc), recomputed in backward (lora_recomputes must hold).
Tensor recomputed_block(ForwardContext& ctx, const Block& b, const Tensor& R, const Shape& btc);

}  // namespace tinyr2::nn
