#include "models/text/text_encoder.h"

#include <utility>

#include "core/status.h"

namespace wan22::models::text {

TextEncoder::TextEncoder(T5Encoder encoder, T5Tokenizer tokenizer, int64_t text_len)
    : encoder_(std::move(encoder)), tokenizer_(std::move(tokenizer)), text_len_(text_len) {
  if (text_len_ < 1) throw Error(ErrorCode::kInvalidArgument, "text encoder: text_len must be >= 1");
  if (tokenizer_.vocab_size() > encoder_.config().vocab) {
    throw Error(ErrorCode::kInvalidArgument, "tokenizer " + tokenizer_.path() + " has " +
                                                 std::to_string(tokenizer_.vocab_size()) +
                                                 " pieces but the text encoder's vocabulary is " +
                                                 std::to_string(encoder_.config().vocab));
  }
}

TextEncoder TextEncoder::load(const std::string& weights, const std::string& config_json,
                              const std::string& spiece_model, int64_t text_len) {
  return TextEncoder(T5Encoder::load(weights, config_json), T5Tokenizer::load(spiece_model), text_len);
}

std::vector<Tensor> TextEncoder::operator()(const std::vector<std::string>& prompts) const {
  const TokenizedBatch batch = tokenizer_(prompts, text_len_);
  return encoder_.encode_trimmed(batch.ids, batch.mask);
}

}  // namespace wan22::models::text
