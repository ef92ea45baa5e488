// The golden fixtures' .pth files (written by torch.save) against their .safetensors twins: the
// same tensor names, dtypes, shapes and bit-identical values.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "io/tensor_source.h"
#include "test_util.h"

namespace wan22 {
namespace {

void expect_identical(const std::string& stem) {
  const std::string dir = test::golden_dir();
  const std::string pth_path = dir + "/" + stem + ".pth";
  const std::string st_path = dir + "/" + stem + ".safetensors";
  ASSERT_TRUE(std::filesystem::exists(pth_path)) << pth_path << " missing (set WAN22_GOLDEN)";
  auto pth = io::open_tensor_file(pth_path);
  auto st = io::open_tensor_file(st_path);
  EXPECT_STREQ(pth->format(), "pth");
  EXPECT_STREQ(st->format(), "safetensors");
  std::map<std::string, const io::TensorInfo*> ref;
  for (const auto& t : st->tensors()) ref[t.name] = &t;
  ASSERT_EQ(pth->tensors().size(), ref.size());
  ASSERT_FALSE(ref.empty());
  size_t compared = 0;
  uint64_t bytes = 0;
  for (const auto& info : pth->tensors()) {
    SCOPED_TRACE(info.name);
    auto it = ref.find(info.name);
    ASSERT_NE(it, ref.end()) << "only in the .pth";
    EXPECT_EQ(info.dtype, it->second->dtype);
    EXPECT_EQ(info.shape, it->second->shape);
    Tensor a = pth->load(info).contiguous();
    Tensor b = st->load(*it->second).contiguous();
    ASSERT_EQ(a.nbytes(), b.nbytes());
    EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0) << "values differ";
    ++compared;
    bytes += a.nbytes();
  }
  std::cout << stem << ": " << compared << " tensors, " << bytes << " bytes identical between .pth and .safetensors\n";
  ::testing::Test::RecordProperty(stem + "_tensors", static_cast<int>(compared));
}

TEST(IoGoldenPth, VaePthEqualsSafetensors) { expect_identical("vae"); }
TEST(IoGoldenPth, T5EncoderPthEqualsSafetensors) { expect_identical("t5_encoder"); }

}  // namespace
}  // namespace wan22
