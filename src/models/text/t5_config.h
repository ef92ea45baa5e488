// Configuration of the UMT5 / T5 text encoder (the official T5Encoder of wan/modules/t5.py).
// Three sources: the official-style JSON (vocab, dim, dim_attn, dim_ffn, num_heads, num_layers,
// num_buckets, shared_pos), a transformers config.json (vocab_size, d_model, d_kv, d_ff, ...), or
// the tensor shapes of a checkpoint (the official .pth ships without a config).
#pragma once
#include <cstdint>
#include <string>

#include "io/weight_store.h"

namespace wan22::models::text {

struct T5Config {
  int64_t vocab = 256384;
  int64_t dim = 4096;
  int64_t dim_attn = 4096;   // num_heads * head_dim
  int64_t dim_ffn = 10240;
  int64_t num_heads = 64;
  int64_t num_layers = 24;
  int64_t num_buckets = 32;
  int64_t max_distance = 128;  // relative_attention_max_distance (fixed 128 in the official code)
  bool shared_pos = false;     // false: every block has its own relative position embedding (UMT5)
  float eps = 1e-6f;           // T5LayerNorm epsilon

  int64_t head_dim() const { return dim_attn / num_heads; }
  // Throws Error(kInvalidArgument) naming the field when a value is out of range.
  void validate() const;
  std::string str() const;
};

// umt5_xxl() of the official t5.py (the Wan2.2 text encoder).
T5Config umt5_xxl_config();

// Reads a JSON config: the official fields (t5_config.json: "vocab", "dim", ...) or a transformers
// config.json ("d_model", "d_kv", "vocab_size", ...; model_type "umt5" means per-layer position
// embeddings, "t5" a shared one; feed_forward_proj must be "gated-gelu"). Throws Error naming the
// file and the key on a missing or wrong field.
T5Config load_t5_config(const std::string& json_path);
T5Config parse_t5_config(const std::string& json_text, const std::string& origin);

// Derives every size from the tensor shapes of a store whose key map already resolves the official
// names (see install_t5_key_map). max_distance and eps keep their defaults (not stored in weights).
T5Config infer_t5_config(const io::WeightStore& ws);

}  // namespace wan22::models::text
