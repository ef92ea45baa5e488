// The bodies of the fuzz targets, shared with the unit test that replays fuzz/corpus in the
// normal build (tests/unit/test_io_fuzz_corpus.cpp). Each parses bytes, loads every tensor and
// touches every byte; wan22::Error is the expected way to reject an input, anything else (a
// crash, a sanitizer report, another exception) is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
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

inline void run_pickle(const uint8_t* data, size_t size) {
  try {
    io::pickle::Unpickler up;
    up.run(data, size, "fuzz.pkl");
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
