#include "io/pth.h"

#include <cstring>
#include <map>
#include <set>
#include <unordered_set>

#include "core/status.h"
#include "io/pth_pickle.h"

namespace wan22::io {

namespace {

using pickle::Kind;
using pickle::Object;

constexpr int kMaxNesting = 32;
// A view can only hold more bytes than its storage when its elements overlap (stride 0, as
// expand() makes). Loading it allocates numel x element size, so such views are capped.
constexpr uint64_t kMaxExpandedBytes = 64ull << 20;

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// a * b, false on uint64 overflow.
bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool add_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

// Strides equal to the row-major ones (dims of size 1 may have any stride).
bool is_contiguous_view(const Shape& size, const Shape& stride) {
  int64_t expect = 1;
  for (size_t d = size.size(); d-- > 0;) {
    if (size[d] == 0) return true;
    if (size[d] != 1 && stride[d] != expect) return false;
    expect *= size[d];
  }
  return true;
}

struct Found {
  std::string name;
  const pickle::TensorDesc* tensor;
};

// Collects the tensors of a (nested) dict; keys join with '.'.
void flatten(const Object* dict, const std::string& prefix, int depth, std::unordered_set<const Object*>* seen,
             std::vector<Found>* out, const std::string& path) {
  if (depth > kMaxNesting) throw Error(ErrorCode::kCorruptData, path + ": data.pkl: dicts nested too deeply");
  if (!seen->insert(dict).second) {
    throw Error(ErrorCode::kCorruptData, path + ": data.pkl: dict '" + printable(prefix) + "' is contained in itself or twice");
  }
  for (const auto& [k, v] : dict->dict) {
    std::string key;
    if (k->kind == Kind::kString) key = k->s;
    else if (k->kind == Kind::kInt) key = std::to_string(k->i);
    else continue;
    if (v->kind == Kind::kTensor) out->push_back({prefix + key, &v->tensor});
    else if (v->kind == Kind::kDict) flatten(v, prefix + key + ".", depth + 1, seen, out, path);
  }
}

}  // namespace

void PthFile::corrupt(const std::string& what) const {
  throw Error(ErrorCode::kCorruptData, path() + ": " + what);
}

std::unique_ptr<PthFile> PthFile::open(const std::string& path) { return parse(MappedFile::open(path)); }

std::unique_ptr<PthFile> PthFile::parse(std::shared_ptr<MappedFile> file, bool verify_crc) {
  auto pf = std::unique_ptr<PthFile>(new PthFile());
  pf->file_ = file;
  pf->zip_ = std::make_unique<ZipArchive>(file);
  const std::string& path = file->path();

  // <archive>/data.pkl: the one pickle at the archive's top level.
  const ZipEntry* pkl = nullptr;
  bool torchscript = false;
  for (const auto& e : pf->zip_->entries()) {
    const size_t slash = e.name.find('/');
    const bool top = slash == std::string::npos || e.name.find('/', slash + 1) == std::string::npos;
    if (top && (e.name == "data.pkl" || ends_with(e.name, "/data.pkl"))) {
      if (pkl) pf->corrupt("two pickles in the archive ('" + printable(pkl->name) + "', '" + printable(e.name) + "')");
      pkl = &e;
    }
    if (top && ends_with(e.name, "constants.pkl")) torchscript = true;
  }
  if (!pkl) {
    if (torchscript) throw Error(ErrorCode::kUnsupported, path + ": a TorchScript archive, not a torch.save state dict");
    pf->corrupt("zip archive without <archive>/data.pkl: not a torch.save file");
  }
  pf->prefix_ = pkl->name.substr(0, pkl->name.size() - std::strlen("data.pkl"));
  if (const ZipEntry* bo = pf->zip_->find(pf->prefix_ + "byteorder")) {
    std::vector<uint8_t> b = pf->zip_->read(*bo);
    std::string order(b.begin(), b.end());
    if (order != "little") {
      throw Error(ErrorCode::kUnsupported, path + ": byteorder '" + printable(order) + "' (only little-endian files are supported)");
    }
  }

  std::vector<uint8_t> bytes = pf->zip_->read(*pkl, verify_crc);
  pickle::Unpickler up;
  const Object* root = up.run(bytes.data(), bytes.size(), path + ": " + printable(pkl->name));
  if (root->kind != Kind::kDict) {
    throw Error(ErrorCode::kUnsupported, path + ": the pickled object is a " + std::string(pickle::kind_name(root->kind)) +
                                             (root->kind == Kind::kOpaque ? " (" + printable(root->s) + ")" : "") +
                                             ", not a state dict");
  }
  std::vector<Found> found;
  std::unordered_set<const Object*> seen;
  flatten(root, "", 0, &seen, &found, path);

  std::map<std::string, size_t> storage_by_key;
  std::set<std::string> names;
  for (const Found& f : found) {
    const std::string where = "tensor '" + printable(f.name) + "'";
    if (!names.insert(f.name).second) pf->corrupt(where + " appears twice");
    const pickle::TensorDesc& t = *f.tensor;
    const pickle::StorageDesc& sd = t.storage->storage;

    // The storage: one zip entry, the same dtype and size wherever it is referenced.
    auto [it, inserted] = storage_by_key.emplace(sd.key, pf->storages_.size());
    if (inserted) {
      StorageRec rec;
      rec.key = sd.key;
      rec.dtype = sd.dtype;
      if (!mul_ok(sd.numel, dtype_size(sd.dtype), &rec.nbytes)) {
        pf->corrupt(where + ": storage '" + printable(sd.key) + "' size overflows");
      }
      const std::string entry = pf->prefix_ + "data/" + sd.key;
      rec.entry = pf->zip_->find(entry);
      if (!rec.entry) pf->corrupt(where + ": its storage entry '" + printable(entry) + "' is missing");
      if (rec.entry->size != rec.nbytes) {
        pf->corrupt(where + ": storage '" + printable(sd.key) + "' holds " + std::to_string(rec.entry->size) +
                    " bytes, the pickle says " + std::to_string(sd.numel) + " x " + dtype_name(sd.dtype) + " = " +
                    std::to_string(rec.nbytes));
      }
      pf->storages_.push_back(std::move(rec));
    } else {
      const StorageRec& rec = pf->storages_[it->second];
      uint64_t nbytes = 0;
      if (rec.dtype != sd.dtype || !mul_ok(sd.numel, dtype_size(sd.dtype), &nbytes) || nbytes != rec.nbytes) {
        pf->corrupt(where + ": storage '" + printable(sd.key) + "' is declared with two different types or sizes");
      }
    }
    const StorageRec& rec = pf->storages_[it->second];

    // The view must lie inside its storage: (offset + sum((size_d - 1) * stride_d) + 1) * elem.
    const uint64_t elem = dtype_size(t.dtype);
    uint64_t numel = 1;
    uint64_t last = static_cast<uint64_t>(t.offset);
    bool ok = true;
    for (size_t d = 0; d < t.size.size(); ++d) {
      ok = ok && mul_ok(numel, static_cast<uint64_t>(t.size[d]), &numel);
    }
    uint64_t numel_bytes = 0;
    ok = ok && numel <= static_cast<uint64_t>(INT64_MAX) && mul_ok(numel, elem, &numel_bytes);
    if (!ok) pf->corrupt(where + ": shape " + shape_str(t.size) + " overflows");
    uint64_t end_bytes = 0;
    if (numel > 0) {
      for (size_t d = 0; d < t.size.size() && ok; ++d) {
        uint64_t step = 0;
        ok = mul_ok(static_cast<uint64_t>(t.size[d] - 1), static_cast<uint64_t>(t.stride[d]), &step) &&
             add_ok(last, step, &last);
      }
      ok = ok && add_ok(last, 1, &last) && mul_ok(last, elem, &end_bytes);
      if (!ok || end_bytes > rec.nbytes) {
        pf->corrupt(where + ": view (offset " + std::to_string(t.offset) + ", size " + shape_str(t.size) + ", stride " +
                    shape_str(t.stride) + ") of " + dtype_name(t.dtype) + " runs past its storage '" + printable(sd.key) +
                    "' of " + std::to_string(rec.nbytes) + " bytes");
      }
    }
    if (numel_bytes > rec.nbytes && numel_bytes > kMaxExpandedBytes) {
      pf->corrupt(where + ": view (size " + shape_str(t.size) + ", stride " + shape_str(t.stride) + ") expands its storage '" +
                  printable(sd.key) + "' of " + std::to_string(rec.nbytes) + " bytes to " + std::to_string(numel_bytes) +
                  " bytes (more than " + std::to_string(kMaxExpandedBytes >> 20) + " MiB of repeated elements)");
    }
    TensorInfo info;
    info.name = f.name;
    info.dtype = t.dtype;
    info.shape = t.size;
    info.strides = t.stride;
    uint64_t off_bytes = 0;
    if (!mul_ok(static_cast<uint64_t>(t.offset), elem, &off_bytes)) off_bytes = UINT64_MAX;
    info.byte_offset = off_bytes;
    info.nbytes = numel_bytes;
    pf->tensors_.push_back(std::move(info));
    pf->storage_of_.push_back(it->second);
  }
  return pf;
}

size_t PthFile::index_of(const TensorInfo& info) const {
  if (!tensors_.empty() && &info >= tensors_.data() && &info < tensors_.data() + tensors_.size()) {
    return static_cast<size_t>(&info - tensors_.data());
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (tensors_[i].name == info.name) return i;
  }
  throw Error(ErrorCode::kNotFound, path() + ": no tensor '" + printable(info.name) + "'");
}

Tensor PthFile::load(const TensorInfo& request) const {
  const size_t idx = index_of(request);
  const TensorInfo& info = tensors_[idx];
  const StorageRec& st = storages_[storage_of_[idx]];

  const uint8_t* base = nullptr;
  std::shared_ptr<void> keep;
  if (st.entry->stored()) {
    base = zip_->stored_data(*st.entry);
    keep = file_;
    file_->advise_willneed(static_cast<size_t>(base - file_->data()), st.nbytes);  // read-ahead
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    auto buf = st.inflated.lock();
    if (!buf) {
      buf = std::make_shared<std::vector<uint8_t>>(zip_->read(*st.entry));
      st.inflated = buf;
    }
    base = buf->data();
    keep = buf;
  }
  if (info.nbytes == 0) return Tensor::empty(info.shape, info.dtype);

  const size_t elem = dtype_size(info.dtype);
  const uint8_t* p = base + info.byte_offset;  // parse() checked the view against the storage
  if (is_contiguous_view(info.shape, info.strides)) {
    if (reinterpret_cast<uintptr_t>(p) % elem == 0) {
      return Tensor::from_blob(const_cast<uint8_t*>(p), info.shape, info.dtype, Device::cpu(), keep);
    }
    Tensor t = Tensor::empty(info.shape, info.dtype);
    std::memcpy(t.raw_data(), p, info.nbytes);
    return t;
  }
  // A strided view: gather rows of the innermost dimension into a contiguous tensor.
  Tensor t = Tensor::empty(info.shape, info.dtype);
  auto* dst = static_cast<uint8_t*>(t.raw_data());
  const size_t nd = info.shape.size();
  const int64_t inner = info.shape[nd - 1];
  const int64_t inner_stride = info.strides[nd - 1];
  const int64_t rows = t.numel() / inner;
  std::vector<int64_t> idx_outer(nd, 0);
  int64_t src = 0;  // element offset of the row start relative to p
  for (int64_t r = 0; r < rows; ++r) {
    if (inner_stride == 1) {
      std::memcpy(dst, p + src * static_cast<int64_t>(elem), static_cast<size_t>(inner) * elem);
    } else {
      for (int64_t i = 0; i < inner; ++i) {
        std::memcpy(dst + i * static_cast<int64_t>(elem), p + (src + i * inner_stride) * static_cast<int64_t>(elem), elem);
      }
    }
    dst += static_cast<size_t>(inner) * elem;
    for (size_t d = nd - 1; d-- > 0;) {  // odometer over the outer dimensions
      if (++idx_outer[d] < info.shape[d]) {
        src += info.strides[d];
        break;
      }
      src -= (info.shape[d] - 1) * info.strides[d];
      idx_outer[d] = 0;
    }
  }
  return t;
}

}  // namespace wan22::io
