// The zip container of torch.save files: the central directory (zip64 included) read from the
// mapping, stored entries handed out as pointers into the mapping, compressed ones inflated
// through libzip.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"

struct zip;  // libzip

namespace wan22::io {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint16_t flags = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;  // uncompressed
  uint64_t local_header_offset = 0;
  uint32_t crc32 = 0;
  bool stored() const { return method == 0; }
};

// CRC-32 (IEEE 802.3, as zip uses), continuing from `crc` (0 to start).
uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t size);

class ZipArchive {
 public:
  // Parses the end-of-central-directory records and the central directory. Every offset and
  // size is checked against the file; throws Error(kCorruptData / kUnsupported) naming the file.
  explicit ZipArchive(std::shared_ptr<MappedFile> file);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& path() const { return file_->path(); }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;

  // A stored entry's bytes inside the mapping (the local header is checked here).
  const uint8_t* stored_data(const ZipEntry& e) const;
  // The whole entry: a copy of a stored one (its CRC-32 checked when verify_crc), or inflated
  // through libzip (size bounded by the deflate ratio limit, CRC always checked by libzip).
  std::vector<uint8_t> read(const ZipEntry& e, bool verify_crc = true) const;

 private:
  [[noreturn]] void corrupt(const std::string& what) const;
  std::vector<uint8_t> inflate(const ZipEntry& e) const;

  std::shared_ptr<MappedFile> file_;
  uint64_t cd_offset_ = 0;  // entries' data lies before this offset
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
  mutable std::mutex mu_;  // guards za_
  mutable ::zip* za_ = nullptr;
};

}  // namespace wan22::io
