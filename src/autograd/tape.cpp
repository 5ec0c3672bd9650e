#include "autograd/tape.h"

#include "core/error.h"

namespace tinyr2 {

bool Tape::needs_grad(std::initializer_list<const Tensor*> inputs) const {
  if (!grad_enabled_) return false;
  for (const Tensor* t : inputs)
    if (t && t->requires_grad()) return true;
  return false;
}

bool Tape::needs_grad(const std::vector<Tensor>& inputs) const {
  if (!grad_enabled_) return false;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

void Tape::record(std::vector<Tensor> outputs, BackwardFn fn) {
  for (Tensor& t : outputs) t.set_requires_grad(true);
  nodes_.push_back({std::move(outputs), std::move(fn)});
}

void Tape::backward(Tensor root) {
  TINYR2_CHECK(root.numel() == 1, "backward() without a seed needs a one-element root, got {}",
               shape_str(root.shape()));
  backward(root, Tensor::full(root.shape(), 1.0f));
}

void Tape::backward(Tensor root, const Tensor& seed) {
  TINYR2_CHECK(root.shape() == seed.shape(), "backward seed {} for root {}",
               shape_str(seed.shape()), shape_str(root.shape()));
  TINYR2_CHECK(root.requires_grad(), "backward() on a tensor that does not require grad");
  float* g = root.grad_accumulator();
  const float* s = seed.data();
  for (int64_t i = 0; i < root.numel(); ++i) g[i] += s[i];
  run_backward();
}

void Tape::run_backward() {
  // The grad mode is off while nodes run: backward closures never record.
  NoGradGuard guard(*this);
  while (!nodes_.empty()) {
    Node node = std::move(nodes_.back());
    nodes_.pop_back();
    bool any = false;
    for (const Tensor& t : node.outputs) any = any || t.grad().defined();
    if (any) node.fn();
    // Outputs of a recorded op are never leaves: their gradients are consumed now.
    for (Tensor& t : node.outputs) t.zero_grad();
    if (after_node_) after_node_(nodes_.size());
  }
}

}  // namespace tinyr2
