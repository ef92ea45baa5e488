#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <filesystem>

#include "io/weight_store.h"
#include "pipeline/demo_model.h"
#include "test_util.h"

using namespace wan22;
namespace fs = std::filesystem;

TEST(DemoModel, WritesCompleteDeterministicCheckpoint) {
  std::string dir = test::temp_dir() + "/demo";
  pipeline::ensure_demo_model(dir, 5);
  ASSERT_TRUE(pipeline::is_demo_model(dir));
  for (const char* f : {"config.json", "diffusion_pytorch_model.safetensors", "Wan2.2_VAE.safetensors",
                        "vae_config.json", "models_t5_umt5-xxl-enc-bf16.safetensors", "t5_config.json",
                        "google/umt5-xxl/spiece.model"}) {
    EXPECT_TRUE(fs::exists(fs::path(dir) / f)) << f;
  }
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(dir + "/google/umt5-xxl/spiece.model").ok());
  EXPECT_EQ(sp.pad_id(), 0);
  EXPECT_EQ(sp.eos_id(), 1);
  EXPECT_LE(sp.GetPieceSize(), 512);
  std::vector<int> ids;
  ASSERT_TRUE(sp.Encode("a red cat walks on the beach", &ids).ok());
  EXPECT_GE(ids.size(), 3u);
  for (int id : ids) EXPECT_NE(id, sp.unk_id());

  auto dit = io::WeightStore::open(dir + "/diffusion_pytorch_model.safetensors");
  Tensor w1 = dit.get_f32("blocks.0.self_attn.q.weight");
  // Same seed, same weights; another seed, other weights.
  std::string dir2 = test::temp_dir() + "/demo";
  pipeline::ensure_demo_model(dir2, 5);
  auto dit2 = io::WeightStore::open(dir2 + "/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(test::max_abs_diff(w1, dit2.get_f32("blocks.0.self_attn.q.weight")), 0.0);
  std::string dir3 = test::temp_dir() + "/demo";
  pipeline::ensure_demo_model(dir3, 6);
  auto dit3 = io::WeightStore::open(dir3 + "/diffusion_pytorch_model.safetensors");
  EXPECT_GT(test::max_abs_diff(w1, dit3.get_f32("blocks.0.self_attn.q.weight")), 0.0);
  // A second call finds the complete model and leaves it alone.
  auto t = fs::last_write_time(fs::path(dir) / "config.json");
  pipeline::ensure_demo_model(dir, 5);
  EXPECT_EQ(t, fs::last_write_time(fs::path(dir) / "config.json"));
}
