// The "Linear" sequence mixer (SPEC §10, nn/linear_attention.h):
//   - the chunked kernel equals the literal O(T²) sum (a closed form computed here in double)
//     for T below, at and across chunk boundaries, T = 1 included; its gradients match
//     finite differences of that sum;
//   - parameter count (closed form), a decode state of another layer type and a checkpoint
//     of another layer type are one-line errors.
// Elsewhere: parity of logits, loss and every gradient with the PyTorch reference in
// tests/nn/test_model_parity.cpp (Linear/…); cached decode = forward and the flat state bytes
// in tests/nn/test_sequence_mixer.cpp (Types/Mixer.*/linear); model causality and cached
// decoding in tests/nn/test_model_properties.cpp (Configs/ModelCausality.*).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops_linear_attention.h"
#include "core/error.h"
#include "nn/linear_attention.h"
#include "nn/mixer_factory.h"
#include "nn/model.h"
#include "support/cli.h"
#include "support/op_case.h"
#include "support/random_tensor.h"
#include "support/small_model.h"

namespace tinyr2::nn {

namespace {

using testing::random_tensor;
using testing::small_model_config;

// The literal definition in double: o_t = Σ_{u≤t} (φq_t·φk_u) v_u / (Σ_{u≤t} φq_t·φk_u + 1e-6).
std::vector<double> literal_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3);
  auto phi = [](double u) { return u > 0 ? u + 1 : std::exp(u); };
  std::vector<double> o(static_cast<size_t>(q.numel()));
  auto at = [&](int64_t b, int64_t t, int64_t h) { return ((b * T + t) * H + h) * D; };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> num(static_cast<size_t>(D), 0.0);
        double den = 1e-6;
        for (int64_t u = 0; u <= t; ++u) {
          double a = 0;
          for (int64_t d = 0; d < D; ++d)
            a += phi(q.data()[at(b, t, h) + d]) * phi(k.data()[at(b, u, h) + d]);
          den += a;
          for (int64_t e = 0; e < D; ++e) num[e] += a * v.data()[at(b, u, h) + e];
        }
        for (int64_t e = 0; e < D; ++e) o[at(b, t, h) + e] = num[e] / den;
      }
  return o;
}

}  // namespace

TEST(LinearAttention, ChunkedKernelEqualsTheLiteralSum) {
  // T = 1, below a chunk, exactly one, across several with a ragged tail.
  for (int64_t T : {1, 5, 64, 150}) {
    const Tensor q = random_tensor({2, T, 3, 8}, 1 + T), k = random_tensor({2, T, 3, 8}, 2 + T),
                 v = random_tensor({2, T, 3, 8}, 3 + T);
    Tape tape;
    NoGradGuard ng(tape);
    const Tensor o = ops::linear_attention(tape, q, k, v);
    const std::vector<double> e = literal_linear_attention(q, k, v);
    double err = 0, mx = 0;
    for (int64_t i = 0; i < o.numel(); ++i) {
      err = std::max(err, std::abs(o.data()[i] - e[i]));
      mx = std::max(mx, std::abs(e[i]));
    }
    EXPECT_LE(err / mx, 1e-5) << "T = " << T;
  }
}

TEST(LinearAttention, GradientsMatchFiniteDifferences) {
  // T = 70 crosses a chunk boundary; L = Σ w ⊙ o for a fixed random w.
  const int64_t T = 70, H = 2, D = 4;
  const Tensor q = random_tensor({1, T, H, D}, 11), k = random_tensor({1, T, H, D}, 12),
               v = random_tensor({1, T, H, D}, 13), w = random_tensor({1, T, H, D}, 14);
  auto loss = [&](const std::vector<double>& o) {
    double s = 0;
    for (size_t i = 0; i < o.size(); ++i) s += o[i] * w.data()[i];
    return s;
  };
  Tape tape;
  for (const Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  const Tensor o = ops::linear_attention(tape, q, k, v);
  tape.backward(o, w);
  const Tensor* inputs[3] = {&q, &k, &v};
  for (int which = 0; which < 3; ++which) {
    const Tensor& x = *inputs[which];
    double err = 0, mx = 0;
    for (int64_t i : {int64_t{0}, int64_t{7}, int64_t{131}, int64_t{260}, x.numel() - 1}) {
      const float keep = x.data()[i];
      const double h = 1e-3;
      const_cast<float*>(x.data())[i] = static_cast<float>(keep + h);
      const double up = loss(literal_linear_attention(q, k, v));
      const_cast<float*>(x.data())[i] = static_cast<float>(keep - h);
      const double down = loss(literal_linear_attention(q, k, v));
      const_cast<float*>(x.data())[i] = keep;
      const double fd = (up - down) / (2 * h);
      err = std::max(err, std::abs(fd - x.grad().data()[i]));
      mx = std::max(mx, std::abs(fd));
    }
    EXPECT_LE(err / mx, 2e-3) << "input " << which;
  }
}

TEST(LinearAttention, ParameterCountIsTheClosedForm) {
  const ModelConfig cfg = small_model_config(R"({"attention_types": ["Linear"]})");
  Parameters p;
  const auto mixer = make_sequence_mixer(p, "blocks.0.attn.", cfg, 0);
  const int64_t C = cfg.n_embd;
  EXPECT_EQ(mixer->num_params(), 3 * C * C + C * C);  // c_attn (3C,C), c_proj (C,C)
  std::vector<std::string> names;
  for (const NamedTensor& e : mixer->named_parameters()) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"blocks.0.attn.c_attn.weight",
                                             "blocks.0.attn.c_proj.weight"}));
}

TEST(LinearAttention, ForeignStateAndForeignCheckpointAreErrors) {
  const ModelConfig lin = small_model_config(R"({"attention_types": ["Linear"]})");
  const ModelConfig full = small_model_config(R"({"attention_types": ["FULL"]})");
  Parameters p1, p2;
  const auto a = make_sequence_mixer(p1, "blocks.0.attn.", lin, 0);
  const auto b = make_sequence_mixer(p2, "blocks.0.attn.", full, 0);
  const auto foreign = b->new_state();
  Tape tape;
  NoGradGuard ng(tape);
  ForwardContext ctx(tape);
  EXPECT_THROW(a->forward_cached(ctx, random_tensor({1, 1, lin.n_embd}, 1), *foreign, 0), Error);

  // A FULL model's tensors under a Linear config: the loader names the tensor.
  tinyr2::testing::TempDir tmp("linear_ckpt");
  Model m(full);
  m.init(1);
  m.save(tmp / "m");
  nlohmann::json j = lin.to_json();
  tinyr2::testing::write_file(tmp / "m/config.json", j.dump());
  try {
    Model::load(tmp / "m");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("lamb"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

}  // namespace tinyr2::nn
