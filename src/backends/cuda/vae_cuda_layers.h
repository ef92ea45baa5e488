// The device-side layers of the GPU VAE (vae_cuda.h): weights in the channels-last layout the
// kernels use, built from a WeightStore with the official key names (the same walk as
// models/vae/vae_encoder.cpp and vae_decoder.cpp) or filled with seeded random values on the
// device. Internal to vae_cuda.cpp.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/conv3d_cuda.h"
#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_layers.h"

namespace wan22::cuda::vae_net {

using models::vae::ResampleMode;

inline int64_t pad8(int64_t c) { return (c + 7) / 8 * 8; }

struct DConv {
  Tensor w;  // dt [cout_p, kt, kh, kw, cin_p]
  Tensor b;  // f32 bias (undefined: none)
  int64_t cin = 0, cout = 0, cin_p = 0, cout_p = 0;
  int kt = 1, kh = 1, kw = 1, st = 1, sh = 1, sw = 1, ph = 0, pw = 0;

  ConvGeom geom(int64_t t, int64_t h, int64_t w_) const {
    ConvGeom g;
    g.t = t, g.h = h, g.w = w_, g.cin = cin_p, g.cout = cout_p;
    g.kt = kt, g.kh = kh, g.kw = kw, g.st = st, g.sh = sh, g.sw = sw, g.ph = ph, g.pw = pw;
    return g;
  }
  const float* bias() const {
    return b.defined() ? static_cast<const float*>(b.raw_data()) : nullptr;
  }
};

struct DNorm {
  Tensor gamma;  // f32 [cp]
  int64_t c = 0, cp = 0;
  const float* g() const { return static_cast<const float*>(gamma.raw_data()); }
};

struct DRes {
  DNorm n1, n2;
  DConv c1, c2, sc;
  bool has_sc = false;
  int s1 = -1, s2 = -1;  // cache slots of c1, c2
};

struct DAttn {
  DNorm n;
  DConv qkv, proj;  // GEMM weights [3c, c] and [c, c] (as 1x1 convs)
  int64_t c = 0;
};

struct DResample {
  ResampleMode mode = ResampleMode::kUpsample2d;
  int64_t dim = 0, out = 0;
  DConv spatial;  // 3x3 (kt 1), or the sub-pixel 2x2 with 4*out outputs (bias [out])
  bool subpixel = false;
  DConv time;  // time_conv (upsample3d: dim -> 2*dim, (3,1,1); downsample3d: stride 2)
  bool has_time = false;
  int slot = -1;
};

struct DBlock {  // Wan2.2 Up_ResidualBlock / Down_ResidualBlock
  std::vector<DRes> res;
  bool has_rs = false;
  DResample rs;
  bool shortcut = false;
  int64_t in = 0, out = 0;
  int ft = 1, fs = 1;
};

struct DLayer {  // Wan2.1 flat list entry
  bool is_res = true;
  DRes res;
  DResample rs;
};

struct DEncoder {
  DConv conv1;
  int s_conv1 = -1;
  std::vector<DBlock> blocks;
  std::vector<DLayer> flat;
  DRes mid0, mid2;
  DAttn attn;
  DNorm head_norm;
  DConv head;
  int s_head = -1;
  DConv quant_mu;  // conv1 (quant) rows [0, z): the mean only
  int slots = 0;
};

struct DDecoder {
  DConv post_quant;  // conv2
  DConv conv1;
  int s_conv1 = -1;
  DRes mid0, mid2;
  DAttn attn;
  std::vector<DBlock> blocks;
  std::vector<DLayer> flat;
  DNorm head_norm;
  DConv head;
  int s_head = -1;
  int slots = 0;
};

// Every layer of one VAE on the device (or in host memory under emulation).
struct Network {
  DEncoder enc;
  DDecoder dec;
  bool has_enc = false, has_dec = false;
  size_t bytes = 0;  // weight bytes
};

// Builds the encoder and/or decoder from ws (official names; complete cfg), converting weights to
// dt on the host, or with seeded random weights generated on the device when ws is null. subpixel:
// the decoder's upsampling convs in the sub-pixel form. host: keep everything in host memory (the
// emulation mode; needs ws). Throws Error naming a missing key, a wrong shape or an inner width
// that is not a multiple of 8.
Network build_network(const io::WeightStore* ws, uint64_t seed, const models::vae::VaeConfig& cfg,
                      DType dt, bool encoder, bool decoder, bool subpixel, bool host,
                      cudaStream_t stream);

}  // namespace wan22::cuda::vae_net
