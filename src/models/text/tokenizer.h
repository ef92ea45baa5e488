// The UMT5 tokenizer as the official pipeline uses it (HuggingfaceTokenizer(seq_len=text_len,
// clean='whitespace') over google/umt5-xxl): the prompt is cleaned (text_clean.h), split into
// pieces by the checkpoint's sentencepiece model, truncated to max_length - 1 pieces, EOS
// appended, padded with the pad id (0) to max_length; the mask is 1 on the pieces and the EOS.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace wan22::models::text {

struct TokenizedBatch {
  Tensor ids;                    // [n, max_length] int64
  Tensor mask;                   // [n, max_length] int64: 1 real (EOS included), 0 padding
  std::vector<int64_t> lengths;  // real tokens per row (= mask row sums)
};

class T5Tokenizer {
 public:
  // Loads a sentencepiece model file (spiece.model). Throws Error(kNotFound) when the file is
  // missing, Error(kCorruptData) when sentencepiece cannot read it.
  static T5Tokenizer load(const std::string& spiece_model_path);
  // The spiece.model of a checkpoint directory: <dir>/spiece.model, <dir>/tokenizer/spiece.model
  // (Diffusers), <dir>/google/umt5-xxl/spiece.model (official). Throws Error(kNotFound) listing the
  // places looked at.
  static std::string find_model(const std::string& dir);

  // Pieces of already-cleaned text, without EOS (sentencepiece's own NFKC normalisation applies).
  std::vector<int> encode_pieces(const std::string& text) const;
  // clean=true applies clean_prompt() first (the official 'whitespace' cleaning).
  std::vector<int64_t> encode(const std::string& prompt, int64_t max_length = 512, bool clean = true) const;
  TokenizedBatch operator()(const std::vector<std::string>& prompts, int64_t max_length = 512,
                            bool clean = true) const;

  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  int vocab_size() const;
  const std::string& path() const { return path_; }

 private:
  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string path_;
  int eos_id_ = 1;
  int pad_id_ = 0;
};

}  // namespace wan22::models::text
