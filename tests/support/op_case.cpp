#include "support/op_case.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "io/safetensors.h"

namespace tinyr2::testing {

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
      if (k.rfind("input.", 0) == 0) c.inputs[k.substr(6)] = t;
      else if (k.rfind("grad.", 0) == 0) c.grads[k.substr(5)] = t;
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

double relative_error(const Tensor& a, const Tensor& e) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(e.shape()));
  if (a.shape() != e.shape()) return INFINITY;
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::abs(static_cast<double>(a.data()[i]) - e.data()[i]);
    num = std::isnan(d) ? INFINITY : std::max(num, d);
    den = std::max(den, std::abs(static_cast<double>(e.data()[i])));
  }
  return num / std::max(den, 1e-30);
}

void check_case(OpCase& c, Tape& tape, const std::vector<Tensor>& outputs, double out_tol,
                double grad_tol) {
  ASSERT_EQ(outputs.size(), c.outputs.size()) << c.name;
  for (size_t i = 0; i < outputs.size(); ++i)
    EXPECT_LE(relative_error(outputs[i], c.outputs[i]), out_tol) << c.name << " output " << i;
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
    if (c.grad_outputs[i].defined()) { root = outputs[i]; break; }
  ASSERT_TRUE(root.defined());
  tape.backward(root, Tensor::zeros(root.shape()));
  for (auto& [k, expected] : c.grads) {
    const Tensor& g = c.in(k).grad();
    ASSERT_TRUE(g.defined()) << c.name << ": no gradient reached input " << k;
    EXPECT_LE(relative_error(g, expected), grad_tol) << c.name << " grad of " << k;
  }
}

}  // namespace tinyr2::testing
