// Run-time helpers of the GPU VAE (vae_cuda.cpp): the per-call buffer pool, the GPU-time
// profiler, activations and causal-cache slots. Internal to vae_cuda.cpp.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "core/tensor.h"

namespace wan22::cuda::vae_net {

// Buffers reused within one decode/encode call. The VAE allocates and frees large activations in
// every chunk; through the caching allocator each free can trim the cache (cudaFree, which
// synchronises the device and stalls the host's run-ahead) and each allocation can then need a
// fresh cudaMalloc. The pool keeps released blocks and hands them out again (best fit within 25%
// slack). Blocks that served no request during the last two chunks go back to the allocator (the
// first chunk's one-frame sizes never recur); clear() returns everything.
class BufferPool {
 public:
  BufferPool(Device dev, bool enabled)
      : dev_(dev), enabled_(enabled), state_(std::make_shared<State>()) {}

  Tensor get(const Shape& shape, DType dt) {
    if (!enabled_) return Tensor::empty(shape, dt, dev_);
    const size_t need =
        (static_cast<size_t>(shape_numel(shape)) * dtype_size(dt) + 4095) / 4096 * 4096;
    auto& free = state_->free;
    auto it = free.lower_bound(need);
    Block b;
    if (it != free.end() && it->first <= need + need / 4) {
      b = it->second;
      free.erase(it);
    } else {
      b.t = Tensor::empty({static_cast<int64_t>(std::max<size_t>(need, 4096))}, DType::kU8, dev_);
    }
    b.gen = state_->gen;
    std::weak_ptr<State> ws = state_;
    void* data = b.t.raw_data();
    std::shared_ptr<void> keep(data, [ws, b](void*) {
      if (auto st = ws.lock()) st->free.emplace(b.t.nbytes(), b);
    });
    return Tensor::from_blob(data, shape, dt, dev_, std::move(keep));
  }
  // A new chunk begins: free blocks that served no request in the last two chunks go back to the
  // allocator (two: the first chunk of the next tile must not evict the steady-state blocks).
  void next_chunk() {
    auto& free = state_->free;
    for (auto it = free.begin(); it != free.end();) {
      it = it->second.gen + 2 < state_->gen ? free.erase(it) : std::next(it);
    }
    ++state_->gen;
  }
  void clear() { state_->free.clear(); }

 private:
  struct Block {
    Tensor t;         // device bytes
    int64_t gen = 0;  // the chunk that last took it
  };
  struct State {
    std::multimap<size_t, Block> free;
    int64_t gen = 0;
  };
  Device dev_;
  bool enabled_;
  std::shared_ptr<State> state_;
};

// GPU time by kind of work: an event after every operation of a call, the time between two
// consecutive events charged to the operation that ends at the second (so the GPU's idle time
// waiting for the host lands on the operation it waited for). Off unless enabled (benchmarks).
struct Profiler {
  enum Kind { kStart, kConv, kNorm, kElementwise, kCopy, kAttention, kLayout, kKinds };
  bool on = false;
  std::vector<std::pair<int, cudaEvent_t>> marks;
  void mark(int kind, cudaStream_t st) {
    if (!on) return;
    cudaEvent_t e = nullptr;
    WAN22_CUDA_CHECK(cudaEventCreate(&e));
    WAN22_CUDA_CHECK(cudaEventRecord(e, st));
    marks.emplace_back(kind, e);
  }
  // Seconds per kind since the first mark (synchronises); clears the marks.
  std::vector<double> collect() {
    std::vector<double> t(kKinds, 0.0);
    if (!marks.empty()) WAN22_CUDA_CHECK(cudaEventSynchronize(marks.back().second));
    for (size_t i = 1; i < marks.size(); ++i) {
      float ms = 0.0f;
      WAN22_CUDA_CHECK(cudaEventElapsedTime(&ms, marks[i - 1].second, marks[i].second));
      t[static_cast<size_t>(marks[i].first)] += ms * 1e-3;
    }
    for (auto& m : marks) cudaEventDestroy(m.second);
    marks.clear();
    return t;
  }
};

// Returns a pool's free blocks when a public call ends (normally or by an exception).
struct PoolReset {
  BufferPool* pool;
  ~PoolReset() { pool->clear(); }
};

// An activation [t, h, w, c] (c padded) on the device.
struct Act {
  Tensor t;
  int64_t T = 0, H = 0, W = 0, C = 0;
  void* p() const { return t.raw_data(); }
  int64_t rows() const { return T * H * W; }
};

// One causal-cache slot (the reference's feat_cache entry) on the device.
struct Slot {
  enum class State { kEmpty, kRep, kFrames };
  State state = State::kEmpty;
  Tensor frames;  // [n, h, w, c]
};

}  // namespace wan22::cuda::vae_net
