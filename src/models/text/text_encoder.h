// The official T5EncoderModel (wan/modules/t5.py) as one component: tokenizer + UMT5 encoder.
// operator() returns, per prompt, the encoder output of the real tokens (pieces + EOS), [n_real, dim]
// float32 -- what the pipeline hands to the DiT, which zero-pads it to text_len.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/text/t5_encoder.h"
#include "models/text/tokenizer.h"

namespace wan22::models::text {

class TextEncoder {
 public:
  TextEncoder(T5Encoder encoder, T5Tokenizer tokenizer, int64_t text_len = 512);

  // weights: a file or directory (official .pth/.safetensors, transformers text_encoder/);
  // config_json: optional (else derived from the weights); spiece_model: the tokenizer file.
  static TextEncoder load(const std::string& weights, const std::string& config_json, const std::string& spiece_model,
                          int64_t text_len = 512);

  std::vector<Tensor> operator()(const std::vector<std::string>& prompts) const;
  Tensor encode(const std::string& prompt) const { return (*this)({prompt}).front(); }

  const T5Encoder& encoder() const { return encoder_; }
  const T5Tokenizer& tokenizer() const { return tokenizer_; }
  int64_t text_len() const { return text_len_; }

 private:
  T5Encoder encoder_;
  T5Tokenizer tokenizer_;
  int64_t text_len_;
};

}  // namespace wan22::models::text
