// The UMT5 / T5 encoder of the official wan/modules/t5.py (T5Encoder) on the ops layer:
//   x = token_embedding(ids)
//   per block: x += attn(norm1(x), mask, pos_bias)   (no 1/sqrt(d) scaling; per-layer bias for UMT5)
//              x += fc2(fc1(norm2(x)) * gelu_tanh(gate(norm2(x))))
//   x = norm(x)        (T5LayerNorm = RMS norm with weight, no mean subtraction, float32)
// Built from a WeightStore whose key map resolves the official names (install_t5_key_map).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/weight_store.h"
#include "models/text/t5_config.h"

namespace wan22::models::text {

class T5Encoder {
 public:
  // Loads every weight (large matrices stay in their stored dtype, e.g. bf16, and are converted by the
  // ops; norms and position tables as float32). Throws Error naming the key, file and shapes when a
  // weight is missing or has the wrong shape.
  T5Encoder(const io::WeightStore& ws, const T5Config& cfg);

  // Opens a checkpoint (file or directory), installs the key map, reads the config from config_json
  // when given (official t5_config.json or transformers config.json), else from the tensor shapes.
  static T5Encoder load(const std::string& weights_path, const std::string& config_json = "");

  const T5Config& config() const { return cfg_; }

  // ids [B, L] (int32/int64), mask [B, L] (any dtype; 0 = padding, else real) or an undefined
  // Tensor for "all real". Returns [B, L, dim] float32 for every position, as T5Encoder.forward.
  Tensor forward(const Tensor& ids, const Tensor& mask = Tensor()) const;

  // What the official T5EncoderModel.__call__ returns: per batch row the first n_real rows
  // (n_real = number of mask > 0), [n_real, dim]. When the mask is a prefix (real tokens then padding,
  // as the tokenizer produces) only the real tokens are run: the padding neither attends nor is
  // attended to, so the rows are the same as forward()'s, at a fraction of the cost.
  std::vector<Tensor> encode_trimmed(const Tensor& ids, const Tensor& mask) const;

 private:
  struct Block {
    Tensor norm1, q, k, v, o, pos_table, norm2, gate, fc1, fc2;
  };
  struct AttnMask;

  Tensor self_attention(const Block& blk, const Tensor& x, const Tensor& pos_bias, const AttnMask& m) const;
  Tensor feed_forward(const Block& blk, const Tensor& x) const;

  T5Config cfg_;
  Tensor token_embedding_;
  Tensor shared_pos_table_;  // shared_pos only
  std::vector<Block> blocks_;
  Tensor norm_;
};

}  // namespace wan22::models::text
