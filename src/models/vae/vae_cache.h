// The causal time cache of the Wan VAEs (the official `feat_cache` / `feat_idx` pair).
//
// Every causal convolution (and every temporal resample) owns one slot, visited in the same order
// in every chunk. A slot holds the last CACHE_T = 2 input frames of that layer from the previous
// chunk (or a "Rep" marker for the first chunk of a temporal upsample), so a chunk sees exactly the
// frames a whole-video pass would, and memory does not grow with the video length.
#pragma once
#include <cstddef>
#include <vector>

#include "core/tensor.h"

namespace wan22::models::vae {

inline constexpr int kCacheT = 2;

struct CacheSlot {
  enum class State { kEmpty, kRep, kFrames };
  State state = State::kEmpty;
  Tensor frames;  // [N, C, <=2, H, W] when state == kFrames
};

class FeatCache {
 public:
  // Call before each chunk: slots are visited again from the first.
  void begin_chunk() { idx_ = 0; }
  // The next slot of this chunk (created empty on the first chunk).
  CacheSlot& next() {
    if (idx_ >= slots_.size()) slots_.resize(idx_ + 1);
    return slots_[idx_++];
  }
  size_t size() const { return slots_.size(); }
  void clear() {
    slots_.clear();
    idx_ = 0;
  }

 private:
  std::vector<CacheSlot> slots_;
  size_t idx_ = 0;
};

}  // namespace wan22::models::vae
