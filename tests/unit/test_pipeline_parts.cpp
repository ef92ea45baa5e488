#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/status.h"
#include "core/thread_pool.h"
#include "pipeline/checkpoint.h"
#include "pipeline/noise.h"
#include "pipeline/progress.h"
#include "test_util.h"

using namespace wan22;
namespace fs = std::filesystem;

TEST(Noise, DeterministicAcrossThreadCountsAndNormal) {
  Tensor a = pipeline::gaussian_noise({3, 5, 7, 11}, 42);
  set_default_pool(1);
  Tensor b = pipeline::gaussian_noise({3, 5, 7, 11}, 42);
  set_default_pool(hardware_threads());
  EXPECT_EQ(test::max_abs_diff(a, b), 0.0);
  Tensor c = pipeline::gaussian_noise({3, 5, 7, 11}, 43);
  EXPECT_GT(test::max_abs_diff(a, c), 0.1);
  Tensor d = pipeline::gaussian_noise({3, 5, 7, 11}, 42, 1);
  EXPECT_GT(test::max_abs_diff(a, d), 0.1);
  Tensor big = pipeline::gaussian_noise({200001}, 7);
  auto v = big.to_vector();
  double m = 0, s2 = 0;
  for (float x : v) m += x;
  m /= v.size();
  for (float x : v) s2 += (x - m) * (x - m);
  s2 /= v.size();
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(s2), 1.0, 0.01);
}

TEST(Checkpoint, ListsEveryMissingPart) {
  std::string dir = test::temp_dir();
  std::ofstream(dir + "/config.json") << "{}";
  try {
    pipeline::locate_checkpoint(dir);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    for (const char* part : {"DiT weights", "VAE", "text encoder", "tokenizer", "Wan2.2_VAE.pth",
                             "models_t5_umt5-xxl-enc-bf16.pth", "google/umt5-xxl/spiece.model"}) {
      EXPECT_NE(m.find(part), std::string::npos) << part << " not in: " << m;
    }
  }
  EXPECT_THROW(pipeline::locate_checkpoint(dir + "/nope"), Error);
}

TEST(Checkpoint, RecognisesDiffusersLayout) {
  auto c = pipeline::locate_checkpoint(test::diffusers_dir());
  EXPECT_EQ(c.layout, "diffusers");
  EXPECT_NE(c.tokenizer.find("spiece.model"), std::string::npos);
  EXPECT_NE(c.dit_config.find("transformer/config.json"), std::string::npos);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(pipeline::format_duration(4.54), "4.5s");
  EXPECT_EQ(pipeline::format_duration(83), "1m23s");
  EXPECT_EQ(pipeline::format_duration(7322), "2h02m");
  EXPECT_EQ(pipeline::format_duration(NAN), "?");
}
