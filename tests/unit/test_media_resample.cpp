// Lanczos resampling with Pillow's semantics: invariants, an independent slow implementation of
// Pillow's algorithm, and a few outputs recorded from Pillow 9.4 itself.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/status.h"

#include "media/image.h"
#include "media/resample.h"

using namespace wan22::media;

namespace {

Image pattern(int w, int h) {
  Image img = Image::create(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.pixel(x, y)[c] = static_cast<uint8_t>((x * 37 + y * 11 + c * 85 + x * y) & 255);
  return img;
}

// ---- slow reference: Pillow's Resample.c algorithm written out directly per output pixel ----
double ref_lanczos(double x) {
  auto sinc = [](double v) { return v == 0.0 ? 1.0 : std::sin(v * M_PI) / (v * M_PI); };
  return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0;
}

// Taps of output index `o` when resizing `in_size` -> `out_size`: first input index + weights
// quantised to 22-bit fixed point.
void ref_taps(int in_size, int out_size, int o, int* first, std::vector<int>* w) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double fs = std::max(scale, 1.0);
  const double support = 3.0 * fs;
  const double center = (o + 0.5) * scale;
  const int lo = std::max(0, static_cast<int>(center - support + 0.5));
  const int hi = std::min(in_size, static_cast<int>(center + support + 0.5));
  std::vector<double> k;
  double sum = 0;
  for (int i = lo; i < hi; ++i) {
    k.push_back(ref_lanczos((i - center + 0.5) / fs));
    sum += k.back();
  }
  w->clear();
  for (double v : k) {
    const double n = (sum != 0.0 ? v / sum : v) * (1 << 22);
    w->push_back(static_cast<int>(n < 0 ? n - 0.5 : n + 0.5));
  }
  *first = lo;
}

uint8_t ref_clip(long long acc) {
  if (acc < 0) return 0;
  acc >>= 22;
  return acc > 255 ? 255 : static_cast<uint8_t>(acc);
}

// Horizontal pass value (8-bit) at (ox, iy, c).
uint8_t ref_h(const Image& in, int out_w, int ox, int iy, int c) {
  int first;
  std::vector<int> w;
  ref_taps(in.width, out_w, ox, &first, &w);
  long long acc = 1 << 21;
  for (size_t i = 0; i < w.size(); ++i) acc += static_cast<long long>(in.pixel(first + static_cast<int>(i), iy)[c]) * w[i];
  return ref_clip(acc);
}

uint8_t ref_pixel(const Image& in, int out_w, int out_h, int ox, int oy, int c) {
  int first;
  std::vector<int> w;
  ref_taps(in.height, out_h, oy, &first, &w);
  long long acc = 1 << 21;
  for (size_t i = 0; i < w.size(); ++i) {
    const int iy = first + static_cast<int>(i);
    const uint8_t hv = out_w == in.width ? in.pixel(ox, iy)[c] : ref_h(in, out_w, ox, iy, c);
    acc += static_cast<long long>(hv) * w[i];
  }
  return out_h == in.height ? (out_w == in.width ? in.pixel(ox, oy)[c] : ref_h(in, out_w, ox, oy, c))
                            : ref_clip(acc);
}

}  // namespace

TEST(MediaResample, ConstantImageStaysConstant) {
  Image img = Image::create(57, 41);
  for (size_t i = 0; i < img.data.size(); i += 3) { img.data[i] = 200; img.data[i + 1] = 17; img.data[i + 2] = 128; }
  for (auto [w, h] : {std::pair{20, 13}, std::pair{113, 90}, std::pair{57, 7}, std::pair{1, 1}}) {
    Image out = resize_image(img, w, h);
    ASSERT_EQ(out.width, w);
    ASSERT_EQ(out.height, h);
    for (size_t i = 0; i < out.data.size(); i += 3) {
      ASSERT_EQ(out.data[i], 200) << w << "x" << h;
      ASSERT_EQ(out.data[i + 1], 17);
      ASSERT_EQ(out.data[i + 2], 128);
    }
  }
}

TEST(MediaResample, SmoothRampStaysMonotonic) {
  const int w = 240, h = 6;
  Image img = Image::create(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.pixel(x, y)[c] = static_cast<uint8_t>(x * 255 / (w - 1));
  for (int out_w : {37, 100, 500}) {
    Image out = resize_image(img, out_w, 3);
    for (int y = 0; y < 3; ++y)
      for (int x = 1; x < out_w; ++x) ASSERT_GE(out.pixel(x, y)[0], out.pixel(x - 1, y)[0]) << out_w << " x=" << x;
    EXPECT_LT(out.pixel(0, 0)[0], 10);
    EXPECT_GT(out.pixel(out_w - 1, 0)[0], 245);
  }
}

TEST(MediaResample, MatchesSlowPillowAlgorithm) {
  const Image in = pattern(45, 31);
  for (auto [w, h] : {std::pair{17, 12}, std::pair{90, 70}, std::pair{44, 31}, std::pair{45, 10}, std::pair{8, 50}}) {
    Image out = resize_image(in, w, h);
    int mismatches = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) mismatches += out.pixel(x, y)[c] != ref_pixel(in, w, h, x, y, c);
    EXPECT_EQ(mismatches, 0) << w << "x" << h;
  }
}

TEST(MediaResample, MatchesRecordedPillowOutput) {
  // Pillow 9.4: Image.new RGB 13x9 filled with pattern(), .resize((5, 4), Image.LANCZOS).tobytes()
  const std::vector<uint8_t> expect = {
      34,  131, 171, 148, 177, 58,  140, 59,  161, 59,  173, 151, 181, 113, 70,  59,  169, 168, 182, 137,
      67,  94,  84,  194, 112, 185, 87,  172, 63,  121, 95,  189, 119, 186, 94,  113, 73,  144, 169, 170,
      129, 69,  99,  81,  188, 130, 177, 74,  162, 80,  152, 90,  171, 138, 170, 75,  118, 66,  141, 164};
  EXPECT_EQ(resize_image(pattern(13, 9), 5, 4).data, expect);
  // ... and .resize((29, 20), Image.LANCZOS).getpixel at a few points (upscaling).
  Image up = resize_image(pattern(13, 9), 29, 20);
  auto px = [&](int x, int y) { return std::vector<int>(up.pixel(x, y), up.pixel(x, y) + 3); };
  EXPECT_EQ(px(0, 0), (std::vector<int>{0, 80, 166}));
  EXPECT_EQ(px(7, 3), (std::vector<int>{121, 202, 25}));
  EXPECT_EQ(px(28, 19), (std::vector<int>{124, 208, 10}));
  EXPECT_EQ(px(14, 10), (std::vector<int>{37, 122, 207}));
}

TEST(MediaResample, SameSizeIsIdentityAndBadSizesThrow) {
  const Image in = pattern(9, 7);
  EXPECT_EQ(resize_image(in, 9, 7).data, in.data);
  EXPECT_THROW(resize_image(in, 0, 7), wan22::Error);
  EXPECT_THROW(resize_image(Image{}, 3, 3), wan22::Error);
}
