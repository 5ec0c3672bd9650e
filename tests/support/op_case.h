// Loading the PyTorch oracle's op cases (reference/gen_op_cases.py) and comparing.
//
// A parity test runs each case on every kernel backend of the build (kernels::devices()):
//   for (OpCase& c : load_op_cases("rmsnorm"))
//     for_each_backend(c, [&](OpCase& c, Tape& tape) {  // c: the case on one device
//       Tensor y = ops::rmsnorm(tape, c.in("x"), c.in("w"), c.attr<float>("eps"));
//       check_case(c, tape, {y});  // output 1e-5, every input gradient 1e-4 (relative)
//     });
// so a new backend's ops are held to the same PyTorch float64 expectations, and to each other,
// without new test code.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/tape.h"
#include "core/index_tensor.h"

namespace tinyr2::testing {

constexpr double kOutputTol = 1e-5;  // max|a-e| / max|e|
constexpr double kGradTol = 1e-4;

struct OpCase {
  std::string name;
  std::map<std::string, Tensor> inputs;    // require grad when the oracle computed one
  std::map<std::string, IndexTensor> idx;  // integer inputs
  std::vector<Tensor> outputs;             // expected
  std::vector<Tensor> grad_outputs;        // upstream gradients (may be undefined)
  std::map<std::string, Tensor> grads;     // expected input gradients
  nlohmann::json attrs;
  Device device = Device::CPU;  // where the inputs live

  // What check_case measured (on the host), for comparing backends with each other.
  std::vector<Tensor> actual_outputs;
  std::map<std::string, Tensor> actual_grads;
  double out_tol = kOutputTol, grad_tol = kGradTol;  // the tolerances it checked them at

  Tensor& in(const std::string& k);
  const IndexTensor& index(const std::string& k) const;
  template <typename T>
  T attr(const std::string& k) const {
    return attrs.at(k).get<T>();
  }
};

// Every case of `op` in $TINYR2_REF_DIR/ops (default: the build's ref/ops). Fails the test
// when there is none: a missing oracle must never look like a pass.
std::vector<OpCase> load_op_cases(const std::string& op);

// max|a-e| / max(max|e|, floor, 1e-30); shapes must match.
double relative_error(const Tensor& actual, const Tensor& expected, double floor = 0);

// Compares `outputs` with the case's, runs backward from the case's upstream gradients and
// compares every input gradient the oracle computed.
void check_case(OpCase& c, Tape& tape, const std::vector<Tensor>& outputs,
                double out_tol = kOutputTol, double grad_tol = kGradTol);

// The case with its inputs copied to `device` (fresh leaves, same requires_grad), nothing
// measured yet. The expectations stay on the host.
OpCase on_device(const OpCase& c, Device device);

// Runs `run` once per device with a kernel backend in this build, on the case copied there
// (a fresh Tape each time); `run` checks it with check_case. Then every backend's outputs
// and gradients are compared with the first backend's (relative, at the check tolerances).
void for_each_backend(const OpCase& c, const std::function<void(OpCase& c, Tape& tape)>& run);

}  // namespace tinyr2::testing
