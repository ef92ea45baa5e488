#include "models/text/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>

#include "core/status.h"
#include "models/text/text_clean.h"

namespace wan22::models::text {

namespace {

// The id of a special token: sentencepiece's trainer setting, else the piece itself (HF names it
// "</s>" / "<pad>"), else -1.
int special_id(const sentencepiece::SentencePieceProcessor& sp, int trainer_id, const char* piece) {
  if (trainer_id >= 0) return trainer_id;
  const int id = sp.PieceToId(piece);
  return (id >= 0 && id != sp.unk_id() && sp.IdToPiece(id) == piece) ? id : -1;
}

}  // namespace

T5Tokenizer T5Tokenizer::load(const std::string& spiece_model_path) {
  if (!std::filesystem::is_regular_file(spiece_model_path)) {
    throw Error(ErrorCode::kNotFound, "tokenizer model " + spiece_model_path + " does not exist");
  }
  T5Tokenizer t;
  t.sp_ = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const auto status = t.sp_->Load(spiece_model_path);
  if (!status.ok()) {
    throw Error(ErrorCode::kCorruptData,
                "cannot load sentencepiece model " + spiece_model_path + ": " + status.ToString());
  }
  t.path_ = spiece_model_path;
  t.eos_id_ = special_id(*t.sp_, t.sp_->eos_id(), "</s>");
  t.pad_id_ = special_id(*t.sp_, t.sp_->pad_id(), "<pad>");
  if (t.eos_id_ < 0 || t.pad_id_ < 0) {
    throw Error(ErrorCode::kCorruptData, "sentencepiece model " + spiece_model_path +
                                             " defines no EOS (</s>) or no padding (<pad>) token");
  }
  return t;
}

std::string T5Tokenizer::find_model(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::vector<std::string> candidates = {"spiece.model", "tokenizer/spiece.model", "google/umt5-xxl/spiece.model"};
  std::string tried;
  for (const auto& c : candidates) {
    const fs::path p = fs::path(dir) / c;
    if (fs::is_regular_file(p)) return p.string();
    tried += (tried.empty() ? "" : ", ") + p.string();
  }
  throw Error(ErrorCode::kNotFound, "no sentencepiece tokenizer model in " + dir + " (looked for " + tried + ")");
}

int T5Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }

std::vector<int> T5Tokenizer::encode_pieces(const std::string& text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  if (!status.ok()) {
    throw Error(ErrorCode::kInvalidArgument, "sentencepiece (" + path_ + ") cannot encode the prompt: " + status.ToString());
  }
  return ids;
}

std::vector<int64_t> T5Tokenizer::encode(const std::string& prompt, int64_t max_length, bool clean) const {
  if (max_length < 1) throw Error(ErrorCode::kInvalidArgument, "tokenizer max_length must be >= 1");
  const std::vector<int> pieces = encode_pieces(clean ? clean_prompt(prompt) : prompt);
  const size_t keep = std::min<size_t>(pieces.size(), static_cast<size_t>(max_length - 1));
  std::vector<int64_t> ids(pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(eos_id_);
  return ids;
}

TokenizedBatch T5Tokenizer::operator()(const std::vector<std::string>& prompts, int64_t max_length, bool clean) const {
  const int64_t n = static_cast<int64_t>(prompts.size());
  if (n == 0) throw Error(ErrorCode::kInvalidArgument, "tokenizer: no prompts given");
  TokenizedBatch out;
  out.ids = Tensor::empty({n, max_length}, DType::kI64);
  out.mask = Tensor::zeros({n, max_length}, DType::kI64);
  int64_t* ids = out.ids.data<int64_t>();
  int64_t* mask = out.mask.data<int64_t>();
  for (int64_t r = 0; r < n; ++r) {
    const std::vector<int64_t> row = encode(prompts[static_cast<size_t>(r)], max_length, clean);
    const int64_t len = static_cast<int64_t>(row.size());
    for (int64_t j = 0; j < max_length; ++j) {
      ids[r * max_length + j] = j < len ? row[static_cast<size_t>(j)] : pad_id_;
      mask[r * max_length + j] = j < len ? 1 : 0;
    }
    out.lengths.push_back(len);
  }
  return out;
}

}  // namespace wan22::models::text
