// The state-dict layout (official key names and shapes) of each model for a given configuration.
// Used to synthesise random-weight models (the built-in demo model, `--random-weights` benches)
// and to list every missing tensor of a checkpoint at once.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace wan22::models {

using WeightShapes = std::vector<std::pair<std::string, Shape>>;

struct DitShape {
  std::string model_type = "ti2v";  // ti2v / t2v / i2v
  std::vector<int64_t> patch = {1, 2, 2};
  int64_t in_dim = 48, out_dim = 48, dim = 3072, ffn_dim = 14336, freq_dim = 256, text_dim = 4096;
  int64_t num_heads = 24, num_layers = 30;
  bool qk_norm = true, cross_attn_norm = true;
};

struct T5Shape {
  int64_t vocab = 256384, dim = 4096, dim_attn = 4096, dim_ffn = 10240, num_heads = 64;
  int64_t num_layers = 24, num_buckets = 32;
  bool shared_pos = false;
};

struct Vae22Shape {
  int64_t dim = 160, dec_dim = 256, z_dim = 48, num_res_blocks = 2;
  std::vector<int64_t> dim_mult = {1, 2, 4, 4};
  std::vector<bool> temperal_downsample = {false, true, true};
};

WeightShapes dit_weight_shapes(const DitShape& c);
WeightShapes t5_weight_shapes(const T5Shape& c);
WeightShapes vae22_weight_shapes(const Vae22Shape& c);

}  // namespace wan22::models
