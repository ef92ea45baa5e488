// The bodies of the fuzz targets, shared with the unit test that replays fuzz/corpus in the
// normal build (tests/unit/test_io_fuzz_corpus.cpp). Each parses bytes, loads every tensor and
// touches every byte; wan22::Error is the expected way to reject an input, anything else (a
// crash, a sanitizer report, another exception) is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "io/mapped_file.h"
#include "io/pth.h"
#include "io/pth_pickle.h"
#include "io/safetensors.h"

namespace wan22::fuzz {

// Loads every tensor, reads all of its bytes and converts float tensors to f32.
inline uint64_t touch_all(const io::TensorSource& src) {
  uint64_t sum = 0;
  for (const auto& info : src.tensors()) {
    Tensor t = src.load(info);
    if (t.shape() != info.shape || t.dtype() != info.dtype) throw Error(ErrorCode::kInternal, "loaded tensor differs from its info");
    Tensor c = t.contiguous();
    const auto* p = static_cast<const uint8_t*>(c.raw_data());
    for (size_t i = 0; i < c.nbytes(); ++i) sum += p[i];
    if (dtype_is_float(t.dtype()) && t.numel() > 0) sum += static_cast<uint64_t>(t.to(DType::kF32).numel());
  }
  return sum;
}

inline std::shared_ptr<io::MappedFile> as_file(const char* name, const uint8_t* data, size_t size) {
  return io::MappedFile::from_bytes(name, std::vector<uint8_t>(data, data + size));
}

inline void run_safetensors(const uint8_t* data, size_t size) {
  try {
    auto st = io::SafetensorsFile::parse(as_file("fuzz.safetensors", data, size));
    touch_all(*st);
  } catch (const Error&) {
  }
}

inline void run_pth(const uint8_t* data, size_t size) {
  try {
    // CRC of data.pkl off: mutations of the pickle inside a valid zip reach the interpreter.
    auto pf = io::PthFile::parse(as_file("fuzz.pth", data, size), /*verify_crc=*/false);
    touch_all(*pf);
  } catch (const Error&) {
  }
}

// A zip archive of stored entries (no alignment, no zip64), in the given order.
inline std::vector<uint8_t> make_stored_zip(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries) {
  std::vector<uint8_t> out, central;
  auto put = [](std::vector<uint8_t>* b, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  for (const auto& [name, data] : entries) {
    const uint32_t crc = io::crc32_update(0, data.data(), data.size());
    const uint64_t offset = out.size();
    for (auto* b : {&out, &central}) {
      const bool c = b == &central;
      put(b, c ? 0x02014b50 : 0x04034b50, 4);
      if (c) put(b, 20, 2);  // version made by
      put(b, 20, 2);         // version needed
      put(b, 0, 2);          // flags
      put(b, 0, 2);          // stored
      put(b, 0, 4);          // time, date
      put(b, crc, 4);
      put(b, data.size(), 4);
      put(b, data.size(), 4);
      put(b, name.size(), 2);
      put(b, 0, 2);  // extra
      if (c) {
        put(b, 0, 2);  // comment length
        put(b, 0, 2);  // disk
        put(b, 0, 2);  // internal attributes
        put(b, 0, 4);  // external attributes
        put(b, offset, 4);
      }
      b->insert(b->end(), name.begin(), name.end());
      if (!c) b->insert(b->end(), data.begin(), data.end());
    }
  }
  const uint64_t cd_offset = out.size();
  out.insert(out.end(), central.begin(), central.end());
  put(&out, 0x06054b50, 4);
  put(&out, 0, 4);
  put(&out, entries.size(), 2);
  put(&out, entries.size(), 2);
  put(&out, central.size(), 4);
  put(&out, cd_offset, 4);
  put(&out, 0, 2);
  return out;
}

// The input is a data.pkl. It is run alone, then packed into an archive together with storage
// entries of exactly the sizes it declares (up to 1 MiB each), so the state-dict walk, the view
// checks and the strided loads see every mutation of keys, offsets, sizes and strides.
inline void run_pickle(const uint8_t* data, size_t size) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> entries = {{"a/data.pkl", std::vector<uint8_t>(data, data + size)}};
  try {
    io::pickle::Unpickler up;
    up.run(data, size, "fuzz.pkl");
    std::set<std::string> keys;
    for (const io::pickle::StorageDesc* s : up.storages()) {
      const uint64_t elem = dtype_size(s->dtype);
      if (s->numel > (1u << 20) / elem || !keys.insert(s->key).second) continue;
      std::vector<uint8_t> bytes(s->numel * elem);
      for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31 + 7);
      entries.emplace_back("a/data/" + s->key, std::move(bytes));
    }
  } catch (const Error&) {
    return;
  }
  try {
    auto pf = io::PthFile::parse(io::MappedFile::from_bytes("fuzz.pth", make_stored_zip(entries)));
    touch_all(*pf);
  } catch (const Error&) {
  }
}

inline void run_index_json(const uint8_t* data, size_t size) {
  try {
    io::parse_safetensors_index("fuzz.safetensors.index.json", data, size);
  } catch (const Error&) {
  }
}

}  // namespace wan22::fuzz
