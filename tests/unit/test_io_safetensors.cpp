// safetensors reader/writer: dtype round trips, metadata, every kind of corrupt header, truncation,
// and the shard index parser.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "io/safetensors.h"
#include "test_io_util.h"
#include "test_util.h"

namespace wan22 {
namespace {

using test::Bytes;
using test::expect_error;

// 8-byte length + header + `data_size` bytes of non-zero data.
Bytes st_bytes(const std::string& header, size_t data_size = 64) {
  Bytes b;
  test::put64(&b, header.size());
  b.insert(b.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_size; ++i) b.push_back(static_cast<uint8_t>(i * 7 + 1));
  return b;
}

std::unique_ptr<io::SafetensorsFile> parse(const Bytes& b) {
  return io::SafetensorsFile::parse(io::MappedFile::from_bytes("bad.safetensors", b));
}

void expect_corrupt(const Bytes& b, const std::vector<std::string>& needles) {
  std::vector<std::string> n = needles;
  n.push_back("bad.safetensors");
  expect_error([&] { parse(b); }, ErrorCode::kCorruptData, n);
}

Tensor random_of(DType dt, const Shape& shape, uint64_t seed) {
  // Integers from [-100, 100), floats from [-2, 2): never all zero.
  const bool integer = !dtype_is_float(dt);
  return test::random_tensor(shape, seed, integer ? -100.f : -2.f, integer ? 100.f : 2.f).to(dt);
}

TEST(IoSafetensors, EveryDtypeRoundTripsBitExact) {
  const DType all[] = {DType::kF32, DType::kF64,  DType::kF16, DType::kBF16, DType::kF8E4M3, DType::kF8E5M2,
                       DType::kI8,  DType::kU8,   DType::kI16, DType::kI32,  DType::kI64,    DType::kBool};
  std::vector<std::pair<std::string, Tensor>> tensors;
  uint64_t seed = 1;
  for (DType dt : all) tensors.emplace_back(std::string("t_") + dtype_name(dt), random_of(dt, {3, 5, 7}, seed++));
  tensors.emplace_back("scalar", random_of(DType::kF32, {}, 99));
  tensors.emplace_back("empty", Tensor::empty({0, 4}, DType::kBF16));
  tensors.emplace_back("strided_view", random_of(DType::kF32, {6, 4}, 7).transpose(0, 1));  // written contiguous
  const std::string path = test::temp_dir() + "/all.safetensors";
  io::write_safetensors(path, tensors, {{"format", "pt"}, {"note", "round trip"}});

  auto st = io::SafetensorsFile::open(path);
  EXPECT_EQ(st->metadata().at("format"), "pt");
  EXPECT_EQ(st->metadata().at("note"), "round trip");
  ASSERT_EQ(st->tensors().size(), tensors.size());
  for (const auto& [name, ref] : tensors) {
    SCOPED_TRACE(name);
    const io::TensorInfo* info = nullptr;
    for (const auto& t : st->tensors()) {
      if (t.name == name) info = &t;
    }
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->dtype, ref.dtype());
    EXPECT_EQ(info->shape, ref.shape());
    Tensor got = st->load(*info);
    Tensor want = ref.contiguous();
    ASSERT_EQ(got.nbytes(), want.nbytes());
    if (want.nbytes()) {
      EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()), 0);
    }
  }
}

TEST(IoSafetensors, WriterRejectsDuplicateNames) {
  const std::string path = test::temp_dir() + "/dup.safetensors";
  Tensor t = random_of(DType::kF32, {2}, 3);
  expect_error([&] { io::write_safetensors(path, {{"a", t}, {"a", t}}); }, ErrorCode::kInvalidArgument, {"'a'"});
  expect_error([&] { io::write_safetensors(path, {{"__metadata__", t}}); }, ErrorCode::kInvalidArgument, {"__metadata__"});
}

TEST(IoSafetensors, ValidHandBuiltHeaderParses) {
  auto st = parse(st_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                           R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]},"__metadata__":{"k":"v"}})",
                           22));
  ASSERT_EQ(st->tensors().size(), 2u);
  EXPECT_EQ(st->tensors()[1].dtype, DType::kBF16);
  Tensor a = st->load(st->tensors()[0]);
  EXPECT_EQ(a.shape(), (Shape{2, 2}));
}

TEST(IoSafetensors, CorruptHeaders) {
  expect_corrupt(Bytes{1, 2, 3, 4, 5}, {"too short"});
  {
    Bytes b;
    test::put64(&b, 1ull << 40);
    expect_corrupt(b, {"exceeds"});
  }
  {
    Bytes b;
    test::put64(&b, 1000);
    b.push_back('{');
    expect_corrupt(b, {"runs past the end", "truncated"});
  }
  expect_corrupt(st_bytes("[1, 2]"), {"does not start with '{'"});
  expect_corrupt(st_bytes(R"({"a": )"), {"not valid JSON"});
  expect_corrupt(st_bytes(R"({"a": 5})"), {"'a'", "not an object"});
  expect_corrupt(st_bytes(R"({"a": {"shape":[1],"data_offsets":[0,4]}})"), {"'a'", "missing dtype"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","data_offsets":[0,4]}})"), {"'a'", "missing shape"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[1]}})"), {"'a'", "data_offsets"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[0]}})"), {"'a'", "data_offsets"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})"), {"'a'", "unknown dtype 'Q7'"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"f32","shape":[1],"data_offsets":[0,4]}})"), {"'a'", "unknown dtype 'f32'"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":7,"shape":[1],"data_offsets":[0,4]}})"), {"'a'", "missing dtype"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})"), {"'a'", "negative"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[2.5],"data_offsets":[0,4]}})"), {"'a'", "non-integer"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":["2"],"data_offsets":[0,4]}})"), {"'a'", "non-integer"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[0, 9223372036854775809],"data_offsets":[0,0]}})"),
                 {"'a'", "overflows"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})"),
                 {"'a'", "overflows"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})"),
                 {"'a'", "do not match"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})"), {"'a'", "non-negative"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[8,4]}})"), {"'a'", "end before"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[64,68]}})"), {"'a'", "outside", "truncated"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}})"), {"'a'", "outside"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[2],"data_offsets":[0,4]}})"), {"'a'", "do not match"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b": {"dtype":"F32","shape":[2],"data_offsets":[4,12]}})"),
                 {"'a'", "'b'", "overlap"});
  // b lies inside a (which reaches furthest), c starts inside a too.
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
                          R"("b": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}})"),
                 {"overlap"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("a": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}})"),
                 {"'a'", "appears twice"});
  expect_corrupt(st_bytes(R"({"a": {"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})"),
                 {"'dtype'", "appears twice"});
  expect_corrupt(st_bytes(R"({"__metadata__": [1]})"), {"__metadata__"});
  expect_corrupt(st_bytes(R"({"__metadata__": {"k": 1}})"), {"__metadata__", "'k'"});
}

TEST(IoSafetensors, KnownButUnsupportedDtype) {
  expect_error([&] { parse(st_bytes(R"({"a": {"dtype":"U16","shape":[1],"data_offsets":[0,2]}})")); },
               ErrorCode::kUnsupported, {"bad.safetensors", "'a'", "U16"});
}

TEST(IoSafetensors, NamesInMessagesAreEscapedToOneLine) {
  const std::string msg = expect_error(
      [&] { parse(st_bytes("{\"line\\nbreak\": {\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}")); },
      ErrorCode::kCorruptData, {"line\\x0abreak"});
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(IoSafetensors, EmptyAndZeroSizedTensorsAreFine) {
  auto st = parse(st_bytes(R"({"z": {"dtype":"F32","shape":[0,5],"data_offsets":[64,64]},)"
                           R"("y": {"dtype":"I64","shape":[0],"data_offsets":[0,0]}})"));
  for (const auto& t : st->tensors()) EXPECT_EQ(st->load(t).numel(), 0);
  EXPECT_TRUE(parse(st_bytes("{}", 0))->tensors().empty());
}

TEST(IoSafetensors, TruncatedFileAlwaysFailsWithItsName) {
  const std::string dir = test::temp_dir();
  const std::string full = dir + "/full.safetensors";
  io::write_safetensors(full, {{"a", random_of(DType::kF32, {4, 4}, 1)},
                               {"b", random_of(DType::kBF16, {8}, 2)},
                               {"c", random_of(DType::kI64, {3}, 3)}});
  const Bytes bytes = test::read_bytes(full);
  int cases = 0;
  for (size_t cut = 0; cut < bytes.size(); cut += (cut < 16 ? 1 : 5)) {
    const std::string p = dir + "/cut_" + std::to_string(cut) + ".safetensors";
    test::write_bytes(p, Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut)));
    SCOPED_TRACE("cut at " + std::to_string(cut));
    expect_error([&] { io::SafetensorsFile::open(p); }, ErrorCode::kCorruptData, {p});
    ++cases;
  }
  EXPECT_GT(cases, 20);
}

TEST(IoSafetensors, MissingFileIsNotFound) {
  expect_error([] { io::SafetensorsFile::open("/nonexistent/x.safetensors"); }, ErrorCode::kNotFound,
               {"/nonexistent/x.safetensors"});
}

TEST(IoSafetensors, SampleAssetHasOneTensorPerDtype) {
  auto st = io::SafetensorsFile::open(test::source_dir() + "/assets/sample.safetensors");
  std::set<DType> dtypes;
  for (const auto& t : st->tensors()) {
    dtypes.insert(t.dtype);
    Tensor v = st->load(t);
    EXPECT_EQ(v.shape(), t.shape);
    bool nonzero = false;
    const auto* p = static_cast<const uint8_t*>(v.raw_data());
    for (size_t i = 0; i < v.nbytes(); ++i) nonzero = nonzero || p[i] != 0;
    EXPECT_TRUE(nonzero) << t.name;
  }
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16, DType::kI64}) EXPECT_TRUE(dtypes.count(dt)) << dtype_name(dt);
}

// ---- shard index ----
std::map<std::string, std::string> parse_index(const std::string& s) {
  return io::parse_safetensors_index("model.safetensors.index.json", reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(IoShardIndex, Parses) {
  auto m = parse_index(R"({"metadata":{"total_size":8},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at("b"), "s2.safetensors");
}

TEST(IoShardIndex, CorruptIndexes) {
  const std::vector<std::string> file = {"model.safetensors.index.json"};
  auto bad = [&](const std::string& s, const std::string& needle) {
    std::vector<std::string> n = file;
    n.push_back(needle);
    expect_error([&] { parse_index(s); }, ErrorCode::kCorruptData, n);
  };
  bad("{", "not valid JSON");
  bad("[]", "weight_map");
  bad(R"({"weight_map": []})", "weight_map");
  bad(R"({"weight_map": {"a": 1}})", "'a'");
  bad(R"({"weight_map": {"a": "../up.safetensors"}})", "not a plain file name");
  bad(R"({"weight_map": {"a": "/etc/x.safetensors"}})", "not a plain file name");
  bad(R"({"weight_map": {"a": ""}})", "not a plain file name");
  bad(R"({"weight_map": {"a": "s1", "a": "s2"}})", "appears twice");
}

}  // namespace
}  // namespace wan22
