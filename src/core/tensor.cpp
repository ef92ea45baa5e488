#include "core/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "core/thread_pool.h"

namespace wan22 {

namespace {
DeviceCopyFn g_device_copy = nullptr;

// Calls f(src_offset, dst_index) over every element of a strided view, row-major.
template <class F>
void for_each_index(const Shape& shape, const Shape& strides, int64_t offset, F&& f) {
  const int n = static_cast<int>(shape.size());
  int64_t total = shape_numel(shape);
  if (total == 0) return;
  std::vector<int64_t> idx(n, 0);
  int64_t off = offset;
  for (int64_t i = 0; i < total; ++i) {
    f(off, i);
    for (int d = n - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}
}  // namespace

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw Error(ErrorCode::kInvalidArgument, "negative dimension in shape " + shape_str(s));
    if (d != 0 && n > INT64_MAX / d) {
      throw Error(ErrorCode::kInvalidArgument, "shape " + shape_str(s) + " overflows int64");
    }
    n *= d;
  }
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

void register_device_copy(DeviceCopyFn fn) { g_device_copy = fn; }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  int64_t n = shape_numel(shape);
  size_t es = dtype_size(dtype);
  if (n > 0 && static_cast<uint64_t>(n) > SIZE_MAX / es) {
    throw Error(ErrorCode::kInvalidArgument, "tensor " + shape_str(shape) + " too large");
  }
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(n) * es, allocator_for(device));
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.is_cpu()) {
    std::memset(t.raw_data(), 0, t.nbytes());
  } else {
    t.fill(0.0f);
  }
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& shape) {
  WAN22_CHECK(static_cast<int64_t>(v.size()) == shape_numel(shape),
              "from_vector: " + std::to_string(v.size()) + " values for shape " + shape_str(shape));
  Tensor t = empty(shape, DType::kF32);
  if (!v.empty()) std::memcpy(t.raw_data(), v.data(), v.size() * 4);
  return t;
}

Tensor Tensor::from_blob(void* data, const Shape& shape, DType dtype, Device device,
                         std::shared_ptr<void> keep_alive) {
  Tensor t;
  size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  t.storage_ = std::make_shared<Storage>(data, bytes, device, std::move(keep_alive));
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

int Tensor::norm_dim(int d, int n) const {
  int r = d < 0 ? d + n : d;
  if (r < 0 || r >= n) {
    throw Error(ErrorCode::kInvalidArgument,
                "dimension " + std::to_string(d) + " out of range for " + str());
  }
  return r;
}

int64_t Tensor::dim(int i) const { return shape_[norm_dim(i, ndim())]; }
int64_t Tensor::numel() const { return shape_numel(shape_); }

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "<undefined tensor>";
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + " " + device().str();
}

void* Tensor::raw_data() const {
  if (!storage_) throw Error(ErrorCode::kInvalidArgument, "access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

void Tensor::check_access(size_t elem_size) const {
  if (!storage_) throw Error(ErrorCode::kInvalidArgument, "access to an undefined tensor");
  if (elem_size != dtype_size(dtype_)) {
    throw Error(ErrorCode::kInvalidArgument,
                "data<T>() element size " + std::to_string(elem_size) + " does not match " + str());
  }
}

float Tensor::item_f32(int64_t flat_index) const {
  WAN22_CHECK(device().is_cpu(), "item_f32 needs a CPU tensor");
  int64_t n = numel();
  WAN22_CHECK(flat_index >= 0 && flat_index < n, "item_f32: index out of range");
  int64_t off = 0, rem = flat_index;
  for (int d = ndim() - 1; d >= 0; --d) {
    off += (rem % shape_[d]) * strides_[d];
    rem /= shape_[d];
  }
  float v;
  const char* base = static_cast<const char*>(raw_data());
  convert_to_f32(base + off * static_cast<int64_t>(dtype_size(dtype_)), dtype_, &v, 1);
  return v;
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = to(DType::kF32);
  if (!c.device().is_cpu()) c = c.to(Device::cpu());
  std::vector<float> v(static_cast<size_t>(c.numel()));
  if (!v.empty()) std::memcpy(v.data(), c.raw_data(), v.size() * 4);
  return v;
}

Tensor Tensor::view(const Shape& shape) const {
  if (!is_contiguous()) {
    throw Error(ErrorCode::kInvalidArgument, "view of a non-contiguous tensor " + str());
  }
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw Error(ErrorCode::kInvalidArgument, "view: more than one -1");
      infer = static_cast<int>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel() % known != 0) {
      throw Error(ErrorCode::kInvalidArgument, "view: cannot infer " + shape_str(shape) + " from " + str());
    }
    s[infer] = numel() / known;
  }
  if (shape_numel(s) != numel()) {
    throw Error(ErrorCode::kInvalidArgument, "view: " + shape_str(shape) + " does not fit " + str());
  }
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const { return contiguous().view(shape); }

Tensor Tensor::permute(const std::vector<int>& dims) const {
  WAN22_CHECK(static_cast<int>(dims.size()) == ndim(), "permute: wrong number of dims for " + str());
  std::vector<bool> seen(ndim(), false);
  Tensor t = *this;
  for (int i = 0; i < ndim(); ++i) {
    int d = norm_dim(dims[i], ndim());
    WAN22_CHECK(!seen[d], "permute: repeated dim");
    seen[d] = true;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
  }
  return t;
}

Tensor Tensor::transpose(int a, int b) const {
  std::vector<int> p(ndim());
  for (int i = 0; i < ndim(); ++i) p[i] = i;
  std::swap(p[norm_dim(a, ndim())], p[norm_dim(b, ndim())]);
  return permute(p);
}

Tensor Tensor::slice(int d, int64_t start, int64_t end, int64_t step) const {
  d = norm_dim(d, ndim());
  WAN22_CHECK(step > 0, "slice: step must be positive");
  int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Tensor t = *this;
  t.offset_ += start * strides_[d];
  t.shape_[d] = (end - start + step - 1) / step;
  t.strides_[d] = strides_[d] * step;
  return t;
}

Tensor Tensor::select(int d, int64_t index) const {
  d = norm_dim(d, ndim());
  if (index < 0) index += shape_[d];
  WAN22_CHECK(index >= 0 && index < shape_[d], "select: index out of range for " + str());
  Tensor t = *this;
  t.offset_ += index * strides_[d];
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::unsqueeze(int d) const {
  d = norm_dim(d, ndim() + 1);
  Tensor t = *this;
  int64_t st = d < ndim() ? strides_[d] * shape_[d] : 1;
  t.shape_.insert(t.shape_.begin() + d, 1);
  t.strides_.insert(t.strides_.begin() + d, st);
  return t;
}

Tensor Tensor::squeeze(int d) const {
  d = norm_dim(d, ndim());
  WAN22_CHECK(shape_[d] == 1, "squeeze: dim is not 1 in " + str());
  Tensor t = *this;
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_ && is_contiguous()) return *this;
  Tensor t = empty(shape_, dtype, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  WAN22_CHECK(src.shape_ == shape_, "copy_from: shape " + src.str() + " into " + str());
  if (!device().is_cpu() || !src.device().is_cpu()) {
    if (!g_device_copy) throw Error(ErrorCode::kUnsupported, "no device copy registered for " + src.str() + " -> " + str());
    g_device_copy(src, *this);
    return;
  }
  const int64_t n = numel();
  if (n == 0) return;
  const size_t ses = dtype_size(src.dtype_), des = dtype_size(dtype_);
  const char* sbase = static_cast<const char*>(src.storage_->data());
  char* dbase = static_cast<char*>(storage_->data());
  if (src.is_contiguous() && is_contiguous()) {
    const char* s = sbase + src.offset_ * ses;
    char* d = dbase + offset_ * des;
    if (src.dtype_ == dtype_) {
      std::memcpy(d, s, static_cast<size_t>(n) * des);
      return;
    }
    parallel_for(0, n, 1 << 16, [&](int64_t b, int64_t e) {
      std::vector<float> buf(static_cast<size_t>(e - b));
      convert_to_f32(s + b * ses, src.dtype_, buf.data(), buf.size());
      convert_from_f32(buf.data(), d + b * des, dtype_, buf.size());
    });
    return;
  }
  // General strided path: gather source elements in row-major order.
  Tensor dst_view = *this;
  if (src.dtype_ == dtype_) {
    std::vector<int64_t> soffs;
    soffs.reserve(static_cast<size_t>(n));
    for_each_index(src.shape_, src.strides_, src.offset_, [&](int64_t off, int64_t) { soffs.push_back(off); });
    size_t i = 0;
    for_each_index(shape_, strides_, offset_, [&](int64_t off, int64_t) {
      std::memcpy(dbase + off * des, sbase + soffs[i++] * ses, des);
    });
    return;
  }
  std::vector<float> vals(static_cast<size_t>(n));
  for_each_index(src.shape_, src.strides_, src.offset_, [&](int64_t off, int64_t i) {
    convert_to_f32(sbase + off * ses, src.dtype_, &vals[static_cast<size_t>(i)], 1);
  });
  for_each_index(shape_, strides_, offset_, [&](int64_t off, int64_t i) {
    convert_from_f32(&vals[static_cast<size_t>(i)], dbase + off * des, dtype_, 1);
  });
}

void Tensor::fill(float value) {
  WAN22_CHECK(device().is_cpu(), "fill: CPU tensors only here; device tensors fill through their backend");
  std::vector<char> one(dtype_size(dtype_));
  convert_from_f32(&value, one.data(), dtype_, 1);
  const size_t es = dtype_size(dtype_);
  char* base = static_cast<char*>(storage_->data());
  for_each_index(shape_, strides_, offset_, [&](int64_t off, int64_t) {
    std::memcpy(base + off * es, one.data(), es);
  });
}

}  // namespace wan22
