// Helpers of the checkpoint-reader tests: byte buffers, a minimal zip writer, error checks.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "io/mapped_file.h"
#include "io/pth_zip.h"
#include "../../fuzz/fuzz_io.h"

namespace wan22::test {

using Bytes = std::vector<uint8_t>;

inline Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

inline Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

inline void put16(Bytes* b, uint32_t v) {
  b->push_back(static_cast<uint8_t>(v));
  b->push_back(static_cast<uint8_t>(v >> 8));
}
inline void put32(Bytes* b, uint32_t v) {
  put16(b, v & 0xffff);
  put16(b, v >> 16);
}
inline void put64(Bytes* b, uint64_t v) {
  put32(b, static_cast<uint32_t>(v));
  put32(b, static_cast<uint32_t>(v >> 32));
}

// A zip archive of stored entries (no alignment, no zip64), in the given order.
inline Bytes make_zip(const std::vector<std::pair<std::string, Bytes>>& entries) { return fuzz::make_stored_zip(entries); }

// Runs f, expects Error with `code` whose message holds every string of `needles` and is one
// line. Returns the message.
inline std::string expect_error(const std::function<void()>& f, ErrorCode code, const std::vector<std::string>& needles) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(error_code_name(e.code()), std::string(error_code_name(code))) << msg;
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "no error thrown (expected " << error_code_name(code) << ")";
  return "";
}

}  // namespace wan22::test
