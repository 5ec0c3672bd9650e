// What a forward pass carries besides activations: the tape, the mode, the random stream
// for gate noise and dropout, the value-residual source, and the MoE auxiliary losses.
#pragma once

#include <vector>

#include "autograd/tape.h"
#include "core/rng.h"

namespace tinyr2::nn {

struct QuantizedWeights;  // nn/quantized.h
class LoraAdapters;       // nn/lora.h

struct ForwardContext {
  explicit ForwardContext(Tape& t) : tape(t) {}

  Tape& tape;
  bool training = false;   // gate noise and dropout act only in training
  bool gate_noise = true;  // parity tests switch the MoE gate noise off
  Rng* rng = nullptr;      // required when training with noise or dropout

  Tensor v_first;                      // raw v of the first FULL layer (value residual)
  std::vector<Tensor> balance_losses;  // one L_bal per MoE layer
  // When set, the tape's size at the start of each block is appended (data-parallel
  // training: a block's gradients are final once backward is below its mark).
  std::vector<size_t>* block_marks = nullptr;
  // The quantized weights of a model loaded from a quantized GGUF (set by Model), or null.
  const QuantizedWeights* quantized = nullptr;
  // The LoRA adapters applied on top of the model's Linears (SPEC §12, set by Model), or null.
  const LoraAdapters* lora = nullptr;
  // A block's forward re-run during backward (nn/lora_recompute.h): the MoE routing
  // statistics (counts, drops, rows computed) were taken by the first run and are not counted
  // again.
  bool replay = false;
};

}  // namespace tinyr2::nn
