// PyTorch .pth reader: views (offsets, strides, transposes, stride 0, shared storages), bf16, f16,
// i64, fp8 through _rebuild_tensor_v3, Parameters, nested dicts, zip64 and deflated entries
// (tests/data/pth, made by scripts/make_pth_testdata.py), and malformed files of every kind.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "io/pth.h"
#include "io/safetensors.h"
#include "io/weight_store.h"
#include "test_io_util.h"
#include "test_util.h"

namespace wan22 {
namespace {

using test::Bytes;
using test::expect_error;

std::string data_dir() { return test::source_dir() + "/tests/data/pth"; }

// Compares every tensor of a .pth with the contiguous expectation in views_expected.safetensors.
void expect_matches_expected(const std::string& pth_name) {
  SCOPED_TRACE(pth_name);
  auto pf = io::PthFile::open(data_dir() + "/" + pth_name);
  auto ref = io::SafetensorsFile::open(data_dir() + "/views_expected.safetensors");
  EXPECT_EQ(pf->archive_prefix(), "views/");
  ASSERT_EQ(pf->tensors().size(), ref->tensors().size());
  for (const auto& want_info : ref->tensors()) {
    SCOPED_TRACE(want_info.name);
    const io::TensorInfo* info = nullptr;
    for (const auto& t : pf->tensors()) {
      if (t.name == want_info.name) info = &t;
    }
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->dtype, want_info.dtype);
    EXPECT_EQ(info->shape, want_info.shape);
    EXPECT_EQ(info->nbytes, want_info.nbytes);
    Tensor got = pf->load(*info).contiguous();
    Tensor want = ref->load(want_info);
    ASSERT_EQ(got.shape(), want.shape());
    ASSERT_EQ(got.nbytes(), want.nbytes());
    if (want.nbytes()) {
      EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()), 0);
    }
  }
}

TEST(IoPth, ViewsStoredAligned) { expect_matches_expected("views.pth"); }
TEST(IoPth, ViewsZip64) { expect_matches_expected("views_zip64.pth"); }
TEST(IoPth, ViewsDeflated) { expect_matches_expected("views_deflate.pth"); }

TEST(IoPth, OrderIsTheStateDictOrder) {
  auto pf = io::PthFile::open(data_dir() + "/views.pth");
  ASSERT_GE(pf->tensors().size(), 3u);
  EXPECT_EQ(pf->tensors()[0].name, "w_f32");
  EXPECT_EQ(pf->tensors()[1].name, "w_t");
  EXPECT_EQ(pf->tensors()[1].strides, (Shape{1, 4}));
}

TEST(IoPth, SharedStorageIsZeroCopyInTheMapping) {
  auto pf = io::PthFile::open(data_dir() + "/views.pth");
  const io::TensorInfo *w = nullptr, *row = nullptr;
  for (const auto& t : pf->tensors()) {
    if (t.name == "w_f32") w = &t;
    if (t.name == "row") row = &t;
  }
  ASSERT_TRUE(w && row);
  Tensor tw = pf->load(*w), trow = pf->load(*row);
  // row is storage 0 from element 4: the same bytes of the mapping, not a copy.
  EXPECT_EQ(static_cast<const float*>(trow.raw_data()), static_cast<const float*>(tw.raw_data()) + 4);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tw.raw_data()) % 64, 0u) << "torch aligns storages to 64 bytes";
  EXPECT_EQ(trow.item_f32(0), tw.item_f32(4));
}

TEST(IoPth, LoadByACopiedInfoFindsTheTensorByName) {
  auto pf = io::PthFile::open(data_dir() + "/views.pth");
  io::TensorInfo copy = pf->tensors()[2];  // not an element of tensors(): looked up by name
  EXPECT_EQ(pf->load(copy).to_vector(), pf->load(pf->tensors()[2]).to_vector());
  copy.name = "no_such_tensor";
  expect_error([&] { pf->load(copy); }, ErrorCode::kNotFound, {"views.pth", "'no_such_tensor'"});
}

TEST(IoPth, NestedDictsFlattenWithDots) {
  auto ws = io::WeightStore::open(data_dir() + "/nested.pth");
  EXPECT_EQ(ws.keys(), (std::vector<std::string>{"model.a", "model.b"}));
  EXPECT_EQ(ws.get_f32("model.a").to_vector(), (std::vector<float>{1, -2, 3, -4}));
  EXPECT_EQ(ws.get_f32("model.b").to_vector(), (std::vector<float>{3, -4}));
}

TEST(IoPth, WeightStoreConvertsBf16) {
  auto ws = io::WeightStore::open(data_dir() + "/views.pth");
  Tensor perm = ws.get_f32("bf16_perm");
  Tensor base = ws.get_f32("bf16");  // [2,3,5]; bf16_perm is its permute(2, 0, 1)
  ASSERT_EQ(perm.shape(), (Shape{5, 2, 3}));
  EXPECT_EQ(test::max_abs_diff(perm, base.permute({2, 0, 1}).contiguous()), 0.0);
}

// ---- malformed files ----

// Builds pickles opcode by opcode.
struct Pkl {
  std::string s = "\x80\x02";
  Pkl& op(const std::string& o) {
    s += o;
    return *this;
  }
  template <size_t N>
  Pkl& op(const char (&o)[N]) {  // literals may hold \0 opcodes arguments
    s.append(o, N - 1);
    return *this;
  }
  Pkl& str(const std::string& v) {
    s += 'X';
    for (int i = 0; i < 4; ++i) s += static_cast<char>((v.size() >> (8 * i)) & 0xff);
    s += v;
    return *this;
  }
  Pkl& i64(int64_t v) {  // LONG1 with 8 bytes
    s += "\x8a\x08";
    for (int i = 0; i < 8; ++i) s += static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
    return *this;
  }
  Pkl& global(const std::string& module, const std::string& name) { return op("c" + module + "\n" + name + "\n"); }
  Pkl& ints(const std::vector<int64_t>& v) {
    op("(");
    for (int64_t x : v) i64(x);
    return op("t");
  }
  // _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
  Pkl& tensor(const std::string& type, const std::string& key, int64_t numel, int64_t offset,
              const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2");
    return tensor_args(type, key, numel, offset, size, stride).op("R");
  }
  Pkl& tensor_args(const std::string& type, const std::string& key, int64_t numel, int64_t offset,
                   const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    op("((").str("storage").global("torch", type).str(key).str("cpu");
    i64(numel).op("tQ");
    return i64(offset).ints(size).ints(stride).op("\x89").global("collections", "OrderedDict").op(")R").op("t");
  }
  Pkl& dict_start() { return op("}("); }
  Pkl& dict_end() { return op("u."); }
  Bytes bytes() const { return Bytes(s.begin(), s.end()); }
};

const std::string kName = "bad.pth";

Bytes f32_storage(size_t n) {
  Bytes b(n * 4);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 13 + 1);
  return b;
}

// A zip holding a/data.pkl and the given storages a/data/<key>.
Bytes pth_with(const Pkl& p, const std::vector<std::pair<std::string, Bytes>>& storages = {{"0", f32_storage(4)}}) {
  std::vector<std::pair<std::string, Bytes>> entries = {{"a/data.pkl", p.bytes()}};
  for (const auto& [k, v] : storages) entries.emplace_back("a/data/" + k, v);
  return test::make_zip(entries);
}

std::unique_ptr<io::PthFile> parse(const Bytes& b) {
  auto pf = io::PthFile::parse(io::MappedFile::from_bytes(kName, b));
  for (const auto& t : pf->tensors()) pf->load(t);
  return pf;
}

void expect_corrupt(const Bytes& b, std::vector<std::string> needles) {
  needles.push_back(kName);
  expect_error([&] { parse(b); }, ErrorCode::kCorruptData, needles);
}
void expect_unsupported(const Bytes& b, std::vector<std::string> needles) {
  needles.push_back(kName);
  expect_error([&] { parse(b); }, ErrorCode::kUnsupported, needles);
}

Pkl one_tensor(const std::string& type, int64_t numel, int64_t offset, const std::vector<int64_t>& size,
               const std::vector<int64_t>& stride) {
  Pkl p;
  p.dict_start().str("w").tensor(type, "0", numel, offset, size, stride).dict_end();
  return p;
}

TEST(IoPthCorrupt, HandBuiltValidFileLoads) {
  auto pf = parse(pth_with(one_tensor("FloatStorage", 4, 1, {3}, {1})));
  ASSERT_EQ(pf->tensors().size(), 1u);
  EXPECT_EQ(pf->tensors()[0].shape, (Shape{3}));
}

TEST(IoPthCorrupt, StorageAndViewMismatches) {
  // The pickle says 100 floats, the entry holds 4.
  expect_corrupt(pth_with(one_tensor("FloatStorage", 100, 0, {100}, {1})), {"'w'", "holds 16 bytes"});
  // numel so large that numel x 4 overflows, and one that would need 2^62 bytes: no allocation.
  expect_corrupt(pth_with(one_tensor("FloatStorage", int64_t(1) << 62, 0, {1}, {1})), {"'w'", "overflows"});
  expect_corrupt(pth_with(one_tensor("ByteStorage", int64_t(1) << 62, 0, {1}, {1})), {"'w'", "holds 16 bytes"});
  // Views running past the storage: by offset, by size, by stride, by overflow.
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 2, {3}, {1})), {"'w'", "runs past its storage"});
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {5}, {1})), {"'w'", "runs past"});
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {2, 2}, {3, 1})), {"'w'", "runs past"});
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {2}, {int64_t(1) << 62})), {"'w'", "runs past"});
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {int64_t(1) << 40, int64_t(1) << 40}, {1, 1})),
                 {"'w'", "overflows"});
  // Stride 0 expanding 4 bytes into 1 GiB.
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {1 << 14, 1 << 14}, {0, 0})), {"'w'", "expands"});
  // Negative offset / size / stride.
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, -1, {1}, {1})), {"offset"});
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {-1}, {1})), {"non-negative"});
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {2}, {-1})), {"non-negative"});
  // size and stride of different lengths.
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {2, 2}, {1})), {"same length"});
}

TEST(IoPthCorrupt, MissingOrInconsistentStorages) {
  expect_corrupt(pth_with(one_tensor("FloatStorage", 4, 0, {4}, {1}), {}), {"'w'", "a/data/0", "missing"});
  Pkl two;
  two.dict_start().str("x").tensor("FloatStorage", "0", 4, 0, {4}, {1}).str("y").tensor("HalfStorage", "0", 8, 0, {8}, {1}).dict_end();
  expect_corrupt(pth_with(two), {"'y'", "two different"});
  Pkl dup;
  dup.dict_start().str("x").tensor("FloatStorage", "0", 4, 0, {4}, {1}).str("x").tensor("FloatStorage", "0", 4, 0, {2}, {1}).dict_end();
  expect_corrupt(pth_with(dup), {"'x'", "appears twice"});
}

TEST(IoPthCorrupt, MalformedPickles) {
  expect_corrupt(pth_with(Pkl().op("\xff.")), {"data.pkl", "opcode 0xff"});
  expect_corrupt(pth_with(Pkl().op("}")), {"without STOP"});
  expect_corrupt(pth_with(Pkl().op(".")), {"empty stack"});
  expect_corrupt(pth_with(Pkl().op("h\x05.")), {"memo entry 5"});
  expect_corrupt(pth_with(Pkl().op("X\xff\xff\xff\x7f")), {"BINUNICODE", "truncated"});
  expect_corrupt(pth_with(Pkl().op("t.")), {"without a MARK"});
  expect_corrupt(pth_with(Pkl().op("}(Xa").op(std::string(3, '\0')).op("u.")), {"truncated"});
  expect_corrupt(pth_with(Pkl().op("}(K\x01u.")), {"odd number"});
  expect_corrupt(pth_with(Pkl().op("K\x00K\x01K\x02s.")), {"SETITEM on a int"});
  expect_corrupt(pth_with(Pkl().op("K\x01)R.")), {"int is called"});
  expect_corrupt(pth_with(Pkl().op("\x80\x09.")), {"protocol 9"});
  expect_corrupt(pth_with(Pkl().op("cfoo")), {"newline"});
  // A persistent id that is not a storage tuple, and a storage type that is not a class.
  expect_corrupt(pth_with(Pkl().op("}(").str("w").op("K\x01Qu.")), {"persistent id"});
  // A dict that contains itself.
  expect_corrupt(pth_with(Pkl().op("}q\x00").str("k").op("h\x00s.")), {"contained in itself"});
  // _rebuild_tensor_v2 with the wrong arity / a non-storage.
  expect_corrupt(pth_with(Pkl().global("torch._utils", "_rebuild_tensor_v2").op("(K\x01tR.")), {"1 arguments"});
}

TEST(IoPthCorrupt, UnsupportedButValid) {
  // The top level is not a dict.
  expect_unsupported(pth_with(Pkl().op("].")), {"list", "not a state dict"});
  // os.system is only named, never run: the result is an opaque object.
  expect_unsupported(pth_with(Pkl().global("os", "system").str("echo hi").op("\x85R.")), {"os.system", "not a state dict"});
  expect_unsupported(pth_with(one_tensor("ComplexFloatStorage", 4, 0, {1}, {1})), {"torch.ComplexFloatStorage"});
  expect_unsupported(pth_with(Pkl().global("torch._utils", "_rebuild_qtensor").op(")R.")), {"_rebuild_qtensor"});
  // Integers wider than 64 bits.
  expect_unsupported(pth_with(Pkl().op("\x8a\x09").op(std::string(8, '\0')).op("\x01.")), {"wider than 64 bits"});
}

TEST(IoPthCorrupt, TensorSubclassThroughRebuildFromType) {
  // torch._tensor._rebuild_from_type_v2(_rebuild_tensor_v2, Parameter, (args...), {}) -> the tensor.
  Pkl p;
  p.dict_start().str("w").global("torch._tensor", "_rebuild_from_type_v2").op("(");
  p.global("torch._utils", "_rebuild_tensor_v2").global("torch.nn.parameter", "Parameter");
  p.tensor_args("HalfStorage", "0", 8, 2, {2, 3}, {3, 1}).op("}tR").dict_end();
  auto pf = parse(pth_with(p));
  ASSERT_EQ(pf->tensors().size(), 1u);
  EXPECT_EQ(pf->tensors()[0].dtype, DType::kF16);
  EXPECT_EQ(pf->tensors()[0].shape, (Shape{2, 3}));
  EXPECT_EQ(pf->tensors()[0].byte_offset, 4u);
  // With a wrong arity it is corrupt.
  Pkl q;
  q.dict_start().str("w").global("torch._tensor", "_rebuild_from_type_v2").op("(K\x01tR").dict_end();
  expect_corrupt(pth_with(q), {"_rebuild_from_type_v2", "1 arguments"});
}

TEST(IoPthCorrupt, UnknownGlobalsOutsideTensorsAreSkipped) {
  Pkl p;
  p.dict_start().str("w").tensor("FloatStorage", "0", 4, 0, {4}, {1});
  p.str("args").global("argparse", "Namespace").op(")R").op("}b");  // an opaque object with state
  p.str("epoch").op("K\x07").dict_end();
  auto pf = parse(pth_with(p));
  ASSERT_EQ(pf->tensors().size(), 1u);
  EXPECT_EQ(pf->tensors()[0].name, "w");
}

TEST(IoPthCorrupt, ZipLevelDamage) {
  expect_corrupt(Bytes{}, {"too short"});
  expect_corrupt(test::to_bytes("PK\x03\x04 this is not really a zip file at all"), {"end-of-central-directory"});
  expect_corrupt(test::make_zip({{"a/other.bin", Bytes{1, 2}}}), {"data.pkl"});
  expect_unsupported(test::make_zip({{"a/constants.pkl", Bytes{1, 2}}}), {"TorchScript"});
  // Two entries of the same name.
  Bytes p = one_tensor("FloatStorage", 4, 0, {4}, {1}).bytes();
  expect_corrupt(test::make_zip({{"a/data.pkl", p}, {"a/data.pkl", p}}), {"appears twice"});
  // Big-endian files are refused.
  expect_unsupported(test::make_zip({{"a/data.pkl", p}, {"a/byteorder", test::to_bytes("big")}, {"a/data/0", f32_storage(4)}}),
                     {"byteorder 'big'"});
}

TEST(IoPthCorrupt, DamagedPickleFailsItsCrc) {
  Bytes b = test::read_bytes(data_dir() + "/views.pth");
  // The pickle is the first entry; flip a byte of a tensor name in it.
  const std::string needle = "w_f32";
  auto it = std::search(b.begin(), b.end(), needle.begin(), needle.end());
  ASSERT_NE(it, b.end());
  *it = 'W';
  expect_corrupt(b, {"views/data.pkl", "CRC"});
  // Without the check the renamed tensor loads (what the fuzzer relies on).
  auto pf = io::PthFile::parse(io::MappedFile::from_bytes(kName, b), /*verify_crc=*/false);
  EXPECT_EQ(pf->tensors()[0].name, "W_f32");
}

TEST(IoPthCorrupt, DamagedLocalHeaderIsFoundAtLoad) {
  Bytes b = test::read_bytes(data_dir() + "/views.pth");
  // Break the local header signature of storage entry views/data/0 and parse again.
  const std::string needle = "views/data/0";
  auto it = std::search(b.begin(), b.end(), needle.begin(), needle.end());  // first hit: the local header
  ASSERT_NE(it, b.end());
  *(it - 30) = 'X';
  auto broken = io::PthFile::parse(io::MappedFile::from_bytes(kName, b));
  expect_error([&] { broken->load(broken->tensors()[0]); }, ErrorCode::kCorruptData, {kName, "views/data/0", "signature"});
}

TEST(IoPthCorrupt, TruncatedFilesAlwaysFailWithTheirName) {
  const Bytes full = test::read_bytes(data_dir() + "/views.pth");
  int cases = 0;
  for (size_t cut = 0; cut < full.size(); cut += 7) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    expect_corrupt(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut)), {});
    ++cases;
  }
  EXPECT_GT(cases, 100);
}

TEST(IoPthCorrupt, EveryByteFlipIsHandled) {
  // Flip each byte of a small valid file: either it still loads or it fails with an Error.
  const Bytes full = pth_with(one_tensor("FloatStorage", 4, 1, {3}, {1}));
  int errors = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    Bytes b = full;
    b[i] ^= 0x5a;
    try {
      parse(b);
    } catch (const Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find(kName), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, static_cast<int>(full.size() / 4));
}

}  // namespace
}  // namespace wan22
