#include "support/op_case.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "io/safetensors.h"
#include "kernels/backend.h"

namespace tinyr2::testing {

namespace {

// A copy of t on `device`. Only the CPU holds tensors today; a device backend brings its
// transfer (and this is where the harness calls it).
Tensor copy_to(const Tensor& t, Device device) {
  if (!t.defined()) return t;
  if (device != Device::CPU || t.device() != Device::CPU)
    throw std::runtime_error("no tensor copy from " + kernels::device_name(t.device()) + " to " +
                             kernels::device_name(device));
  return t.clone();
}

}  // namespace

Tensor& OpCase::in(const std::string& k) {
  auto it = inputs.find(k);
  if (it == inputs.end()) throw std::runtime_error("case " + name + " has no input " + k);
  return it->second;
}

const IndexTensor& OpCase::index(const std::string& k) const {
  auto it = idx.find(k);
  if (it == idx.end()) throw std::runtime_error("case " + name + " has no index input " + k);
  return it->second;
}

std::vector<OpCase> load_op_cases(const std::string& op) {
  const char* env = std::getenv("TINYR2_REF_DIR");
  const std::filesystem::path dir = std::filesystem::path(env ? env : TINYR2_REF_DIR) / "ops";
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<OpCase> cases;
  for (const auto& f : files) {
    io::SafetensorsData d = io::load_safetensors(f.string());
    if (d.metadata["op"] != op) continue;
    OpCase c;
    c.name = f.stem().string();
    c.attrs = nlohmann::json::parse(d.metadata["attrs"]);
    for (auto& [k, t] : d.tensors) {
      if (k.rfind("input.", 0) == 0)
        c.inputs[k.substr(6)] = t;
      else if (k.rfind("grad.", 0) == 0)
        c.grads[k.substr(5)] = t;
    }
    for (size_t i = 0;; ++i) {
      const std::string key = "output." + std::to_string(i);
      Tensor t;
      if (d.tensors.count(key)) {
        t = d.tensors[key];
      } else if (d.int_tensors.count(key)) {  // integer outputs (top-k indices) as float
        const auto& it = d.int_tensors[key];
        std::vector<float> v(it.values.begin(), it.values.end());
        t = Tensor::from_vector(it.shape, v);
      } else {
        break;
      }
      c.outputs.push_back(t);
      const std::string gk = "grad_output." + std::to_string(i);
      c.grad_outputs.push_back(d.tensors.count(gk) ? d.tensors[gk] : Tensor());
    }
    for (auto& [k, t] : d.int_tensors) {
      if (k.rfind("idx.", 0) != 0) continue;
      std::vector<int32_t> v(t.values.begin(), t.values.end());
      c.idx[k.substr(4)] = IndexTensor(t.shape, v);
    }
    for (auto& [k, t] : c.inputs)
      if (c.grads.count(k)) t.set_requires_grad(true);
    cases.push_back(std::move(c));
  }
  EXPECT_FALSE(cases.empty()) << "no reference cases for op '" << op << "' in " << dir
                              << " (run reference/gen_op_cases.py)";
  return cases;
}

double relative_error(const Tensor& a, const Tensor& e, double floor) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(e.shape()));
  if (a.shape() != e.shape()) return INFINITY;
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::abs(static_cast<double>(a.data()[i]) - e.data()[i]);
    num = std::isnan(d) ? INFINITY : std::max(num, d);
    den = std::max(den, std::abs(static_cast<double>(e.data()[i])));
  }
  return num / std::max({den, floor, 1e-30});
}

namespace {
double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(double(t.data()[i])));
  return m;
}
}  // namespace

void check_case(OpCase& c, Tape& tape, const std::vector<Tensor>& outputs, double out_tol,
                double grad_tol) {
  ASSERT_EQ(outputs.size(), c.outputs.size()) << c.name;
  const std::string where = c.name + " on " + kernels::device_name(c.device);
  c.actual_outputs.clear();
  c.actual_grads.clear();
  c.out_tol = out_tol;
  c.grad_tol = grad_tol;
  for (size_t i = 0; i < outputs.size(); ++i) {
    c.actual_outputs.push_back(copy_to(outputs[i], Device::CPU));
    EXPECT_LE(relative_error(c.actual_outputs[i], c.outputs[i]), out_tol)
        << where << " output " << i;
  }
  if (c.grads.empty()) return;
  // Seed every output with its upstream gradient, then run the tape once.
  Tensor root;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!c.grad_outputs[i].defined()) continue;
    ASSERT_TRUE(outputs[i].requires_grad()) << c.name << ": output " << i << " has no grad";
    Tensor o = outputs[i];
    float* g = o.grad_accumulator();
    for (int64_t j = 0; j < o.numel(); ++j) g[j] += c.grad_outputs[i].data()[j];
  }
  // backward() needs a root; the seeds above are already in place, so seed it with zeros.
  for (size_t i = 0; i < outputs.size(); ++i)
    if (c.grad_outputs[i].defined()) {
      root = outputs[i];
      break;
    }
  ASSERT_TRUE(root.defined());
  tape.backward(root, Tensor::zeros(root.shape()));
  // A gradient that is zero in exact arithmetic (attention with window 1: the softmax over a
  // single key does not depend on its logit) is float64 rounding in the oracle, ~1e-16 of the
  // case's scale, and float32 rounding here, ~1e-7, in whichever order the kernel sums: its
  // error is measured against the case's largest gradient instead of against itself.
  std::map<std::string, double> scale;  // max |expected| of each gradient
  double case_scale = 0;
  for (auto& [k, expected] : c.grads)
    case_scale = std::max(case_scale, scale[k] = max_abs(expected));
  for (auto& [k, expected] : c.grads) {
    const Tensor& g = c.in(k).grad();
    ASSERT_TRUE(g.defined()) << where << ": no gradient reached input " << k;
    c.actual_grads[k] = copy_to(g, Device::CPU);
    const double floor = scale[k] < 1e-10 * case_scale ? case_scale : 0.0;
    EXPECT_LE(relative_error(c.actual_grads[k], expected, floor), grad_tol)
        << where << " grad of " << k;
  }
}

OpCase on_device(const OpCase& c, Device device) {
  OpCase d;
  d.name = c.name;
  d.idx = c.idx;
  d.outputs = c.outputs;
  d.grad_outputs = c.grad_outputs;
  d.grads = c.grads;
  d.attrs = c.attrs;
  d.device = device;
  for (const auto& [k, t] : c.inputs) {
    Tensor copy = copy_to(t, device);
    if (t.requires_grad()) copy.set_requires_grad(true);
    d.inputs[k] = copy;
  }
  return d;
}

void for_each_backend(const OpCase& c, const std::function<void(OpCase& c, Tape& tape)>& run) {
  const std::vector<Device> devices = kernels::devices();
  ASSERT_FALSE(devices.empty()) << "no kernel backend in this build";
  std::vector<OpCase> ran;
  for (Device device : devices) {
    ran.push_back(on_device(c, device));
    Tape tape;
    run(ran.back(), tape);
  }
  // Backends against each other: each within the check tolerances of the first.
  const OpCase& first = ran.front();
  for (size_t b = 1; b < ran.size(); ++b) {
    const OpCase& other = ran[b];
    const std::string pair = c.name + ": " + kernels::device_name(other.device) + " vs " +
                             kernels::device_name(first.device);
    ASSERT_EQ(other.actual_outputs.size(), first.actual_outputs.size()) << pair;
    for (size_t i = 0; i < first.actual_outputs.size(); ++i)
      EXPECT_LE(relative_error(other.actual_outputs[i], first.actual_outputs[i]), first.out_tol)
          << pair << " output " << i;
    for (const auto& [k, g] : first.actual_grads) {
      auto it = other.actual_grads.find(k);
      ASSERT_TRUE(it != other.actual_grads.end()) << pair << ": no gradient of " << k;
      EXPECT_LE(relative_error(it->second, g), first.grad_tol) << pair << " grad of " << k;
    }
  }
}

}  // namespace tinyr2::testing
