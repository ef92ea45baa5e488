// Golden: the UMT5 tokenizer (cleaning + sentencepiece + EOS + truncation/padding + mask) against the
// ids transformers produced for the prompts of the Diffusers fixture manifest.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/weight_store.h"
#include "models/text/text_clean.h"
#include "models/text/tokenizer.h"
#include "test_util.h"

namespace wan22 {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(f);
}

std::string row_str(const int64_t* p, int64_t n) {
  std::ostringstream s;
  for (int64_t i = 0; i < n; ++i) s << (i ? " " : "") << p[i];
  return s.str();
}

TEST(GoldenTokenizer, tokenizer_ids) {
  const std::string dir = test::diffusers_dir();
  const nlohmann::json manifest = read_json(dir + "/manifest.json");
  const auto prompts = manifest.at("tokenizer_prompts").get<std::vector<std::string>>();
  const int64_t max_length = manifest.at("tokenizer_max_length").get<int64_t>();

  const auto tok = models::text::T5Tokenizer::load(models::text::T5Tokenizer::find_model(dir + "/tokenizer"));
  const auto ref = io::WeightStore::open(dir + "/tokenizer_ids.safetensors");
  const Tensor ref_ids = ref.get("input_ids", DType::kI64);
  const Tensor ref_mask = ref.get("attention_mask", DType::kI64);
  const int64_t n = static_cast<int64_t>(prompts.size());
  ASSERT_EQ(ref_ids.shape(), (Shape{n, max_length}));
  ASSERT_EQ(ref_mask.shape(), (Shape{n, max_length}));

  const models::text::TokenizedBatch got = tok(prompts, max_length);
  ASSERT_EQ(got.ids.shape(), ref_ids.shape());
  ASSERT_EQ(got.mask.shape(), ref_mask.shape());

  int rows_equal = 0;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t* gi = got.ids.data<int64_t>() + r * max_length;
    const int64_t* ri = ref_ids.data<int64_t>() + r * max_length;
    const int64_t* gm = got.mask.data<int64_t>() + r * max_length;
    const int64_t* rm = ref_mask.data<int64_t>() + r * max_length;
    const bool ids_ok = std::equal(gi, gi + max_length, ri);
    const bool mask_ok = std::equal(gm, gm + max_length, rm);
    rows_equal += ids_ok && mask_ok;
    std::cout << "[tokenizer_ids] prompt " << r << ": " << got.lengths[static_cast<size_t>(r)] << " tokens, ids "
              << (ids_ok ? "equal" : "DIFFER") << ", mask " << (mask_ok ? "equal" : "DIFFER") << "\n";
    EXPECT_TRUE(ids_ok) << "prompt " << r << " cleaned to '" << models::text::clean_prompt(prompts[static_cast<size_t>(r)])
                        << "'\n  got " << row_str(gi, max_length) << "\n  ref " << row_str(ri, max_length);
    EXPECT_TRUE(mask_ok) << "prompt " << r << "\n  got " << row_str(gm, max_length) << "\n  ref "
                         << row_str(rm, max_length);
  }
  std::cout << "[tokenizer_ids] " << rows_equal << "/" << n << " prompts exactly equal (max_length " << max_length
            << ")\n";
  RecordProperty("rows_equal", rows_equal);
}

}  // namespace
}  // namespace wan22
