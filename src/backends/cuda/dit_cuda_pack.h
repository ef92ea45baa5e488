// Internal to the CUDA DiT: the byte layout of one block's weights in its contiguous pack (the same
// for every block of a model), so that a whole block moves between pinned host memory and a device
// slot with one copy, and DitBlockWeights tensors are views at fixed offsets.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "backends/cuda/dit_cuda.h"

namespace wan22::cuda::detail {

struct PackEntry {
  Tensor DitBlockWeights::*member;
  const char* name;  // for messages: "self_attn.qkv.weight", ...
  DType dtype;
  Shape shape;
  size_t offset = 0;  // bytes from the pack start (256-byte aligned)
};

struct PackLayout {
  std::vector<PackEntry> entries;
  size_t bytes = 0;
};

// Every tensor of a block except `modulation` (which stays on the device, outside the pack).
PackLayout pack_layout(const DitConfig& cfg, WeightFormat format);

// Views of every entry into `pack` (a u8 tensor of layout.bytes, on any device); `modulation` is
// left as it is in `into`.
void pack_views(const PackLayout& layout, const Tensor& pack, DitBlockWeights& into);

// The entry of `member` (throws if the layout has none).
const PackEntry& pack_entry(const PackLayout& layout, Tensor DitBlockWeights::*member);

}  // namespace wan22::cuda::detail
