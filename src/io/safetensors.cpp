#include "io/safetensors.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

#include "core/status.h"

namespace wan22::io {

namespace {
constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MiB, as the reference implementation
constexpr uint64_t kMaxDim = 1ull << 62;

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::kCorruptData, path + ": " + what);
}

// dtype names the safetensors format defines but this engine cannot hold.
bool is_known_unsupported_dtype(const std::string& dt) {
  static const char* kNames[] = {"U16", "U32", "U64", "C64", "F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "E8M0"};
  for (const char* n : kNames) {
    if (dt == n) return true;
  }
  return false;
}

// Parses JSON and reports the first key that appears twice in one object (nlohmann would keep
// the last one silently). `what` prefixes parse errors.
nlohmann::json parse_json_strict(const std::string& path, const std::string& what, const uint8_t* b, const uint8_t* e) {
  std::vector<std::set<std::string>> keys;
  std::string dup;
  auto cb = [&](int /*depth*/, nlohmann::json::parse_event_t ev, nlohmann::json& j) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) {
      keys.emplace_back();
    } else if (ev == E::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (ev == E::key && !keys.empty() && dup.empty() && j.is_string()) {
      if (!keys.back().insert(j.get<std::string>()).second) dup = j.get<std::string>();
    }
    return true;
  };
  nlohmann::json out;
  try {
    out = nlohmann::json::parse(b, e, cb);
  } catch (const std::exception& ex) {
    corrupt(path, what + " is not valid JSON (" + ex.what() + ")");
  }
  if (!dup.empty()) corrupt(path, what + ": key '" + printable(dup) + "' appears twice");
  return out;
}

// "F32", "BF16", "F8_E4M3", "BOOL": the upper-case names the format uses.
std::string safetensors_dtype_name(DType t) {
  std::string n = dtype_name(t);
  for (auto& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n;
}

bool is_nonneg_integer(const nlohmann::json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}
}  // namespace

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  return parse(MappedFile::open(path));
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(std::shared_ptr<MappedFile> file) {
  const std::string& path = file->path();
  const size_t size = file->size();
  if (size < 8) corrupt(path, "file is " + std::to_string(size) + " bytes, too short for a safetensors header");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | file->data()[i];
  if (hlen > kMaxHeader) corrupt(path, "header length " + std::to_string(hlen) + " exceeds 100 MiB: not a safetensors file?");
  if (hlen > size - 8) {
    corrupt(path, "header length " + std::to_string(hlen) + " runs past the end of the file (" +
                      std::to_string(size) + " bytes): truncated?");
  }
  if (hlen < 2 || file->data()[8] != '{') corrupt(path, "header does not start with '{': not a safetensors file?");
  nlohmann::json header = parse_json_strict(path, "header", file->data() + 8, file->data() + 8 + hlen);
  if (!header.is_object()) corrupt(path, "header is not a JSON object");

  auto st = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  st->path_ = path;
  st->file_ = file;
  st->data_start_ = 8 + hlen;
  const uint64_t data_size = size - st->data_start_;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) corrupt(path, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) corrupt(path, "__metadata__ value of '" + printable(m.key()) + "' is not a string");
        st->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + printable(name) + "'";
    if (!v.is_object()) corrupt(path, where + ": entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) corrupt(path, where + ": missing dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) corrupt(path, where + ": missing shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
      corrupt(path, where + ": missing or malformed data_offsets");
    }
    TensorInfo info;
    info.name = name;
    std::string dt = v["dtype"].get<std::string>();
    if (!dtype_from_name(dt, &info.dtype) || dt != safetensors_dtype_name(info.dtype)) {
      if (is_known_unsupported_dtype(dt)) {
        throw Error(ErrorCode::kUnsupported, path + ": " + where + ": dtype " + dt + " is not supported");
      }
      corrupt(path, where + ": unknown dtype '" + printable(dt) + "'");
    }
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!is_nonneg_integer(d)) corrupt(path, where + ": shape has a non-integer or negative dimension");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > kMaxDim || (dim != 0 && numel > kMaxDim / dim)) corrupt(path, where + ": shape overflows");
      numel *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    info.strides = contiguous_strides(info.shape);
    const auto& offs = v["data_offsets"];
    if (!is_nonneg_integer(offs[0]) || !is_nonneg_integer(offs[1])) {
      corrupt(path, where + ": data_offsets are not non-negative integers");
    }
    const uint64_t b = offs[0].get<uint64_t>(), e = offs[1].get<uint64_t>();
    if (e < b) corrupt(path, where + ": data_offsets end before they begin");
    if (e > data_size) {
      corrupt(path, where + ": data [" + std::to_string(b) + ", " + std::to_string(e) +
                        ") lies outside the file's data region of " + std::to_string(data_size) +
                        " bytes: truncated?");
    }
    uint64_t expect = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(info.dtype)), &expect) || e - b != expect) {
      corrupt(path, where + ": " + std::to_string(e - b) + " bytes do not match shape " +
                        shape_str(info.shape) + " of " + dt);
    }
    info.byte_offset = b;
    info.nbytes = e - b;
    st->tensors_.push_back(std::move(info));
  }
  // No two tensors may overlap.
  std::vector<const TensorInfo*> order;
  for (const auto& t : st->tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->byte_offset < b->byte_offset || (a->byte_offset == b->byte_offset && a->nbytes < b->nbytes);
  });
  const TensorInfo* reach = nullptr;  // the tensor reaching furthest so far
  for (const TensorInfo* t : order) {
    if (t->nbytes == 0) continue;
    if (reach && reach->byte_offset + reach->nbytes > t->byte_offset) {
      corrupt(path, "tensors '" + printable(reach->name) + "' and '" + printable(t->name) + "' overlap");
    }
    if (!reach || t->byte_offset + t->nbytes > reach->byte_offset + reach->nbytes) reach = t;
  }
  std::sort(st->tensors_.begin(), st->tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return st;
}

Tensor SafetensorsFile::load(const TensorInfo& info) const {
  const uint8_t* p = file_->data() + data_start_ + info.byte_offset;
  file_->advise_willneed(data_start_ + info.byte_offset, info.nbytes);  // read-ahead
  // The mapping outlives the tensor through the keep-alive. Data in the mapping may be unaligned
  // for its dtype; copy in that case so kernels can use aligned loads.
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(info.dtype) != 0) {
    Tensor t = Tensor::empty(info.shape, info.dtype);
    if (info.nbytes) std::memcpy(t.raw_data(), p, info.nbytes);
    return t;
  }
  return Tensor::from_blob(const_cast<uint8_t*>(p), info.shape, info.dtype, Device::cpu(), file_);
}

std::map<std::string, std::string> parse_safetensors_index(const std::string& path, const uint8_t* data, size_t size) {
  nlohmann::json idx = parse_json_strict(path, "index", data, data + size);
  if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object()) {
    corrupt(path, "no weight_map object");
  }
  std::map<std::string, std::string> out;
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    const std::string where = "weight_map entry '" + printable(it.key()) + "'";
    if (!it.value().is_string()) corrupt(path, where + " is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
        shard.find('\0') != std::string::npos) {
      corrupt(path, where + ": shard '" + printable(shard) + "' is not a plain file name");
    }
    out.emplace(it.key(), shard);
  }
  return out;
}

namespace {

// The header (length prefix, JSON, padding to 8 bytes) of `entries` laid out back to back.
std::string safetensors_header(const std::string& what, const std::vector<SafetensorsEntry>& entries,
                               const std::map<std::string, std::string>& metadata, uint64_t* data_bytes) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& e : entries) {
    if (e.name == "__metadata__" || header.contains(e.name)) {
      throw Error(ErrorCode::kInvalidArgument, what + ": tensor name '" + printable(e.name) + "' used twice or reserved");
    }
    const uint64_t n = static_cast<uint64_t>(shape_numel(e.shape)) * dtype_size(e.dtype);
    header[e.name] = {{"dtype", safetensors_dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string h;
  try {
    h = header.dump();
  } catch (const std::exception& ex) {
    throw Error(ErrorCode::kInvalidArgument, what + ": cannot write the header (" + ex.what() + ")");
  }
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  std::string out(8, '\0');
  const uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>(static_cast<uint8_t>(hl >> (8 * i)));
  *data_bytes = off;
  return out + h;
}

// Entry i's bytes from `fill`, checked against the entry (CPU, dtype, element count), contiguous.
Tensor filled_entry(const std::string& what, const SafetensorsEntry& e, const SafetensorsFill& fill, size_t i) {
  Tensor t = fill(i);
  if (!t.device().is_cpu()) t = t.to(Device::cpu());
  if (t.dtype() != e.dtype || t.numel() != shape_numel(e.shape)) {
    throw Error(ErrorCode::kInvalidArgument, what + ": tensor '" + printable(e.name) + "' was given as " +
                                                 dtype_name(t.dtype()) + " " + shape_str(t.shape()) + ", declared " +
                                                 dtype_name(e.dtype) + " " + shape_str(e.shape));
  }
  return t.contiguous();
}

}  // namespace

uint64_t safetensors_file_bytes(const std::vector<SafetensorsEntry>& entries,
                                const std::map<std::string, std::string>& metadata) {
  uint64_t data = 0;
  const std::string h = safetensors_header("safetensors", entries, metadata, &data);
  return h.size() + data;
}

void write_safetensors_streamed(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                                const SafetensorsFill& fill, const std::map<std::string, std::string>& metadata) {
  uint64_t data = 0;
  const std::string h = safetensors_header(path, entries, metadata, &data);
  // A name of this process's own: two writers of one path never share a temporary.
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(ErrorCode::kIoError, tmp + ": cannot open for writing (" + std::strerror(errno) + ")");
  auto fail = [&](const std::string& why) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw Error(ErrorCode::kIoError, path + ": write failed (" + why + ")");
  };
  if (std::fwrite(h.data(), 1, h.size(), f) != h.size()) fail(std::strerror(errno));
  for (size_t i = 0; i < entries.size(); ++i) {
    Tensor c;
    try {
      c = filled_entry(path, entries[i], fill, i);
    } catch (...) {
      std::fclose(f);
      std::remove(tmp.c_str());
      throw;
    }
    if (c.nbytes() && std::fwrite(c.raw_data(), 1, c.nbytes(), f) != c.nbytes()) fail(std::strerror(errno));
  }
  if (std::fflush(f) != 0) fail(std::strerror(errno));
  if (std::fclose(f) != 0) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::kIoError, path + ": write failed (" + std::strerror(errno) + ")");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::kIoError, path + ": cannot rename temporary file into place");
  }
}

std::vector<uint8_t> safetensors_bytes(const std::vector<SafetensorsEntry>& entries, const SafetensorsFill& fill,
                                       const std::map<std::string, std::string>& metadata) {
  uint64_t data = 0;
  const std::string h = safetensors_header("safetensors image", entries, metadata, &data);
  std::vector<uint8_t> out;
  out.reserve(h.size() + data);
  out.insert(out.end(), h.begin(), h.end());
  for (size_t i = 0; i < entries.size(); ++i) {
    const Tensor c = filled_entry("safetensors image", entries[i], fill, i);
    const auto* b = static_cast<const uint8_t*>(c.raw_data());
    out.insert(out.end(), b, b + c.nbytes());
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsEntry> entries;
  entries.reserve(tensors.size());
  for (const auto& [name, t] : tensors) entries.push_back({name, t.dtype(), t.shape()});
  write_safetensors_streamed(path, entries, [&](size_t i) { return tensors[i].second; }, metadata);
}

}  // namespace wan22::io
