// Device memory of the CUDA VAE decoder (src/backends/cuda/vae_cuda.cpp), from a replay of its
// buffer requests: every activation, conv stage ([2 cached frames | T new frames]), conv output,
// attention buffer and cache slot that `VaeCuda::decode_tiled` asks its BufferPool for, in the
// order it asks, for every causal chunk of one decoded region (the whole latent, or one tile).
//
// Two modes, as VaeCudaOptions::reuse_buffers:
//  - off: a buffer goes back to the allocator when its last reference drops; the peak is the
//    largest live set (plus the cache slots, which live for the whole region).
//  - on: a freed buffer stays in the pool (still allocated) and serves a later request of a size
//    in [need, need * 1.25]; buffers idle for two chunks go back. The peak is the largest
//    live + pooled set, which holds the working set of several levels at once.
// The caller adds the f32 video (and, tiled, the blend weights) that decode_tiled allocates.
#pragma once
#include <cstdint>
#include <string>

#include "models/vae/vae_config.h"

namespace wan22::plan {

struct VaeCudaDecodePeak {
  double peak_bytes = 0;   // largest allocated set of the region's decode (live + pooled + cache slots)
  double slot_bytes = 0;   // the cache slots (2 frames per causal conv) alive at that point
  double pooled_bytes = 0; // freed-but-pooled buffers at that point (0 without reuse)
  std::string where;       // the layer of the peak
};

// One region of lat_h x lat_w latent pixels and `frames` latent frames, decoded in chunks (the
// first chunk 1 latent frame, then `chunk` frames each); `act` bytes per activation element (2 for
// bf16). Cached per distinct argument set.
VaeCudaDecodePeak vae_cuda_decode_peak(const models::vae::VaeConfig& v, int64_t frames, int64_t lat_h,
                                       int64_t lat_w, int chunk, double act, bool reuse_buffers);

// Decoder weight bytes as the CUDA VAE holds them: kernels in the activation dtype (`kernel_bytes`
// per element) with channels padded to multiples of 8 and the sub-pixel form of each 2x upsampling
// (a 2x2 conv with 4x the output channels instead of the 3x3 one: 16/9 of its weights), biases and
// norm scales f32.
double vae_cuda_decoder_weight_bytes(const models::vae::VaeConfig& v, double kernel_bytes);

}  // namespace wan22::plan
