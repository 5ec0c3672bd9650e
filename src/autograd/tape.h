// Reverse-mode automatic differentiation on a tape.
//
// Every differentiable op (autograd/ops.h) runs its forward kernel and, when gradients are
// wanted, appends one node to the Tape: a closure that reads the gradient of the op's
// outputs and accumulates (+=) into the gradients of its inputs. backward() seeds the loss
// gradient and runs the nodes in reverse order. Each node is destroyed right after it
// runs, which frees the activations it saved and the gradients of its (non-leaf) outputs.
//
// There is no global tape: a Tape is an object the caller owns and passes to the ops, and
// NoGradGuard turns recording off for one tape (inference, the optimizer, evaluation).
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "core/tensor.h"

namespace tinyr2 {

// The precision of the matrix products the ops on a tape run (SPEC §13, train.precision):
// fp32, or bf16 operands with fp32 accumulation, natively (AVX512_BF16) or emulated. The
// caller (the trainer) decides it once per run from the CPU's features; norms, softmax,
// losses and reductions stay fp32 either way.
struct MatmulPrecision {
  bool bf16 = false;
  bool native = false;  // bf16 only: the AVX512_BF16 path (else the fp32 emulation)
};

class Tape {
 public:
  using BackwardFn = std::function<void()>;

  bool grad_enabled() const { return grad_enabled_; }
  void set_grad_enabled(bool on) { grad_enabled_ = on; }

  // True when an op on these inputs must be recorded.
  bool needs_grad(std::initializer_list<const Tensor*> inputs) const;
  bool needs_grad(const std::vector<Tensor>& inputs) const;

  // Marks the outputs as requiring grad and appends the node. The closure runs once,
  // during backward(), only if at least one output has received a gradient.
  void record(std::vector<Tensor> outputs, BackwardFn fn);

  // Seeds d(root)/d(root) = 1 (root must have one element) and runs the tape backwards.
  void backward(Tensor root);
  // Seeds root.grad = seed (same shape as root), then runs the tape backwards.
  void backward(Tensor root, const Tensor& seed);

  MatmulPrecision matmul_precision() const { return precision_; }
  void set_matmul_precision(MatmulPrecision p) { precision_ = p; }

  // Called during backward() after each node with the number of nodes still to run (data-
  // parallel training posts the gradients that became final, train/distributed.h).
  void set_after_node(std::function<void(size_t remaining)> fn) { after_node_ = std::move(fn); }

  size_t size() const { return nodes_.size(); }
  void clear() { nodes_.clear(); }

 private:
  struct Node {
    std::vector<Tensor> outputs;
    BackwardFn fn;
  };
  void run_backward();

  std::vector<Node> nodes_;
  bool grad_enabled_ = true;
  MatmulPrecision precision_;
  std::function<void(size_t)> after_node_;
};

// Turns recording off for the lifetime of the guard (like torch.no_grad()).
class NoGradGuard {
 public:
  explicit NoGradGuard(Tape& tape) : tape_(tape), previous_(tape.grad_enabled()) {
    tape_.set_grad_enabled(false);
  }
  ~NoGradGuard() { tape_.set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  Tape& tape_;
  bool previous_;
};

}  // namespace tinyr2
