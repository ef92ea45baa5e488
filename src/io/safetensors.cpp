#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/status.h"

namespace wan22::io {

namespace {
constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MiB, as the reference implementation

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::kCorruptData, path + ": " + what);
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
  if (hlen > kMaxHeader) corrupt(path, "header length " + std::to_string(hlen) + " exceeds 100 MiB");
  if (hlen > size - 8) {
    corrupt(path, "header length " + std::to_string(hlen) + " runs past the end of the file (" +
                      std::to_string(size) + " bytes): truncated?");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file->data() + 8, file->data() + 8 + hlen);
  } catch (const std::exception& e) {
    corrupt(path, std::string("header is not valid JSON (") + e.what() + ")");
  }
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
        if (!m.value().is_string()) corrupt(path, "__metadata__ value of '" + m.key() + "' is not a string");
        st->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!v.is_object()) corrupt(path, where + ": entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) corrupt(path, where + ": missing dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) corrupt(path, where + ": missing shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
      corrupt(path, where + ": missing or malformed data_offsets");
    }
    TensorInfo info;
    info.name = name;
    std::string dt = v["dtype"].get<std::string>();
    if (!dtype_from_name(dt, &info.dtype)) {
      throw Error(ErrorCode::kUnsupported, path + ": " + where + ": unknown dtype '" + dt + "'");
    }
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
        corrupt(path, where + ": shape has a non-integer or negative dimension");
      }
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (1ull << 62) / dim) corrupt(path, where + ": shape overflows");
      numel *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    info.strides = contiguous_strides(info.shape);
    const auto& offs = v["data_offsets"];
    if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned()) {
      corrupt(path, where + ": data_offsets are not non-negative integers");
    }
    uint64_t b = offs[0].get<uint64_t>(), e = offs[1].get<uint64_t>();
    if (e < b) corrupt(path, where + ": data_offsets end before they begin");
    if (e > data_size) {
      corrupt(path, where + ": data [" + std::to_string(b) + ", " + std::to_string(e) +
                        ") lies outside the file's data region of " + std::to_string(data_size) +
                        " bytes: truncated?");
    }
    if (e - b != numel * dtype_size(info.dtype)) {
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
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo* p = order[i - 1];
    if (p->nbytes > 0 && order[i]->nbytes > 0 && p->byte_offset + p->nbytes > order[i]->byte_offset) {
      corrupt(path, "tensors '" + p->name + "' and '" + order[i]->name + "' overlap");
    }
  }
  std::sort(st->tensors_.begin(), st->tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return st;
}

Tensor SafetensorsFile::load(const TensorInfo& info) const {
  const uint8_t* p = file_->data() + data_start_ + info.byte_offset;
  // The mapping outlives the tensor through the keep-alive. Data in the mapping may be unaligned
  // for its dtype; copy in that case so kernels can use aligned loads.
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(info.dtype) != 0) {
    Tensor t = Tensor::empty(info.shape, info.dtype);
    if (info.nbytes) std::memcpy(t.raw_data(), p, info.nbytes);
    return t;
  }
  return Tensor::from_blob(const_cast<uint8_t*>(p), info.shape, info.dtype, Device::cpu(), file_);
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  std::vector<Tensor> contig;
  for (const auto& [name, t] : tensors) {
    Tensor c = t.device().is_cpu() ? t.contiguous() : t.to(Device::cpu()).contiguous();
    std::string dt = dtype_name(c.dtype());
    for (auto& ch : dt) ch = static_cast<char>(std::toupper(ch));
    header[name] = {{"dtype", dt}, {"shape", c.shape()}, {"data_offsets", {off, off + c.nbytes()}}};
    off += c.nbytes();
    contig.push_back(c);
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(ErrorCode::kIoError, tmp + ": cannot open for writing");
  uint8_t len[8];
  uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(hl >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
  for (const auto& c : contig) {
    if (!ok) break;
    if (c.nbytes()) ok = std::fwrite(c.raw_data(), 1, c.nbytes(), f) == c.nbytes();
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::kIoError, path + ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::kIoError, path + ": cannot rename temporary file into place");
  }
}

}  // namespace wan22::io
