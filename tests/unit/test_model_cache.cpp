// The model cache (io/model_cache.h): keys, store/find, LRU eviction, corrupt entries, RAM store,
// and the streamed safetensors writer under it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/status.h"
#include "io/model_cache.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace wan22 {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const std::string d = test::temp_dir() + "/model_cache_" + name + "_" + std::to_string(::getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A small source "checkpoint" file.
std::string source_file(const std::string& dir, const std::string& content) {
  const std::string p = dir + "/source.bin";
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

// Entries of `n` f32 values (value i + offset) and a u8 pack.
struct Payload {
  std::vector<io::SafetensorsEntry> entries;
  std::vector<Tensor> tensors;
  io::SafetensorsFill fill() const {
    return [this](size_t i) { return tensors[i]; };
  }
};
Payload payload(int64_t n, float offset) {
  Payload p;
  Tensor a = Tensor::empty({n}, DType::kF32);
  for (int64_t i = 0; i < n; ++i) a.data<float>()[i] = static_cast<float>(i) + offset;
  Tensor b = Tensor::empty({3, 5}, DType::kU8);
  for (int64_t i = 0; i < 15; ++i) b.data<uint8_t>()[i] = static_cast<uint8_t>(i * 7);
  p.entries = {{"weights", DType::kF32, {n}}, {"blocks.0.pack", DType::kU8, {3, 5}}};
  p.tensors = {a, b};
  return p;
}

void expect_payload(const io::SafetensorsFile& f, int64_t n, float offset) {
  const auto& ts = f.tensors();
  ASSERT_EQ(ts.size(), 2u);
  const io::TensorInfo* w = nullptr;
  const io::TensorInfo* pk = nullptr;
  for (const auto& t : ts) (t.name == "weights" ? w : pk) = &t;
  ASSERT_TRUE(w && pk);
  Tensor a = f.load(*w);
  ASSERT_EQ(a.numel(), n);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(a.data<float>()[i], static_cast<float>(i) + offset);
  Tensor b = f.load(*pk);
  EXPECT_EQ(b.shape(), (Shape{3, 5}));
  EXPECT_EQ(b.data<uint8_t>()[14], 98);
}

TEST(ModelCache, StoresAndFindsAnEntryWithItsKey) {
  const std::string dir = fresh_dir("roundtrip");
  const std::string src = source_file(dir, "checkpoint bytes");
  io::ModelCache cache(dir + "/cache", 1 << 20);
  const std::string key = io::ModelCache::key_for({src}, "dit fp8");
  std::string note;
  EXPECT_EQ(cache.find("dit", key, &note), nullptr);  // empty
  const Payload p = payload(100, 0.5f);
  ASSERT_TRUE(cache.store("dit", key, p.entries, p.fill(), {{"format", "fp8"}}, &note)) << note;
  EXPECT_NE(note.find("stored as dit-"), std::string::npos) << note;
  auto f = cache.find("dit", key, &note);
  ASSERT_NE(f, nullptr);
  expect_payload(*f, 100, 0.5f);
  EXPECT_EQ(f->metadata().at("format"), "fp8");
  EXPECT_EQ(f->metadata().at("wan22_component"), "dit");
  // Another conversion of the same files is another entry.
  EXPECT_EQ(cache.find("dit", io::ModelCache::key_for({src}, "dit int8"), &note), nullptr);
  const auto list = cache.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, io::ModelCache::entry_name("dit", key));
  EXPECT_EQ(list[0].bytes, fs::file_size(list[0].path));
  EXPECT_EQ(cache.total_bytes(), list[0].bytes);
}

TEST(ModelCache, KeyFollowsTheSourceFiles) {
  const std::string dir = fresh_dir("key");
  const std::string src = source_file(dir, "version one");
  const std::string k1 = io::ModelCache::key_for({src}, "dit bf16");
  EXPECT_EQ(k1, io::ModelCache::key_for({src}, "dit bf16"));
  EXPECT_NE(k1, io::ModelCache::key_for({src}, "dit fp8"));
  // The same path reached another way is the same key (canonical path).
  EXPECT_EQ(k1, io::ModelCache::key_for({dir + "/./source.bin"}, "dit bf16"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  source_file(dir, "version two, longer");  // size and modification time change
  EXPECT_NE(k1, io::ModelCache::key_for({src}, "dit bf16"));
  EXPECT_NE(io::ModelCache::entry_name("dit", k1), io::ModelCache::entry_name("dit", io::ModelCache::key_for({src}, "dit bf16")));
  try {
    io::ModelCache::key_for({dir + "/missing.safetensors"}, "dit bf16");
    FAIL() << "no error for a missing source";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing.safetensors"), std::string::npos);
  }
}

TEST(ModelCache, TruncatedEntryIsRemovedAndReported) {
  const std::string dir = fresh_dir("truncated");
  const std::string src = source_file(dir, "ckpt");
  io::ModelCache cache(dir, 1 << 20);
  const std::string key = io::ModelCache::key_for({src}, "dit fp8");
  const Payload p = payload(1000, 0.0f);
  std::string note;
  ASSERT_TRUE(cache.store("dit", key, p.entries, p.fill(), {}, &note));
  const std::string path = cache.list().at(0).path;
  fs::resize_file(path, fs::file_size(path) - 100);
  note.clear();
  EXPECT_EQ(cache.find("dit", key, &note), nullptr);
  EXPECT_NE(note.find("unreadable"), std::string::npos) << note;
  EXPECT_FALSE(fs::exists(path));
  // and it can be stored again
  EXPECT_TRUE(cache.store("dit", key, p.entries, p.fill(), {}, &note));
  EXPECT_NE(cache.find("dit", key, &note), nullptr);
}

TEST(ModelCache, EntryOfAnotherKeyUnderTheSameNameIsRemoved) {
  const std::string dir = fresh_dir("collision");
  const std::string src = source_file(dir, "ckpt");
  io::ModelCache cache(dir, 1 << 20);
  const std::string key = io::ModelCache::key_for({src}, "dit fp8");
  const Payload p = payload(10, 0.0f);
  // A file at this key's name whose metadata names another key (a hash collision, or a hand edit).
  io::write_safetensors_streamed(dir + "/" + io::ModelCache::entry_name("dit", key) + ".wan22.safetensors",
                                 p.entries, p.fill(), {{"wan22_cache_key", "something else"}, {"wan22_cache_version", "1"}});
  std::string note;
  EXPECT_EQ(cache.find("dit", key, &note), nullptr);
  EXPECT_NE(note.find("another conversion"), std::string::npos) << note;
  EXPECT_TRUE(cache.list().empty());
}

TEST(ModelCache, EvictsTheLeastRecentlyUsedToFit) {
  const std::string dir = fresh_dir("lru");
  const std::string src = source_file(dir, "ckpt");
  const Payload p = payload(4000, 1.0f);  // ~16 KB per entry
  const uint64_t one = io::safetensors_file_bytes(p.entries, {{"wan22_cache_key", std::string(60, 'k')}});
  io::ModelCache cache(dir + "/c", 2 * one + one / 2);  // room for two
  std::string note;
  const std::string ka = io::ModelCache::key_for({src}, "a"), kb = io::ModelCache::key_for({src}, "b"),
                    kc = io::ModelCache::key_for({src}, "c");
  ASSERT_TRUE(cache.store("dit", ka, p.entries, p.fill(), {}, &note)) << note;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(cache.store("dit", kb, p.entries, p.fill(), {}, &note)) << note;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(cache.find("dit", ka, &note), nullptr);  // a is now the most recently used
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(cache.store("dit", kc, p.entries, p.fill(), {}, &note)) << note;
  EXPECT_NE(note.find("evicted " + io::ModelCache::entry_name("dit", kb)), std::string::npos) << note;
  EXPECT_EQ(cache.find("dit", kb, &note), nullptr);
  EXPECT_NE(cache.find("dit", ka, &note), nullptr);
  EXPECT_NE(cache.find("dit", kc, &note), nullptr);
  EXPECT_LE(cache.total_bytes(), cache.limit_bytes());
  EXPECT_EQ(cache.list().size(), 2u);
}

TEST(ModelCache, EntryLargerThanTheLimitIsNotStored) {
  const std::string dir = fresh_dir("toolarge");
  const std::string src = source_file(dir, "ckpt");
  io::ModelCache cache(dir, 1000);
  const Payload p = payload(4000, 0.0f);
  std::string note;
  EXPECT_FALSE(cache.store("dit", io::ModelCache::key_for({src}, "x"), p.entries, p.fill(), {}, &note));
  EXPECT_NE(note.find("larger than the cache limit"), std::string::npos) << note;
  EXPECT_TRUE(cache.list().empty());
}

TEST(ModelCache, FailedWriteLeavesNothingAndKeepsOlderEntries) {
  const std::string dir = fresh_dir("failed");
  const std::string src = source_file(dir, "ckpt");
  io::ModelCache cache(dir, 1 << 20);
  const Payload p = payload(100, 0.0f);
  std::string note;
  const std::string k_ok = io::ModelCache::key_for({src}, "ok");
  ASSERT_TRUE(cache.store("dit", k_ok, p.entries, p.fill(), {}, &note));
  // The second tensor cannot be produced (as when the device copy fails, or the disk fills up).
  auto failing = [&](size_t i) -> Tensor {
    if (i == 1) throw Error(ErrorCode::kIoError, "No space left on device");
    return p.tensors[i];
  };
  EXPECT_FALSE(cache.store("dit", io::ModelCache::key_for({src}, "bad"), p.entries, failing, {}, &note));
  EXPECT_NE(note.find("could not write"), std::string::npos) << note;
  EXPECT_NE(note.find("No space left on device"), std::string::npos) << note;
  ASSERT_EQ(cache.list().size(), 1u);
  EXPECT_NE(cache.find("dit", k_ok, &note), nullptr);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.path().filename() != "source.bin";
  EXPECT_EQ(files, 1u);  // no temporary left behind
}

TEST(ModelCache, RamStoreRoundTripAndEviction) {
  const std::string dir = fresh_dir("ram");
  const std::string src = source_file(dir, "ckpt");
  io::ModelCache cache("", 1 << 20);
  cache.clear();
  EXPECT_TRUE(cache.in_ram());
  const Payload p = payload(50, 2.0f);
  const std::string key = io::ModelCache::key_for({src}, "ram");
  std::string note;
  ASSERT_TRUE(cache.store("dit", key, p.entries, p.fill(), {}, &note)) << note;
  {
    io::ModelCache other("", 1 << 20);  // the store is process-wide
    auto f = other.find("dit", key, &note);
    ASSERT_NE(f, nullptr);
    expect_payload(*f, 50, 2.0f);
  }
  const uint64_t one = cache.total_bytes();
  io::ModelCache small("", one + one / 2);  // room for one
  ASSERT_TRUE(small.store("dit", io::ModelCache::key_for({src}, "ram2"), p.entries, p.fill(), {}, &note)) << note;
  EXPECT_NE(note.find("evicted"), std::string::npos) << note;
  EXPECT_EQ(small.find("dit", key, &note), nullptr);
  EXPECT_EQ(small.list().size(), 1u);
  EXPECT_EQ(small.clear(), 1u);
}

TEST(ModelCache, ClearRemovesEntriesAndStaleTemporariesOnly) {
  const std::string dir = fresh_dir("clear");
  const std::string src = source_file(dir, "ckpt");
  io::ModelCache cache(dir, 1 << 20);
  const Payload p = payload(10, 0.0f);
  std::string note;
  ASSERT_TRUE(cache.store("dit", io::ModelCache::key_for({src}, "a"), p.entries, p.fill(), {}, &note));
  ASSERT_TRUE(cache.store("t5", io::ModelCache::key_for({src}, "b"), p.entries, p.fill(), {}, &note));
  std::ofstream(dir + "/dit-00.wan22.safetensors.tmp.999") << "partial";
  EXPECT_EQ(cache.clear(), 2u);
  EXPECT_TRUE(cache.list().empty());
  EXPECT_FALSE(fs::exists(dir + "/dit-00.wan22.safetensors.tmp.999"));
  EXPECT_TRUE(fs::exists(src));  // not ours: untouched
}

TEST(ModelCache, DefaultDirectoryFollowsXdgThenHome) {
  const char* xdg0 = std::getenv("XDG_CACHE_HOME");
  const char* home0 = std::getenv("HOME");
  const std::string xdg_saved = xdg0 ? xdg0 : "", home_saved = home0 ? home0 : "";
  ::setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(io::default_cache_dir(), "/tmp/xdg/wan22");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/tmp/home", 1);
  EXPECT_EQ(io::default_cache_dir(), "/tmp/home/.cache/wan22");
  ::unsetenv("HOME");
  EXPECT_THROW(io::default_cache_dir(), Error);
  if (xdg0) ::setenv("XDG_CACHE_HOME", xdg_saved.c_str(), 1);
  if (home0) ::setenv("HOME", home_saved.c_str(), 1);
}

TEST(SafetensorsStreamed, MismatchedTensorLeavesNoFile) {
  const std::string dir = fresh_dir("streamed");
  const std::string path = dir + "/x.safetensors";
  std::vector<io::SafetensorsEntry> entries = {{"a", DType::kF32, {4}}};
  try {
    io::write_safetensors_streamed(path, entries, [](size_t) { return Tensor::zeros({4}, DType::kBF16); });
    FAIL() << "no error for a tensor of another dtype";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos) << e.what();
  }
  size_t files = 0;
  for (auto it = fs::directory_iterator(dir); it != fs::directory_iterator(); ++it) ++files;
  EXPECT_EQ(files, 0u);
  // The image in memory equals the file.
  Tensor t = Tensor::zeros({4}, DType::kF32);
  t.data<float>()[2] = 3.0f;
  io::write_safetensors_streamed(path, entries, [&](size_t) { return t; }, {{"m", "v"}});
  const auto img = io::safetensors_bytes(entries, [&](size_t) { return t; }, {{"m", "v"}});
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(file, img);
  EXPECT_EQ(io::safetensors_file_bytes(entries, {{"m", "v"}}), img.size());
}

}  // namespace
}  // namespace wan22
