// Where T5Cuda's weights live: streamed layers (resident_layers / set_resident_layers), a host
// embedding, whole-component offload/restore. Every placement must give the SAME BITS as the all-
// resident encoder (only the weights' addresses change), and the device memory the caching allocator
// reports must follow the placement: weights leave the device when streamed or offloaded, a call
// that streams borrows two layer slots and gives them back.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/t5_cuda.h"
#include "cuda_test_util.h"
#include "t5_test_checkpoint.h"
#include "io/safetensors.h"
#include "io/weight_store.h"
#include "models/text/t5_config.h"
#include "models/text/t5_key_alias.h"

using namespace wan22;
using namespace wan22::test;
using models::text::T5Config;

namespace {

// Ids in [0, vocab); the first and last id of row 0 are the table's last row and row vocab / 2.
Tensor random_ids(int64_t batch, int64_t len, int64_t vocab, uint64_t seed) {
  const Tensor r = random_tensor({batch, len}, seed, 0.0f, static_cast<float>(vocab));
  Tensor ids = Tensor::empty({batch, len}, DType::kI64);
  for (int64_t i = 0; i < batch * len; ++i) {
    ids.data<int64_t>()[i] = std::min<int64_t>(vocab - 1, static_cast<int64_t>(r.data<float>()[i]));
  }
  ids.data<int64_t>()[0] = vocab - 1;
  ids.data<int64_t>()[len - 1] = vocab / 2;
  return ids;
}

// Row 0: the first len - len / 3 positions real; row 1: holes every third position (a general mask).
Tensor test_mask(int64_t len) {
  Tensor m = Tensor::zeros({2, len}, DType::kI64);
  for (int64_t j = 0; j < len; ++j) {
    m.data<int64_t>()[j] = j < len - len / 3 ? 1 : 0;
    m.data<int64_t>()[len + j] = j % 3 == 0 ? 0 : 1;
  }
  return m;
}

// Prefix masks of different lengths (encode_trimmed's one cut batch).
Tensor prefix_mask(int64_t len) {
  Tensor m = Tensor::zeros({2, len}, DType::kI64);
  for (int64_t j = 0; j < len; ++j) {
    m.data<int64_t>()[j] = j < len - 2 ? 1 : 0;
    m.data<int64_t>()[len + j] = j < len / 2 ? 1 : 0;
  }
  return m;
}

// What a test compares between placements: forward (masked, unmasked) and encode_trimmed's rows,
// all copied to the host (so no device output stays alive in between).
struct Outputs {
  std::vector<Tensor> t;
};
Outputs run_all(cuda::T5Cuda& enc, const Tensor& ids, const Tensor& mask, const Tensor& pmask) {
  Outputs o;
  o.t.push_back(to_host(enc.forward(ids, mask, nullptr)));
  o.t.push_back(to_host(enc.forward(ids, Tensor(), nullptr)));
  for (const Tensor& r : enc.encode_trimmed(ids, pmask, nullptr)) o.t.push_back(to_host(r));
  return o;
}
void expect_same_bits(const Outputs& got, const Outputs& want, const std::string& what) {
  ASSERT_EQ(got.t.size(), want.t.size()) << what;
  for (size_t i = 0; i < got.t.size(); ++i) {
    ASSERT_EQ(got.t[i].shape(), want.t[i].shape()) << what << " output " << i;
    const double diff = max_abs_diff(got.t[i], want.t[i]);
    std::cout << "  [" << what << " output " << i << "] max abs diff " << diff << "\n";
    EXPECT_EQ(diff, 0.0) << what << " output " << i;
  }
}

// Two encoders compared bit for bit must run the same GEMM algorithms: the timed choice (per
// encoder) is turned off for those comparisons; comparisons within one encoder keep it on.
void deterministic(cuda::T5Cuda& enc) { enc.set_gemm_autotune(false); }

uint64_t current_bytes() { return cuda::allocator()->caching_stats().current_bytes; }

// Upper bound of what the caching allocator charges for one allocation of `bytes`: rounded to its
// alignment, plus a split remainder smaller than the alignment.
size_t charged(int64_t bytes) {
  const size_t a = cuda::allocator()->options().alignment;
  return (static_cast<size_t>(bytes) + a - 1) / a * a + a;
}

// Upper bound of the device memory one call (forward of batch x len) allocates besides the
// weights and the streaming slots: every buffer of T5Cuda::run, from the config.
size_t call_bytes(const T5Config& c, int64_t batch, int64_t len) {
  const int64_t N = batch * len, d = c.dim, da = c.dim_attn, df = c.dim_ffn, H = c.num_heads;
  size_t n = 0;
  for (int64_t b : {N * d * 4, N * d * 2, N * 3 * da * 2, N * da * 2, N * d * 2, N * 2 * df * 2, N * df * 2,
                    N * d * 4,                                  // x, xn, qkv, attn, y, h, g, out
                    batch * H * len * len * 4, batch * H * len * len * 2,  // scores, probabilities
                    N, N * 4, (2 * len - 1) * 4,                // keep mask, device ids, bucket table
                    (d + c.num_buckets * H) * 4,                // globals uploaded for an offloaded call
                    N * d * 4}) {  // one more f32 [N, d] (the H200 run at UMT5-XXL size measured exactly this over the list)
    n += charged(b);
  }
  return n;
}

T5Config four_layers() {
  T5Config c;
  c.vocab = 300, c.dim = 64, c.dim_attn = 64, c.num_heads = 4, c.dim_ffn = 96, c.num_layers = 4;
  c.num_buckets = 32, c.max_distance = 128, c.shared_pos = false;
  return c;
}

}  // namespace

// ---- loaded weights: constructor options and set_resident_layers ----

TEST(CudaT5Stream, LoadedWeightsEveryPlacementSameBits) {
  REQUIRE_GPU();
  const T5Config cfg = four_layers();
  io::WeightStore ws = io::WeightStore::open(write_random_t5(cfg, 501, "t5_stream_random"));
  EXPECT_EQ(models::text::install_t5_key_map(ws), "official");
  const int64_t len = 29;
  const Tensor ids = random_ids(2, len, cfg.vocab, 17), mask = test_mask(len), pmask = prefix_mask(len);

  cuda::T5Cuda ref_enc(ws, cfg);
  deterministic(ref_enc);
  const Outputs want = run_all(ref_enc, ids, mask, pmask);
  const size_t pack = ref_enc.layer_pack_bytes(), dev_all = ref_enc.device_weight_bytes();
  EXPECT_EQ(ref_enc.host_weight_bytes(), 0u);
  EXPECT_EQ(ref_enc.resident_layers(), cfg.num_layers);
  EXPECT_EQ(ref_enc.stream_slot_bytes(), 0u);

  struct Variant {
    int resident;
    bool host_embedding;
  };
  const int nl = static_cast<int>(cfg.num_layers);
  for (const Variant v : {Variant{0, false}, Variant{1, false}, Variant{nl / 2, false}, Variant{nl - 1, false},
                          Variant{0, true}, Variant{nl / 2, true}}) {
    const std::string tag = "resident_layers " + std::to_string(v.resident) + (v.host_embedding ? " + host embedding" : "");
    cuda::T5CudaOptions opt;
    opt.resident_layers = v.resident;
    opt.embedding_on_host = v.host_embedding;
    cuda::T5Cuda enc(ws, cfg, nullptr, opt);
    deterministic(enc);
    EXPECT_EQ(enc.resident_layers(), v.resident) << tag;
    const size_t emb = static_cast<size_t>(cfg.vocab * cfg.dim) * 2;
    const size_t streamed = static_cast<size_t>(nl - v.resident) * pack;
    EXPECT_EQ(enc.host_weight_bytes(), streamed + (v.host_embedding ? emb : 0)) << tag;
    EXPECT_EQ(enc.device_weight_bytes(), dev_all - streamed - (v.host_embedding ? emb : 0)) << tag;
    EXPECT_EQ(enc.stream_slot_bytes(), static_cast<size_t>(std::min(2, nl - v.resident)) * pack) << tag;
    for (int rep = 0; rep < 2; ++rep) {  // twice: the events carry over between calls
      expect_same_bits(run_all(enc, ids, mask, pmask), want, tag + " rep " + std::to_string(rep));
    }
  }
}

TEST(CudaT5Stream, SetResidentLayersMovesWeightsSameBits) {
  REQUIRE_GPU();
  const T5Config cfg = four_layers();
  io::WeightStore ws = io::WeightStore::open(write_random_t5(cfg, 502, "t5_stream_random"));
  models::text::install_t5_key_map(ws);
  const int64_t len = 21;
  const Tensor ids = random_ids(2, len, cfg.vocab, 18), mask = test_mask(len), pmask = prefix_mask(len);
  cuda::T5Cuda enc(ws, cfg);
  const Outputs want = run_all(enc, ids, mask, pmask);
  const size_t pack = enc.layer_pack_bytes(), dev_all = enc.device_weight_bytes();
  const int nl = static_cast<int>(cfg.num_layers);
  uint64_t cur_all = current_bytes();  // weights + the cached bucket table

  for (int r : {0, 1, 2, 3, 0, -1}) {
    const int want_r = r < 0 ? nl : r;
    const std::string tag = "set_resident_layers(" + std::to_string(r) + ")";
    enc.set_resident_layers(r, nullptr);
    EXPECT_EQ(enc.resident_layers(), want_r) << tag;
    const size_t streamed = static_cast<size_t>(nl - want_r) * pack;
    EXPECT_EQ(enc.host_weight_bytes(), streamed) << tag;
    EXPECT_EQ(enc.device_weight_bytes(), dev_all - streamed) << tag;
    // The allocator gave the streamed packs' memory back (each pack was one allocation).
    const uint64_t cur = current_bytes();
    ASSERT_LE(cur, cur_all) << tag;
    EXPECT_GE(cur_all - cur, streamed) << tag;
    EXPECT_LE(cur_all - cur, static_cast<size_t>(nl - want_r) * charged(static_cast<int64_t>(pack))) << tag;
    for (int rep = 0; rep < 2; ++rep) expect_same_bits(run_all(enc, ids, mask, pmask), want, tag);
    // A call that streams leaves nothing behind: its slots went back.
    EXPECT_EQ(current_bytes(), cur) << tag << ": memory left after the calls";
  }
  EXPECT_EQ(enc.device_weight_bytes(), dev_all);
  EXPECT_EQ(current_bytes(), cur_all);
}

// T5 v1.1 layout: one position table shared by the layers (it lives outside the layer packs).
TEST(CudaT5Stream, SharedPositionTableStreamedAndOffloaded) {
  REQUIRE_GPU();
  T5Config cfg;
  cfg.vocab = 77, cfg.dim = 36, cfg.dim_attn = 48, cfg.num_heads = 4, cfg.dim_ffn = 50, cfg.num_layers = 3;
  cfg.num_buckets = 16, cfg.max_distance = 20, cfg.shared_pos = true;
  io::WeightStore ws = io::WeightStore::open(write_random_t5(cfg, 503, "t5_stream_random"));
  models::text::install_t5_key_map(ws);
  const int64_t len = 23;
  const Tensor ids = random_ids(2, len, cfg.vocab, 19), mask = test_mask(len), pmask = prefix_mask(len);
  cuda::T5Cuda enc(ws, cfg);
  deterministic(enc);
  const Outputs want = run_all(enc, ids, mask, pmask);
  for (int r : {0, 1, 2}) {
    cuda::T5CudaOptions opt;
    opt.resident_layers = r;
    cuda::T5Cuda s(ws, cfg, nullptr, opt);
    deterministic(s);
    expect_same_bits(run_all(s, ids, mask, pmask), want, "shared table, resident_layers " + std::to_string(r));
  }
  enc.offload(nullptr);
  EXPECT_EQ(enc.device_weight_bytes(), 0u);
  expect_same_bits(run_all(enc, ids, mask, pmask), want, "shared table, offloaded");
  enc.restore(nullptr);
  expect_same_bits(run_all(enc, ids, mask, pmask), want, "shared table, restored");
}

// ---- random weights (benchmarks): the same values whatever the placement ----

TEST(CudaT5Stream, RandomWeightsEveryPlacementSameBits) {
  REQUIRE_GPU();
  T5Config cfg = four_layers();
  cfg.vocab = 9000;  // more than one 8192-row chunk of the random embedding
  const int64_t len = 19;
  const Tensor ids = random_ids(2, len, cfg.vocab, 20), mask = test_mask(len), pmask = prefix_mask(len);
  cuda::T5Cuda enc(cfg, 42, nullptr);
  deterministic(enc);
  const Outputs want = run_all(enc, ids, mask, pmask);
  const int nl = static_cast<int>(cfg.num_layers);
  for (const auto& [r, host_emb] : std::vector<std::pair<int, bool>>{{0, true}, {0, false}, {1, true}, {nl / 2, false}}) {
    const std::string tag = "random weights, resident_layers " + std::to_string(r) + (host_emb ? " + host embedding" : "");
    cuda::T5CudaOptions opt;
    opt.resident_layers = r;
    opt.embedding_on_host = host_emb;
    cuda::T5Cuda s(cfg, 42, nullptr, opt);
    deterministic(s);
    EXPECT_EQ(s.host_weight_bytes(), static_cast<size_t>(nl - r) * s.layer_pack_bytes() +
                                         (host_emb ? static_cast<size_t>(cfg.vocab * cfg.dim) * 2 : 0))
        << tag;
    for (int rep = 0; rep < 2; ++rep) expect_same_bits(run_all(s, ids, mask, pmask), want, tag);
  }
  // A different seed gives different weights (the comparison above can fail).
  cuda::T5Cuda other(cfg, 43, nullptr);
  EXPECT_GT(max_abs_diff(run_all(other, ids, mask, pmask).t[0], want.t[0]), 0.0);
}

// ---- whole-component offload ----

TEST(CudaT5Stream, OffloadRestore) {
  REQUIRE_GPU();
  const T5Config cfg = four_layers();
  const int nl = static_cast<int>(cfg.num_layers);
  const int64_t len = 25;
  const Tensor ids = random_ids(2, len, cfg.vocab, 21), mask = test_mask(len), pmask = prefix_mask(len);
  cuda::T5Cuda enc(cfg, 7, nullptr);
  const Outputs want = run_all(enc, ids, mask, pmask);
  const size_t pack = enc.layer_pack_bytes(), dev_all = enc.device_weight_bytes();
  const uint64_t cur_all = current_bytes();

  enc.offload(nullptr);
  EXPECT_TRUE(enc.offloaded());
  EXPECT_EQ(enc.device_weight_bytes(), 0u);
  EXPECT_EQ(enc.host_weight_bytes(), dev_all);
  EXPECT_EQ(enc.stream_slot_bytes(), 2 * pack);
  const uint64_t cur_off = current_bytes();
  ASSERT_LE(cur_off, cur_all);
  // Freed: the layer packs, the embedding, the globals (one allocation each) and the bucket table.
  const size_t emb = static_cast<size_t>(cfg.vocab * cfg.dim) * 2;
  const size_t globals = dev_all - static_cast<size_t>(nl) * pack - emb;
  const size_t freed_max = static_cast<size_t>(nl) * charged(static_cast<int64_t>(pack)) +
                           charged(static_cast<int64_t>(emb)) + charged(static_cast<int64_t>(globals)) +
                           charged((2 * len - 1) * 4);
  EXPECT_GE(cur_all - cur_off, dev_all);
  EXPECT_LE(cur_all - cur_off, freed_max);
  std::cout << "  [offload] device weights " << dev_all << " B, allocator current dropped by " << cur_all - cur_off
            << " B\n";
  enc.offload(nullptr);  // a second offload does nothing
  EXPECT_EQ(current_bytes(), cur_off);

  {
    // An offloaded call streams everything and keeps nothing but its output.
    const Tensor out = enc.forward(ids, mask, nullptr);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_LE(current_bytes() - cur_off, charged(static_cast<int64_t>(out.nbytes())));
  }
  EXPECT_EQ(current_bytes(), cur_off);
  for (int rep = 0; rep < 2; ++rep) expect_same_bits(run_all(enc, ids, mask, pmask), want, "offloaded");
  EXPECT_EQ(current_bytes(), cur_off);

  enc.restore(nullptr);
  EXPECT_FALSE(enc.offloaded());
  EXPECT_EQ(enc.device_weight_bytes(), dev_all);
  EXPECT_EQ(enc.host_weight_bytes(), 0u);
  expect_same_bits(run_all(enc, ids, mask, pmask), want, "restored");
  enc.restore(nullptr);  // a second restore does nothing
  EXPECT_EQ(enc.device_weight_bytes(), dev_all);

  // A partly streamed encoder comes back to its residency, or to one set while offloaded.
  enc.set_resident_layers(2, nullptr);
  enc.offload(nullptr);
  EXPECT_EQ(enc.device_weight_bytes(), 0u);
  EXPECT_EQ(enc.resident_layers(), 2);
  enc.set_resident_layers(1, nullptr);  // recorded only
  EXPECT_EQ(enc.device_weight_bytes(), 0u);
  EXPECT_EQ(enc.resident_layers(), 1);
  expect_same_bits(run_all(enc, ids, mask, pmask), want, "offloaded after set_resident_layers(2)");
  enc.restore(nullptr);
  EXPECT_EQ(enc.host_weight_bytes(), static_cast<size_t>(nl - 1) * pack);
  EXPECT_EQ(enc.device_weight_bytes(), dev_all - static_cast<size_t>(nl - 1) * pack);
  expect_same_bits(run_all(enc, ids, mask, pmask), want, "restored to resident_layers 1");
}

// ---- out of device memory: a failed restore / set_resident_layers leaves a usable encoder ----

TEST(CudaT5Stream, OutOfDeviceMemoryKeepsEncoderUsable) {
  REQUIRE_GPU();
  // Layer packs of ~26 MB: larger than any block the allocator keeps cached for small requests.
  T5Config cfg;
  cfg.vocab = 64, cfg.dim = 512, cfg.dim_attn = 512, cfg.num_heads = 8, cfg.dim_ffn = 8192, cfg.num_layers = 3;
  const int64_t len = 17;
  const Tensor ids = random_ids(2, len, cfg.vocab, 24), mask = test_mask(len), pmask = prefix_mask(len);
  cuda::T5Cuda enc(cfg, 9, nullptr);
  const Outputs want = run_all(enc, ids, mask, pmask);
  const size_t pack = enc.layer_pack_bytes();
  const size_t emb_and_globals = enc.device_weight_bytes() - static_cast<size_t>(cfg.num_layers) * pack;

  enc.offload(nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  CachingAllocator* a = cuda::allocator();
  struct BudgetGuard {
    CachingAllocator* a;
    size_t old;
    ~BudgetGuard() { a->set_budget(old); }
  } budget_guard{a, a->options().budget_bytes};
  a->empty_cache();
  if (a->caching_stats().largest_free_block >= pack) GTEST_SKIP() << "a cached free block holds a whole layer";
  // Room for two layer packs (the streaming slots) and the call buffers, not for three resident layers.
  const size_t seg = (pack + (size_t{2} << 20) - 1) / (size_t{2} << 20) * (size_t{2} << 20);
  a->set_budget(a->caching_stats().reserved_bytes + 2 * seg + (size_t{8} << 20));

  EXPECT_THROW(enc.restore(nullptr), Error);
  EXPECT_TRUE(enc.offloaded());
  EXPECT_EQ(enc.device_weight_bytes(), 0u);
  expect_same_bits(run_all(enc, ids, mask, pmask), want, "offloaded, after a failed restore");

  enc.set_resident_layers(0, nullptr);  // recorded; restore then brings only the embedding and globals
  enc.restore(nullptr);
  EXPECT_FALSE(enc.offloaded());
  EXPECT_EQ(enc.device_weight_bytes(), emb_and_globals);
  EXPECT_THROW(enc.set_resident_layers(-1, nullptr), Error);
  EXPECT_EQ(enc.resident_layers(), 0);
  EXPECT_EQ(enc.device_weight_bytes(), emb_and_globals);
  expect_same_bits(run_all(enc, ids, mask, pmask), want, "streamed, after a failed set_resident_layers");

  a->set_budget(budget_guard.old);
  enc.set_resident_layers(-1, nullptr);
  EXPECT_EQ(enc.resident_layers(), static_cast<int>(cfg.num_layers));
  EXPECT_EQ(enc.host_weight_bytes(), 0u);
  expect_same_bits(run_all(enc, ids, mask, pmask), want, "resident again");
}

// ---- fully streamed: what the device holds before, during and after a call ----

TEST(CudaT5Stream, FullyStreamedDeviceMemory) {
  REQUIRE_GPU();
  T5Config cfg;
  cfg.vocab = 2000, cfg.dim = 128, cfg.dim_attn = 128, cfg.num_heads = 4, cfg.dim_ffn = 256, cfg.num_layers = 6;
  const int64_t batch = 2, len = 32;
  const Tensor ids = random_ids(batch, len, cfg.vocab, 22), mask = test_mask(len);
  const size_t emb = static_cast<size_t>(cfg.vocab * cfg.dim) * 2;

  Tensor want;
  size_t resident_weights = 0;
  {
    cuda::T5Cuda all(cfg, 3, nullptr);
    deterministic(all);
    resident_weights = all.device_weight_bytes();
    want = to_host(all.forward(ids, mask, nullptr));
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const uint64_t base = current_bytes();
  cuda::T5CudaOptions opt;
  opt.resident_layers = 0;
  opt.embedding_on_host = true;
  cuda::T5Cuda enc(cfg, 3, nullptr, opt);
  deterministic(enc);
  const size_t pack = enc.layer_pack_bytes(), slots = enc.stream_slot_bytes();
  EXPECT_EQ(slots, 2 * pack);
  // Between calls: only the final norm (dim floats, padded to 256 bytes) stays on the device.
  EXPECT_EQ(enc.device_weight_bytes(), static_cast<size_t>(cfg.dim * 4 + 255) / 256 * 256);
  EXPECT_LT(enc.device_weight_bytes(), pack);
  EXPECT_EQ(enc.host_weight_bytes(), static_cast<size_t>(cfg.num_layers) * pack + emb);
  ASSERT_GE(current_bytes(), base);
  EXPECT_LE(current_bytes() - base, charged(static_cast<int64_t>(enc.device_weight_bytes())));

  cuda::allocator()->reset_peak();
  Tensor out = enc.forward(ids, mask, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const CachingStats st = cuda::allocator()->caching_stats();
  const uint64_t peak = st.peak_bytes - base, after = st.current_bytes - base;
  const size_t activations = call_bytes(cfg, batch, len);
  std::cout << "  [fully streamed] layer pack " << pack << " B, slots " << slots << " B, call buffers <= "
            << activations << " B, resident weights " << resident_weights << " B; peak during the call " << peak
            << " B, held after it " << after << " B\n";
  EXPECT_EQ(max_abs_diff(to_host(out), want), 0.0);
  // During the call: the two slots were really borrowed, and nothing else of the weights.
  EXPECT_GE(peak, slots);
  EXPECT_LE(peak, enc.device_weight_bytes() + slots + activations);
  EXPECT_LT(peak, resident_weights);
  // After the call: the output, the final norm and the bucket table; far below slots + embedding.
  EXPECT_LE(after, charged(static_cast<int64_t>(out.nbytes())) +
                       charged(static_cast<int64_t>(enc.device_weight_bytes())) + charged((2 * len - 1) * 4));
  EXPECT_LT(after, slots + emb);
  out = Tensor();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  // Offloaded on top: not even the final norm and the bucket table stay.
  enc.offload(nullptr);
  EXPECT_EQ(current_bytes(), base);
  EXPECT_EQ(max_abs_diff(to_host(enc.forward(ids, mask, nullptr)), want), 0.0);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(current_bytes(), base);
}

// ---- golden fixtures: streamed and offloaded encoders give the resident bits ----

TEST(CudaT5Stream, GoldenT5EncodeStreamed) {
  REQUIRE_GPU();
  const std::string dir = golden_dir();
  const T5Config cfg = models::text::load_t5_config(dir + "/t5_config.json");
  io::WeightStore ws = io::WeightStore::open(dir + "/t5_encoder.safetensors");
  models::text::install_t5_key_map(ws);
  const auto fx = io::WeightStore::open(dir + "/t5_encode.safetensors");
  const Tensor ids = fx.get("ids"), mask = fx.get("mask");
  const Tensor ref = fx.get_f32("out");

  cuda::T5Cuda enc(ws, cfg);
  deterministic(enc);
  const Tensor want = to_host(enc.forward(ids, mask, nullptr));
  const int nl = static_cast<int>(cfg.num_layers);
  std::vector<int> residencies = {0, 1, nl / 2};
  residencies.erase(std::unique(residencies.begin(), residencies.end()), residencies.end());
  for (int r : residencies) {
    for (bool host_emb : {false, true}) {
      const std::string tag = "golden t5_encode, resident_layers " + std::to_string(r) + (host_emb ? " + host embedding" : "");
      cuda::T5CudaOptions opt;
      opt.resident_layers = r;
      opt.embedding_on_host = host_emb;
      cuda::T5Cuda s(ws, cfg, nullptr, opt);
      deterministic(s);
      const Tensor got = to_host(s.forward(ids, mask, nullptr));
      EXPECT_EQ(max_abs_diff(got, want), 0.0) << tag;
      EXPECT_LE(report_err(tag + " vs fixture", got, ref), kBf16Tol);
    }
  }
  enc.offload(nullptr);
  EXPECT_EQ(max_abs_diff(to_host(enc.forward(ids, mask, nullptr)), want), 0.0) << "offloaded";
  enc.restore(nullptr);
  EXPECT_EQ(max_abs_diff(to_host(enc.forward(ids, mask, nullptr)), want), 0.0) << "restored";
}

TEST(CudaT5Stream, DiffusersTextEncoderStreamed) {
  REQUIRE_GPU();
  const std::string dir = diffusers_dir();
  const T5Config cfg = models::text::load_t5_config(dir + "/text_encoder/config.json");
  io::WeightStore ws = io::WeightStore::open(dir + "/text_encoder");
  models::text::install_t5_key_map(ws);
  const auto fx = io::WeightStore::open(dir + "/text_encoder_forward.safetensors");
  const Tensor ids = fx.get("input_ids"), mask = fx.get("attention_mask");
  cuda::T5Cuda enc(ws, cfg);
  deterministic(enc);
  const Tensor want = to_host(enc.forward(ids, mask, nullptr));
  cuda::T5CudaOptions opt;
  opt.resident_layers = 0;
  opt.embedding_on_host = true;
  cuda::T5Cuda s(ws, cfg, nullptr, opt);
  deterministic(s);
  EXPECT_EQ(max_abs_diff(to_host(s.forward(ids, mask, nullptr)), want), 0.0);
  EXPECT_LE(report_err("diffusers text_encoder fully streamed", to_host(s.forward(ids, mask, nullptr)),
                       fx.get_f32("last_hidden_state")),
            kBf16Tol);
}

// ---- UMT5-XXL at its real size (random weights): the streaming cost on this card ----
// Prints the measured times next to the prediction of docs/models/text_cuda.md (copy-bound: one
// 385.9 MB layer pack per ~7 ms at ~55 GB/s) and checks the bits and the device memory at the real
// sizes. Needs ~14 GiB of device memory and ~12 GB of pinned host memory; skipped on smaller cards.
TEST(CudaT5Stream, Umt5XxlStreamingCost) {
  REQUIRE_GPU();
  const T5Config cfg = models::text::umt5_xxl_config();
  const size_t need = size_t{14} << 30;
  if (cuda::devices().at(0).total_memory < need) GTEST_SKIP() << "needs 14 GiB of device memory";
  cudaStream_t st = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), cudaSuccess);
  struct StreamGuard {
    cudaStream_t s;
    ~StreamGuard() { cudaStreamDestroy(s); }
  } stream_guard{st};
  const int64_t batch = 2, len = 512;
  const Tensor ids = random_ids(batch, len, cfg.vocab, 23);
  auto seconds = [&](auto fn) {
    EXPECT_EQ(cudaStreamSynchronize(st), cudaSuccess);
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    EXPECT_EQ(cudaStreamSynchronize(st), cudaSuccess);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  auto median3 = [&](auto fn) {
    std::vector<double> t = {seconds(fn), seconds(fn), seconds(fn)};
    std::sort(t.begin(), t.end());
    return t[1];
  };

  cuda::T5Cuda enc(cfg, 2024, st);
  const size_t pack = enc.layer_pack_bytes(), all = enc.device_weight_bytes();
  Tensor out = enc.forward(ids, Tensor(), st);  // warm-up: autotunes the GEMM shapes
  const double resident_s = median3([&] { out = enc.forward(ids, Tensor(), st); });
  const Tensor want = to_host(out);
  out = Tensor();

  const double move_s = seconds([&] { enc.set_resident_layers(0, st); });
  ASSERT_EQ(enc.host_weight_bytes(), static_cast<size_t>(cfg.num_layers) * pack);
  const uint64_t base = current_bytes();
  cuda::allocator()->reset_peak();
  const double streamed_s = median3([&] { out = enc.forward(ids, Tensor(), st); });
  const uint64_t peak = cuda::allocator()->caching_stats().peak_bytes - base;
  EXPECT_EQ(max_abs_diff(to_host(out), want), 0.0) << "streamed";
  out = Tensor();
  EXPECT_GE(peak, enc.stream_slot_bytes());
  EXPECT_LE(peak, enc.stream_slot_bytes() + call_bytes(cfg, batch, len));

  const double offload_s = seconds([&] { enc.offload(st); });  // the layers are on the host already
  EXPECT_EQ(enc.device_weight_bytes(), 0u);
  const double offloaded_s = seconds([&] { out = enc.forward(ids, Tensor(), st); });
  EXPECT_EQ(max_abs_diff(to_host(out), want), 0.0) << "offloaded";
  out = Tensor();
  const double restore_s = seconds([&] { enc.restore(st); });
  const double upload_s = seconds([&] { enc.set_resident_layers(-1, st); });
  EXPECT_EQ(enc.device_weight_bytes(), all);
  EXPECT_EQ(max_abs_diff(to_host(enc.forward(ids, Tensor(), st)), want), 0.0) << "resident again";

  const double copy_gbs = static_cast<double>(cfg.num_layers * pack) / streamed_s / 1e9;
  std::cout << "  [UMT5-XXL 2 x 512] layer pack " << pack << " B; resident " << resident_s * 1e3
            << " ms, fully streamed layers " << streamed_s * 1e3 << " ms (overhead " << (streamed_s - resident_s) * 1e3
            << " ms, effective copy rate " << copy_gbs << " GB/s; predicted ~175 ms), offloaded (host embedding "
            << "gather too) " << offloaded_s * 1e3 << " ms; streamed-call peak " << peak / 1048576.0
            << " MiB (slots " << enc.layer_pack_bytes() * 2 / 1048576.0 << " MiB)\n"
            << "  [UMT5-XXL placement moves] set_resident_layers(0) " << move_s << " s, offload (embedding) "
            << offload_s << " s, restore " << restore_s << " s, set_resident_layers(-1) " << upload_s << " s\n";
  RecordProperty("xxl_resident_ms", std::to_string(resident_s * 1e3));
  RecordProperty("xxl_streamed_ms", std::to_string(streamed_s * 1e3));
  RecordProperty("xxl_offloaded_ms", std::to_string(offloaded_s * 1e3));
  RecordProperty("xxl_stream_peak_mib", std::to_string(peak / 1048576.0));
}
