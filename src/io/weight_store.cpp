#include "io/weight_store.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/status.h"
#include "io/mapped_file.h"
#include "io/pth.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;

namespace wan22::io {

namespace {
bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
}  // namespace

std::unique_ptr<TensorSource> open_tensor_file(const std::string& path) {
  auto f = MappedFile::open(path);
  const uint8_t* d = f->data();
  if (f->size() >= 4 && d[0] == 'P' && d[1] == 'K' && d[2] == 3 && d[3] == 4) return PthFile::parse(f);
  if (f->size() >= 4 && d[0] == 'P' && d[1] == 'K' && d[2] == 5 && d[3] == 6) return PthFile::parse(f);  // empty zip
  if (f->size() >= 2 && d[0] == 0x80 && d[1] >= 2 && d[1] <= 5 && (ends_with(path, ".pth") || ends_with(path, ".pt") || ends_with(path, ".bin"))) {
    throw Error(ErrorCode::kUnsupported, path + ": a legacy (before PyTorch 1.6) torch.save file; re-save it with a newer torch "
                                                "or convert it to safetensors");
  }
  return SafetensorsFile::parse(f);
}

namespace {

std::vector<uint8_t> read_small_file(const std::string& path) {
  auto f = MappedFile::open(path);
  if (f->size() > (256u << 20)) throw Error(ErrorCode::kCorruptData, path + ": " + std::to_string(f->size()) + " bytes is too large for an index");
  return std::vector<uint8_t>(f->data(), f->data() + f->size());
}

}  // namespace

WeightStore WeightStore::open(const std::string& path) { return open_many({path}); }

void WeightStore::add_directory(const std::string& path) {
  // The shard index if there is one, else every .safetensors file, else every .pth/.pt file.
  std::vector<std::string> indexes, files, torch_files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    std::string n = e.path().filename().string();
    if (ends_with(n, ".safetensors.index.json")) indexes.push_back(e.path().string());
    else if (ends_with(n, ".safetensors") && e.is_regular_file()) files.push_back(e.path().string());
    else if ((ends_with(n, ".pth") || ends_with(n, ".pt")) && e.is_regular_file()) torch_files.push_back(e.path().string());
  }
  if (ec) throw Error(ErrorCode::kIoError, path + ": cannot list directory (" + ec.message() + ")");
  std::sort(indexes.begin(), indexes.end());
  std::sort(files.begin(), files.end());
  std::sort(torch_files.begin(), torch_files.end());
  if (indexes.size() > 1) {
    throw Error(ErrorCode::kInvalidArgument, path + ": more than one *.safetensors.index.json (" + indexes[0] + ", " + indexes[1] + ")");
  }
  if (indexes.empty()) {
    if (files.empty()) files = torch_files;
    if (files.empty()) throw Error(ErrorCode::kNotFound, path + ": no *.safetensors, .pth or .pt files or shard index in directory");
    for (const auto& f : files) add_source(open_tensor_file(f));
    return;
  }
  const std::string& index = indexes[0];
  std::vector<uint8_t> bytes = read_small_file(index);
  const std::map<std::string, std::string> weight_map = parse_safetensors_index(index, bytes.data(), bytes.size());
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : weight_map) shards.insert(shard);
  std::vector<std::string> missing;
  for (const auto& s : shards) {
    if (!fs::is_regular_file(fs::path(path) / s, ec)) missing.push_back(s);
  }
  if (!missing.empty()) {
    std::string m;
    for (const auto& s : missing) m += (m.empty() ? "" : ", ") + s;
    throw Error(ErrorCode::kNotFound, index + ": missing shard" + (missing.size() > 1 ? "s " : " ") + m + " in directory " + path);
  }
  for (const auto& s : shards) add_source(open_tensor_file((fs::path(path) / s).string()));
  for (const auto& [tensor, shard] : weight_map) {
    auto f = index_.find(tensor);
    const std::string expect = (fs::path(path) / shard).string();
    if (f == index_.end()) {
      throw Error(ErrorCode::kCorruptData, index + ": tensor '" + printable(tensor) + "' is not in its shard " + shard);
    }
    if (f->second.first->path() != expect) {
      throw Error(ErrorCode::kCorruptData, index + ": tensor '" + printable(tensor) + "' is listed in shard " + shard +
                                               " but stored in " + f->second.first->path());
    }
  }
}

WeightStore WeightStore::open_many(const std::vector<std::string>& paths) {
  WeightStore ws;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(ErrorCode::kNotFound, path + ": no such file or directory");
    if (fs::is_directory(path, ec)) ws.add_directory(path);
    else ws.add_source(open_tensor_file(path));
  }
  return ws;
}

void WeightStore::add_source(std::shared_ptr<TensorSource> src) {
  for (const auto& t : src->tensors()) {
    auto [it, inserted] = index_.emplace(t.name, std::make_pair(src.get(), &t));
    if (!inserted) {
      throw Error(ErrorCode::kCorruptData, "tensor '" + printable(t.name) + "' appears in both " +
                                               it->second.first->path() + " and " + src->path());
    }
  }
  sources_.push_back(std::move(src));
}

bool WeightStore::contains(const std::string& key) const { return index_.count(resolve(key)) > 0; }

std::vector<std::string> WeightStore::keys() const {
  std::vector<std::string> k;
  k.reserve(index_.size());
  for (const auto& [name, v] : index_) k.push_back(name);
  return k;
}

const TensorInfo& WeightStore::info(const std::string& key) const {
  std::string stored = resolve(key);
  auto it = index_.find(stored);
  if (it == index_.end()) {
    std::string where = sources_.empty() ? std::string("empty store") : sources_.front()->path();
    if (sources_.size() > 1) where += " (+" + std::to_string(sources_.size() - 1) + " more files)";
    throw Error(ErrorCode::kNotFound, "weight '" + key + "'" + (stored != key ? " (stored as '" + stored + "')" : "") +
                                          " not found in " + where);
  }
  return *it->second.second;
}

std::string WeightStore::file_of(const std::string& key) const {
  info(key);
  return index_.at(resolve(key)).first->path();
}

Tensor WeightStore::get(const std::string& key) const {
  const TensorInfo& i = info(key);
  return index_.at(resolve(key)).first->load(i);
}

Tensor WeightStore::get(const std::string& key, DType dt) const { return get(key).to(dt); }

Tensor WeightStore::get_f32(const std::string& key, const Shape& expect) const {
  const TensorInfo& i = info(key);
  if (i.shape != expect) {
    throw Error(ErrorCode::kInvalidArgument, "weight '" + key + "' in " + file_of(key) + " has shape " +
                                                 shape_str(i.shape) + ", expected " + shape_str(expect));
  }
  return get_f32(key);
}

uint64_t WeightStore::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [k, v] : index_) n += v.second->nbytes;
  return n;
}

}  // namespace wan22::io
