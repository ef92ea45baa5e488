// Golden tests of the Wan DiT against the official WanModel (test::golden_dir()) and diffusers'
// WanTransformer3DModel (test::diffusers_dir()), float32 on the CPU. Every size comes from the
// fixture's JSON and tensor shapes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "io/weight_store.h"
#include "models/dit/dit_config.h"
#include "models/dit/dit_keys.h"
#include "models/dit/wan_model.h"
#include "test_util.h"

using namespace wan22;
using namespace wan22::models::dit;

namespace {

constexpr double kTolerance = 1e-4;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kNotFound, path + ": cannot open");
  return nlohmann::json::parse(in);
}

int64_t manifest_seq_len(const std::string& dir, const std::string& case_name) {
  auto m = read_json(dir + "/manifest.json");
  return m.at("cases").at(case_name).at("seq_len").get<int64_t>();
}

WanModel load_model(const std::string& weights, const DitConfig& cfg, std::string* layout = nullptr) {
  auto ws = io::WeightStore::open(weights);
  std::string l = install_dit_key_map(ws);
  if (layout) *layout = l;
  return WanModel::load(ws, cfg);
}

void report(const std::string& name, double err) {
  std::cout << "[dit golden] " << name << ": rel_error = " << err << " (tolerance " << kTolerance << ")\n";
  ::testing::Test::RecordProperty("rel_error", std::to_string(err));
}

// Runs one official-layout case: out = WanModel([x], t, [context], seq_len, y).
void run_official_case(const std::string& case_name, const std::string& model_name, bool with_y) {
  const std::string dir = test::golden_dir();
  DitConfig cfg = load_dit_config(dir + "/" + model_name + "_config.json");
  WanModel model = load_model(dir + "/" + model_name + ".safetensors", cfg);
  auto data = io::WeightStore::open(dir + "/" + case_name + ".safetensors");
  Tensor x = data.get_f32("x"), t = data.get_f32("t"), context = data.get_f32("context"), ref = data.get_f32("out");
  Tensor y;
  if (with_y) y = data.get_f32("y");
  const int64_t seq_len = manifest_seq_len(dir, case_name);

  // The embedding runs once per distinct timestep: count them independently.
  std::set<float> distinct;
  auto tv = t.to_vector();
  const int64_t tokens = x.dim(1) / cfg.patch_size[0] * (x.dim(2) / cfg.patch_size[1]) * (x.dim(3) / cfg.patch_size[2]);
  for (int64_t i = 0; i < (t.numel() == 1 ? 1 : tokens); ++i) distinct.insert(tv[static_cast<size_t>(i)]);
  int64_t rows = -1;
  model.set_debug_hook([&](const std::string& name, const Tensor& v) {
    if (name == "time_embed") rows = v.dim(0);
  });

  Tensor out = model.forward(x, t, context, with_y ? &y : nullptr, seq_len);
  ASSERT_EQ(out.shape(), ref.shape());
  EXPECT_EQ(rows, static_cast<int64_t>(distinct.size()));
  double err = test::rel_err(out, ref);
  report(case_name, err);
  EXPECT_LE(err, kTolerance);
}

}  // namespace

TEST(DitGolden, dit_forward_t2v) { run_official_case("dit_forward_t2v", "dit", false); }

TEST(DitGolden, dit_forward_i2v) { run_official_case("dit_forward_i2v", "dit", false); }

TEST(DitGolden, dit_forward_i2v14) { run_official_case("dit_forward_i2v14", "dit_i2v14", true); }

TEST(DitGolden, diffusers_transformer_forward) {
  const std::string dir = test::diffusers_dir();
  DitConfig cfg = load_dit_config(dir + "/transformer");
  EXPECT_EQ(cfg.layout, "diffusers");
  auto data = io::WeightStore::open(dir + "/transformer_forward.safetensors");
  Tensor hs = data.get_f32("hidden_states"), ts = data.get_f32("timestep");
  Tensor ehs = data.get_f32("encoder_hidden_states"), ref = data.get_f32("out");
  ASSERT_EQ(hs.ndim(), 5);
  ASSERT_EQ(ehs.ndim(), 3);
  // The fixture's text is already zero-padded; the padded length is the model's text_len.
  cfg.text_len = ehs.dim(1);
  std::string layout;
  WanModel model = load_model(dir + "/transformer", cfg, &layout);
  EXPECT_EQ(layout, "diffusers");
  std::vector<Tensor> contexts;
  for (int64_t b = 0; b < ehs.dim(0); ++b) contexts.push_back(ehs.select(0, b));
  const int64_t seq_len = ts.ndim() == 2 ? ts.dim(1) : 0;
  Tensor out = model.forward_batch(hs, ts, contexts, nullptr, seq_len);
  ASSERT_EQ(out.shape(), ref.shape());
  double err = test::rel_err(out, ref);
  report("diffusers_transformer_forward", err);
  EXPECT_LE(err, kTolerance);
}
