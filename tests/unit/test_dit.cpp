// Unit tests of the Wan DiT: config parsing (official + Diffusers) and its errors, weight-loading
// errors, key layouts (official / Diffusers / ComfyUI prefix give the same model), batching and
// the per-distinct-timestep embedding. Random tiny weights; no fixtures needed.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "io/safetensors.h"
#include "io/weight_store.h"
#include "models/dit/dit_config.h"
#include "models/dit/dit_keys.h"
#include "models/dit/timesteps.h"
#include "models/dit/wan_model.h"
#include "ops/ops.h"
#include "test_util.h"

using namespace wan22;
using namespace wan22::models::dit;
using nlohmann::json;

namespace {

json official_json() {
  return json{{"model_type", "ti2v"}, {"patch_size", {1, 2, 2}}, {"text_len", 6}, {"in_dim", 4},
              {"dim", 24},           {"ffn_dim", 40},           {"freq_dim", 16}, {"text_dim", 8},
              {"out_dim", 4},        {"num_heads", 2},          {"num_layers", 2}, {"window_size", {-1, -1}},
              {"qk_norm", true},     {"cross_attn_norm", true}, {"eps", 1e-6}};
}

json diffusers_json() {
  return json{{"_class_name", "WanTransformer3DModel"},
              {"attention_head_dim", 12},
              {"cross_attn_norm", true},
              {"eps", 1e-6},
              {"ffn_dim", 40},
              {"freq_dim", 16},
              {"image_dim", nullptr},
              {"added_kv_proj_dim", nullptr},
              {"in_channels", 4},
              {"num_attention_heads", 2},
              {"num_layers", 2},
              {"out_channels", 4},
              {"patch_size", {1, 2, 2}},
              {"pos_embed_seq_len", nullptr},
              {"qk_norm", "rms_norm_across_heads"},
              {"rope_max_seq_len", 1024},
              {"text_dim", 8}};
}

// Expects `f` to throw wan22::Error with `code` and a message containing every string of `parts`.
template <class F>
void expect_error(F&& f, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// Official-named random weights for `c` (seeded; never all zeros).
std::vector<std::pair<std::string, Tensor>> random_weights(const DitConfig& c, uint64_t seed) {
  std::vector<std::pair<std::string, Tensor>> w;
  auto add = [&](const std::string& k, const Shape& s, float scale = 0.3f) {
    w.emplace_back(k, test::random_tensor(s, seed++, -scale, scale));
  };
  const int64_t d = c.dim;
  add("patch_embedding.weight", {d, c.in_dim, c.patch_size[0], c.patch_size[1], c.patch_size[2]});
  add("patch_embedding.bias", {d});
  add("text_embedding.0.weight", {d, c.text_dim});
  add("text_embedding.0.bias", {d});
  add("text_embedding.2.weight", {d, d});
  add("text_embedding.2.bias", {d});
  add("time_embedding.0.weight", {d, c.freq_dim});
  add("time_embedding.0.bias", {d});
  add("time_embedding.2.weight", {d, d});
  add("time_embedding.2.bias", {d});
  add("time_projection.1.weight", {6 * d, d});
  add("time_projection.1.bias", {6 * d});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    for (const char* a : {"self_attn", "cross_attn"}) {
      for (const char* l : {"q", "k", "v", "o"}) {
        add(p + a + "." + l + ".weight", {d, d});
        add(p + a + "." + l + ".bias", {d});
      }
      add(p + a + ".norm_q.weight", {d}, 1.0f);
      add(p + a + ".norm_k.weight", {d}, 1.0f);
    }
    add(p + "norm3.weight", {d}, 1.0f);
    add(p + "norm3.bias", {d});
    add(p + "ffn.0.weight", {c.ffn_dim, d});
    add(p + "ffn.0.bias", {c.ffn_dim});
    add(p + "ffn.2.weight", {d, c.ffn_dim});
    add(p + "ffn.2.bias", {d});
    add(p + "modulation", {1, 6, d});
  }
  add("head.head.weight", {c.out_dim * c.patch_volume(), d});
  add("head.head.bias", {c.out_dim * c.patch_volume()});
  add("head.modulation", {1, 2, d});
  return w;
}

std::string write_weights(const std::vector<std::pair<std::string, Tensor>>& w, const std::string& name) {
  std::string path = test::temp_dir() + "/" + name;
  io::write_safetensors(path, w);
  return path;
}

// Rewrites official names with the Diffusers table's rules (what convert_wan_to_diffusers does).
std::vector<std::pair<std::string, Tensor>> to_diffusers(const std::vector<std::pair<std::string, Tensor>>& w) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [k, t] : w) {
    std::string name = k;
    for (const auto& r : diffusers_dit_aliases().rules) {
      std::regex re(r.canonical);
      if (std::regex_search(k, re)) {
        name = std::regex_replace(k, re, r.stored, std::regex_constants::format_first_only);
        break;
      }
    }
    out.emplace_back(name, t);
  }
  return out;
}

struct Inputs {
  Tensor x, t_scalar, t_tokens, context;
  int64_t seq_len;
};

Inputs make_inputs(const DitConfig& c, uint64_t seed) {
  Inputs in;
  const int64_t f = 2, h = 4, w = 6;
  in.x = test::random_tensor({c.in_dim, f, h, w}, seed);
  in.seq_len = f * (h / c.patch_size[1]) * (w / c.patch_size[2]);
  in.t_scalar = Tensor::from_vector({700.5f}, {1});
  std::vector<float> tt(static_cast<size_t>(in.seq_len), 700.5f);
  for (int64_t i = 0; i < in.seq_len / f; ++i) tt[static_cast<size_t>(i)] = 0.0f;  // frame 0 at t = 0
  in.t_tokens = Tensor::from_vector(tt, {1, in.seq_len});
  in.context = test::random_tensor({c.text_len - 2, c.text_dim}, seed + 1);
  return in;
}

}  // namespace

// ---------------- config ----------------

TEST(DitConfig, ParsesOfficial) {
  DitConfig c = parse_dit_config(official_json(), "cfg.json");
  EXPECT_EQ(c.layout, "official");
  EXPECT_EQ(c.model_type, "ti2v");
  EXPECT_EQ(c.dim, 24);
  EXPECT_EQ(c.head_dim(), 12);
  EXPECT_EQ(c.text_len, 6);
  EXPECT_EQ(c.patch_volume(), 4);
  EXPECT_TRUE(c.sinusoid_f64);
  EXPECT_FALSE(c.needs_condition());
}

TEST(DitConfig, OfficialDefaultsForKeysThatWanModelLeavesOut) {
  // The published config.json omits the keys in WanModel.ignore_for_config.
  json j = official_json();
  for (const char* k : {"patch_size", "qk_norm", "cross_attn_norm", "text_dim", "window_size"}) j.erase(k);
  DitConfig c = parse_dit_config(j, "cfg.json");
  EXPECT_EQ(c.text_dim, 4096);
  EXPECT_EQ(c.patch_size, (std::array<int64_t, 3>{1, 2, 2}));
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.cross_attn_norm);
}

TEST(DitConfig, ParsesDiffusers) {
  DitConfig c = parse_dit_config(diffusers_json(), "transformer/config.json");
  EXPECT_EQ(c.layout, "diffusers");
  EXPECT_EQ(c.dim, 24);
  EXPECT_EQ(c.num_heads, 2);
  EXPECT_EQ(c.in_dim, 4);
  EXPECT_EQ(c.out_dim, 4);
  EXPECT_EQ(c.model_type, "t2v");
  EXPECT_FALSE(c.sinusoid_f64);
  json j = diffusers_json();
  j["in_channels"] = 12;  // I2V: condition channels concatenated on the input
  EXPECT_EQ(parse_dit_config(j, "x").model_type, "i2v");
  j = diffusers_json();
  j["out_channels"] = nullptr;
  EXPECT_EQ(parse_dit_config(j, "x").out_dim, 4);
}

TEST(DitConfig, ErrorsNameFileAndKey) {
  json j = official_json();
  j.erase("dim");
  expect_error([&] { parse_dit_config(j, "ckpt/config.json"); }, ErrorCode::kNotFound, {"ckpt/config.json", "'dim'"});
  j = official_json();
  j["num_heads"] = "2";
  expect_error([&] { parse_dit_config(j, "ckpt/config.json"); }, ErrorCode::kInvalidArgument,
               {"ckpt/config.json", "'num_heads'", "integer"});
  j = official_json();
  j["num_layers"] = 0;
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kInvalidArgument, {"'num_layers'", ">= 1"});
  j = official_json();
  j["patch_size"] = {1, 2};
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kInvalidArgument, {"'patch_size'"});
  j = official_json();
  j["model_type"] = "xyz";
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kInvalidArgument, {"'model_type'", "xyz"});
  j = official_json();
  j["model_type"] = "s2v";
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kUnsupported, {"'model_type'"});
  j = official_json();
  j["window_size"] = {4, 4};
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kUnsupported, {"'window_size'"});
  j = official_json();
  j["eps"] = -1;
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kInvalidArgument, {"'eps'"});
  j = official_json();
  j["qk_norm"] = 1;
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kInvalidArgument, {"'qk_norm'"});
  j = official_json();
  j["num_heads"] = 5;  // 24 % 5 != 0
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kInvalidArgument, {"c.json", "divisible"});
  j = official_json();
  j["model_type"] = "i2v";  // in_dim == out_dim: no room for the condition
  expect_error([&] { parse_dit_config(j, "c.json"); }, ErrorCode::kInvalidArgument, {"i2v", "in_dim"});

  json d = diffusers_json();
  d.erase("num_attention_heads");
  expect_error([&] { parse_dit_config(d, "t/config.json"); }, ErrorCode::kNotFound,
               {"t/config.json", "'num_attention_heads'"});
  d = diffusers_json();
  d["image_dim"] = 1280;
  expect_error([&] { parse_dit_config(d, "t/config.json"); }, ErrorCode::kUnsupported, {"'image_dim'"});
  d = diffusers_json();
  d["qk_norm"] = "rms_norm";
  expect_error([&] { parse_dit_config(d, "t/config.json"); }, ErrorCode::kUnsupported, {"'qk_norm'"});
  d = diffusers_json();
  d["_class_name"] = "AutoencoderKLWan";
  expect_error([&] { parse_dit_config(d, "t/config.json"); }, ErrorCode::kInvalidArgument, {"'_class_name'"});
}

TEST(DitConfig, LoadFileErrors) {
  std::string dir = test::temp_dir();
  expect_error([&] { load_dit_config(dir); }, ErrorCode::kNotFound, {dir + "/config.json"});
  {
    std::ofstream(dir + "/config.json") << "{ \"dim\": ";
  }
  expect_error([&] { load_dit_config(dir); }, ErrorCode::kCorruptData, {dir + "/config.json", "JSON"});
  {
    std::ofstream(dir + "/config.json") << official_json().dump();
  }
  EXPECT_EQ(load_dit_config(dir + "/config.json").dim, 24);
  EXPECT_EQ(load_dit_config(dir).dim, 24);
}

// ---------------- timesteps ----------------

TEST(DitTimesteps, DistinctRowsPerToken) {
  Tensor t = Tensor::from_vector({0, 0, 5, 5, 5, 5, 9}, {1, 7});
  TimestepRows r = distinct_timesteps(t, 1, 6, 7);  // 6 real tokens, 1 padding
  ASSERT_EQ(r.distinct(), 2);
  EXPECT_EQ(r.values[0], 0.0);
  EXPECT_EQ(r.values[1], 5.0);
  EXPECT_EQ(r.row, (std::vector<int32_t>{0, 0, 1, 1, 1, 1}));
  TimestepRows s = distinct_timesteps(Tensor::from_vector({3}, {1}), 2, 4, 4);  // shared by the batch
  EXPECT_EQ(s.distinct(), 1);
  EXPECT_EQ(s.row.size(), 8u);
  EXPECT_THROW(distinct_timesteps(Tensor::from_vector({1, 2, 3}, {3}), 2, 4, 4), Error);
  EXPECT_THROW(distinct_timesteps(t, 1, 8, 7), Error);  // more tokens than seq_len
}

TEST(DitTimesteps, SinusoidMatchesFormula) {
  std::vector<double> t = {0.0, 999.0, 37.25};
  for (bool f64 : {true, false}) {
    Tensor e = sinusoidal_embedding(t, 8, f64);
    ASSERT_EQ(e.shape(), (Shape{3, 8}));
    for (int r = 0; r < 3; ++r) {
      for (int i = 0; i < 4; ++i) {
        double a = t[static_cast<size_t>(r)] * std::pow(10000.0, -i / 4.0);
        EXPECT_NEAR(e.item_f32(r * 8 + i), std::cos(a), 2e-4);
        EXPECT_NEAR(e.item_f32(r * 8 + 4 + i), std::sin(a), 2e-4);
      }
    }
  }
}

// ---------------- weights and layouts ----------------

TEST(DitWeights, MissingKeyNamesTheKey) {
  DitConfig c = parse_dit_config(official_json(), "cfg");
  auto w = random_weights(c, 10);
  std::erase_if(w, [](const auto& kv) { return kv.first == "blocks.1.cross_attn.norm_k.weight"; });
  auto ws = io::WeightStore::open(write_weights(w, "dit.safetensors"));
  expect_error([&] { WanModel::load(ws, c); }, ErrorCode::kNotFound,
               {"blocks.1.cross_attn.norm_k.weight", "dit.safetensors"});
}

TEST(DitWeights, WrongShapeNamesKeyAndShapes) {
  DitConfig c = parse_dit_config(official_json(), "cfg");
  auto w = random_weights(c, 20);
  for (auto& [k, t] : w) {
    if (k == "blocks.0.ffn.0.weight") t = test::random_tensor({c.ffn_dim + 1, c.dim}, 3);
  }
  auto ws = io::WeightStore::open(write_weights(w, "dit.safetensors"));
  try {
    WanModel::load(ws, c);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("blocks.0.ffn.0.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("41"), std::string::npos) << m;
  }
}

TEST(DitWeights, UnknownLayoutIsAnError) {
  auto ws = io::WeightStore::open(write_weights({{"foo.weight", test::random_tensor({2, 2}, 1)}}, "x.safetensors"));
  expect_error([&] { install_dit_key_map(ws); }, ErrorCode::kNotFound, {"time_embedding.0.weight"});
}

// Needs the ops: the same weights under the official, Diffusers and ComfyUI names give the same
// output; the batch of two equals two single forwards; a per-token t that is uniform equals the
// scalar t; the i2v-style per-token t needs exactly two embedding rows.
TEST(DitModel, LayoutsBatchAndTimesteps) {
  DitConfig c = parse_dit_config(official_json(), "cfg");
  auto w = random_weights(c, 30);
  auto ws_off = io::WeightStore::open(write_weights(w, "off.safetensors"));
  EXPECT_EQ(install_dit_key_map(ws_off), "official");
  WanModel m = WanModel::load(ws_off, c);

  Inputs in = make_inputs(c, 99);
  Tensor ref = m.forward(in.x, in.t_scalar, in.context, nullptr, in.seq_len);
  ASSERT_EQ(ref.shape(), (Shape{c.out_dim, in.x.dim(1), in.x.dim(2), in.x.dim(3)}));
  EXPECT_GT(ops::max_abs(ref), 0.0);

  auto ws_dif = io::WeightStore::open(write_weights(to_diffusers(w), "dif.safetensors"));
  EXPECT_EQ(install_dit_key_map(ws_dif), "diffusers");
  EXPECT_EQ(test::rel_err(WanModel::load(ws_dif, c).forward(in.x, in.t_scalar, in.context, nullptr, in.seq_len), ref),
            0.0);

  std::vector<std::pair<std::string, Tensor>> comfy;
  for (const auto& [k, t] : w) comfy.emplace_back("model.diffusion_model." + k, t);
  auto ws_comfy = io::WeightStore::open(write_weights(comfy, "comfy.safetensors"));
  EXPECT_EQ(install_dit_key_map(ws_comfy), "official+prefix:model.diffusion_model.");
  EXPECT_EQ(
      test::rel_err(WanModel::load(ws_comfy, c).forward(in.x, in.t_scalar, in.context, nullptr, in.seq_len), ref),
      0.0);

  // uniform per-token t == scalar t
  Tensor t_uniform = Tensor::full({1, in.seq_len}, in.t_scalar.item_f32(0));
  EXPECT_LT(test::rel_err(m.forward(in.x, t_uniform, in.context, nullptr, in.seq_len), ref), 1e-6);

  // i2v-style t: two distinct embedding rows
  int64_t rows_seen = -1;
  m.set_debug_hook([&](const std::string& name, const Tensor& v) {
    if (name == "time_embed") rows_seen = v.dim(0);
  });
  Tensor ref_tok = m.forward(in.x, in.t_tokens, in.context, nullptr, in.seq_len);
  EXPECT_EQ(rows_seen, 2);
  EXPECT_GT(test::rel_err(ref_tok, ref), 1e-4);  // frame 0 at t=0 changes the output
  m.set_debug_hook(nullptr);

  // batch of two (CFG cond / uncond): equals the single forwards
  Tensor ctx2 = test::random_tensor({c.text_len, c.text_dim}, 7);
  Tensor other = m.forward(in.x, in.t_tokens, ctx2, nullptr, in.seq_len);
  Tensor xb = ops::concat({in.x.unsqueeze(0), in.x.unsqueeze(0)}, 0);
  Tensor both = m.forward_batch(xb, in.t_tokens, {in.context, ctx2}, nullptr, in.seq_len);
  ASSERT_EQ(both.dim(0), 2);
  EXPECT_LT(test::rel_err(both.select(0, 0).contiguous(), ref_tok), 1e-6);
  EXPECT_LT(test::rel_err(both.select(0, 1).contiguous(), other), 1e-6);

  // a sequence padded beyond the token count gives the same output (padding never reaches real tokens)
  EXPECT_LT(test::rel_err(m.forward(in.x, in.t_scalar, in.context, nullptr, in.seq_len + 5), ref), 1e-6);
}

TEST(DitModel, BadInputsAreErrors) {
  DitConfig c = parse_dit_config(official_json(), "cfg");
  auto ws = io::WeightStore::open(write_weights(random_weights(c, 40), "off.safetensors"));
  WanModel m = WanModel::load(ws, c);
  Inputs in = make_inputs(c, 5);
  Tensor too_long = test::random_tensor({c.text_len + 1, c.text_dim}, 3);
  expect_error([&] { m.forward(in.x, in.t_scalar, too_long, nullptr, in.seq_len); }, ErrorCode::kInvalidArgument,
               {"text_len"});
  Tensor odd = test::random_tensor({c.in_dim, 2, 5, 6}, 3);
  expect_error([&] { m.forward(odd, in.t_scalar, in.context, nullptr, 0); }, ErrorCode::kInvalidArgument, {"patch"});
  Tensor wrong_c = test::random_tensor({c.in_dim + 1, 2, 4, 6}, 3);
  expect_error([&] { m.forward(wrong_c, in.t_scalar, in.context, nullptr, 0); }, ErrorCode::kInvalidArgument,
               {"in_dim"});
  expect_error([&] { m.forward(in.x, in.t_scalar, in.context, nullptr, in.seq_len - 1); },
               ErrorCode::kInvalidArgument, {"seq_len"});
}

TEST(DitModel, StoredDtypeWeightsMatchF32) {
  // bf16 checkpoint: converting at load and converting on the fly in the ops give the same output.
  DitConfig c = parse_dit_config(official_json(), "cfg");
  auto w = random_weights(c, 50);
  for (auto& [k, t] : w) t = t.to(DType::kBF16);
  auto ws = io::WeightStore::open(write_weights(w, "bf16.safetensors"));
  WanModel f32 = WanModel::load(ws, c);
  LoadOptions keep;
  keep.keep_stored_dtype = true;
  WanModel stored = WanModel::load(ws, c, keep);
  Inputs in = make_inputs(c, 11);
  Tensor a = f32.forward(in.x, in.t_tokens, in.context, nullptr, in.seq_len);
  Tensor b = stored.forward(in.x, in.t_tokens, in.context, nullptr, in.seq_len);
  EXPECT_GT(ops::max_abs(a), 0.0);
  EXPECT_LT(test::rel_err(b, a), 1e-6);
}

TEST(DitModel, I2vConditionSharedByTheBatch) {
  json j = official_json();
  j["model_type"] = "i2v";
  j["in_dim"] = 6;
  j["out_dim"] = 2;
  DitConfig c = parse_dit_config(j, "cfg");
  auto ws = io::WeightStore::open(write_weights(random_weights(c, 60), "i2v.safetensors"));
  WanModel m = WanModel::load(ws, c);
  Tensor x = test::random_tensor({2, 2, 4, 4}, 1), y = test::random_tensor({4, 2, 4, 4}, 2);
  Tensor t = Tensor::from_vector({500.0f}, {1});
  Tensor ctx = test::random_tensor({3, c.text_dim}, 3);
  expect_error([&] { m.forward(x, t, ctx, nullptr, 0); }, ErrorCode::kInvalidArgument, {"i2v"});
  Tensor one = m.forward(x, t, ctx, &y, 0);
  ASSERT_EQ(one.shape(), (Shape{2, 2, 4, 4}));
  Tensor xb = ops::concat({x.unsqueeze(0), x.unsqueeze(0)}, 0);
  Tensor yb = y.unsqueeze(0);  // one condition for both items
  Tensor both = m.forward_batch(xb, t, {ctx, ctx}, &yb, 0);
  EXPECT_LT(test::rel_err(both.select(0, 1).contiguous(), one), 1e-6);
}
