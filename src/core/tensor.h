// Tensor: dtype, shape, strides (in elements), offset, device, shared storage.
// Views (slice, permute, reshape of contiguous data) share storage; contiguous() copies when needed.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/dtype.h"
#include "core/status.h"

namespace wan22 {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);     // throws on negative dims or int64 overflow

class Tensor {
 public:
  Tensor() = default;

  // ---- construction ----
  static Tensor empty(const Shape& shape, DType dtype = DType::kF32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::kF32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, DType dtype = DType::kF32);
  static Tensor from_vector(const std::vector<float>& v, const Shape& shape);  // f32, CPU
  // Wraps memory it does not own; keep_alive holds the owner (mmap, file buffer) alive.
  static Tensor from_blob(void* data, const Shape& shape, DType dtype, Device device,
                          std::shared_ptr<void> keep_alive);

  // ---- introspection ----
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const;
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  std::string str() const;  // "f32[2, 3] cpu"

  // ---- data access (pointer to element 0 of this view) ----
  void* raw_data() const;
  template <class T>
  T* data() const {
    check_access(sizeof(T));
    return static_cast<T*>(raw_data());
  }
  // Reads element i (flat, row-major over this view's shape) converted to float; slow, for tests.
  float item_f32(int64_t flat_index) const;
  std::vector<float> to_vector() const;  // all elements as float, row-major

  // ---- views ----
  Tensor view(const Shape& shape) const;     // contiguous only; one dim may be -1
  Tensor reshape(const Shape& shape) const;  // view if contiguous, else copy
  Tensor permute(const std::vector<int>& dims) const;
  Tensor transpose(int a, int b) const;
  Tensor slice(int dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int dim, int64_t start, int64_t length) const { return slice(dim, start, start + length); }
  Tensor select(int dim, int64_t index) const;  // removes dim
  Tensor unsqueeze(int dim) const;
  Tensor squeeze(int dim) const;
  Tensor flatten() const { return reshape({numel()}); }

  // ---- copies ----
  Tensor contiguous() const;        // self if already contiguous
  Tensor clone() const;             // always a fresh contiguous copy
  Tensor to(DType dtype) const;     // converted contiguous copy (self if same dtype & contiguous)
  Tensor to(Device device) const;   // copy to another device (needs that backend)
  void copy_from(const Tensor& src);  // same shape; converts dtype; CPU <-> CPU here
  void fill(float value);

 private:
  void check_access(size_t elem_size) const;
  int norm_dim(int d, int n) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::kF32;
};

Shape contiguous_strides(const Shape& shape);

// Cross-device copies are provided by backends (CUDA registers its copy function).
using DeviceCopyFn = void (*)(const Tensor& src, Tensor& dst);
void register_device_copy(DeviceCopyFn fn);

}  // namespace wan22
