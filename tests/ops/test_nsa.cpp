// The Sparse layer's fused ops (autograd/ops_nsa.h) against the PyTorch oracle
// (reference/opcases/nsa.py), plus properties: block attention equals index attention over
// the same tokens (forward and every gradient), never looks past the query, and the fused
// compression kernel chooses exactly the blocks the stand-alone selection kernel chooses, and
// the window kernel gives bit-identical results on any thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "autograd/ops_attention.h"
#include "autograd/ops_nsa.h"
#include "core/cpu_features.h"
#include "core/rng.h"
#include "core/threads.h"
#include "kernels/cpu/nsa_compression.h"
#include "kernels/cpu/nsa_select.h"
#include "kernels/cpu/nsa_window_attention.h"
#include "support/op_case.h"
#include "support/random_tensor.h"

namespace tinyr2 {
using testing::check_case;
using testing::for_each_backend;
using testing::load_op_cases;
using testing::OpCase;
using testing::relative_error;

using testing::random_tensor;

namespace {

Tensor as_float(const IndexTensor& x) {
  return Tensor::from_vector(x.shape, std::vector<float>(x.data.begin(), x.data.end()));
}

kernels::cpu::NsaSelectParams select_params(const testing::OpCase& c) {
  return {c.attr<int64_t>("l"), c.attr<int64_t>("d"),    c.attr<int64_t>("ls"),
          c.attr<int64_t>("n"), c.attr<int64_t>("init"), c.attr<int64_t>("local")};
}

// Random blocks per query (distinct, starting at or before its position, some −1).
IndexTensor random_blocks(int64_t B, int64_t Tq, int64_t Tk, int64_t n, int64_t bs,
                          int64_t q_offset, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> v(static_cast<size_t>(B * Tq * n), -1);
  std::vector<float> u(static_cast<size_t>(2 * n));
  for (int64_t bt = 0; bt < B * Tq; ++bt) {
    const int64_t last = std::min(q_offset + bt % Tq, Tk - 1) / bs;
    rng.uniform(u.data(), static_cast<int64_t>(u.size()));
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t j =
          static_cast<int32_t>(std::min<int64_t>(last, static_cast<int64_t>(u[i] * (last + 1))));
      if (u[n + i] < 0.15f ||
          std::find(v.begin() + bt * n, v.begin() + bt * n + c, j) != v.begin() + bt * n + c)
        continue;
      v[bt * n + c++] = j;
    }
  }
  return IndexTensor({B, Tq, n}, v);
}

// The token list index attention needs for the same keys: u ≤ position in the blocks.
IndexTensor token_lists(const IndexTensor& blocks, int64_t bs, int64_t Tk, int64_t q_offset) {
  const int64_t B = blocks.size(0), Tq = blocks.size(1), n = blocks.size(2);
  std::vector<int32_t> v(static_cast<size_t>(B * Tq * n * bs), -1);
  for (int64_t bt = 0; bt < B * Tq; ++bt) {
    int64_t w = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = blocks.data[bt * n + i];
      if (j < 0) continue;
      for (int64_t u = j * bs; u < std::min({(j + 1) * bs, Tk, q_offset + bt % Tq + 1}); ++u)
        v[bt * n * bs + w++] = static_cast<int32_t>(u);
    }
  }
  return IndexTensor({B, Tq, n * bs}, v);
}

}  // namespace

TEST(OpParity, BlockAttention) {
  for (auto& c : load_op_cases("block_attention")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      Tensor y = ops::block_attention(tape, c.in("q"), c.in("k"), c.in("v"), c.index("blocks"),
                                      c.attr<int64_t>("block_size"), c.attr<float>("scale"),
                                      c.attr<int64_t>("q_offset"));
      const int64_t row = y.size(2) * y.size(3);  // query (0,0) has only padding: exactly 0
      for (int64_t i = 0; i < row; ++i) ASSERT_EQ(y.data()[i], 0.f) << c.name;
      check_case(c, tape, {y});
    });
  }
}

// On one thread and on five, where heads with fewer (b, h) pairs than threads run the
// backward on query parts with private dk, dv sums (cases 2 and 3: 5 and 3 parts).
TEST(OpParity, CompressedAttention) {
  for (int nt : {1, 5}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    for (auto& c : load_op_cases("compressed_attention")) {
      SCOPED_TRACE(std::to_string(nt) + " threads");
      for_each_backend(c, [&](OpCase& c, Tape& tape) {
        IndexTensor blocks;
        Tensor y =
            ops::compressed_attention(tape, c.in("q"), c.in("k"), c.in("v"), c.attr<float>("scale"),
                                      select_params(c), c.attr<int64_t>("q_pos0"), true, &blocks);
        check_case(c, tape, {y, as_float(blocks)});
      });
    }
  }
}

TEST(OpParity, NsaWindowAttention) {
  int n = 0;
  for (auto& c : load_op_cases("window_attention")) {
    ++n;
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      check_case(c, tape,
                 {ops::window_attention(tape, c.in("q"), c.in("k"), c.in("v"),
                                        c.attr<float>("scale"), c.attr<int64_t>("window"))});
    });
  }
  EXPECT_GT(n, 0) << "no window_attention cases";
}

// The window kernel's backward chunks are fixed by the window, not by the thread count: on
// 1, 2 and 3 threads (odd, so a phase's chunks are split unevenly) every output and gradient
// is bit-identical. T = 517 with window 100: 5 chunks of 100, a ragged last group.
TEST(NsaWindowAttention, BitIdenticalOnAnyThreadCount) {
  const int64_t B = 1, T = 517, H = 3, Dk = 96, Dv = 32, w = 100;
  const Tensor q0 = random_tensor({B, T, H, Dk}, 71), k0 = random_tensor({B, T, H, Dk}, 72),
               v0 = random_tensor({B, T, H, Dv}, 73), dy = random_tensor({B, T, H, Dv}, 74);
  std::vector<std::vector<float>> first;
  for (int nt : {1, 2, 3}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    Tensor q = q0.clone(), k = k0.clone(), v = v0.clone();
    for (Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
    Tape tape;
    const Tensor y = ops::window_attention(tape, q, k, v, 0.1f, w);
    tape.backward(y, dy);
    std::vector<std::vector<float>> got;
    for (const Tensor& t : {y, q.grad(), k.grad(), v.grad()})
      got.emplace_back(t.data(), t.data() + t.numel());
    if (first.empty())
      first = got;
    else
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(got[i], first[i]) << "tensor " << i << " on " << nt << " threads";
  }
}

// The backward reading the scores its forward kept gives the same bits as the backward that
// recomputes them, for the specialised widths (Dk 96, Dv 32) and others, windows whose tail
// tile is 16 or 32 keys or absent (w + 3 = 64), a window past T, and T not a multiple of 4;
// the saved scores are exactly scale·q·k at the kept columns of the visible keys.
TEST(NsaWindowAttention, SavedScoresGiveTheRecomputedBits) {
  struct Case {
    int64_t T, H, Dk, Dv, w;
  };
  for (const Case& c : {Case{203, 2, 96, 32, 128}, Case{150, 1, 96, 32, 61}, Case{90, 2, 24, 8, 20},
                        Case{37, 1, 96, 32, 100}}) {
    const int64_t B = 1, T = c.T, H = c.H, Dk = c.Dk, Dv = c.Dv;
    const float scale = 0.2f;
    const Tensor q = random_tensor({B, T, H, Dk}, 81), k = random_tensor({B, T, H, Dk}, 82),
                 v = random_tensor({B, T, H, Dv}, 83), dy = random_tensor({B, T, H, Dv}, 84);
    const int64_t L = kernels::nsa_window_score_columns(c.w, T);
    std::vector<float> scores(static_cast<size_t>(B * T * H * L), 0.f);
    std::vector<std::vector<float>> got[2];
    for (int keep = 0; keep < 2; ++keep) {
      std::vector<float> o(B * T * H * Dv), lse(B * T * H), dq(q.numel(), 0.f), dk(k.numel(), 0.f),
          dv(v.numel(), 0.f);
      float* s = keep ? scores.data() : nullptr;
      kernels::cpu::window_attention_forward(q.data(), k.data(), v.data(), o.data(), lse.data(), s,
                                             B, T, H, Dk, Dv, c.w, scale);
      kernels::cpu::window_attention_backward(q.data(), k.data(), v.data(), o.data(), lse.data(), s,
                                              dy.data(), dq.data(), dk.data(), dv.data(), B, T, H,
                                              Dk, Dv, c.w, scale);
      got[keep] = {o, lse, dq, dk, dv};
    }
    SCOPED_TRACE("T " + std::to_string(T) + " w " + std::to_string(c.w) + " Dk " +
                 std::to_string(Dk));
    for (size_t i = 0; i < got[0].size(); ++i) EXPECT_EQ(got[1][i], got[0][i]) << "tensor " << i;
    // Query t's newest tile starts at its group's end − 32: its own key t sits at column
    // t − (t − t mod 4 + 4 − 32) of tile 0.
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        double ref = 0;
        for (int64_t d = 0; d < Dk; ++d)
          ref += double(q.data()[(t * H + h) * Dk + d]) * k.data()[(t * H + h) * Dk + d];
        const int64_t col = t - (t - t % 4 + 4 - 32);
        EXPECT_NEAR(scores[(t * H + h) * L + col], scale * ref, 1e-4) << "t " << t << " h " << h;
      }
  }
}

TEST(OpParity, StackedLinear) {
  for (auto& c : load_op_cases("stacked_linear")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      std::vector<ops::StackedOutput> outputs;
      for (const auto& o : c.attrs.at("outputs")) {
        ops::StackedOutput out{{}, o[1].get<int64_t>(), o[2].get<int64_t>()};
        for (const auto& p : o[0])
          out.parts.push_back(
              {c.in(p[0].get<std::string>()), p[1].get<int64_t>(), p[2].get<int64_t>()});
        outputs.push_back(out);
      }
      std::shared_ptr<const ops::RopeTable> table;
      for (const auto& o : outputs)
        if (o.rope_heads > 0)
          table = ops::make_rope_table(c.attr<std::vector<int32_t>>("positions"), o.rope_dim,
                                       c.attr<float>("theta"));
      check_case(c, tape, ops::stacked_linear(tape, c.in("x"), outputs, table));
    });
  }
}

TEST(OpParity, GatedSum) {
  for (auto& c : load_op_cases("gated_sum")) {
    for_each_backend(c, [&](OpCase& c, Tape& tape) {
      std::vector<Tensor> outs;
      for (int64_t i = 0; i < c.attr<int64_t>("n"); ++i) {
        std::string name = "o";  // (not "o" + …: g++ 12 warns falsely on that, -Wrestrict)
        name += std::to_string(i);
        outs.push_back(c.in(name));
      }
      check_case(c, tape, {ops::gated_sum(tape, outs, c.in("g"))});
    });
  }
}

// Block attention is index attention over the tokens u ≤ t of the blocks: same output and
// gradients, for several block sizes (smaller than, equal to and larger than a key tile),
// training and decoding offsets, and query tiles with many different block sets — on one
// thread, and on three, where heads with fewer (b, h) pairs than threads split their query
// tiles into parts with private dk, dv sums (3 parts of 2, 2, 1 tiles for T = 260, one head),
// whose result is the same on every run.
TEST(NsaBlockAttention, MatchesIndexAttentionOverTheSameTokens) {
  struct Shape5 {
    int64_t B, Tq, Tk, H, Dk, Dv, n, bs, q_offset;
  };
  for (int nt : {1, 3}) {
    threads::ScopedNumThreads threads_for_this_test(nt);
    for (const Shape5& s :
         {Shape5{2, 150, 150, 2, 16, 8, 4, 32, 0}, Shape5{1, 200, 200, 3, 24, 12, 5, 8, 0},
          Shape5{1, 90, 90, 2, 96, 32, 2, 64, 0}, Shape5{1, 7, 300, 2, 16, 16, 4, 32, 293},
          Shape5{1, 260, 260, 1, 16, 8, 4, 32, 0}, Shape5{1, 200, 200, 2, 96, 32, 4, 32, 0}}) {
      Tensor q = random_tensor({s.B, s.Tq, s.H, s.Dk}, 1),
             k = random_tensor({s.B, s.Tk, s.H, s.Dk}, 2),
             v = random_tensor({s.B, s.Tk, s.H, s.Dv}, 3),
             g = random_tensor({s.B, s.Tq, s.H, s.Dv}, 4);
      const IndexTensor blocks = random_blocks(s.B, s.Tq, s.Tk, s.n, s.bs, s.q_offset, 5);
      const IndexTensor tokens = token_lists(blocks, s.bs, s.Tk, s.q_offset);
      std::vector<Tensor> grads[3];
      Tensor outs[3];
      for (int which = 0; which < 3; ++which) {  // block, index, block again
        Tensor qc = q.clone(), kc = k.clone(), vc = v.clone();
        for (Tensor* t : {&qc, &kc, &vc}) t->set_requires_grad(true);
        Tape tape;
        outs[which] = which != 1
                          ? ops::block_attention(tape, qc, kc, vc, blocks, s.bs, 0.3f, s.q_offset)
                          : ops::index_attention(tape, qc, kc, vc, tokens, 0.3f);
        tape.backward(outs[which], g);
        grads[which] = {qc.grad(), kc.grad(), vc.grad()};
      }
      SCOPED_TRACE("Tq " + std::to_string(s.Tq) + " bs " + std::to_string(s.bs) + " on " +
                   std::to_string(nt) + " threads");
      EXPECT_LE(relative_error(outs[0], outs[1]), 1e-5);
      for (int i = 0; i < 3; ++i) {
        EXPECT_LE(relative_error(grads[0][i], grads[1][i]), 1e-4) << "grad " << i;
        EXPECT_EQ(std::vector<float>(grads[0][i].data(), grads[0][i].data() + grads[0][i].numel()),
                  std::vector<float>(grads[2][i].data(), grads[2][i].data() + grads[2][i].numel()))
            << "grad " << i << " differs between two runs";
      }
    }
  }
}

// A block that reaches past the query contributes only its earlier tokens: changing the keys
// and values after position t leaves output row t bit-identical.
TEST(NsaBlockAttention, NeverSeesKeysAfterTheQuery) {
  const int64_t T = 100, H = 2, D = 16, bs = 32, n = 3;
  Tensor q = random_tensor({1, T, H, D}, 6), k = random_tensor({1, T, H, D}, 7),
         v = random_tensor({1, T, H, D}, 8);
  std::vector<int32_t> bl(static_cast<size_t>(T * n), -1);
  for (int64_t t = 0; t < T; ++t) {  // block 0, t's own block and the next (future) one
    bl[t * n] = 0;
    if (t / bs > 0) bl[t * n + 1] = static_cast<int32_t>(t / bs);
    if ((t / bs + 1) * bs < T) bl[t * n + 2] = static_cast<int32_t>(t / bs + 1);
  }
  const IndexTensor blocks({1, T, n}, bl);
  Tape tape;
  NoGradGuard ng(tape);
  const Tensor y = ops::block_attention(tape, q, k, v, blocks, bs, 0.25f);
  for (int64_t t0 : {0, 31, 32, 50, 98}) {
    Tensor k2 = k.clone(), v2 = v.clone();
    for (int64_t i = (t0 + 1) * H * D; i < T * H * D; ++i) {
      k2.data()[i] += 2.f;
      v2.data()[i] -= 3.f;
    }
    const Tensor y2 = ops::block_attention(tape, q, k2, v2, blocks, bs, 0.25f);
    for (int64_t i = 0; i < H * D; ++i)
      ASSERT_EQ(y.data()[t0 * H * D + i], y2.data()[t0 * H * D + i]) << t0;
  }
}

TEST(NsaBlockAttention, ChecksArguments) {
  Tape tape;
  Tensor q = Tensor::zeros({1, 4, 2, 8}), k = Tensor::zeros({1, 6, 2, 8}),
         v = Tensor::zeros({1, 6, 2, 4});
  EXPECT_THROW(ops::block_attention(tape, q, k, v, IndexTensor({1, 4, 1}, {0, 0, 2, -2}), 2, 1.f),
               Error);
  EXPECT_THROW(ops::block_attention(tape, q, k, v, IndexTensor({1, 4, 1}, {0, 0, 3, 0}), 2, 1.f),
               Error);
  EXPECT_THROW(ops::block_attention(tape, q, k, v, IndexTensor({1, 3, 1}, {0, 0, 0}), 2, 1.f),
               Error);
  EXPECT_THROW(ops::block_attention(tape, q, Tensor::zeros({1, 6, 2, 7}), v,
                                    IndexTensor({1, 4, 1}, {0, 0, 0, 0}), 2, 1.f),
               Error);
  EXPECT_NO_THROW(
      ops::block_attention(tape, q, k, v, IndexTensor({1, 4, 1}, {0, -1, 2, 1}), 2, 1.f));
}

// The fused kernel's lse and choice equal range attention's lse fed to the stand-alone
// selection (the same scores in the same order: bit-identical blocks), with and without
// the attention output, for training and decoding positions.
TEST(NsaCompression, ChoosesWhatTheSelectionKernelChooses) {
  namespace cpu = kernels::cpu;
  const int64_t B = 2, H = 3, Dk = 24, Dv = 8;
  for (const auto& [T, q_pos0, p] :
       {std::tuple<int64_t, int64_t, cpu::NsaSelectParams>{300, 0, {16, 16, 32, 3, 1, 2}},
        {200, 0, {16, 8, 16, 4, 1, 1}},
        {5, 400, {32, 16, 64, 2, 1, 1}}}) {
    const int64_t nb = (q_pos0 + T - p.block_size) / p.block_stride + 1;
    const Tensor q = random_tensor({B, T, H, Dk}, 11), k = random_tensor({B, nb, H, Dk}, 12),
                 v = random_tensor({B, nb, H, Dv}, 13);
    const float scale = 1.f / std::sqrt(float(Dk));
    std::vector<float> o(B * T * H * Dv), lse(B * T * H), lse2(B * T * H);
    std::vector<int32_t> fused(B * T * p.num_blocks), fused2(fused.size()), alone(fused.size());
    cpu::nsa_compression_forward(q.data(), k.data(), v.data(), o.data(), lse.data(), fused.data(),
                                 B, T, nb, H, Dk, Dv, scale, p, q_pos0);
    cpu::nsa_compression_forward(q.data(), k.data(), v.data(), nullptr, lse2.data(), fused2.data(),
                                 B, T, nb, H, Dk, Dv, scale, p, q_pos0);
    cpu::nsa_select_blocks(q.data(), k.data(), lse.data(), alone.data(), B, T, nb, H, Dk, scale, p,
                           q_pos0);
    EXPECT_EQ(fused, alone) << "T " << T;
    EXPECT_EQ(fused2, fused) << "T " << T;
    EXPECT_EQ(lse2, lse) << "T " << T;
    // The output and lse are range attention's (lo = 0, hi = visible blocks).
    std::vector<int32_t> lo(T, 0), hi(T);
    for (int64_t t = 0; t < T; ++t)
      hi[t] = static_cast<int32_t>(cpu::nsa_visible_blocks(q_pos0 + t, nb, p));
    Tape tape;
    NoGradGuard ng(tape);
    Tensor ref_lse;
    const Tensor ref = ops::range_attention(tape, q, k, v, scale, lo, hi, &ref_lse);
    EXPECT_LE(relative_error(Tensor::from_vector({B, T, H, Dv}, o), ref), 1e-6);
    for (int64_t i = 0; i < B * T * H; ++i) {  // −inf (nothing visible) in both, or close
      if (std::isinf(lse[i]) || std::isinf(ref_lse.data()[i])) {
        EXPECT_EQ(lse[i], ref_lse.data()[i]) << i;
      } else {
        EXPECT_NEAR(lse[i], ref_lse.data()[i], 1e-5f) << i;
      }
    }
  }
}

}  // namespace tinyr2
