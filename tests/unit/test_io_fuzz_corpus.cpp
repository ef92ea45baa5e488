// Replays the fuzzers' corpus (fuzz/corpus/<target>/: seeds and regression inputs of crashes
// found by fuzzing) through the same code as the fuzz targets, in the normal build: each input
// must load or be rejected with wan22::Error; any other exception fails the test.
#include <gtest/gtest.h>

#include <filesystem>

#include "../../fuzz/fuzz_io.h"
#include "test_io_util.h"
#include "test_util.h"

namespace wan22 {
namespace {

namespace fs = std::filesystem;

void replay(const std::string& target, void (*run)(const uint8_t*, size_t)) {
  const fs::path dir = fs::path(test::source_dir()) / "fuzz" / "corpus" / target;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    SCOPED_TRACE(e.path().string());
    const test::Bytes b = test::read_bytes(e.path().string());
    EXPECT_NO_THROW(run(b.data(), b.size()));
    ++n;
  }
  EXPECT_GT(n, 0) << "empty corpus " << dir;
  std::cout << target << ": " << n << " inputs replayed\n";
}

TEST(IoFuzzCorpus, Safetensors) { replay("fuzz_safetensors", fuzz::run_safetensors); }
TEST(IoFuzzCorpus, Pth) { replay("fuzz_pth", fuzz::run_pth); }
TEST(IoFuzzCorpus, Pickle) { replay("fuzz_pickle", fuzz::run_pickle); }
TEST(IoFuzzCorpus, IndexJson) { replay("fuzz_index_json", fuzz::run_index_json); }

// The valid seeds must actually load: a seed the parser rejects would fuzz nothing.
TEST(IoFuzzCorpus, SeedsAreValid) {
  for (const char* name : {"sample.safetensors", "tiny_f32.safetensors", "mixed.safetensors"}) {
    const auto b = test::read_bytes(test::source_dir() + "/fuzz/corpus/fuzz_safetensors/" + name);
    auto st = io::SafetensorsFile::parse(io::MappedFile::from_bytes(name, b));
    EXPECT_GT(fuzz::touch_all(*st), 0u) << name;
  }
  for (const char* name : {"views.pth", "views_zip64.pth", "views_deflate.pth", "nested.pth", "small_bf16.pth"}) {
    const auto b = test::read_bytes(test::source_dir() + "/fuzz/corpus/fuzz_pth/" + name);
    auto pf = io::PthFile::parse(io::MappedFile::from_bytes(name, b));
    EXPECT_GT(fuzz::touch_all(*pf), 0u) << name;
  }
}

}  // namespace
}  // namespace wan22
