// Internal to T5Cuda (t5_cuda.h): where the encoder's weights live and how streamed layers reach the
// device.
//
// Packs: every layer's weights sit in ONE contiguous u8 buffer (the same byte layout for every
// layer, entries 256-byte aligned), either on the device or in pinned host memory, so a layer moves
// between the two, or into a streaming slot, with one copy; the per-layer tensors are views at fixed
// offsets. The two small global weights (final norm, T5's shared position table) are a second pack.
//
// LayerStreamer: the copy stream and the events of double-buffered layer streaming (the idea of
// DitCuda's Streamer): layer k of the streamed ones is copied into slot k % 2 on the copy stream
// once the compute stream has released that slot (event `freed`), and the compute stream waits for
// the copy (event `ready`) before the layer's first use. No host synchronisation per layer.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "core/tensor.h"

namespace wan22::cuda::t5 {

// A byte layout of tensors in one pack; V is the struct of views it fills.
template <class V>
struct PackLayout {
  struct Entry {
    Tensor V::*member;
    DType dtype;
    Shape shape;
    size_t offset;  // bytes from the pack start
  };
  std::vector<Entry> entries;
  size_t bytes = 0;

  void add(Tensor V::*member, DType dtype, const Shape& shape) {
    constexpr size_t kAlign = 256;
    entries.push_back({member, dtype, shape, bytes});
    const size_t n = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    bytes = (bytes + n + kAlign - 1) / kAlign * kAlign;
  }
  // Views of every entry into `pack` (u8, at least `bytes`, on any device); they keep it alive.
  void views(const Tensor& pack, V& into) const {
    auto* base = static_cast<unsigned char*>(pack.raw_data());
    for (const Entry& e : entries) {
      into.*(e.member) = Tensor::from_blob(base + e.offset, e.shape, e.dtype, pack.device(), pack.storage());
    }
  }
  const Entry& entry(Tensor V::*member) const;
};

template <class V>
const typename PackLayout<V>::Entry& PackLayout<V>::entry(Tensor V::*member) const {
  for (const Entry& e : entries) {
    if (e.member == member) return e;
  }
  throw Error(ErrorCode::kInternal, "T5Cuda pack: no entry for the requested weight");
}

// A copy of `t` (contiguous, any device) on the device or in pinned host memory, enqueued on
// `stream` (the caller synchronises before `t` dies or the copy is read on the host).
Tensor copy_to(const Tensor& t, bool to_device, cudaStream_t stream);

class LayerStreamer {
 public:
  LayerStreamer();   // a non-blocking copy stream and four events
  ~LayerStreamer();  // synchronises the copy stream first
  LayerStreamer(const LayerStreamer&) = delete;
  LayerStreamer& operator=(const LayerStreamer&) = delete;

  // Start of a call whose slots were just allocated: their memory may still be in use by earlier
  // work on `compute` (the caching allocator reuses blocks in compute-stream order), so the first
  // copy into either slot waits for everything enqueued on `compute` so far.
  void begin(cudaStream_t compute);
  // Copies pinned host pack `src` into `slot` (index s = 0/1) once the compute stream released it.
  void issue(int s, const Tensor& src, const Tensor& slot);
  // The compute stream waits until slot s holds its layer.
  void acquire(int s, cudaStream_t compute);
  // The compute stream no longer reads slot s (the next issue(s) may overwrite it).
  void release(int s, cudaStream_t compute);
  // Blocks the host until every copy issued so far is done.
  void synchronize();

 private:
  cudaStream_t copy_ = nullptr;
  cudaEvent_t ready_[2] = {nullptr, nullptr};
  cudaEvent_t freed_[2] = {nullptr, nullptr};
};

}  // namespace wan22::cuda::t5
