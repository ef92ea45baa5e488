#include "media/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/status.h"

namespace wan22::media {
namespace fs = std::filesystem;

AtomicOutput::AtomicOutput(std::string final_path) : final_(std::move(final_path)) {
  if (final_.empty()) throw_error(ErrorCode::kInvalidArgument, "output path is empty");
  fs::path p(final_);
  if (!p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  final_ = p.string();
  fs::path parent = p.parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  auto st = fs::status(parent, ec);
  if (ec || !fs::exists(st)) {
    throw_error(ErrorCode::kNotFound,
                "cannot write '" + final_ + "': directory '" + parent.string() + "' does not exist");
  }
  if (!fs::is_directory(st)) {
    throw_error(ErrorCode::kIoError,
                "cannot write '" + final_ + "': '" + parent.string() + "' is not a directory");
  }
  static std::atomic<unsigned> counter{0};
  std::string temp_name = ".";  // hidden; built step by step (GCC 12 -Wrestrict false positive)
  temp_name += p.filename().string();
  temp_name += ".tmp-";
  temp_name += std::to_string(getpid());
  temp_name += "-";
  temp_name += std::to_string(counter++);
  temp_ = (parent / temp_name).string();
}

AtomicOutput::~AtomicOutput() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(temp_, ec);  // our own temporary only; ignore errors in a destructor
}

void AtomicOutput::commit() {
  if (std::rename(temp_.c_str(), final_.c_str()) != 0) {
    int err = errno;
    throw_error(ErrorCode::kIoError, "cannot move '" + temp_ + "' to '" + final_ +
                                         "': " + std::strerror(err));
  }
  committed_ = true;
}

void write_file_bytes(const std::string& path, const void* data, size_t size,
                      const std::string& display_name) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    int err = errno;
    throw_error(ErrorCode::kIoError, "cannot create '" + display_name + "': " + std::strerror(err));
  }
  size_t written = size > 0 ? std::fwrite(data, 1, size, f) : 0;
  int write_err = written == size ? 0 : errno;
  if (std::fflush(f) != 0 && write_err == 0) write_err = errno;
  if (std::fclose(f) != 0 && write_err == 0) write_err = errno;
  if (written != size || write_err != 0) {
    throw_error(ErrorCode::kIoError, "cannot write '" + display_name + "': " +
                                         std::strerror(write_err ? write_err : EIO));
  }
}

}  // namespace wan22::media
