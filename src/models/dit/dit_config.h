// Configuration of the Wan DiT (WanModel), read from a checkpoint's config.json in either the
// official layout (WanModel: dim, num_heads, in_dim, ...) or the Diffusers layout
// (WanTransformer3DModel: num_attention_heads, attention_head_dim, in_channels, ...).
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace wan22::models::dit {

struct DitConfig {
  std::string model_type = "t2v";  // "t2v", "ti2v" (no condition) or "i2v" (y concatenated on channels)
  std::array<int64_t, 3> patch_size = {1, 2, 2};
  int64_t text_len = 512;  // context rows after zero padding
  int64_t in_dim = 16;     // channels entering the patch embedding (x, plus y for i2v)
  int64_t dim = 2048;
  int64_t ffn_dim = 8192;
  int64_t freq_dim = 256;
  int64_t text_dim = 4096;
  int64_t out_dim = 16;
  int64_t num_heads = 16;
  int64_t num_layers = 32;
  bool qk_norm = true;
  bool cross_attn_norm = true;
  double eps = 1e-6;
  int64_t rope_max_seq_len = 1024;  // RoPE table length per axis (grid sizes must stay below it)
  double rope_theta = 10000.0;
  // The official code builds the sinusoidal time embedding in float64; Diffusers builds it in
  // float32 (get_timestep_embedding). Set from the config's layout.
  bool sinusoid_f64 = true;
  std::string layout = "official";  // which config.json layout this came from: "official" | "diffusers"

  int64_t head_dim() const { return dim / num_heads; }
  int64_t patch_volume() const { return patch_size[0] * patch_size[1] * patch_size[2]; }
  bool needs_condition() const { return model_type == "i2v"; }
};

// Parses a config object; `source` (the file name) prefixes every error message, which also names
// the key. Throws Error(kInvalidArgument) on a wrong type / out-of-range value, Error(kUnsupported)
// on a valid option this engine does not implement (window attention, CLIP image embedding, ...).
DitConfig parse_dit_config(const nlohmann::json& j, const std::string& source);
// `path` is a config.json file or a directory holding one. Throws Error(kNotFound) when absent,
// Error(kCorruptData) when it is not JSON.
DitConfig load_dit_config(const std::string& path);
// Checks the invariants between fields (dim % num_heads, even head dim, ...).
void validate(const DitConfig& c, const std::string& source);

}  // namespace wan22::models::dit
