#include "io/pth_zip.h"

#include <zip.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "core/status.h"
#include "io/tensor_source.h"

namespace wan22::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kEocd64Sig = 0x06064b50;
constexpr uint32_t kEocd64LocatorSig = 0x07064b50;
constexpr size_t kEocdSize = 22;
constexpr size_t kEocd64Size = 56;
constexpr size_t kLocatorSize = 20;
constexpr size_t kCentralSize = 46;
constexpr size_t kLocalSize = 30;
// deflate cannot expand by more than ~1032x; anything claiming more is corrupt.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t rd64(const uint8_t* p) { return rd32(p) | (static_cast<uint64_t>(rd32(p + 4)) << 32); }

}  // namespace

uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t size) {
  static const auto kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = kTable[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void ZipArchive::corrupt(const std::string& what) const {
  throw Error(ErrorCode::kCorruptData, file_->path() + ": " + what);
}

ZipArchive::ZipArchive(std::shared_ptr<MappedFile> file) : file_(std::move(file)) {
  const uint8_t* d = file_->data();
  const uint64_t size = file_->size();
  if (size < kEocdSize) corrupt("zip archive of " + std::to_string(size) + " bytes is too short: truncated?");

  // End of central directory: the last signature whose comment ends at the end of the file.
  uint64_t eocd = UINT64_MAX;
  const uint64_t lowest = size > kEocdSize + 0xffff ? size - kEocdSize - 0xffff : 0;
  for (uint64_t pos = size - kEocdSize + 1; pos-- > lowest;) {
    if (rd32(d + pos) == kEocdSig && pos + kEocdSize + rd16(d + pos + 20) == size) {
      eocd = pos;
      break;
    }
  }
  if (eocd == UINT64_MAX) corrupt("no zip end-of-central-directory record: truncated?");
  const uint8_t* e = d + eocd;
  if (rd16(e + 4) != 0 || rd16(e + 6) != 0) throw Error(ErrorCode::kUnsupported, path() + ": multi-disk zip archive");
  uint64_t count = rd16(e + 10);
  uint64_t cd_size = rd32(e + 12);
  uint64_t cd_offset = rd32(e + 16);
  uint64_t cd_limit = eocd;  // the central directory must end before this

  // zip64: a locator right before the EOCD points at the zip64 EOCD record.
  if (eocd >= kLocatorSize && rd32(d + eocd - kLocatorSize) == kEocd64LocatorSig) {
    const uint8_t* loc = d + eocd - kLocatorSize;
    uint64_t rec = rd64(loc + 8);
    if (rec > eocd - kLocatorSize || eocd - kLocatorSize - rec < kEocd64Size) {
      corrupt("zip64 end-of-central-directory record offset " + std::to_string(rec) + " is outside the file");
    }
    const uint8_t* z = d + rec;
    if (rd32(z) != kEocd64Sig) corrupt("bad zip64 end-of-central-directory signature");
    if (rd32(z + 16) != 0 || rd32(z + 20) != 0) throw Error(ErrorCode::kUnsupported, path() + ": multi-disk zip archive");
    count = rd64(z + 32);
    cd_size = rd64(z + 40);
    cd_offset = rd64(z + 48);
    cd_limit = rec;
  } else if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    corrupt("zip64 sizes announced but no zip64 end-of-central-directory locator");
  }
  if (cd_offset > cd_limit || cd_size > cd_limit - cd_offset) {
    corrupt("central directory [" + std::to_string(cd_offset) + ", +" + std::to_string(cd_size) +
            ") lies outside the file (" + std::to_string(size) + " bytes): truncated?");
  }
  if (count > cd_size / kCentralSize) {
    corrupt("central directory claims " + std::to_string(count) + " entries in " + std::to_string(cd_size) + " bytes");
  }
  cd_offset_ = cd_offset;

  entries_.reserve(count);
  uint64_t pos = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string where = "central directory entry " + std::to_string(i);
    if (cd_end - pos < kCentralSize) corrupt(where + " runs past the central directory");
    const uint8_t* c = d + pos;
    if (rd32(c) != kCentralSig) corrupt(where + ": bad signature");
    ZipEntry en;
    en.flags = rd16(c + 8);
    en.method = rd16(c + 10);
    en.crc32 = rd32(c + 16);
    en.compressed_size = rd32(c + 20);
    en.size = rd32(c + 24);
    const uint64_t name_len = rd16(c + 28), extra_len = rd16(c + 30), comment_len = rd16(c + 32);
    const uint32_t disk = rd16(c + 34);
    en.local_header_offset = rd32(c + 42);
    if (cd_end - pos - kCentralSize < name_len + extra_len + comment_len) {
      corrupt(where + ": name/extra fields run past the central directory");
    }
    en.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
    // zip64 extended information: the 8-byte values of the fields saturated above, in order.
    const uint8_t* x = c + kCentralSize + name_len;
    const uint8_t* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const uint16_t id = rd16(x), len = rd16(x + 2);
      if (static_cast<uint64_t>(x_end - x - 4) < len) corrupt(where + " ('" + printable(en.name) + "'): extra field runs past its record");
      if (id == 0x0001) {
        const uint8_t* f = x + 4;
        const uint8_t* f_end = f + len;
        auto take = [&](uint64_t* v, const char* what) {
          if (f_end - f < 8) corrupt(where + " ('" + printable(en.name) + "'): zip64 field '" + what + "' missing");
          *v = rd64(f);
          f += 8;
        };
        if (en.size == 0xffffffffu) take(&en.size, "size");
        if (en.compressed_size == 0xffffffffu) take(&en.compressed_size, "compressed size");
        if (en.local_header_offset == 0xffffffffu) take(&en.local_header_offset, "offset");
      }
      x += 4 + len;
    }
    if (disk != 0 && disk != 0xffff) throw Error(ErrorCode::kUnsupported, path() + ": multi-disk zip archive");
    const std::string what = "zip entry '" + printable(en.name) + "'";
    if (en.local_header_offset > cd_offset || cd_offset - en.local_header_offset < kLocalSize ||
        cd_offset - en.local_header_offset - kLocalSize < en.compressed_size) {
      corrupt(what + ": data [" + std::to_string(en.local_header_offset) + ", +" +
              std::to_string(en.compressed_size) + ") lies outside the file's entry region: truncated?");
    }
    if (en.flags & 1u) throw Error(ErrorCode::kUnsupported, path() + ": " + what + " is encrypted");
    if (en.method == 0 && en.compressed_size != en.size) {
      corrupt(what + ": stored entry with compressed size " + std::to_string(en.compressed_size) +
              " != size " + std::to_string(en.size));
    }
    if (!by_name_.emplace(en.name, entries_.size()).second) corrupt(what + " appears twice");
    entries_.push_back(std::move(en));
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
}

ZipArchive::~ZipArchive() {
  if (za_) zip_discard(za_);
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

const uint8_t* ZipArchive::stored_data(const ZipEntry& e) const {
  const std::string what = "zip entry '" + printable(e.name) + "'";
  if (!e.stored()) corrupt(what + " is compressed, not stored");
  const uint8_t* d = file_->data();
  // The constructor checked local_header_offset + 30 + compressed_size <= cd_offset_.
  const uint8_t* h = d + e.local_header_offset;
  if (rd32(h) != kLocalSig) corrupt(what + ": bad local header signature");
  const uint64_t name_len = rd16(h + 26), extra_len = rd16(h + 28);
  const uint64_t start = e.local_header_offset + kLocalSize + name_len + extra_len;
  if (start > cd_offset_ || cd_offset_ - start < e.compressed_size) {
    corrupt(what + ": data [" + std::to_string(start) + ", +" + std::to_string(e.compressed_size) +
            ") overruns the central directory");
  }
  if (name_len != e.name.size() || std::memcmp(h + kLocalSize, e.name.data(), name_len) != 0) {
    corrupt(what + ": local header names a different entry");
  }
  return d + start;
}

std::vector<uint8_t> ZipArchive::read(const ZipEntry& e, bool verify_crc) const {
  if (!e.stored()) return inflate(e);
  const uint8_t* p = stored_data(e);
  if (verify_crc && crc32_update(0, p, e.size) != e.crc32) {
    corrupt("zip entry '" + printable(e.name) + "': CRC-32 mismatch (the data is damaged)");
  }
  return std::vector<uint8_t>(p, p + e.size);
}

std::vector<uint8_t> ZipArchive::inflate(const ZipEntry& e) const {
  const std::string what = "zip entry '" + printable(e.name) + "'";
  if (e.method != ZIP_CM_DEFLATE) {
    throw Error(ErrorCode::kUnsupported, path() + ": " + what + " uses compression method " + std::to_string(e.method) +
                                             " (only stored and deflate are supported)");
  }
  if (e.size / kMaxDeflateRatio > e.compressed_size + 1) {
    corrupt(what + ": " + std::to_string(e.size) + " bytes cannot inflate from " +
            std::to_string(e.compressed_size) + " compressed bytes");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!za_) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(file_->data(), file_->size(), 0, &err);
    if (src) {
      za_ = zip_open_from_source(src, ZIP_RDONLY, &err);
      if (!za_) zip_source_free(src);
    }
    if (!za_) {
      std::string msg = zip_error_strerror(&err);
      zip_error_fini(&err);
      corrupt("libzip cannot open the archive (" + msg + ")");
    }
    zip_error_fini(&err);
  }
  zip_int64_t idx = zip_name_locate(za_, e.name.c_str(), ZIP_FL_ENC_RAW);
  zip_stat_t st;
  if (idx < 0 || zip_stat_index(za_, static_cast<zip_uint64_t>(idx), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) ||
      st.size != e.size) {
    corrupt(what + ": libzip disagrees about the entry");
  }
  zip_file_t* zf = zip_fopen_index(za_, static_cast<zip_uint64_t>(idx), 0);
  if (!zf) corrupt(what + ": cannot open (" + std::string(zip_strerror(za_)) + ")");
  std::vector<uint8_t> out(e.size);
  uint64_t got = 0;
  bool ok = true;
  while (got < e.size) {
    zip_int64_t n = zip_fread(zf, out.data() + got, e.size - got);
    if (n <= 0) {
      ok = false;
      break;
    }
    got += static_cast<uint64_t>(n);
  }
  uint8_t extra = 0;
  // Reading past the end makes libzip check the CRC.
  if (ok && zip_fread(zf, &extra, 1) != 0) ok = false;
  std::string msg = ok ? "" : zip_file_strerror(zf);
  zip_fclose(zf);
  if (!ok) corrupt(what + ": inflating failed after " + std::to_string(got) + " of " + std::to_string(e.size) + " bytes (" + msg + ")");
  return out;
}

}  // namespace wan22::io
