// Write-to-temporary-then-rename: an output file or directory appears complete or not at all.
#pragma once
#include <cstddef>
#include <string>

namespace wan22::media {

class AtomicOutput {
 public:
  // Chooses a hidden temporary path next to `final_path` (same directory, so rename is atomic).
  // Throws kNotFound when the parent directory does not exist, kIoError when it is not a
  // directory. Nothing is created yet.
  explicit AtomicOutput(std::string final_path);
  ~AtomicOutput();  // removes the temporary (file or directory) unless commit() succeeded
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::string& temp_path() const { return temp_; }
  const std::string& final_path() const { return final_; }

  // Renames the temporary onto the final path (replacing a file there; a directory can only
  // replace an empty directory, so callers clear an old output first). Throws kIoError.
  void commit();

 private:
  std::string final_;
  std::string temp_;
  bool committed_ = false;
};

// Writes bytes to `path` (created or truncated) and flushes them; kIoError (with strerror, e.g.
// "No space left on device") on any failure. `display_name` is the name used in the message.
void write_file_bytes(const std::string& path, const void* data, size_t size,
                      const std::string& display_name);

}  // namespace wan22::media
