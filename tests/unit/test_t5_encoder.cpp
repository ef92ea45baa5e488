// The UMT5 encoder on random weights against a plain double-precision re-implementation of the
// official T5Encoder; masks with holes (the bias path), prefix masks (the valid-length path), the
// shared position table, bf16 weights, transformers key names, config parsing and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "io/safetensors.h"
#include "io/weight_store.h"
#include "models/text/t5_config.h"
#include "models/text/t5_encoder.h"
#include "models/text/t5_key_alias.h"
#include "models/text/t5_position_bias.h"
#include "test_util.h"

using namespace wan22;
using models::text::T5Config;
using models::text::T5Encoder;

namespace {

using Weights = std::map<std::string, std::vector<float>>;

T5Config small_config(bool shared_pos) {
  T5Config c;
  c.vocab = 23;
  c.dim = 16;
  c.dim_attn = 12;  // 3 heads of 4
  c.dim_ffn = 24;
  c.num_heads = 3;
  c.num_layers = 2;
  c.num_buckets = 8;
  c.max_distance = 12;
  c.shared_pos = shared_pos;
  return c;
}

std::vector<std::pair<std::string, Shape>> layout(const T5Config& c) {
  std::vector<std::pair<std::string, Shape>> l = {{"token_embedding.weight", {c.vocab, c.dim}}, {"norm.weight", {c.dim}}};
  if (c.shared_pos) l.push_back({"pos_embedding.embedding.weight", {c.num_buckets, c.num_heads}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    l.push_back({p + "norm1.weight", {c.dim}});
    l.push_back({p + "norm2.weight", {c.dim}});
    for (const char* m : {"q", "k", "v"}) l.push_back({p + "attn." + m + ".weight", {c.dim_attn, c.dim}});
    l.push_back({p + "attn.o.weight", {c.dim, c.dim_attn}});
    if (!c.shared_pos) l.push_back({p + "pos_embedding.embedding.weight", {c.num_buckets, c.num_heads}});
    l.push_back({p + "ffn.gate.0.weight", {c.dim_ffn, c.dim}});
    l.push_back({p + "ffn.fc1.weight", {c.dim_ffn, c.dim}});
    l.push_back({p + "ffn.fc2.weight", {c.dim, c.dim_ffn}});
  }
  return l;
}

// Random weights (rounded through bf16 when asked, so the reference sees the stored values), written
// to a safetensors file under the given names.
Weights make_weights(const T5Config& c, uint64_t seed, bool bf16, const std::string& path,
                     std::string (*rename)(const std::string&) = nullptr) {
  Weights w;
  std::vector<std::pair<std::string, Tensor>> tensors;
  uint64_t s = seed;
  for (const auto& [name, shape] : layout(c)) {
    const bool is_norm = name.find("norm") != std::string::npos;
    Tensor t = is_norm ? test::random_tensor(shape, ++s, 0.5f, 1.5f) : test::random_tensor(shape, ++s, -0.5f, 0.5f);
    if (bf16) t = t.to(DType::kBF16);
    w[name] = t.to_vector();
    tensors.emplace_back(rename ? rename(name) : name, t);
  }
  io::write_safetensors(path, tensors);
  return w;
}

// The official T5Encoder.forward in double precision, one batch row.
std::vector<double> reference(const T5Config& c, const Weights& w, const std::vector<int64_t>& ids,
                              const std::vector<int64_t>& mask) {
  const int64_t L = static_cast<int64_t>(ids.size()), D = c.dim, H = c.num_heads, hd = c.head_dim();
  auto rms = [&](const std::vector<double>& x, const std::vector<float>& g) {
    std::vector<double> y(x.size());
    for (int64_t i = 0; i < L; ++i) {
      double ss = 0;
      for (int64_t d = 0; d < D; ++d) ss += x[i * D + d] * x[i * D + d];
      const double r = 1.0 / std::sqrt(ss / D + c.eps);
      for (int64_t d = 0; d < D; ++d) y[i * D + d] = x[i * D + d] * r * g[d];
    }
    return y;
  };
  auto lin = [&](const std::vector<double>& x, const std::vector<float>& W, int64_t in, int64_t out) {
    std::vector<double> y(static_cast<size_t>(L * out));
    for (int64_t i = 0; i < L; ++i)
      for (int64_t o = 0; o < out; ++o) {
        double a = 0;
        for (int64_t k = 0; k < in; ++k) a += x[i * in + k] * W[o * in + k];
        y[i * out + o] = a;
      }
    return y;
  };
  // Bidirectional bucket in double precision.
  auto bucket = [&](int64_t rel) {
    const int64_t n = c.num_buckets / 2, max_exact = n / 2;
    int64_t b = rel > 0 ? n : 0;
    rel = std::llabs(rel);
    if (rel < max_exact) return b + rel;
    const int64_t large = max_exact + static_cast<int64_t>(std::log(static_cast<double>(rel) / max_exact) /
                                                           std::log(static_cast<double>(c.max_distance) / max_exact) *
                                                           (n - max_exact));
    return b + std::min(large, n - 1);
  };
  std::vector<double> x(static_cast<size_t>(L * D));
  const auto& emb = w.at("token_embedding.weight");
  for (int64_t i = 0; i < L; ++i)
    for (int64_t d = 0; d < D; ++d) x[i * D + d] = emb[ids[i] * D + d];
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    const auto& table = w.at(c.shared_pos ? "pos_embedding.embedding.weight" : p + "pos_embedding.embedding.weight");
    const auto h = rms(x, w.at(p + "norm1.weight"));
    const auto q = lin(h, w.at(p + "attn.q.weight"), D, c.dim_attn);
    const auto k = lin(h, w.at(p + "attn.k.weight"), D, c.dim_attn);
    const auto v = lin(h, w.at(p + "attn.v.weight"), D, c.dim_attn);
    std::vector<double> att(static_cast<size_t>(L * c.dim_attn), 0.0);
    for (int64_t hh = 0; hh < H; ++hh)
      for (int64_t i = 0; i < L; ++i) {
        std::vector<double> s(static_cast<size_t>(L));
        double mx = -1e300;
        for (int64_t j = 0; j < L; ++j) {
          double a = 0;
          for (int64_t e = 0; e < hd; ++e) a += q[i * c.dim_attn + hh * hd + e] * k[j * c.dim_attn + hh * hd + e];
          s[j] = mask[j] ? a + table[bucket(j - i) * H + hh] : -1e300;  // no 1/sqrt(d)
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (int64_t j = 0; j < L; ++j) z += (s[j] = mask[j] ? std::exp(s[j] - mx) : 0.0);
        for (int64_t j = 0; j < L; ++j)
          for (int64_t e = 0; e < hd; ++e) att[i * c.dim_attn + hh * hd + e] += s[j] / z * v[j * c.dim_attn + hh * hd + e];
      }
    const auto o = lin(att, w.at(p + "attn.o.weight"), c.dim_attn, D);
    for (size_t t = 0; t < x.size(); ++t) x[t] += o[t];
    const auto h2 = rms(x, w.at(p + "norm2.weight"));
    auto g = lin(h2, w.at(p + "ffn.gate.0.weight"), D, c.dim_ffn);
    const auto f = lin(h2, w.at(p + "ffn.fc1.weight"), D, c.dim_ffn);
    for (size_t t = 0; t < g.size(); ++t) {
      const double u = g[t];
      g[t] = 0.5 * u * (1 + std::tanh(std::sqrt(2 / M_PI) * (u + 0.044715 * u * u * u))) * f[t];
    }
    const auto y = lin(g, w.at(p + "ffn.fc2.weight"), c.dim_ffn, D);
    for (size_t t = 0; t < x.size(); ++t) x[t] += y[t];
  }
  return rms(x, w.at("norm.weight"));
}

Tensor i64_tensor(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), L = static_cast<int64_t>(rows[0].size());
  Tensor t = Tensor::empty({B, L}, DType::kI64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < L; ++j) t.data<int64_t>()[b * L + j] = rows[b][j];
  return t;
}

double row_error(const Tensor& out, int64_t b, int64_t rows, const std::vector<double>& ref, int64_t dim) {
  const Tensor r = out.select(0, b).narrow(0, 0, rows).contiguous();
  std::vector<float> refv(ref.begin(), ref.begin() + rows * dim);
  return test::rel_err(r, Tensor::from_vector(refv, {rows, dim}));
}

const std::vector<std::vector<int64_t>> kIds = {{3, 7, 1, 22, 9, 0, 5, 14, 2}, {11, 4, 4, 19, 1, 6, 0, 8, 13}};

void check_against_reference(const T5Config& c, const Weights& w, const T5Encoder& enc,
                             const std::vector<std::vector<int64_t>>& masks, double tol) {
  const Tensor out = enc.forward(i64_tensor(kIds), i64_tensor(masks));
  ASSERT_EQ(out.shape(), (Shape{2, 9, c.dim}));
  for (int64_t b = 0; b < 2; ++b) {
    const auto ref = reference(c, w, kIds[b], masks[b]);
    const double err = row_error(out, b, 9, ref, c.dim);
    EXPECT_LE(err, tol) << "row " << b;
  }
}

}  // namespace

TEST(T5Encoder, MaskWithHolesMatchesReference) {
  const T5Config c = small_config(false);
  const std::string path = test::temp_dir() + "/t5.safetensors";
  const Weights w = make_weights(c, 7, false, path);
  io::WeightStore ws = io::WeightStore::open(path);
  const T5Encoder enc(ws, c);
  check_against_reference(c, w, enc, {{1, 1, 1, 1, 1, 1, 0, 0, 0}, {1, 1, 0, 1, 1, 1, 0, 1, 0}}, 1e-5);
}

TEST(T5Encoder, PrefixMasksAndTrimmedRowsMatchReference) {
  const T5Config c = small_config(false);
  const std::string path = test::temp_dir() + "/t5.safetensors";
  const Weights w = make_weights(c, 8, false, path);
  io::WeightStore ws = io::WeightStore::open(path);
  const T5Encoder enc(ws, c);
  const std::vector<std::vector<int64_t>> masks = {{1, 1, 1, 1, 1, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 1, 0}};
  check_against_reference(c, w, enc, masks, 1e-5);
  // No mask at all = every token real.
  const Tensor all = enc.forward(i64_tensor(kIds));
  EXPECT_LE(row_error(all, 1, 9, reference(c, w, kIds[1], std::vector<int64_t>(9, 1)), c.dim), 1e-5);

  const auto trimmed = enc.encode_trimmed(i64_tensor(kIds), i64_tensor(masks));
  ASSERT_EQ(trimmed.size(), 2u);
  EXPECT_EQ(trimmed[0].shape(), (Shape{5, c.dim}));
  EXPECT_EQ(trimmed[1].shape(), (Shape{8, c.dim}));
  for (int64_t b = 0; b < 2; ++b) {
    const auto ref = reference(c, w, kIds[b], masks[b]);
    const int64_t n = trimmed[b].dim(0);
    std::vector<float> refv(ref.begin(), ref.begin() + n * c.dim);
    EXPECT_LE(test::rel_err(trimmed[b], Tensor::from_vector(refv, {n, c.dim})), 1e-5) << "row " << b;
  }
  // A mask with a hole: the first n_real (= count of mask > 0) rows of the full forward.
  const std::vector<std::vector<int64_t>> holes = {{1, 0, 1, 1, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 1, 1}};
  const auto t2 = enc.encode_trimmed(i64_tensor(kIds), i64_tensor(holes));
  ASSERT_EQ(t2[0].shape(), (Shape{3, c.dim}));
  EXPECT_LE(row_error(enc.forward(i64_tensor(kIds), i64_tensor(holes)), 0, 3,
                      reference(c, w, kIds[0], holes[0]), c.dim), 1e-5);
  std::vector<float> ref0;
  const auto r0 = reference(c, w, kIds[0], holes[0]);
  ref0.assign(r0.begin(), r0.begin() + 3 * c.dim);
  EXPECT_LE(test::rel_err(t2[0], Tensor::from_vector(ref0, {3, c.dim})), 1e-5);
}

TEST(T5Encoder, SharedPositionTableAndBf16Weights) {
  const T5Config c = small_config(true);
  const std::string path = test::temp_dir() + "/t5_bf16.safetensors";
  const Weights w = make_weights(c, 9, true, path);
  io::WeightStore ws = io::WeightStore::open(path);
  const T5Config inferred = models::text::infer_t5_config(ws);
  EXPECT_TRUE(inferred.shared_pos);
  EXPECT_EQ(inferred.num_layers, c.num_layers);
  EXPECT_EQ(inferred.num_heads, c.num_heads);
  const T5Encoder enc(ws, c);
  check_against_reference(c, w, enc, {{1, 1, 1, 1, 1, 1, 1, 0, 0}, {1, 0, 1, 1, 0, 1, 1, 1, 0}}, 1e-5);
}

namespace {
std::string to_transformers(const std::string& k) {
  static const std::vector<std::pair<std::string, std::string>> subs = {
      {"attn.q.", "layer.0.SelfAttention.q."}, {"attn.k.", "layer.0.SelfAttention.k."},
      {"attn.v.", "layer.0.SelfAttention.v."}, {"attn.o.", "layer.0.SelfAttention.o."},
      {"pos_embedding.embedding.", "layer.0.SelfAttention.relative_attention_bias."},
      {"norm1.", "layer.0.layer_norm."}, {"norm2.", "layer.1.layer_norm."},
      {"ffn.gate.0.", "layer.1.DenseReluDense.wi_0."}, {"ffn.fc1.", "layer.1.DenseReluDense.wi_1."},
      {"ffn.fc2.", "layer.1.DenseReluDense.wo."}};
  if (k == "token_embedding.weight") return "encoder.embed_tokens.weight";
  if (k == "norm.weight") return "encoder.final_layer_norm.weight";
  std::string r = "encoder.block." + k.substr(7);  // "blocks." -> "encoder.block."
  for (const auto& [a, b] : subs)
    if (auto p = r.find(a); p != std::string::npos) r.replace(p, a.size(), b);
  return r;
}
}  // namespace

TEST(T5Encoder, TransformersKeyNames) {
  const T5Config c = small_config(false);
  const std::string dir = test::temp_dir();
  const Weights w = make_weights(c, 10, false, dir + "/official.safetensors");
  make_weights(c, 10, false, dir + "/transformers.safetensors", &to_transformers);
  io::WeightStore a = io::WeightStore::open(dir + "/official.safetensors");
  io::WeightStore b = io::WeightStore::open(dir + "/transformers.safetensors");
  EXPECT_EQ(models::text::install_t5_key_map(a), "official");
  EXPECT_EQ(models::text::install_t5_key_map(b), "transformers");
  EXPECT_EQ(b.resolve("blocks.1.ffn.gate.0.weight"), "encoder.block.1.layer.1.DenseReluDense.wi_0.weight");
  EXPECT_EQ(b.resolve("token_embedding.weight"), "encoder.embed_tokens.weight");
  const T5Encoder ea(a, c), eb(b, c);
  const Tensor ids = i64_tensor(kIds);
  EXPECT_EQ(test::max_abs_diff(ea.forward(ids), eb.forward(ids)), 0.0);
}

TEST(T5Encoder, BadInputIsAClearError) {
  const T5Config c = small_config(false);
  const std::string path = test::temp_dir() + "/t5.safetensors";
  make_weights(c, 11, false, path);
  io::WeightStore ws = io::WeightStore::open(path);
  T5Config wrong = c;
  wrong.dim_ffn = 32;
  try {
    T5Encoder bad(ws, wrong);
    FAIL() << "wrong dim_ffn accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.0.ffn.gate.0.weight"), std::string::npos) << e.what();
  }
  const T5Encoder enc(ws, c);
  EXPECT_THROW(enc.forward(i64_tensor({{1, 2, 23}})), Error);                       // id outside vocab
  EXPECT_THROW(enc.forward(i64_tensor({{1, 2, 3}}), i64_tensor({{1, 1}})), Error);  // mask shape
  EXPECT_THROW(enc.forward(Tensor::zeros({3}, DType::kI64)), Error);                // not [B, L]

  const std::string other = test::temp_dir() + "/other.safetensors";
  io::write_safetensors(other, {{"foo.weight", Tensor::full({2}, 1.0f)}});
  io::WeightStore ws2 = io::WeightStore::open(other);
  EXPECT_THROW(models::text::install_t5_key_map(ws2), Error);
}

TEST(T5Config, ParsesOfficialAndTransformersJson) {
  const T5Config a = models::text::parse_t5_config(
      R"({"vocab": 96, "dim": 32, "dim_attn": 32, "dim_ffn": 64, "num_heads": 4, "num_layers": 2,
          "num_buckets": 32, "shared_pos": false})", "a.json");
  EXPECT_EQ(a.vocab, 96);
  EXPECT_EQ(a.head_dim(), 8);
  EXPECT_FALSE(a.shared_pos);
  const T5Config b = models::text::parse_t5_config(
      R"({"model_type": "umt5", "vocab_size": 256384, "d_model": 4096, "d_kv": 64, "d_ff": 10240,
          "num_heads": 64, "num_layers": 24, "relative_attention_num_buckets": 32,
          "relative_attention_max_distance": 128, "feed_forward_proj": "gated-gelu",
          "dense_act_fn": "gelu_new", "layer_norm_epsilon": 1e-6})", "b.json");
  const T5Config x = models::text::umt5_xxl_config();
  EXPECT_EQ(b.vocab, x.vocab);
  EXPECT_EQ(b.dim_attn, x.dim_attn);
  EXPECT_EQ(b.dim_ffn, x.dim_ffn);
  EXPECT_EQ(b.num_layers, x.num_layers);
  EXPECT_FALSE(b.shared_pos);
  EXPECT_TRUE(models::text::parse_t5_config(
                  R"({"model_type": "t5", "vocab_size": 10, "d_model": 8, "d_kv": 4, "d_ff": 16, "num_heads": 2,
                      "num_layers": 1, "feed_forward_proj": "gated-gelu"})", "t5.json")
                  .shared_pos);
  try {
    models::text::parse_t5_config(R"({"vocab": 96, "dim": 32, "num_heads": 4})", "missing.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("dim_ffn"), std::string::npos) << e.what();
  }
  EXPECT_THROW(models::text::parse_t5_config(
                   R"({"vocab_size": 10, "d_model": 8, "d_kv": 4, "d_ff": 16, "num_heads": 2, "num_layers": 1,
                       "feed_forward_proj": "relu"})", "relu.json"),
               Error);
  EXPECT_THROW(models::text::parse_t5_config(R"({"vocab": 96, "dim": 32, "dim_attn": 30, "dim_ffn": 64,
                   "num_heads": 4, "num_layers": 2, "num_buckets": 32})", "heads.json"),
               Error);
  EXPECT_THROW(models::text::parse_t5_config("{not json", "bad.json"), Error);
}

TEST(T5PositionBias, BucketsOfTheReference) {
  using models::text::relative_position_bucket;
  // Bidirectional, 32 buckets, max distance 128 (UMT5): exact below 8, logarithmic up to 15 per side.
  const std::pair<int64_t, int64_t> cases[] = {{0, 0},    {-1, 1},    {1, 17},    {-7, 7},   {7, 23},  {-8, 8},
                                               {-15, 9},  {-16, 10},  {16, 26},   {-31, 11}, {-32, 12}, {-64, 14},
                                               {-100, 15}, {-127, 15}, {-128, 15}, {-511, 15}, {511, 31}};
  for (const auto& [rel, want] : cases) EXPECT_EQ(relative_position_bucket(rel, true, 32, 128), want) << rel;
  // Against double precision for every offset of a 512-token prompt.
  for (int64_t rel = -511; rel <= 511; ++rel) {
    int64_t n = 16, b = rel > 0 ? 16 : 0, r = std::llabs(rel);
    int64_t want = r < 8 ? b + r : b + std::min<int64_t>(15, 8 + static_cast<int64_t>(std::log(r / 8.0) / std::log(16.0) * 8));
    (void)n;
    ASSERT_EQ(relative_position_bucket(rel, true, 32, 128), want) << rel;
  }
  const auto buckets = models::text::relative_position_buckets(3, 3, true, 32, 128);
  EXPECT_EQ(buckets, (std::vector<int32_t>{0, 17, 18, 1, 0, 17, 2, 1, 0}));
}

#include "models/text/negative_prompt.h"
#include "models/text/text_encoder.h"
#include "pipeline/demo_model.h"

TEST(TextEncoder, OfficialCallOnTheDemoCheckpoint) {
  const std::string dir = pipeline::ensure_demo_model(test::temp_dir() + "/demo", 3);
  const auto te = models::text::TextEncoder::load(dir + "/models_t5_umt5-xxl-enc-bf16.safetensors",
                                                  dir + "/t5_config.json",
                                                  models::text::T5Tokenizer::find_model(dir), /*text_len=*/24);
  const std::vector<std::string> prompts = {"a red cat walks on the beach", "", models::text::kDefaultNegativePrompt};
  const auto ctx = te(prompts);
  ASSERT_EQ(ctx.size(), 3u);
  const auto batch = te.tokenizer()(prompts, 24);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(ctx[i].shape(), (Shape{batch.lengths[i], te.encoder().config().dim})) << i;
    // The same rows as the full 24-token forward with its padding mask.
    const Tensor full = te.encoder().forward(batch.ids.narrow(0, static_cast<int64_t>(i), 1),
                                             batch.mask.narrow(0, static_cast<int64_t>(i), 1));
    const Tensor rows = full.select(0, 0).narrow(0, 0, batch.lengths[i]).contiguous();
    EXPECT_LE(test::rel_err(ctx[i], rows), 1e-6) << i;
  }
  EXPECT_EQ(batch.lengths[1], 1);   // empty prompt: EOS only
  EXPECT_EQ(batch.lengths[2], 24);  // long prompt: truncated to text_len - 1 pieces + EOS
  EXPECT_EQ(batch.ids.data<int64_t>()[2 * 24 + 23], te.tokenizer().eos_id());
}
