// The tensor core: float32 n-d arrays with shared, 64-byte-aligned, contiguous storage.
//
// A Tensor is a cheap handle (like torch.Tensor): copying it shares the same data. Every
// tensor is row-major contiguous; views that keep contiguity (reshape, a range of rows
// along dim 0) share storage through an element offset. Everything else copies.
//
// Each tensor also carries its autograd state (requires_grad and the accumulated .grad);
// the tape that records operations lives in autograd/tape.h.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace tinyr2 {

using Shape = std::vector<int64_t>;

// Where a tensor's bytes live. Only the CPU exists today; a CUDA backend adds a value here
// and its own kernels behind the same op functions: the ops call kernels through
// kernels::backend(device) (src/kernels/backend.h; docs/ops.md, "Adding a backend").
enum class Device { CPU };

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);

// One owned, aligned buffer. Never resized.
struct Storage {
  explicit Storage(int64_t numel, Device device = Device::CPU);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data = nullptr;
  int64_t numel = 0;
  Device device = Device::CPU;
};

class Tensor;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (like a null pointer)

  // ---- construction ----
  static Tensor empty(const Shape& shape);  // uninitialised
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  static Tensor scalar(float value) { return full({}, value); }

  // ---- shape ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;

  // ---- data ----
  float* data();
  const float* data() const;
  float item() const;  // the value of a one-element tensor
  std::vector<float> to_vector() const;
  Device device() const;

  // ---- views and copies (no autograd; autograd/ops.h has the differentiable versions) ----
  Tensor view(const Shape& shape) const;          // same storage, same numel, -1 inferred
  Tensor rows(int64_t begin, int64_t end) const;  // view of [begin,end) along dim 0
  Tensor clone() const;                           // deep copy, no grad state
  void copy_from(const Tensor& src);              // same numel required
  void fill(float value);
  bool shares_storage(const Tensor& other) const;

  // ---- autograd state (a Tensor is a handle: these act on the shared state, so they
  // are const like torch's) ----
  bool requires_grad() const;
  const Tensor& set_requires_grad(bool on) const;
  const Tensor& grad() const;       // undefined until a backward pass writes it
  Tensor& mutable_grad() const;     // the grad handle itself, for the optimizer and tape
  float* grad_accumulator() const;  // the grad buffer, allocated as zeros on first use
  // The grad buffer for a kernel that writes out·beta + new (a GEMM's beta): beta = 1 when
  // .grad exists; when it does not, the buffer is allocated uninitialised and beta = 0, so
  // the caller MUST write every element (no zero fill, no second pass over memory).
  float* grad_accumulator(float& beta) const;
  void zero_grad() const;  // drops .grad
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  int64_t numel = 0;
  bool requires_grad = false;
  Tensor grad;
};

}  // namespace tinyr2
