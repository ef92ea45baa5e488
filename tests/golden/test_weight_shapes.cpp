// The synthesised state-dict layouts must equal the official modules' state dicts (fixture files).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "io/weight_store.h"
#include "models/weight_shapes.h"
#include "test_util.h"

using namespace wan22;

namespace {
nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

void expect_same_layout(const models::WeightShapes& shapes, const std::string& file) {
  auto ws = io::WeightStore::open(file);
  std::map<std::string, Shape> want;
  for (const auto& [k, s] : shapes) want[k] = s;
  for (const auto& key : ws.keys()) {
    auto it = want.find(key);
    ASSERT_NE(it, want.end()) << "fixture has " << key << " which the layout lacks";
    EXPECT_EQ(shape_str(it->second), shape_str(ws.info(key).shape)) << key;
  }
  EXPECT_EQ(want.size(), ws.size()) << "layout lists tensors the fixture does not have";
}
}  // namespace

TEST(WeightShapes, Dit) {
  for (const char* name : {"dit", "dit_i2v14"}) {
    auto j = read_json(test::golden_dir() + "/" + name + "_config.json");
    models::DitShape c;
    c.model_type = j["model_type"];
    c.patch = j["patch_size"].get<std::vector<int64_t>>();
    c.in_dim = j["in_dim"];
    c.out_dim = j["out_dim"];
    c.dim = j["dim"];
    c.ffn_dim = j["ffn_dim"];
    c.freq_dim = j["freq_dim"];
    c.text_dim = j["text_dim"];
    c.num_heads = j["num_heads"];
    c.num_layers = j["num_layers"];
    c.qk_norm = j["qk_norm"];
    c.cross_attn_norm = j["cross_attn_norm"];
    SCOPED_TRACE(name);
    expect_same_layout(models::dit_weight_shapes(c), test::golden_dir() + "/" + name + ".safetensors");
  }
}

TEST(WeightShapes, T5) {
  auto j = read_json(test::golden_dir() + "/t5_config.json");
  models::T5Shape c;
  c.vocab = j["vocab"];
  c.dim = j["dim"];
  c.dim_attn = j["dim_attn"];
  c.dim_ffn = j["dim_ffn"];
  c.num_heads = j["num_heads"];
  c.num_layers = j["num_layers"];
  c.num_buckets = j["num_buckets"];
  c.shared_pos = j["shared_pos"];
  expect_same_layout(models::t5_weight_shapes(c), test::golden_dir() + "/t5_encoder.safetensors");
}

TEST(WeightShapes, Vae22) {
  auto j = read_json(test::golden_dir() + "/vae_config.json");
  models::Vae22Shape c;
  c.dim = j["dim"];
  c.dec_dim = j["dec_dim"];
  c.z_dim = j["z_dim"];
  c.dim_mult = j["dim_mult"].get<std::vector<int64_t>>();
  c.num_res_blocks = j["num_res_blocks"];
  c.temperal_downsample = j["temperal_downsample"].get<std::vector<bool>>();
  expect_same_layout(models::vae22_weight_shapes(c), test::golden_dir() + "/vae.safetensors");
}
