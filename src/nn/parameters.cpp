#include "nn/parameters.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace tinyr2::nn {

Tensor Parameters::add(const std::string& name, const Shape& shape, Init init, bool buffer) {
  TINYR2_CHECK(!index_.count(name), "parameter {} registered twice", name);
  if (init.kind == Init::Kind::Values)
    TINYR2_CHECK(static_cast<int64_t>(init.values.size()) == shape_numel(shape),
                 "{}: {} init values for shape {}", name, init.values.size(), shape_str(shape));
  // An unfilled tensor's pages are never touched, so they never become resident.
  Tensor t = unfilled_.count(name) ? Tensor::empty(shape) : Tensor::zeros(shape);
  t.set_requires_grad(!buffer);
  index_[name] = entries_.size();
  entries_.push_back({name, t, buffer, std::move(init)});
  return t;
}

void Parameters::init_all(uint64_t seed) {
  Rng rng(seed);
  for (auto& e : entries_) {
    Tensor& t = e.tensor;
    switch (e.init.kind) {
      case Init::Kind::Normal:
        rng.normal(t.data(), t.numel(), 0.f, e.init.value);
        break;
      case Init::Kind::Constant:
        t.fill(e.init.value);
        break;
      case Init::Kind::Values:
        t.copy_from(Tensor::from_vector(t.shape(), e.init.values));
        break;
      case Init::Kind::Uniform:
        rng.uniform(t.data(), t.numel(), -e.init.value, e.init.value);
        break;
      case Init::Kind::DtBias: {
        const float lo = std::log(e.init.values[0]), hi = std::log(e.init.values[1]);
        rng.uniform(t.data(), t.numel(), lo, hi);
        for (int64_t i = 0; i < t.numel(); ++i) {
          const double dt = std::max(std::exp(static_cast<double>(t.data()[i])),
                                     static_cast<double>(e.init.values[2]));
          t.data()[i] = static_cast<float>(dt + std::log(-std::expm1(-dt)));
        }
        break;
      }
    }
  }
}

std::vector<Tensor> Parameters::trainable() const {
  std::vector<Tensor> out;
  for (const auto& e : entries_)
    if (!e.buffer) out.push_back(e.tensor);
  return out;
}

const NamedTensor* Parameters::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

int64_t Parameters::count(bool include_buffers) const {
  int64_t n = 0;
  for (const auto& e : entries_)
    if (include_buffers || !e.buffer) n += e.tensor.numel();
  return n;
}

std::map<std::string, Tensor> Parameters::state_dict() const {
  std::map<std::string, Tensor> sd;
  for (const auto& e : entries_) sd[e.name] = e.tensor;
  return sd;
}

void Parameters::load_state_dict(const std::map<std::string, Tensor>& sd,
                                 const std::string& source) {
  for (const auto& [name, t] : sd)
    if (!index_.count(name))
      fail("{}: unexpected tensor \"{}\" (not a parameter of this model)", source, name);
  for (auto& e : entries_) {
    if (unfilled_.count(e.name)) continue;
    auto it = sd.find(e.name);
    if (it == sd.end()) fail("{}: missing tensor \"{}\"", source, e.name);
    if (it->second.shape() != e.tensor.shape())
      fail("{}: tensor \"{}\" has shape {}, the config needs {}", source, e.name,
           shape_str(it->second.shape()), shape_str(e.tensor.shape()));
    e.tensor.copy_from(it->second);
  }
}

}  // namespace tinyr2::nn
