// WeightStore over sharded directories (*.safetensors.index.json), plain directories and files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "io/weight_store.h"
#include "test_io_util.h"
#include "test_util.h"

namespace wan22 {
namespace {

using test::expect_error;
namespace fs = std::filesystem;

void write_text(const std::string& path, const std::string& s) { std::ofstream(path) << s; }

// Two shards and an index: a, b in shard 1; c in shard 2.
struct ShardedDir {
  std::string dir = test::temp_dir();
  Tensor a = test::random_tensor({4, 3}, 11);
  Tensor b = test::random_tensor({5}, 12).to(DType::kBF16);
  Tensor c = test::random_tensor({2, 2, 2}, 13).to(DType::kF16);
  ShardedDir() {
    io::write_safetensors(dir + "/model-00001-of-00002.safetensors", {{"a", a}, {"b", b}});
    io::write_safetensors(dir + "/model-00002-of-00002.safetensors", {{"c", c}});
    write_text(dir + "/model.safetensors.index.json",
               R"({"metadata": {"total_size": 74}, "weight_map": {"a": "model-00001-of-00002.safetensors",)"
               R"( "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})");
  }
};

TEST(IoShards, IndexedDirectoryLoadsEveryShard) {
  ShardedDir d;
  auto ws = io::WeightStore::open(d.dir);
  EXPECT_EQ(ws.keys(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ws.sources().size(), 2u);
  EXPECT_EQ(ws.file_of("c"), d.dir + "/model-00002-of-00002.safetensors");
  EXPECT_EQ(test::max_abs_diff(ws.get_f32("a"), d.a), 0.0);
  EXPECT_EQ(test::max_abs_diff(ws.get_f32("b"), d.b.to(DType::kF32)), 0.0);
  EXPECT_EQ(ws.get("c").dtype(), DType::kF16);
  EXPECT_EQ(test::max_abs_diff(ws.get_f32("c", {2, 2, 2}), d.c.to(DType::kF32)), 0.0);
  EXPECT_EQ(ws.total_bytes(), 4u * 12 + 2 * 5 + 2 * 8);
}

TEST(IoShards, MissingShardNamesShardAndDirectory) {
  ShardedDir d;
  fs::remove(d.dir + "/model-00002-of-00002.safetensors");
  expect_error([&] { io::WeightStore::open(d.dir); }, ErrorCode::kNotFound,
               {"model-00002-of-00002.safetensors", d.dir, "missing shard"});
}

TEST(IoShards, TensorMissingFromItsShard) {
  ShardedDir d;
  write_text(d.dir + "/model.safetensors.index.json",
             R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "zz": "model-00002-of-00002.safetensors"}})");
  expect_error([&] { io::WeightStore::open(d.dir); }, ErrorCode::kCorruptData, {"'zz'", "model-00002-of-00002"});
}

TEST(IoShards, TensorInAnotherShardThanListed) {
  ShardedDir d;
  write_text(d.dir + "/model.safetensors.index.json",
             R"({"weight_map": {"a": "model-00002-of-00002.safetensors", "c": "model-00002-of-00002.safetensors",)"
             R"( "b": "model-00001-of-00002.safetensors"}})");
  expect_error([&] { io::WeightStore::open(d.dir); }, ErrorCode::kCorruptData, {"'a'", "listed in shard"});
}

TEST(IoShards, CorruptIndexNamesTheIndexFile) {
  ShardedDir d;
  write_text(d.dir + "/model.safetensors.index.json", R"({"weight_map": )");
  expect_error([&] { io::WeightStore::open(d.dir); }, ErrorCode::kCorruptData, {"model.safetensors.index.json", "JSON"});
}

TEST(IoShards, CorruptShardNamesTheShard) {
  ShardedDir d;
  test::write_bytes(d.dir + "/model-00002-of-00002.safetensors", test::Bytes{0x10, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
  expect_error([&] { io::WeightStore::open(d.dir); }, ErrorCode::kCorruptData, {"model-00002-of-00002.safetensors"});
}

TEST(IoShards, TwoIndexesAreAmbiguous) {
  ShardedDir d;
  write_text(d.dir + "/other.safetensors.index.json", R"({"weight_map": {}})");
  expect_error([&] { io::WeightStore::open(d.dir); }, ErrorCode::kInvalidArgument, {"more than one"});
}

TEST(IoShards, PlainDirectoryMergesFiles) {
  const std::string dir = test::temp_dir();
  io::write_safetensors(dir + "/x.safetensors", {{"x", test::random_tensor({3}, 1)}});
  io::write_safetensors(dir + "/y.safetensors", {{"y", test::random_tensor({2}, 2)}});
  auto ws = io::WeightStore::open(dir);
  EXPECT_EQ(ws.keys(), (std::vector<std::string>{"x", "y"}));
}

TEST(IoShards, DuplicateTensorAcrossFilesNamesBoth) {
  const std::string dir = test::temp_dir();
  io::write_safetensors(dir + "/x.safetensors", {{"w", test::random_tensor({3}, 1)}});
  io::write_safetensors(dir + "/y.safetensors", {{"w", test::random_tensor({3}, 2)}});
  expect_error([&] { io::WeightStore::open(dir); }, ErrorCode::kCorruptData, {"'w'", "x.safetensors", "y.safetensors"});
}

TEST(IoShards, DirectoryOfPthFiles) {
  const std::string dir = test::temp_dir();
  fs::copy_file(test::source_dir() + "/tests/data/pth/nested.pth", dir + "/nested.pth");
  auto ws = io::WeightStore::open(dir);
  EXPECT_EQ(ws.keys(), (std::vector<std::string>{"model.a", "model.b"}));
}

TEST(IoShards, EmptyDirectoryAndMissingPath) {
  expect_error([&] { io::WeightStore::open(test::temp_dir()); }, ErrorCode::kNotFound, {"no *.safetensors"});
  expect_error([&] { io::WeightStore::open("/nonexistent/ckpt"); }, ErrorCode::kNotFound, {"/nonexistent/ckpt"});
}

TEST(IoShards, ShapeCheckAndMissingKeyNameEverything) {
  ShardedDir d;
  auto ws = io::WeightStore::open(d.dir);
  expect_error([&] { ws.get_f32("a", {3, 4}); }, ErrorCode::kInvalidArgument, {"'a'", "[4, 3]", "[3, 4]", "model-00001"});
  expect_error([&] { ws.get_f32("nope"); }, ErrorCode::kNotFound, {"'nope'"});
}

TEST(IoShards, LegacyTorchFileIsExplained) {
  const std::string p = test::temp_dir() + "/old.pth";
  test::write_bytes(p, test::Bytes{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e});
  expect_error([&] { io::WeightStore::open(p); }, ErrorCode::kUnsupported, {p, "legacy"});
}

}  // namespace
}  // namespace wan22
