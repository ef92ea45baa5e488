// Pillow's two-pass resampling (libImaging/Resample.c semantics), re-implemented.
#include "media/resample.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"

namespace wan22::media {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // fixed-point fraction bits, as Pillow

struct Filter {
  double (*fn)(double);
  double support;
};

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return std::sin(x) / x;
}

double lanczos3(double x) {
  if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
  return 0.0;
}

double bilinear(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

Filter filter_of(ResampleFilter f) {
  switch (f) {
    case ResampleFilter::kBilinear: return {bilinear, 1.0};
    case ResampleFilter::kBicubic: return {bicubic, 2.0};
    case ResampleFilter::kLanczos: break;
  }
  return {lanczos3, 3.0};
}

// Per output pixel: first input index, number of taps, and ksize fixed-point weights.
struct Coeffs {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;  // out_size * ksize
};

Coeffs precompute_coeffs(int in_size, float in0, float in1, int out_size, const Filter& filter) {
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);  // truncation, as Pillow
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    int32_t* out = &c.weights[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      const double scaled = w * (1 << kPrecisionBits);
      out[x] = static_cast<int32_t>(w < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  if (v < 0) return 0;
  const int32_t s = v >> kPrecisionBits;
  return s > 255 ? 255 : static_cast<uint8_t>(s);
}

// out rows [0, out.height) from in rows [row_offset, row_offset + out.height).
void resample_horizontal(const Image& in, int row_offset, const Coeffs& c, Image& out) {
  const int64_t grain = std::max<int64_t>(1, 65536 / (static_cast<int64_t>(out.width) * c.ksize + 1));
  parallel_for(0, out.height, grain, [&](int64_t y0, int64_t y1) {
    for (int64_t yy = y0; yy < y1; ++yy) {
      const uint8_t* src = in.row(static_cast<int>(yy) + row_offset);
      uint8_t* dst = out.row(static_cast<int>(yy));
      for (int xx = 0; xx < out.width; ++xx) {
        const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
        const uint8_t* p = src + static_cast<size_t>(c.first[xx]) * 3;
        int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        for (int x = 0; x < c.count[xx]; ++x) {
          s0 += p[3 * x + 0] * k[x];
          s1 += p[3 * x + 1] * k[x];
          s2 += p[3 * x + 2] * k[x];
        }
        dst[3 * xx + 0] = clip8(s0);
        dst[3 * xx + 1] = clip8(s1);
        dst[3 * xx + 2] = clip8(s2);
      }
    }
  });
}

// out row yy from in rows [first[yy] - row_offset, ... + count[yy]).
void resample_vertical(const Image& in, int row_offset, const Coeffs& c, Image& out) {
  const int64_t grain = std::max<int64_t>(1, 65536 / (static_cast<int64_t>(out.width) * c.ksize + 1));
  const size_t stride = in.stride();
  parallel_for(0, out.height, grain, [&](int64_t y0, int64_t y1) {
    std::vector<int32_t> acc(stride);
    for (int64_t yy = y0; yy < y1; ++yy) {
      const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
      const int ymin = c.first[yy] - row_offset;
      std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
      for (int y = 0; y < c.count[yy]; ++y) {
        const uint8_t* src = in.row(ymin + y);
        const int32_t w = k[y];
        for (size_t i = 0; i < stride; ++i) acc[i] += src[i] * w;
      }
      uint8_t* dst = out.row(static_cast<int>(yy));
      for (size_t i = 0; i < stride; ++i) dst[i] = clip8(acc[i]);
    }
  });
}

}  // namespace

Image resize_image(const Image& in, int out_width, int out_height, ResampleFilter filter_kind) {
  if (in.empty() || in.data.size() != in.stride() * in.height) {
    throw_error(ErrorCode::kInvalidArgument, "resize: invalid input image " +
                                                 std::to_string(in.width) + "x" +
                                                 std::to_string(in.height));
  }
  if (out_width <= 0 || out_height <= 0) {
    throw_error(ErrorCode::kInvalidArgument, "resize: invalid output size " +
                                                 std::to_string(out_width) + "x" +
                                                 std::to_string(out_height));
  }
  const Filter filter = filter_of(filter_kind);
  const bool need_h = out_width != in.width;
  const bool need_v = out_height != in.height;
  if (!need_h && !need_v) return in;

  const Coeffs ch = precompute_coeffs(in.width, 0.0f, static_cast<float>(in.width), out_width, filter);
  const Coeffs cv = precompute_coeffs(in.height, 0.0f, static_cast<float>(in.height), out_height, filter);
  // Rows of the source that the vertical pass reads.
  const int ybox_first = cv.first.front();
  const int ybox_last = cv.first.back() + cv.count.back();

  if (!need_v) {
    Image out = Image::create(out_width, in.height);
    resample_horizontal(in, 0, ch, out);
    return out;
  }
  if (!need_h) {
    Image out = Image::create(in.width, out_height);
    resample_vertical(in, 0, cv, out);
    return out;
  }
  Image temp = Image::create(out_width, ybox_last - ybox_first);
  resample_horizontal(in, ybox_first, ch, temp);
  Image out = Image::create(out_width, out_height);
  resample_vertical(temp, ybox_first, cv, out);
  return out;
}

}  // namespace wan22::media
