// The VAE on the GPU (backends/cuda/vae_cuda.h) against the CPU VAE and the golden fixtures. Each
// model-level case runs twice: on the GPU (CudaVae*, skipped without one) and in host emulation
// (CudaVaeHost*: the same kernels' per-element code as CPU loops, the direct conv instead of cuDNN,
// a reference GEMM instead of cuBLAS), which runs everywhere and checks the layouts, the caches and
// the chunking without a GPU.
//  - the conv3d implementations (cuDNN, direct kernel) against ops::conv3d on odd shapes;
//  - golden vae_roundtrip_a/_b and vae21_roundtrip: decode(latent) vs decoded_raw and
//    encode(video) vs latent, bf16 (limit 1e-2) and f32 (limit 1e-4);
//  - random weights of odd sizes (Wan2.2 and Wan2.1 layouts, padded latent channels): decode and
//    encode against models::vae::WanVae, plus the decode_chunk and sub-pixel switches;
//  - tiled decode against the untiled decode (tolerance printed and asserted).
// Every size comes from the fixture tensors or from the test's own config.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "backends/cuda/conv3d_cuda.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cudnn_conv.h"
#include "backends/cuda/vae_cuda.h"
#include "cuda_test_util.h"
#include "io/safetensors.h"
#include "io/weight_store.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_keys.h"
#include "models/vae/vae_weight_spec.h"
#include "models/vae/wan_vae.h"
#include "ops/ops.h"

using namespace wan22;
using namespace wan22::test;
using cuda::VaeCuda;
using cuda::VaeCudaOptions;
using models::vae::VaeConfig;
using models::vae::VaeVersion;

namespace {

constexpr double kF32Tol = 1e-4;
// bf16 limit for the golden decode: the golden VAE (random weights, widths 8-32) amplifies bf16
// rounding: under host emulation, rounding only the conv weights gives 5.2e-3 on decoded_raw, only
// the conv inputs 4.8e-3, only the conv outputs 4.5e-3, only the residual stream 4.8e-3, all
// together 9.9e-3; on the H200: 9.9e-3 / 1.10e-2 / 1.17e-2 (a / b / vae21). bf16 storage cannot do
// better on this model (f32 matches to 1e-6); the latents and the random-weight parity cases stay
// under 1e-2 (6e-3 / 3e-3).
constexpr double kBf16GoldenDecodeTol = 1.5e-2;

// A non-blocking stream (none under host emulation, where no CUDA call may be made).
struct Stream {
  cudaStream_t s = nullptr;
  explicit Stream(bool create = true) {
    if (create && cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
      throw Error(ErrorCode::kInternal, "stream");
    }
  }
  ~Stream() {
    if (s) cudaStreamDestroy(s);
  }
};

double report(const std::string& what, const Tensor& got, const Tensor& ref) {
  const double e = rel_err(got, ref);
  std::cout << "[measured] " << ::testing::UnitTest::GetInstance()->current_test_info()->name()
            << " " << what << " rel_err=" << e << std::endl;
  ::testing::Test::RecordProperty(what + "_rel_err", std::to_string(e));
  return e;
}

// Host f32 copy (synchronises the device when t lives there).
Tensor fetch(const Tensor& t) { return t.device().is_cpu() ? t.to(DType::kF32) : to_host(t); }

// Host f32 copy with the leading batch dim (if any) folded away, for comparisons.
Tensor host_unbatched(const Tensor& t, int ndim) {
  Tensor h = fetch(t);
  return h.ndim() == ndim + 1 ? h.squeeze(0).contiguous() : h.contiguous();
}

// ---------------- conv3d ----------------

// [1, C, T, H, W] <-> [T, H, W, C]; weights [O, C, kt, kh, kw] -> [O, kt, kh, kw, C].
Tensor to_cl(const Tensor& x) { return x.squeeze(0).permute({1, 2, 3, 0}).contiguous(); }
Tensor from_cl(const Tensor& y) { return y.permute({3, 0, 1, 2}).contiguous().unsqueeze(0); }
Tensor w_to_cl(const Tensor& w) { return w.permute({0, 2, 3, 4, 1}).contiguous(); }

void conv_case(cuda::Conv3dCuda& conv, const cuda::ConvGeom& g, DType dt, uint64_t seed, double tol,
               const std::string& name) {
  const Tensor x = random_tensor({1, g.cin, g.t, g.h, g.w}, seed);
  const Tensor w = random_tensor({g.cout, g.cin, g.kt, g.kh, g.kw}, seed + 1, -0.3f, 0.3f);
  // reference on the values the device holds (bf16-rounded inputs)
  const Tensor xr = dt == DType::kBF16 ? bf16_round(x) : x;
  const Tensor wr = dt == DType::kBF16 ? bf16_round(w) : w;
  const Tensor ref =
      ops::conv3d(xr, wr, nullptr, {g.st, g.sh, g.sw}, {g.pt, g.pt, g.ph, g.ph, g.pw, g.pw});
  const Tensor xd = to_dev(to_cl(x), dt), wd = to_dev(w_to_cl(w), dt);
  WAN22_CUDA_CHECK(
      cudaDeviceSynchronize());  // the blocking copies are done before another stream reads
  Tensor yd = Tensor::empty({g.out_t(), g.out_h(), g.out_w(), g.cout}, dt, Device::cuda(0));
  Stream st;
  conv.forward(g, dt, xd.raw_data(), wd.raw_data(), yd.raw_data(), st.s);
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st.s));
  const Tensor got = from_cl(to_host(yd));
  ASSERT_EQ(got.shape(), ref.shape()) << name << " " << g.str();
  const double e = report(name + " " + g.str() + " " + dtype_name(dt), got, ref);
  EXPECT_LE(e, tol) << name << " " << g.str();
}

std::vector<cuda::ConvGeom> conv_shapes() {
  std::vector<cuda::ConvGeom> v;
  auto add = [&](int64_t t, int64_t h, int64_t w, int64_t cin, int64_t cout, int kt, int kh, int kw,
                 int st, int sh, int pt, int ph) {
    cuda::ConvGeom g;
    g.t = t, g.h = h, g.w = w, g.cin = cin, g.cout = cout, g.kt = kt, g.kh = kh, g.kw = kw;
    g.st = st, g.sh = g.sw = sh, g.pt = pt, g.ph = g.pw = ph;
    v.push_back(g);
  };
  add(3, 7, 9, 16, 24, 3, 3, 3, 1, 1, 0, 1);   // causal 3x3x3 over [2 cached | 1 new]
  add(6, 5, 11, 8, 16, 3, 3, 3, 1, 1, 0, 1);   // 4 new frames
  add(2, 6, 10, 16, 64, 1, 2, 2, 1, 1, 0, 1);  // sub-pixel 2x2, pad 1
  add(4, 9, 7, 16, 16, 1, 3, 3, 1, 2, 0, 0);   // stride-2 downsample on a pre-padded frame
  add(5, 4, 6, 8, 8, 3, 1, 1, 2, 1, 0, 0);     // temporal stride-2
  add(3, 5, 5, 24, 8, 1, 1, 1, 1, 1, 0, 0);    // 1x1x1
  add(2, 3, 4, 8, 8, 3, 3, 3, 1, 1, 1, 1);     // symmetric time padding
  return v;
}

TEST(CudaVaeConv, DirectKernelMatchesCpu) {
  REQUIRE_GPU();
  cuda::Conv3dCuda conv(cuda::ConvImpl::kDirect);
  uint64_t seed = 100;
  for (const auto& g : conv_shapes()) {
    conv_case(conv, g, DType::kF32, seed, 1e-5, "direct");
    conv_case(conv, g, DType::kBF16, seed, kBf16Tol, "direct");
    seed += 10;
  }
}

TEST(CudaVaeConv, CudnnMatchesCpu) {
  REQUIRE_GPU();
  cuda::CudnnConv probe;
  if (!probe.available()) GTEST_SKIP() << "cuDNN not loaded: " << probe.reason();
  std::cout << "[info] cuDNN " << probe.version() << " from " << probe.library() << std::endl;
  cuda::Conv3dCuda conv(cuda::ConvImpl::kCudnn);
  uint64_t seed = 200;
  for (const auto& g : conv_shapes()) {
    // bf16 (the fast path) must be served; f32 with exact FMA math may lack an engine for a
    // channels-last 3-D shape (the VAE then uses the direct kernel): reported, not failed
    conv_case(conv, g, DType::kBF16, seed, kBf16Tol, "cudnn");
    try {
      conv_case(conv, g, DType::kF32, seed, 1e-5, "cudnn");
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported) throw;
      std::cout << "[info] cuDNN f32 " << g.str() << ": " << e.what() << std::endl;
    }
    seed += 10;
  }
  std::cout << conv.report();
}

// ---------------- golden fixtures ----------------

// GPU unless `host` (emulation); REQUIRE_GPU skips the GPU variants without one.
#define REQUIRE_GPU_UNLESS(host) \
  if (!(host)) REQUIRE_GPU()

void run_golden(const std::string& stem, const std::string& case_name, DType dt, bool host) {
  REQUIRE_GPU_UNLESS(host);
  const std::string dir = golden_dir();
  Stream st(!host);
  VaeCudaOptions opt;
  opt.dtype = dt;
  opt.emulate_on_host = host;
  auto vae = VaeCuda::open(dir + "/" + stem + ".safetensors", dir + "/" + stem + "_config.json",
                           opt, st.s);
  io::WeightStore fx = io::WeightStore::open(dir + "/" + case_name + ".safetensors");
  const Tensor video = fx.get_f32("video");
  const Tensor latent_ref = fx.get_f32("latent");
  const Tensor decoded_ref = fx.get_f32("decoded_raw");
  const double tol = dt == DType::kBF16 ? kBf16Tol : kF32Tol;
  std::cout << "[info] " << case_name << " " << dtype_name(dt) << ": video "
            << shape_str(video.shape()) << " -> latent " << shape_str(latent_ref.shape())
            << std::endl;

  const Tensor dec = host_unbatched(vae->decode(latent_ref, st.s), 4);
  const Tensor dref = host_unbatched(decoded_ref, 4);
  ASSERT_EQ(dec.shape(), dref.shape());
  EXPECT_LE(report(std::string("decoded_raw_") + dtype_name(dt), dec, dref),
            dt == DType::kBF16 ? kBf16GoldenDecodeTol : tol);

  const Tensor lat = host_unbatched(vae->encode(video, st.s), 4);
  const Tensor lref = host_unbatched(latent_ref, 4);
  ASSERT_EQ(lat.shape(), lref.shape());
  EXPECT_LE(report(std::string("latent_") + dtype_name(dt), lat, lref), tol);
  std::cout << vae->conv().report();
}

TEST(CudaVaeGolden, vae_roundtrip_a_bf16) {
  run_golden("vae", "vae_roundtrip_a", DType::kBF16, false);
}
TEST(CudaVaeGolden, vae_roundtrip_a_f32) {
  run_golden("vae", "vae_roundtrip_a", DType::kF32, false);
}
TEST(CudaVaeGolden, vae_roundtrip_b_bf16) {
  run_golden("vae", "vae_roundtrip_b", DType::kBF16, false);
}
TEST(CudaVaeGolden, vae_roundtrip_b_f32) {
  run_golden("vae", "vae_roundtrip_b", DType::kF32, false);
}
TEST(CudaVaeGolden, vae21_roundtrip_bf16) {
  run_golden("vae21", "vae21_roundtrip", DType::kBF16, false);
}
TEST(CudaVaeGolden, vae21_roundtrip_f32) {
  run_golden("vae21", "vae21_roundtrip", DType::kF32, false);
}
TEST(CudaVaeHostGolden, vae_roundtrip_a_bf16) {
  run_golden("vae", "vae_roundtrip_a", DType::kBF16, true);
}
TEST(CudaVaeHostGolden, vae_roundtrip_a_f32) {
  run_golden("vae", "vae_roundtrip_a", DType::kF32, true);
}
TEST(CudaVaeHostGolden, vae21_roundtrip_f32) {
  run_golden("vae21", "vae21_roundtrip", DType::kF32, true);
}

// ---------------- random weights of odd sizes vs the CPU VAE ----------------

VaeConfig odd_config(VaeVersion v) {
  VaeConfig c;
  c.version = v;
  c.dim = 8;
  c.dec_dim = v == VaeVersion::kWan22 ? 16 : 8;
  c.z_dim = 5;  // padded to 8 on the GPU
  c.dim_mult = {1, 2, 2};
  c.num_res_blocks = 1;
  c.temperal_downsample = {true, true};
  c.latents_mean = {0.1f, -0.2f, 0.3f, 0.05f, -0.1f};
  c.latents_std = {0.5f, 1.5f, 0.8f, 1.1f, 0.9f};
  return c;
}

// Writes random weights of cfg (official names) to a temporary safetensors file.
std::string write_random_vae(const VaeConfig& cfg, uint64_t seed) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& spec : models::vae::vae_weight_specs(cfg)) {
    const bool gamma = spec.key.find("gamma") != std::string::npos;
    int64_t fan_in = 1;
    for (size_t i = 1; i < spec.shape.size(); ++i) fan_in *= spec.shape[i];
    const float r =
        gamma ? 0.5f : 1.5f / std::sqrt(static_cast<float>(std::max<int64_t>(fan_in, 1)));
    out.emplace_back(
        spec.key, random_tensor(spec.shape, seed++, gamma ? 1.0f - r : -r, gamma ? 1.0f + r : r));
  }
  const std::string path = temp_dir() + "/random_vae.safetensors";
  io::write_safetensors(path, out);
  return path;
}

struct RandomCase {
  VaeConfig cfg;
  io::WeightStore ws;
  models::vae::WanVae cpu;
  RandomCase(const VaeConfig& c, uint64_t seed)
      : cfg(c), ws(io::WeightStore::open(write_random_vae(c, seed))), cpu(ws, c) {}
};

void run_random_parity(VaeVersion v, DType dt, const VaeCudaOptions& base, const std::string& tag,
                       bool host) {
  REQUIRE_GPU_UNLESS(host);
  RandomCase rc(odd_config(v), v == VaeVersion::kWan22 ? 1000 : 2000);
  Stream st(!host);
  VaeCudaOptions opt = base;
  opt.dtype = dt;
  opt.emulate_on_host = host;
  VaeCuda gpu(rc.ws, rc.cfg, opt, st.s);
  const double tol = dt == DType::kBF16 ? kBf16Tol : kF32Tol;
  const int s = rc.cfg.spatial_stride();
  // odd latent sizes: 3 frames of 3 x 5 (decode), a 9-frame video of 3s x 5s (encode)
  const Tensor latent = random_tensor({rc.cfg.z_dim, 3, 3, 5}, 77, -1.5f, 1.5f);
  const Tensor ref = rc.cpu.decode(latent);
  const Tensor got = host_unbatched(gpu.decode(latent, st.s), 4);
  ASSERT_EQ(got.shape(), ref.shape());
  EXPECT_LE(report("decode_" + tag + "_" + dtype_name(dt), got, ref), tol);

  const Tensor video = random_tensor({3, 9, 3 * s, 5 * s}, 78);
  const Tensor zref = rc.cpu.encode(video);
  const Tensor zgot = host_unbatched(gpu.encode(video, st.s), 4);
  ASSERT_EQ(zgot.shape(), zref.shape());
  EXPECT_LE(report("encode_" + tag + "_" + dtype_name(dt), zgot, zref), tol);
}

TEST(CudaVaeRandom, Wan22DecodeEncodeBf16) {
  run_random_parity(VaeVersion::kWan22, DType::kBF16, {}, "wan22", false);
}
TEST(CudaVaeRandom, Wan22DecodeEncodeF32) {
  run_random_parity(VaeVersion::kWan22, DType::kF32, {}, "wan22", false);
}
TEST(CudaVaeRandom, Wan21DecodeEncodeBf16) {
  run_random_parity(VaeVersion::kWan21, DType::kBF16, {}, "wan21", false);
}
TEST(CudaVaeRandom, Wan21DecodeEncodeF32) {
  run_random_parity(VaeVersion::kWan21, DType::kF32, {}, "wan21", false);
}
TEST(CudaVaeHostRandom, Wan22DecodeEncodeF32) {
  run_random_parity(VaeVersion::kWan22, DType::kF32, {}, "wan22", true);
}
TEST(CudaVaeHostRandom, Wan22DecodeEncodeBf16) {
  run_random_parity(VaeVersion::kWan22, DType::kBF16, {}, "wan22", true);
}
TEST(CudaVaeHostRandom, Wan21DecodeEncodeF32) {
  run_random_parity(VaeVersion::kWan21, DType::kF32, {}, "wan21", true);
}

// Two latent frames per decoder chunk, the materialised upsampling and no buffer reuse give the
// same results.
void chunk_and_upsample_variants(bool host) {
  VaeCudaOptions o;
  o.decode_chunk = 2;
  run_random_parity(VaeVersion::kWan22, DType::kF32, o, "wan22_chunk2", host);
  VaeCudaOptions o2;
  o2.subpixel_upsample = false;
  run_random_parity(VaeVersion::kWan22, DType::kF32, o2, "wan22_nosubpixel", host);
  run_random_parity(VaeVersion::kWan21, DType::kF32, o2, "wan21_nosubpixel", host);
  VaeCudaOptions o3;
  o3.reuse_buffers = false;
  run_random_parity(VaeVersion::kWan22, DType::kBF16, o3, "wan22_noreuse", host);
}
TEST(CudaVaeRandom, ChunkAndUpsampleVariantsF32) { chunk_and_upsample_variants(false); }
TEST(CudaVaeHostRandom, ChunkAndUpsampleVariantsF32) { chunk_and_upsample_variants(true); }

void bad_inputs(bool host) {
  REQUIRE_GPU_UNLESS(host);
  RandomCase rc(odd_config(VaeVersion::kWan22), 3000);
  Stream st(!host);
  VaeCudaOptions opt;
  opt.emulate_on_host = host;
  VaeCuda gpu(rc.ws, rc.cfg, opt, st.s);
  EXPECT_THROW(gpu.decode(Tensor::zeros({rc.cfg.z_dim + 1, 2, 3, 3}), st.s), Error);  // wrong z
  EXPECT_THROW(gpu.decode(Tensor::zeros({rc.cfg.z_dim, 2, 3}), st.s), Error);         // wrong rank
  EXPECT_THROW(gpu.encode(Tensor::zeros({3, 4, 16, 16}), st.s), Error);               // 4 frames
  EXPECT_THROW(gpu.encode(Tensor::zeros({3, 1, 12, 16}), st.s), Error);  // not a stride multiple
  EXPECT_THROW(gpu.decode_tiled(random_tensor({rc.cfg.z_dim, 1, 6, 6}, 5), {3, 3}, st.s),
               Error);  // overlap >= tile
  // inner widths must be multiples of 8: the error names the width
  VaeConfig bad = rc.cfg;
  bad.dec_dim = 12;
  const io::WeightStore ws = io::WeightStore::open(write_random_vae(bad, 3100));
  try {
    VaeCuda v(ws, bad, opt, st.s);
    ADD_FAILURE() << "a 12-channel inner width must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiples of 8"), std::string::npos) << e.what();
  }
}
TEST(CudaVae, BadInputsAreErrors) { bad_inputs(false); }
TEST(CudaVaeHost, BadInputsAreErrors) { bad_inputs(true); }

// ---------------- tiled decode ----------------

// Tiling the latent is an approximation (the middle attention sees one tile, the convolutions see
// zeros past the tile edge): the blended result must stay within these relative errors of the
// untiled decode (stated for the golden random-weight model: tiny latents where every pixel is near
// a tile edge, and a larger random latent at two overlaps), and a larger overlap must not be worse.
// Measured under host emulation when written: golden 0.30 / 0.44 (tile 3, overlap 1); 30x38 tile
// 16: 0.101 (overlap 2), 0.053 (overlap 6); 8x10 tile 5: see the test output.
constexpr double kTiledTolGolden = 0.6;
constexpr double kTiledTolSmallOverlap = 0.15;
constexpr double kTiledTolLargeOverlap = 0.08;
// the 8x10 latent of the emulated variant: tiles of 5, mostly edge
constexpr double kTiledTolHost = 0.35;
// Tiled encode (tiles of the video, blended in the latent). Measured under host emulation: golden
// 0.26 (tile 3 of a 4x4 latent, overlap 1); 8x10 tile 5: 0.19 (overlap 1), 0.13 (overlap 3).
constexpr double kTiledEncodeTolGolden = 0.5;
constexpr double kTiledEncodeTolLarger = 0.15;  // 30x38 latent, tile 16 (the GPU variant)
constexpr double kTiledEncodeTolHost =
    0.3;  // 8x10 latent, tile 5 (the emulated variant)  // the 8x10 latent of the emulated variant:
          // tiles of 5, mostly edge

void whole_latent_tile(bool host) {
  REQUIRE_GPU_UNLESS(host);
  const std::string dir = golden_dir();
  Stream st(!host);
  VaeCudaOptions opt;
  opt.emulate_on_host = host;
  auto vae = VaeCuda::open(dir + "/vae.safetensors", dir + "/vae_config.json", opt, st.s);
  const Tensor latent =
      io::WeightStore::open(dir + "/vae_roundtrip_a.safetensors").get_f32("latent");
  const Tensor a = fetch(vae->decode(latent, st.s));
  const Tensor b = fetch(vae->decode_tiled(latent, {latent.dim(-1) + latent.dim(-2), 2}, st.s));
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
}
TEST(CudaVaeTiled, WholeLatentTileEqualsDecode) { whole_latent_tile(false); }
TEST(CudaVaeHostTiled, WholeLatentTileEqualsDecode) { whole_latent_tile(true); }

void tiled_vs_untiled(VaeCuda& vae, const Tensor& latent, int64_t tile, int64_t overlap, double tol,
                      const std::string& name, double* err_out, cudaStream_t s) {
  const Tensor full = fetch(vae.decode(latent, s));
  const Tensor tiled = fetch(vae.decode_tiled(latent, {tile, overlap}, s));
  ASSERT_EQ(full.shape(), tiled.shape());
  *err_out =
      report(name + "_tile" + std::to_string(tile) + "_ov" + std::to_string(overlap), tiled, full);
  std::cout << "[tolerance] " << name << ": " << tol << std::endl;
  EXPECT_LE(*err_out, tol);
}

void tiled_golden(bool host) {
  REQUIRE_GPU_UNLESS(host);
  const std::string dir = golden_dir();
  Stream st(!host);
  VaeCudaOptions opt;
  opt.emulate_on_host = host;
  std::vector<std::string> cases = {"vae_roundtrip_a"};
  if (!host) cases.push_back("vae_roundtrip_b");  // emulation is slow: one case there
  for (const std::string& c : cases) {
    auto vae = VaeCuda::open(dir + "/vae.safetensors", dir + "/vae_config.json", opt, st.s);
    const Tensor latent = io::WeightStore::open(dir + "/" + c + ".safetensors").get_f32("latent");
    const int64_t h = latent.dim(-2), w = latent.dim(-1);
    const int64_t tile = std::max<int64_t>(2, std::min(h, w) - 1);
    double e = 0.0;
    tiled_vs_untiled(*vae, latent, tile, 1, kTiledTolGolden, c, &e, st.s);
  }
}
TEST(CudaVaeTiled, GoldenLatents) { tiled_golden(false); }
TEST(CudaVaeHostTiled, GoldenLatents) { tiled_golden(true); }

// A larger random latent with the golden weights (smaller under emulation, which is slow).
void tiled_larger(bool host) {
  REQUIRE_GPU_UNLESS(host);
  const std::string dir = golden_dir();
  Stream st(!host);
  VaeCudaOptions opt;
  opt.emulate_on_host = host;
  auto vae = VaeCuda::open(dir + "/vae.safetensors", dir + "/vae_config.json", opt, st.s);
  const int64_t h = host ? 8 : 30, w = host ? 10 : 38, f = host ? 1 : 3, tile = host ? 5 : 16;
  const int64_t ov_small = host ? 1 : 2, ov_large = host ? 3 : 6;
  const Tensor latent = random_tensor({vae->config().z_dim, f, h, w}, 4242, -1.7f, 1.7f);
  double e_small = 0.0, e_large = 0.0;
  const std::string name = "random_" + std::to_string(h) + "x" + std::to_string(w);
  tiled_vs_untiled(*vae, latent, tile, ov_small, host ? kTiledTolHost : kTiledTolSmallOverlap, name,
                   &e_small, st.s);
  tiled_vs_untiled(*vae, latent, tile, ov_large, host ? kTiledTolHost : kTiledTolLargeOverlap, name,
                   &e_large, st.s);
  EXPECT_LE(e_large, e_small * 1.05) << "a larger overlap should not blend worse";
}
// Tiled encode vs untiled encode: the golden video, and a larger random video at two overlaps.
void encode_tiled_vs_untiled(VaeCuda& vae, const Tensor& video, int64_t tile, int64_t overlap,
                             double tol, const std::string& name, double* err_out, cudaStream_t s) {
  const Tensor full = fetch(vae.encode(video, s));
  const Tensor tiled = fetch(vae.encode_tiled(video, {tile, overlap}, s));
  ASSERT_EQ(full.shape(), tiled.shape());
  *err_out =
      report("encode_" + name + "_tile" + std::to_string(tile) + "_ov" + std::to_string(overlap),
             tiled, full);
  std::cout << "[tolerance] encode " << name << ": " << tol << std::endl;
  EXPECT_LE(*err_out, tol);
}

void tiled_encode(bool host) {
  REQUIRE_GPU_UNLESS(host);
  const std::string dir = golden_dir();
  Stream st(!host);
  VaeCudaOptions opt;
  opt.emulate_on_host = host;
  auto vae = VaeCuda::open(dir + "/vae.safetensors", dir + "/vae_config.json", opt, st.s);
  const Tensor video = io::WeightStore::open(dir + "/vae_roundtrip_a.safetensors").get_f32("video");
  const int64_t s = vae->config().spatial_stride();
  const int64_t lh = video.dim(-2) / s, lw = video.dim(-1) / s;
  double e = 0.0;
  encode_tiled_vs_untiled(*vae, video, std::max<int64_t>(2, std::min(lh, lw) - 1), 1,
                          kTiledEncodeTolGolden, "vae_roundtrip_a", &e, st.s);
  // a larger random video: latent 8x10 (emulated) or 30x38
  const int64_t h = host ? 8 : 30, w = host ? 10 : 38, f = host ? 1 : 5, tile = host ? 5 : 16;
  const int64_t ov_small = host ? 1 : 2, ov_large = host ? 3 : 6;
  const Tensor big = random_tensor({3, f, h * s, w * s}, 4343);
  double e_small = 0.0, e_large = 0.0;
  const std::string name = "random_" + std::to_string(h) + "x" + std::to_string(w);
  const double tol = host ? kTiledEncodeTolHost : kTiledEncodeTolLarger;
  encode_tiled_vs_untiled(*vae, big, tile, ov_small, tol, name, &e_small, st.s);
  encode_tiled_vs_untiled(*vae, big, tile, ov_large, tol, name, &e_large, st.s);
  EXPECT_LE(e_large, e_small * 1.05) << "a larger overlap should not blend worse";
}
TEST(CudaVaeTiled, LargerRandomLatent) { tiled_larger(false); }
TEST(CudaVaeTiled, Encode) { tiled_encode(false); }
TEST(CudaVaeHostTiled, Encode) { tiled_encode(true); }
TEST(CudaVaeHostTiled, LargerRandomLatent) { tiled_larger(true); }

}  // namespace
