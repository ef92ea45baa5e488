// Golden: the UMT5 encoder against the official T5Encoder (t5_encode, official key names, from the
// .safetensors and the .pth state dict) and against transformers' UMT5EncoderModel (Diffusers
// text_encoder/ directory).
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "io/weight_store.h"
#include "models/text/t5_config.h"
#include "models/text/t5_encoder.h"
#include "models/text/t5_key_alias.h"
#include "ops/ops.h"
#include "test_util.h"

namespace wan22 {
namespace {

constexpr double kTol = 1e-4;

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(f);
}

double report(const std::string& what, const Tensor& got, const Tensor& ref) {
  const double err = test::rel_err(got, ref);
  std::cout << "[" << what << "] rel err " << err << " (max abs diff " << test::max_abs_diff(got, ref) << ", shape "
            << shape_str(ref.shape()) << ")\n";
  return err;
}

void expect_same_sizes(const models::text::T5Config& a, const models::text::T5Config& b) {
  EXPECT_EQ(a.vocab, b.vocab);
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.dim_attn, b.dim_attn);
  EXPECT_EQ(a.dim_ffn, b.dim_ffn);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_buckets, b.num_buckets);
  EXPECT_EQ(a.shared_pos, b.shared_pos);
}

// The official fixture case t5_encode, the encoder's weights read from `weights_file`.
void run_t5_encode(const std::string& weights_file, const std::string& label) {
  const std::string dir = test::golden_dir();
  const nlohmann::json manifest = read_json(dir + "/manifest.json");
  const int64_t n_real = manifest.at("cases").at("t5_encode").at("n_real").get<int64_t>();
  const models::text::T5Config cfg = models::text::load_t5_config(dir + "/t5_config.json");

  io::WeightStore ws = io::WeightStore::open(dir + "/" + weights_file);
  EXPECT_EQ(models::text::install_t5_key_map(ws), "official");
  expect_same_sizes(models::text::infer_t5_config(ws), cfg);
  const models::text::T5Encoder enc(ws, cfg);

  const auto fx = io::WeightStore::open(dir + "/t5_encode.safetensors");
  const Tensor ids = fx.get("ids");
  const Tensor mask = fx.get("mask");
  const Tensor ref = fx.get_f32("out");
  const Tensor ref_trimmed = fx.get_f32("out_trimmed");
  ASSERT_EQ(ids.ndim(), 2);
  ASSERT_EQ(ref.shape(), (Shape{ids.dim(0), ids.dim(1), cfg.dim}));
  ASSERT_EQ(ref_trimmed.shape(), (Shape{n_real, cfg.dim}));

  const Tensor out = enc.forward(ids, mask);
  ASSERT_EQ(out.shape(), ref.shape());
  EXPECT_LE(report(label + " out", out, ref), kTol);

  const std::vector<Tensor> trimmed = enc.encode_trimmed(ids, mask);
  ASSERT_EQ(trimmed.size(), 1u);
  ASSERT_EQ(trimmed[0].shape(), ref_trimmed.shape());
  EXPECT_LE(report(label + " out_trimmed (real tokens only)", trimmed[0], ref_trimmed), kTol);
  const Tensor full_rows = out.select(0, 0).narrow(0, 0, n_real).contiguous();
  EXPECT_LE(report(label + " out[:n_real]", full_rows, ref_trimmed), kTol);
}

TEST(GoldenT5, t5_encode) { run_t5_encode("t5_encoder.safetensors", "t5_encode"); }

TEST(GoldenT5, t5_encode_pth) { run_t5_encode("t5_encoder.pth", "t5_encode_pth"); }

TEST(GoldenT5, diffusers_text_encoder_forward) {
  const std::string dir = test::diffusers_dir();
  const models::text::T5Config cfg = models::text::load_t5_config(dir + "/text_encoder/config.json");
  EXPECT_FALSE(cfg.shared_pos);  // model_type umt5: a relative bias per layer

  io::WeightStore ws = io::WeightStore::open(dir + "/text_encoder");
  EXPECT_EQ(models::text::install_t5_key_map(ws), "transformers");
  expect_same_sizes(models::text::infer_t5_config(ws), cfg);
  const models::text::T5Encoder enc(ws, cfg);

  const auto fx = io::WeightStore::open(dir + "/text_encoder_forward.safetensors");
  const Tensor ids = fx.get("input_ids");
  const Tensor mask = fx.get("attention_mask");
  const Tensor ref = fx.get_f32("last_hidden_state");
  ASSERT_EQ(ref.shape(), (Shape{ids.dim(0), ids.dim(1), cfg.dim}));

  const Tensor out = enc.forward(ids, mask);
  ASSERT_EQ(out.shape(), ref.shape());
  EXPECT_LE(report("diffusers_text_encoder_forward", out, ref), kTol);

  // The pipeline's rows (mask = 1) through the real-tokens-only path.
  const std::vector<Tensor> trimmed = enc.encode_trimmed(ids, mask);
  ASSERT_EQ(trimmed.size(), 1u);
  const int64_t n_real = trimmed[0].dim(0);
  ASSERT_GT(n_real, 0);
  const Tensor ref_rows = ref.select(0, 0).narrow(0, 0, n_real).contiguous();
  EXPECT_LE(report("diffusers_text_encoder_forward trimmed", trimmed[0], ref_rows), kTol);
}

}  // namespace
}  // namespace wan22
