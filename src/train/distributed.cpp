// Data-parallel communicators and gradient buckets; see distributed.h (SPEC §15).
#include "train/distributed.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#ifdef TINYR2_HAVE_MPI
#include <mpi.h>
#endif

#include "core/error.h"

namespace tinyr2::train {

void Communicator::abort(int status) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(status);
}

namespace {

#ifdef TINYR2_HAVE_MPI
int count_of(int64_t n) {
  TINYR2_CHECK(n >= 0 && n <= INT_MAX, "MPI message of {} elements", n);
  return static_cast<int>(n);
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) fail("MPI: {} failed (error {})", what, rc);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override {
    wait_all();
    MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return fmt::format("MPI rank {} of {}", rank_, size_); }

  void allreduce_sum(double* data, int64_t n) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
  void allreduce_sum(int64_t* data, int64_t n) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
  void broadcast(float* data, int64_t n, int root) override {
    check(MPI_Bcast(data, count_of(n), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  std::vector<uint64_t> allgather(uint64_t value) override {
    std::vector<uint64_t> all(static_cast<size_t>(size_));
    check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD),
          "MPI_Allgather");
    return all;
  }
  void send(const float* data, int64_t n, int to) override {
    check(MPI_Send(data, count_of(n), MPI_FLOAT, to, 0, MPI_COMM_WORLD), "MPI_Send");
  }
  void recv(float* data, int64_t n, int from) override {
    check(MPI_Recv(data, count_of(n), MPI_FLOAT, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "MPI_Recv");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  void start_allreduce_sum(float* data, int64_t n) override {
    MPI_Request r;
    check(MPI_Iallreduce(MPI_IN_PLACE, data, count_of(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r),
          "MPI_Iallreduce");
    pending_.push_back(r);
  }
  void progress() override {
    if (pending_.empty()) return;
    int done = 0;
    check(
        MPI_Testall(static_cast<int>(pending_.size()), pending_.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall");
    if (done) pending_.clear();
  }
  void wait_all() override {
    if (pending_.empty()) return;
    check(MPI_Waitall(static_cast<int>(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE),
          "MPI_Waitall");
    pending_.clear();
  }

  [[noreturn]] void abort(int status) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status);
  }

 private:
  int rank_ = 0, size_ = 1;
  std::vector<MPI_Request> pending_;
};
#endif

}  // namespace

std::unique_ptr<Communicator> make_communicator() {
  const char* world = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!world) return std::make_unique<Communicator>();
#ifdef TINYR2_HAVE_MPI
  return std::make_unique<MpiCommunicator>();
#else
  if (std::atoi(world) > 1)
    fail(
        "started by mpirun with {} ranks, but this tinyr2 was built without MPI (install "
        "libopenmpi-dev and rebuild)",
        world);
  return std::make_unique<Communicator>();
#endif
}

std::string mpi_support() {
#ifdef TINYR2_HAVE_MPI
  return fmt::format("Open MPI {}.{}.{}", OMPI_MAJOR_VERSION, OMPI_MINOR_VERSION,
                     OMPI_RELEASE_VERSION);
#else
  return "no";
#endif
}

// ---- parameter agreement ----

uint64_t parameter_hash(const nn::Model& model) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 0x100000001b3ull;
    }
  };
  for (const auto& e : model.params.all()) {
    mix(e.name.data(), e.name.size() + 1);
    for (const int64_t d : e.tensor.shape()) mix(&d, sizeof d);
    mix(e.tensor.data(), static_cast<size_t>(e.tensor.numel()) * sizeof(float));
  }
  return h;
}

void check_parameters_agree(Communicator& comm, const nn::Model& model, const std::string& when) {
  if (comm.size() == 1) return;
  const std::vector<uint64_t> all = comm.allgather(parameter_hash(model));
  std::vector<std::string> differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ.push_back(std::to_string(r));
  if (!differ.empty())
    fail(
        "data-parallel ranks disagree on the parameters {}: rank(s) {} differ from rank 0 "
        "(hash {:016x})",
        when, fmt::join(differ, ", "), all[0]);
}

// ---- gradient buckets ----

GradientReducer::GradientReducer(Communicator& comm,
                                 const std::vector<std::pair<std::string, Tensor>>& params,
                                 int64_t n_blocks, bool overlap)
    : comm_(comm), buckets_(static_cast<size_t>(n_blocks) + 1), overlap_(overlap) {
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = params[i].first;
    params_.push_back(params[i].second);
    size_t bucket = buckets_.size() - 1;
    if (name.rfind("blocks.", 0) == 0) {
      const size_t dot = name.find('.', 7);
      const int64_t b = std::stoll(name.substr(7, dot - 7));
      if (b >= 0 && b < n_blocks) bucket = static_cast<size_t>(b);
    }
    buckets_[bucket].tensors.push_back(i);
  }
}

void GradientReducer::post(Bucket& b) {
  int64_t n = 0;
  for (const size_t i : b.tensors) n += params_[i].numel();
  b.buffer.assign(static_cast<size_t>(n) + b.tensors.size(), 0.f);
  float* p = b.buffer.data();
  float* flags = p + n;
  for (size_t k = 0; k < b.tensors.size(); ++k) {
    const Tensor& t = params_[b.tensors[k]];
    const Tensor& g = t.grad();
    if (g.defined()) {
      std::memcpy(p, g.data(), static_cast<size_t>(t.numel()) * sizeof(float));
      flags[k] = 1.f;
    }
    p += t.numel();
  }
  comm_.start_allreduce_sum(b.buffer.data(), static_cast<int64_t>(b.buffer.size()));
  b.posted = true;
}

void GradientReducer::after_node(size_t remaining, const std::vector<size_t>& marks) {
  if (!overlap_) return;
  // Blocks run in order, so their marks ascend: post from the last block down.
  for (size_t k = std::min(marks.size(), buckets_.size() - 1); k-- > 0;) {
    Bucket& b = buckets_[k];
    if (b.posted) continue;
    if (remaining > marks[k]) break;  // block k still has nodes to run (and so do those before)
    post(b);
    ++early_;
  }
  comm_.progress();
}

double GradientReducer::finish() {
  for (Bucket& b : buckets_)
    if (!b.posted) post(b);
  const auto t0 = std::chrono::steady_clock::now();
  comm_.wait_all();
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const float inv = 1.f / static_cast<float>(comm_.size());
  for (Bucket& b : buckets_) {
    const float* p = b.buffer.data();
    int64_t n = 0;
    for (const size_t i : b.tensors) n += params_[i].numel();
    const float* flags = p + n;
    for (size_t k = 0; k < b.tensors.size(); ++k) {
      const Tensor& t = params_[b.tensors[k]];
      if (flags[k] > 0.f) {
        float* g = t.grad_accumulator();
        for (int64_t j = 0; j < t.numel(); ++j) g[j] = p[j] * inv;
      }
      p += t.numel();
    }
    b.buffer = {};
    b.posted = false;
  }
  return waited;
}

}  // namespace tinyr2::train
