// The Wan2.1 / Wan2.2 video VAE on the GPU: the CUDA twin of models::vae::WanVae (same weights,
// same configuration, same causal chunking: encode takes the first frame, then 4 frames at a
// time; decode takes the first latent frame, then `decode_chunk` latent frames at a time (the
// reference: 1); every causal conv keeps the last 2 frames of its input between chunks).
//
//   VaeCuda vae(ws, cfg, {}, stream);                 // ws: the WeightStore WanVae uses (key map
//   set) Tensor video = vae.decode(latent, stream);        // normalised [z, F, h, w] -> raw [3,
//   1+4(F-1), H, W] Tensor z = vae.encode(video, stream);             // [3, F, H, W] in [-1, 1] ->
//   normalised latent Tensor v2 = vae.decode_tiled(latent, {16, 4}, stream);  // spatial tiles,
//   blended overlaps
//
// Layout: activations are channels-last [T, H, W, C] per video (one batch item), bf16 (default) or
// f32 with fp32 accumulation and fp32 norms; channel counts padded to multiples of 8 (the 12
// patchified video channels and the latent channels; every inner width must already be one).
// Convolutions run through Conv3dCuda (cuDNN, or the direct kernel); the 2x nearest upsampling +
// 3x3 conv of the decoder runs as one 2x2 conv producing the four output phases (sub-pixel form,
// 16 instead of 36 multiply-adds per output pixel and channel pair). Results stay on the device.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/conv3d_cuda.h"
#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/vae/vae_config.h"

namespace wan22::cuda {

struct VaeCudaOptions {
  DType dtype = DType::kBF16;  // activations and conv weights: kBF16 or kF32
  ConvImpl conv = ConvImpl::kAuto;
  bool autotune = true;           // time cuDNN's candidate algorithms per conv shape
  bool subpixel_upsample = true;  // false: materialise the nearest 2x upsampling, then a 3x3 conv
  bool encoder = true;            // load the encoder
  bool decoder = true;            // load the decoder
  int decode_chunk = 1;           // latent frames per decoder chunk after the first (>= 1)
  // Keep freed activation/stage/cache buffers for reuse within a call (a size-class pool). Faster
  // (no allocator trims, no cudaMalloc per chunk: 720p decode 3.07 s vs 3.28 s on the H200) but
  // holds more memory (peak 12.5 vs 8.1 GiB untiled, 4.17 vs 3.25 GiB tiled 24/4): turn it off
  // under a tight memory budget.
  bool reuse_buffers = true;
  // Run every kernel of this file as a CPU loop over host memory (the same per-element code, the
  // direct conv and a reference GEMM instead of cuDNN/cuBLAS): the tests of these code paths on
  // machines without a GPU. Host inputs only, results on the host; slow.
  bool emulate_on_host = false;
};

// Spatial tiling (decode_tiled / encode_tiled): tiles of `tile` x `tile` latent pixels whose
// neighbours overlap by `overlap` latent pixels; the tiles' outputs are blended linearly over the
// overlap. Every tile runs the whole causal time sequence before the next starts, so only one
// tile's caches are alive at a time.
struct TileOptions {
  int64_t tile = 0;     // tile edge in latent pixels (<= 0 or >= the latent: untiled)
  int64_t overlap = 0;  // 0 <= overlap < tile
};

class VaeCuda {
 public:
  // Builds every layer from ws (official key names; install the key map first, as WanVae::open
  // does) with a complete cfg (models::vae::complete_vae_config). Weights are converted to the
  // activation dtype on the host and uploaded on `stream` (synchronised before returning); norm
  // parameters and biases stay f32. Throws Error naming the key / shape / unsupported width.
  VaeCuda(const io::WeightStore& ws, const models::vae::VaeConfig& cfg, const VaeCudaOptions& opt,
          cudaStream_t stream);
  // Seeded random weights of cfg's sizes, generated on the device (benchmarks).
  static std::unique_ptr<VaeCuda> random(const models::vae::VaeConfig& cfg, uint64_t seed,
                                         const VaeCudaOptions& opt, cudaStream_t stream);
  // Like models::vae::WanVae::open: weights (file or Diffusers directory) + optional config file.
  static std::unique_ptr<VaeCuda> open(const std::string& weights_path,
                                       const std::string& config_path, const VaeCudaOptions& opt,
                                       cudaStream_t stream);
  ~VaeCuda();
  VaeCuda(const VaeCuda&) = delete;
  VaeCuda& operator=(const VaeCuda&) = delete;

  const models::vae::VaeConfig& config() const;
  const VaeCudaOptions& options() const;

  // latent f32 [z, F, h, w] or [1, z, F, h, w], normalised (mean/std), on the host or the device
  // -> raw video f32 [C, 1 + ts*(F-1), h*s, w*s] on the device (ts: temporal stride, s: spatial).
  Tensor decode(const Tensor& latent, cudaStream_t stream);
  // decode() in spatial tiles (see TileOptions); tile <= 0 or >= the latent equals decode().
  Tensor decode_tiled(const Tensor& latent, const TileOptions& tiles, cudaStream_t stream);
  // decode_tiled() with the result on the host: each tile's video (every frame) is decoded into a
  // tile-sized device buffer, copied out and blended on the host, so the whole f32 video never sits
  // on the device (the memory plan's tiled decode). Same values as decode_tiled() (the same f32
  // products, summed in the same tile order; the division on the host). clamp: to [-1, 1].
  Tensor decode_tiled_to_host(const Tensor& latent, const TileOptions& tiles, cudaStream_t stream,
                              bool clamp = false);
  // video f32 [C, F, H, W] or [1, C, F, H, W] in [-1, 1] (F = 1 + 4k; H, W multiples of the spatial
  // stride), host or device -> normalised latent f32 [z, 1 + (F-1)/ts, H/s, W/s] on the device.
  Tensor encode(const Tensor& video, cudaStream_t stream);
  // encode() in spatial tiles: tile/overlap in latent pixels (x the spatial stride in the video),
  // the encoded tiles blended linearly over the overlap in the latent.
  Tensor encode_tiled(const Tensor& video, const TileOptions& tiles, cudaStream_t stream);

  Conv3dCuda& conv();
  // Benchmarks: time every operation of the following decode/encode calls on the device by kind
  // (an event after each; the GPU's idle time lands on the operation it waited for).
  // last_profile(): seconds per kind (conv, norm, elementwise, copy, attention, layout) of the
  // last call; empty when profiling was off.
  void set_profiling(bool on);
  std::vector<std::pair<std::string, double>> last_profile() const;
  // FLOPs executed by the last decode/encode call (convolutions + attention GEMMs).
  double last_flops() const;
  size_t weight_bytes() const;  // device bytes of the loaded weights

  // Whole-component offload (the memory plan's VAE kOffloaded): offload() moves every weight into
  // pinned host memory and frees its device memory; restore() brings them back. decode brings the
  // decoder back first and encode the encoder (each stays on the device until the next offload()).
  // Synchronise `stream`. No-ops in the host emulation mode.
  void offload(cudaStream_t stream);
  void restore(cudaStream_t stream);
  bool offloaded() const;
  // Only the encoder's weights to pinned host memory (text-to-video never encodes; encode brings
  // them back, decode leaves them where they are).
  void offload_encoder(cudaStream_t stream);
  // VaeCudaOptions::reuse_buffers after construction (the planner turns it off under a budget).
  void set_reuse_buffers(bool on);

 private:
  struct Impl;
  explicit VaeCuda(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wan22::cuda
