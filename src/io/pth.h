// PyTorch .pth / .pt files as torch.save (>= 1.6) writes them: a zip archive holding
// <archive>/data.pkl (a pickled state dict) and one entry <archive>/data/<key> per storage.
// Tensors are views (offset, size, stride) into storages, possibly shared between tensors.
// The pickle is parsed at open; a storage is only touched when one of its tensors is loaded:
// stored zip entries (what torch writes, 64-byte aligned) are used in place in the mapping,
// compressed ones are inflated through libzip.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/mapped_file.h"
#include "io/pth_zip.h"
#include "io/tensor_source.h"

namespace wan22::io {

class PthFile final : public TensorSource {
 public:
  // Throws Error(kCorruptData) naming the file (and tensor / zip entry / pickle byte) on
  // malformed input, Error(kUnsupported) on valid files we cannot represent.
  static std::unique_ptr<PthFile> open(const std::string& path);
  // Same over bytes already in memory (tests, fuzzing); the file's name is used in messages.
  // verify_crc checks the CRC-32 of data.pkl (the fuzzer turns it off to reach the pickle
  // interpreter); storages are not checksummed (that would read every byte at open).
  static std::unique_ptr<PthFile> parse(std::shared_ptr<MappedFile> file, bool verify_crc = true);

  const std::string& path() const override { return file_->path(); }
  const char* format() const override { return "pth"; }
  // In the state dict's order. Nested dicts are flattened with '.'; non-tensor values skipped.
  // strides/byte_offset are those of the view in its storage; nbytes = numel x element size.
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  // Contiguous views of stored entries are zero-copy (when aligned); other views are gathered
  // into a fresh contiguous tensor.
  Tensor load(const TensorInfo& info) const override;

  // The zip entry prefix of the archive ("vae/" for vae/data.pkl).
  const std::string& archive_prefix() const { return prefix_; }

 private:
  struct StorageRec {
    std::string key;
    DType dtype = DType::kU8;
    uint64_t nbytes = 0;
    const ZipEntry* entry = nullptr;
    mutable std::weak_ptr<std::vector<uint8_t>> inflated;  // compressed entries only
  };
  [[noreturn]] void corrupt(const std::string& what) const;
  size_t index_of(const TensorInfo& info) const;

  std::shared_ptr<MappedFile> file_;
  std::unique_ptr<ZipArchive> zip_;
  std::string prefix_;
  std::vector<TensorInfo> tensors_;
  std::vector<size_t> storage_of_;  // per tensor: index into storages_
  std::vector<StorageRec> storages_;
  mutable std::mutex mu_;  // guards StorageRec::inflated
};

}  // namespace wan22::io
