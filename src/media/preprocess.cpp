// Image-to-video pre-processing and video-tensor post-processing, as the official code.
#include "media/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/status.h"
#include "core/thread_pool.h"
#include "media/resample.h"

namespace wan22::media {
namespace {

// Python's float floor division a // b (CPython float_floor_div / _float_div_mod).
double py_floordiv(double vx, double wx) {
  if (wx == 0.0) throw_error(ErrorCode::kInvalidArgument, "best_output_size: division by zero");
  double mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0.0) {
    if ((wx < 0) != (mod < 0)) div -= 1.0;
  }
  if (div != 0.0) {
    double floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
    return floordiv;
  }
  return std::copysign(0.0, vx / wx);
}

// Python int(x) for a finite float: truncation toward zero.
int64_t py_int(double x) {
  if (!std::isfinite(x) || std::fabs(x) > 9.0e18) {
    throw_error(ErrorCode::kInvalidArgument, "best_output_size: value out of range");
  }
  return static_cast<int64_t>(x);
}

// Python a // b for integers (floor division).
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

OutputSize best_output_size(int64_t w, int64_t h, int64_t dw, int64_t dh, int64_t expected_area) {
  if (w <= 0 || h <= 0 || dw <= 0 || dh <= 0 || expected_area <= 0) {
    throw_error(ErrorCode::kInvalidArgument,
                "best_output_size: need positive sizes, got image " + std::to_string(w) + "x" +
                    std::to_string(h) + ", stride " + std::to_string(dw) + "x" +
                    std::to_string(dh) + ", area " + std::to_string(expected_area));
  }
  const double area = static_cast<double>(expected_area);
  const double ratio = static_cast<double>(w) / static_cast<double>(h);
  const double ow = std::pow(area * ratio, 0.5);
  const double oh = area / ow;
  const std::string too_small = "best_output_size: the area " + std::to_string(expected_area) +
                                " is too small for a " + std::to_string(dw) + "x" +
                                std::to_string(dh) + " grid at aspect ratio " + std::to_string(w) +
                                ":" + std::to_string(h);

  // width first
  const int64_t ow1 = py_int(py_floordiv(ow, static_cast<double>(dw)) * static_cast<double>(dw));
  if (ow1 == 0) throw_error(ErrorCode::kInvalidArgument, too_small);
  const int64_t oh1 = py_int(py_floordiv(area / static_cast<double>(ow1), static_cast<double>(dh)) *
                             static_cast<double>(dh));
  if (oh1 == 0) throw_error(ErrorCode::kInvalidArgument, too_small);
  const double ratio1 = static_cast<double>(ow1) / static_cast<double>(oh1);

  // height first
  const int64_t oh2 = py_int(py_floordiv(oh, static_cast<double>(dh)) * static_cast<double>(dh));
  if (oh2 == 0) throw_error(ErrorCode::kInvalidArgument, too_small);
  const int64_t ow2 = py_int(py_floordiv(area / static_cast<double>(oh2), static_cast<double>(dw)) *
                             static_cast<double>(dw));
  if (ow2 == 0) throw_error(ErrorCode::kInvalidArgument, too_small);
  const double ratio2 = static_cast<double>(ow2) / static_cast<double>(oh2);

  if (ow1 * oh1 > expected_area || ow2 * oh2 > expected_area || ow1 > INT32_MAX || oh1 > INT32_MAX ||
      ow2 > INT32_MAX || oh2 > INT32_MAX) {
    throw_error(ErrorCode::kInvalidArgument, "best_output_size: no valid size for area " +
                                                 std::to_string(expected_area));
  }
  if (std::max(ratio / ratio1, ratio1 / ratio) < std::max(ratio / ratio2, ratio2 / ratio)) {
    return {static_cast<int>(ow1), static_cast<int>(oh1)};
  }
  return {static_cast<int>(ow2), static_cast<int>(oh2)};
}

int64_t python_round(double x) {
  double r = std::round(x);  // halves away from zero
  if (std::fabs(x - r) == 0.5) r = 2.0 * std::round(x / 2.0);
  return static_cast<int64_t>(r);
}

Image crop_image(const Image& in, int x, int y, int w, int h) {
  Image out = Image::create(w, h);
  const int x_lo = std::max(x, 0), x_hi = std::min(x + w, in.width);
  if (x_hi <= x_lo) return out;
  for (int yy = 0; yy < h; ++yy) {
    const int sy = y + yy;
    if (sy < 0 || sy >= in.height) continue;
    std::memcpy(out.pixel(x_lo - x, yy), in.pixel(x_lo, sy), static_cast<size_t>(x_hi - x_lo) * 3);
  }
  return out;
}

Image resize_and_center_crop(const Image& in, int ow, int oh) {
  if (in.empty()) throw_error(ErrorCode::kInvalidArgument, "resize_and_center_crop: empty image");
  if (ow <= 0 || oh <= 0) {
    throw_error(ErrorCode::kInvalidArgument, "resize_and_center_crop: invalid target size " +
                                                 std::to_string(ow) + "x" + std::to_string(oh));
  }
  const double iw = in.width, ih = in.height;
  const double scale = std::max(ow / iw, oh / ih);
  const int64_t rw = python_round(iw * scale);
  const int64_t rh = python_round(ih * scale);
  if (rw <= 0 || rh <= 0 || rw > (int64_t{1} << 20) || rh > (int64_t{1} << 20)) {
    throw_error(ErrorCode::kInvalidArgument, "resize_and_center_crop: resize to " +
                                                 std::to_string(rw) + "x" + std::to_string(rh) +
                                                 " is out of range");
  }
  Image resized = resize_image(in, static_cast<int>(rw), static_cast<int>(rh), ResampleFilter::kLanczos);
  const int x1 = static_cast<int>(floor_div(resized.width - ow, 2));
  const int y1 = static_cast<int>(floor_div(resized.height - oh, 2));
  if (x1 == 0 && y1 == 0 && resized.width == ow && resized.height == oh) return resized;
  return crop_image(resized, x1, y1, ow, oh);
}

Tensor image_to_tensor(const Image& img) {
  if (img.empty()) throw_error(ErrorCode::kInvalidArgument, "image_to_tensor: empty image");
  const int64_t w = img.width, h = img.height;
  Tensor t = Tensor::empty({3, 1, h, w}, DType::kF32);
  float* out = t.data<float>();
  const int64_t plane = w * h;
  parallel_for(0, h, std::max<int64_t>(1, 16384 / w), [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const uint8_t* src = img.row(static_cast<int>(y));
      for (int64_t x = 0; x < w; ++x) {
        for (int c = 0; c < 3; ++c) {
          const float v = static_cast<float>(src[3 * x + c]) / 255.0f;
          out[c * plane + y * w + x] = (v - 0.5f) / 0.5f;
        }
      }
    }
  });
  return t;
}

I2VImage preprocess_i2v_image(const Image& img, int dw, int dh, int64_t max_area) {
  if (img.empty()) throw_error(ErrorCode::kInvalidArgument, "preprocess_i2v_image: empty image");
  I2VImage r;
  r.size = best_output_size(img.width, img.height, dw, dh, max_area);
  Image cropped = resize_and_center_crop(img, r.size.width, r.size.height);
  r.tensor = image_to_tensor(cropped);
  return r;
}

std::vector<Image> video_tensor_to_frames(const Tensor& video, PixelRounding rounding) {
  Tensor v = video;
  if (v.ndim() == 5 && v.dim(0) == 1) v = v.squeeze(0);
  if (v.ndim() != 4 || v.dim(0) != 3 || v.dim(1) < 1 || v.dim(2) < 1 || v.dim(3) < 1) {
    throw_error(ErrorCode::kInvalidArgument,
                "video_tensor_to_frames: expected a [3, F, H, W] tensor, got " + v.str());
  }
  if (!v.device().is_cpu()) v = v.to(Device::cpu());
  v = v.to(DType::kF32).contiguous();
  const int64_t frames = v.dim(1), h = v.dim(2), w = v.dim(3);
  if (h > INT32_MAX || w > INT32_MAX) {
    throw_error(ErrorCode::kInvalidArgument, "video_tensor_to_frames: frame too large: " + v.str());
  }
  std::vector<Image> out(static_cast<size_t>(frames));
  for (auto& f : out) f = Image::create(static_cast<int>(w), static_cast<int>(h));
  const float* src = v.data<float>();
  const int64_t plane = h * w;
  const int64_t channel = frames * plane;
  const bool nearest = rounding == PixelRounding::kNearest;
  // Work items are (frame, row) pairs.
  parallel_for(0, frames * h, std::max<int64_t>(1, 16384 / w), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t f = i / h, y = i % h;
      uint8_t* dst = out[f].row(static_cast<int>(y));
      for (int c = 0; c < 3; ++c) {
        const float* s = src + c * channel + f * plane + y * w;
        for (int64_t x = 0; x < w; ++x) {
          float x0 = s[x];
          if (std::isnan(x0)) {
            dst[3 * x + c] = 0;
            continue;
          }
          x0 = std::min(std::max(x0, -1.0f), 1.0f);
          const float u = (x0 - (-1.0f)) / 2.0f * 255.0f;
          dst[3 * x + c] = static_cast<uint8_t>(nearest ? std::lround(u) : static_cast<long>(u));
        }
      }
    }
  });
  return out;
}

Tensor frames_to_video_tensor(const std::vector<Image>& frames) {
  if (frames.empty()) throw_error(ErrorCode::kInvalidArgument, "frames_to_video_tensor: no frames");
  const int64_t w = frames[0].width, h = frames[0].height, n = static_cast<int64_t>(frames.size());
  for (const auto& f : frames) {
    if (f.width != w || f.height != h || f.empty()) {
      throw_error(ErrorCode::kInvalidArgument, "frames_to_video_tensor: frames differ in size");
    }
  }
  Tensor t = Tensor::empty({3, n, h, w}, DType::kF32);
  float* out = t.data<float>();
  const int64_t plane = h * w;
  parallel_for(0, n, 1, [&](int64_t f0, int64_t f1) {
    for (int64_t f = f0; f < f1; ++f) {
      const uint8_t* p = frames[f].data.data();
      for (int64_t i = 0; i < plane; ++i) {
        for (int c = 0; c < 3; ++c) {
          out[(c * n + f) * plane + i] = static_cast<float>(p[3 * i + c]) / 255.0f * 2.0f - 1.0f;
        }
      }
    }
  });
  return t;
}

}  // namespace wan22::media
