// Golden cases of the DiT on the GPU: the official WanModel fixtures (test::golden_dir()) and the
// Diffusers transformer (test::diffusers_dir()) through cuda::DitCuda loaded from the fixture
// weights. bf16 linear layers against float32 references: tolerance 1e-2 (relative L2). Every
// size comes from the fixture's JSON and tensor shapes. Each case also runs the variants that must
// give the same result: cuDNN attention, all blocks streamed, the CFG pair batched and sequential,
// token segments and attention head slices (the memory options), fp8 and int8 weights (looser:
// cosine similarity).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "backends/cuda/dit_cuda.h"
#include "cuda_test_util.h"
#include "io/weight_store.h"
#include "models/dit/dit_config.h"
#include "models/dit/dit_keys.h"

using namespace wan22;
using namespace wan22::test;

namespace {

constexpr double kGoldenTol = 1e-2;

int64_t manifest_seq_len(const std::string& dir, const std::string& case_name) {
  std::ifstream in(dir + "/manifest.json");
  if (!in) throw Error(ErrorCode::kNotFound, dir + "/manifest.json: cannot open");
  auto m = nlohmann::json::parse(in);
  return m.at("cases").at(case_name).at("seq_len").get<int64_t>();
}

void report(const std::string& name, double err, double tol = kGoldenTol) {
  std::cout << "[cuda dit golden] " << name << ": rel_error = " << err << " (tolerance " << tol << ")\n";
  ::testing::Test::RecordProperty(name, std::to_string(err));
}

// One fixture case, ready to run: model + device inputs + reference.
struct GoldenCase {
  std::unique_ptr<cuda::DitCuda> dit;
  io::WeightStore ws;
  cuda::DitConfig cfg;
  Tensor latent_dev, ctx_dev, ref;
  cuda::DitInputs in;
};

// Per-token timesteps -> the two classes the CUDA forward supports (latent frame 0 and the rest).
void set_timesteps(const Tensor& t, int64_t tokens, int64_t frame_tokens, cuda::DitInputs& in) {
  const auto tv = t.to_vector();
  ASSERT_TRUE(tv.size() == 1 || static_cast<int64_t>(tv.size()) >= tokens)
      << "t has " << tv.size() << " values for " << tokens << " tokens";
  auto at = [&](int64_t l) { return static_cast<double>(tv.size() == 1 ? tv[0] : tv[static_cast<size_t>(l)]); };
  const int64_t first = std::min(frame_tokens, tokens);
  for (int64_t l = 1; l < first; ++l) ASSERT_EQ(at(l), at(0)) << "frame-0 tokens at different timesteps";
  for (int64_t l = first + 1; l < tokens; ++l) ASSERT_EQ(at(l), at(first)) << "tokens past frame 0 differ";
  in.timestep = first < tokens ? at(first) : at(0);
  in.first_frame_timestep = at(0);
  in.first_frame_clean = at(0) != in.timestep;
}

void prepare(GoldenCase& gc, const models::dit::DitConfig& mcfg, const std::string& weights, const Tensor& latent,
             const Tensor& context, const Tensor& t) {
  gc.cfg = cuda::dit_config_from(mcfg);
  gc.ws = io::WeightStore::open(weights);
  models::dit::install_dit_key_map(gc.ws);
  gc.dit = std::make_unique<cuda::DitCuda>(gc.cfg);
  gc.dit->load(gc.ws, nullptr);
  ASSERT_EQ(latent.dim(0), gc.cfg.in_dim);
  gc.latent_dev = to_dev(latent.contiguous(), DType::kF32);
  gc.ctx_dev = to_dev(context.contiguous(), DType::kBF16);
  gc.in.latent = f32p(gc.latent_dev);
  gc.in.frames = latent.dim(1), gc.in.height = latent.dim(2), gc.in.width = latent.dim(3);
  gc.in.context = bf(gc.ctx_dev);
  gc.in.context_len = context.dim(0);
  const int64_t gh = latent.dim(2) / gc.cfg.patch_h, gw = latent.dim(3) / gc.cfg.patch_w;
  set_timesteps(t, latent.dim(1) * gh * gw, gh * gw, gc.in);
}

// The main check (own attention kernel) and the variants that must agree with it.
void run_all(GoldenCase& gc, const std::string& name) {
  cuda::DitCuda& dit = *gc.dit;
  Tensor out;
  dit.forward(gc.in, out, nullptr);
  ASSERT_EQ(out.shape(), gc.ref.shape());
  const Tensor got = to_host(out);
  const double err = rel_err(got, gc.ref);
  report(name + " (own attention)", err);
  EXPECT_LE(err, kGoldenTol);

  // cuDNN attention
  std::string why;
  if (dit.use_cudnn_attention(true, &why)) {
    try {
      Tensor o2;
      dit.forward(gc.in, o2, nullptr);
      const double e2 = rel_err(to_host(o2), gc.ref);
      report(name + " (cuDNN attention)", e2);
      if (!dit.cudnn_note().empty()) std::cout << "  note: " << dit.cudnn_note() << "\n";
      EXPECT_LE(e2, kGoldenTol);
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": cuDNN attention failed: " << e.what();
    }
    dit.use_cudnn_attention(false);
  } else {
    std::cout << "  cuDNN unavailable: " << why << "\n";
  }

  // every block streamed from pinned host memory: the same bits as resident
  dit.set_resident_blocks(0, nullptr);
  EXPECT_EQ(dit.resident_blocks(), 0);
  EXPECT_GT(dit.host_weight_bytes(), 0u);
  Tensor o3;
  dit.forward(gc.in, o3, nullptr);
  const double d3 = max_abs_diff(to_host(o3), got);
  std::cout << "  [" << name << "] streamed vs resident max |diff| = " << d3 << "\n";
  EXPECT_EQ(d3, 0.0);
  // half resident, and back to all resident
  dit.set_resident_blocks(static_cast<int>(gc.cfg.layers / 2), nullptr);
  Tensor o3b;
  dit.forward(gc.in, o3b, nullptr);
  EXPECT_EQ(max_abs_diff(to_host(o3b), got), 0.0);
  dit.set_resident_blocks(-1, nullptr);
  EXPECT_EQ(dit.host_weight_bytes(), 0u);

  // CFG pair: cond = the fixture context, uncond = its first row only (any other text)
  Tensor oc, ou, sc, su;
  dit.forward_cfg(gc.in, gc.in.context, 1, oc, ou, nullptr, cuda::CfgBatching::kBatch2);
  dit.forward_cfg(gc.in, gc.in.context, 1, sc, su, nullptr, cuda::CfgBatching::kSequential);
  const double ec = rel_err(to_host(oc), gc.ref);
  report(name + " (CFG batch 2, cond)", ec);
  EXPECT_LE(ec, kGoldenTol);
  const double eu = rel_err(to_host(ou), to_host(su));
  report(name + " (CFG batch 2 vs sequential, uncond)", eu);
  EXPECT_LE(eu, kGoldenTol);
  EXPECT_GT(rel_err(to_host(ou), to_host(oc)), 1e-3);  // the uncond branch really saw another text

  // token segments (checkpoint_segments): the GEMMs' M changes, nothing else (see
  // test_cuda_dit_memory.cpp for the tolerance); then one head per attention call: the same bits
  dit.set_segments(3);
  Tensor o4;
  dit.forward(gc.in, o4, nullptr);
  const Tensor seg = to_host(o4);
  report(name + " (3 segments)", rel_err(seg, gc.ref));
  EXPECT_LE(rel_err(seg, gc.ref), kGoldenTol);
  report(name + " (3 segments vs whole)", rel_err(seg, got), 2e-3);
  EXPECT_LE(rel_err(seg, got), 2e-3);
  dit.set_segments(1);
  dit.set_attention_slice(1);
  Tensor o5;
  dit.forward(gc.in, o5, nullptr);
  EXPECT_EQ(max_abs_diff(to_host(o5), got), 0.0) << name << ": attention sliced per head";
  dit.set_attention_slice(0);
}

void fp8_check(GoldenCase& gc, const std::string& name) {
  Tensor ref_bf16;
  gc.dit->forward(gc.in, ref_bf16, nullptr);
  cuda::DitCuda q(gc.cfg);
  cuda::DitLoadOptions opt;
  opt.format = cuda::WeightFormat::kFP8;
  q.load(gc.ws, nullptr, opt);
  Tensor out;
  q.forward(gc.in, out, nullptr);
  const Tensor got = to_host(out);
  const double cs = cosine(got, gc.ref), e = rel_err(got, gc.ref);
  std::cout << "[cuda dit golden] " << name << " fp8 weights: cosine vs reference " << cs << ", rel_error " << e
            << " [" << q.fp8_note() << "]\n";
  EXPECT_GT(cs, 0.99);
}

// int8 weight-only: cosine against the reference and against the bf16 forward.
void int8_check(GoldenCase& gc, const std::string& name) {
  Tensor ref_bf16;
  gc.dit->forward(gc.in, ref_bf16, nullptr);
  cuda::DitCuda q(gc.cfg);
  cuda::DitLoadOptions opt;
  opt.format = cuda::WeightFormat::kInt8;
  q.load(gc.ws, nullptr, opt);
  EXPECT_EQ(q.weights().blocks[0].qkv_w.dtype(), DType::kI8);
  Tensor out;
  q.forward(gc.in, out, nullptr);
  const Tensor got = to_host(out), bf = to_host(ref_bf16);
  const double cs = cosine(got, gc.ref), cb = cosine(got, bf);
  std::cout << "[cuda dit golden] " << name << " int8 weights: cosine vs reference " << cs << ", vs bf16 " << cb
            << ", rel_error vs reference " << rel_err(got, gc.ref) << "\n";
  EXPECT_GT(cs, 0.99);
  EXPECT_GE(cb, 0.999);
  // streamed int8 blocks: the same bits
  q.set_resident_blocks(0, nullptr);
  Tensor o2;
  q.forward(gc.in, o2, nullptr);
  EXPECT_EQ(max_abs_diff(to_host(o2), got), 0.0);
}

void official_case(const std::string& case_name, const std::string& model_name, bool with_y, bool fp8 = false) {
  const std::string dir = golden_dir();
  const auto mcfg = models::dit::load_dit_config(dir + "/" + model_name + "_config.json");
  auto data = io::WeightStore::open(dir + "/" + case_name + ".safetensors");
  Tensor x = data.get_f32("x"), t = data.get_f32("t"), context = data.get_f32("context");
  Tensor latent = x;
  if (with_y) {
    // concat(x, y) on channels: [C, F, H, W] is channel-major, so y's values follow x's
    Tensor y = data.get_f32("y");
    latent = Tensor::empty({x.dim(0) + y.dim(0), x.dim(1), x.dim(2), x.dim(3)});
    std::memcpy(latent.raw_data(), x.contiguous().raw_data(), x.nbytes());
    std::memcpy(static_cast<char*>(latent.raw_data()) + x.nbytes(), y.contiguous().raw_data(), y.nbytes());
  }
  const int64_t seq_len = manifest_seq_len(dir, case_name);
  ASSERT_GE(seq_len, x.dim(1) * (x.dim(2) / mcfg.patch_size[1]) * (x.dim(3) / mcfg.patch_size[2]));
  GoldenCase gc;
  prepare(gc, mcfg, dir + "/" + model_name + ".safetensors", latent, context, t);
  if (::testing::Test::HasFatalFailure()) return;
  gc.ref = data.get_f32("out");
  run_all(gc, case_name);
  if (fp8) {
    fp8_check(gc, case_name);
    int8_check(gc, case_name);
  }
}

}  // namespace

TEST(CudaDitGolden, dit_forward_t2v) {
  REQUIRE_GPU();
  official_case("dit_forward_t2v", "dit", false, true);
}

TEST(CudaDitGolden, dit_forward_i2v) {
  REQUIRE_GPU();
  official_case("dit_forward_i2v", "dit", false);
}

TEST(CudaDitGolden, dit_forward_i2v14) {
  REQUIRE_GPU();
  official_case("dit_forward_i2v14", "dit_i2v14", true);
}

TEST(CudaDitGolden, diffusers_transformer_forward) {
  REQUIRE_GPU();
  const std::string dir = diffusers_dir();
  auto mcfg = models::dit::load_dit_config(dir + "/transformer");
  auto data = io::WeightStore::open(dir + "/transformer_forward.safetensors");
  Tensor hs = data.get_f32("hidden_states"), ts = data.get_f32("timestep");
  Tensor ehs = data.get_f32("encoder_hidden_states"), ref = data.get_f32("out");
  ASSERT_EQ(hs.ndim(), 5);
  ASSERT_EQ(ehs.ndim(), 3);
  ASSERT_EQ(hs.dim(0), 1) << "the fixture is one video";
  mcfg.text_len = ehs.dim(1);  // already zero-padded: its length is the model's text_len
  GoldenCase gc;
  prepare(gc, mcfg, dir + "/transformer", hs.select(0, 0), ehs.select(0, 0), ts);
  if (::testing::Test::HasFatalFailure()) return;
  gc.ref = ref.select(0, 0).contiguous();
  run_all(gc, "diffusers_transformer_forward");
}

TEST(CudaDitGolden, LoaderNamesMissingAndMisshapenWeights) {
  REQUIRE_GPU();
  const std::string dir = golden_dir();
  auto mcfg = models::dit::load_dit_config(dir + "/dit_config.json");
  auto ws = io::WeightStore::open(dir + "/dit.safetensors");
  models::dit::install_dit_key_map(ws);
  // a config one layer deeper than the file: blocks.<layers>.* is missing
  auto deeper = mcfg;
  deeper.num_layers += 1;
  cuda::DitCuda d1(cuda::dit_config_from(deeper));
  try {
    d1.load(ws, nullptr);
    ADD_FAILURE() << "loading a missing block did not throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    std::cout << "  missing: " << msg << "\n";
    EXPECT_NE(msg.find("blocks." + std::to_string(mcfg.num_layers) + "."), std::string::npos) << msg;
  }
  // a wider FFN than stored: the shape error names the key and both shapes
  auto wider = mcfg;
  wider.ffn_dim *= 2;
  cuda::DitCuda d2(cuda::dit_config_from(wider));
  try {
    d2.load(ws, nullptr);
    ADD_FAILURE() << "loading a misshapen weight did not throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    std::cout << "  shape: " << msg << "\n";
    EXPECT_NE(msg.find("ffn.0.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
  }
  // options the CUDA forward does not implement are refused by name
  auto no_qk = mcfg;
  no_qk.qk_norm = false;
  EXPECT_THROW(cuda::dit_config_from(no_qk), Error);
}
