// Image reading: PNG / JPEG / WebP written with the libraries themselves, read back through
// wan22::media, plus every kind of bad input.
#include <gtest/gtest.h>

#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <png.h>
#include <jpeglib.h>
#include <webp/encode.h>

#include "core/status.h"
#include "media/image.h"
#include "test_util.h"

using namespace wan22;
using namespace wan22::media;

namespace {

// ---------------------------------------------------------------- writers used by the tests

struct PngSpec {
  PngSpec(int w, int h) : width(w), height(h) {}
  int width = 0, height = 0;
  int bit_depth = 8;
  int color_type = PNG_COLOR_TYPE_RGB;
  bool interlace = false;
  std::vector<uint8_t> rows;  // packed rows as libpng expects them (big-endian 16-bit)
  std::vector<png_color> palette;
  std::vector<uint8_t> trns;  // palette alpha
};

void png_append(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void png_noflush(png_structp) {}

// Plain libpng writer (tests only; errors abort the test through the default handler).
std::vector<uint8_t> make_png(const PngSpec& s) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, png_append, png_noflush);
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
               s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) png_set_PLTE(png, info, s.palette.data(), static_cast<int>(s.palette.size()));
  if (!s.trns.empty()) png_set_tRNS(png, info, s.trns.data(), static_cast<int>(s.trns.size()), nullptr);
  png_write_info(png, info);
  const size_t rowbytes = s.rows.size() / s.height;
  std::vector<png_bytep> rows(s.height);
  for (int y = 0; y < s.height; ++y) rows[y] = const_cast<png_bytep>(s.rows.data() + y * rowbytes);
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

// JPEG through libjpeg: components 3 (RGB), 1 (gray) or 4 (CMYK as given, Adobe marker on).
std::vector<uint8_t> make_jpeg(int w, int h, int components, const std::vector<uint8_t>& pixels,
                               int quality = 95) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* mem = nullptr;
  unsigned long mem_size = 0;
  jpeg_mem_dest(&c, &mem, &mem_size);
  c.image_width = w;
  c.image_height = h;
  c.input_components = components;
  c.in_color_space = components == 3 ? JCS_RGB : (components == 1 ? JCS_GRAYSCALE : JCS_CMYK);
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + c.next_scanline * w * components);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(mem, mem + mem_size);
  jpeg_destroy_compress(&c);
  free(mem);
  return out;
}

std::vector<uint8_t> make_webp_lossless(int w, int h, const std::vector<uint8_t>& px, bool alpha) {
  uint8_t* out = nullptr;
  size_t n = alpha ? WebPEncodeLosslessRGBA(px.data(), w, h, w * 4, &out)
                   : WebPEncodeLosslessRGB(px.data(), w, h, w * 3, &out);
  std::vector<uint8_t> v(out, out + n);
  WebPFree(out);
  return v;
}

std::vector<uint8_t> make_webp_lossy(int w, int h, const std::vector<uint8_t>& px) {
  uint8_t* out = nullptr;
  size_t n = WebPEncodeRGB(px.data(), w, h, w * 3, 95.0f, &out);
  std::vector<uint8_t> v(out, out + n);
  WebPFree(out);
  return v;
}

std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string path = test::temp_dir() + "/" + name;
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// A deterministic, non-constant RGB test pattern.
std::vector<uint8_t> pattern_rgb(int w, int h) {
  std::vector<uint8_t> v(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) v[(y * w + x) * 3 + c] = static_cast<uint8_t>((x * 37 + y * 11 + c * 85 + x * y) & 255);
  return v;
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// Rewrites the IHDR width of a PNG (and fixes its CRC) so libpng sees exactly that header.
std::vector<uint8_t> png_with_width(std::vector<uint8_t> png, uint32_t width) {
  // signature(8) + length(4) + "IHDR"(4) + width(4) ...; CRC covers type + 13 data bytes
  png[16] = width >> 24; png[17] = width >> 16; png[18] = width >> 8; png[19] = width;
  uint32_t crc = crc32(png.data() + 12, 17);
  png[29] = crc >> 24; png[30] = crc >> 16; png[31] = crc >> 8; png[32] = crc;
  return png;
}

ErrorCode error_code_of(const std::string& path, std::string* message = nullptr,
                        const ImageReadOptions& opt = {}) {
  try {
    read_image(path, opt);
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return ErrorCode::kOk;
}

}  // namespace

// ---------------------------------------------------------------- PNG

TEST(MediaImage, PngRgb8RoundTripExact) {
  const int w = 23, h = 17;
  PngSpec s{w, h};
  s.rows = pattern_rgb(w, h);
  Image img = read_image(write_file("rgb.png", make_png(s)));
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  EXPECT_EQ(img.data, s.rows);
}

TEST(MediaImage, PngInterlacedExact) {
  const int w = 19, h = 13;
  PngSpec s{w, h};
  s.interlace = true;
  s.rows = pattern_rgb(w, h);
  Image img = read_image(write_file("adam7.png", make_png(s)));
  EXPECT_EQ(img.data, s.rows);
}

TEST(MediaImage, Png16BitKeepsHighByte) {
  const int w = 5, h = 3;
  PngSpec s{w, h};
  s.bit_depth = 16;
  std::vector<uint8_t> expect;
  for (int i = 0; i < w * h * 3; ++i) {
    const uint16_t v = static_cast<uint16_t>(i * 4099 + 77);
    s.rows.push_back(v >> 8);
    s.rows.push_back(v & 255);
    expect.push_back(v >> 8);  // PIL's RGB;16B unpacker keeps the high byte
  }
  Image img = read_image(write_file("rgb16.png", make_png(s)));
  EXPECT_EQ(img.data, expect);
}

TEST(MediaImage, PngGray1BitAnd8BitExpandToRgb) {
  PngSpec s{8, 2};
  s.bit_depth = 1;
  s.color_type = PNG_COLOR_TYPE_GRAY;
  s.rows = {0b10110000, 0b00001111};
  Image img = read_image(write_file("gray1.png", make_png(s)));
  const int bits[16] = {1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
  for (int i = 0; i < 16; ++i) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(img.data[i * 3 + c], bits[i] ? 255 : 0) << i;
  }
  PngSpec g{3, 1};
  g.color_type = PNG_COLOR_TYPE_GRAY;
  g.rows = {7, 128, 250};
  Image img8 = read_image(write_file("gray8.png", make_png(g)));
  EXPECT_EQ(img8.data, (std::vector<uint8_t>{7, 7, 7, 128, 128, 128, 250, 250, 250}));
}

TEST(MediaImage, PngPaletteWithTransparency) {
  PngSpec s{3, 1};
  s.bit_depth = 8;
  s.color_type = PNG_COLOR_TYPE_PALETTE;
  s.palette = {{10, 20, 30}, {200, 100, 50}, {0, 0, 0}};
  s.trns = {255, 0, 128};  // entry 1 fully transparent, entry 2 half
  s.rows = {1, 0, 2};
  const std::string path = write_file("pal.png", make_png(s));
  // Default: alpha dropped (PIL convert("RGB")): the palette colours as stored.
  Image drop = read_image(path);
  EXPECT_EQ(drop.data, (std::vector<uint8_t>{200, 100, 50, 10, 20, 30, 0, 0, 0}));
  ImageReadOptions white;
  white.alpha = AlphaMode::kCompositeWhite;
  Image comp = read_image(path, white);
  // alpha 0 -> white; alpha 255 -> colour; black at alpha 128 -> 255*127/255 = 127
  EXPECT_EQ(comp.data, (std::vector<uint8_t>{255, 255, 255, 10, 20, 30, 127, 127, 127}));
}

TEST(MediaImage, PngRgbaDropOrComposite) {
  PngSpec s{2, 1};
  s.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  s.rows = {100, 150, 200, 0, 40, 80, 120, 255};
  const std::string path = write_file("rgba.png", make_png(s));
  EXPECT_EQ(read_image(path).data, (std::vector<uint8_t>{100, 150, 200, 40, 80, 120}));
  ImageReadOptions white;
  white.alpha = AlphaMode::kCompositeWhite;
  EXPECT_EQ(read_image(path, white).data, (std::vector<uint8_t>{255, 255, 255, 40, 80, 120}));
}

TEST(MediaImage, PngGrayAlpha16) {
  PngSpec s{1, 1};
  s.bit_depth = 16;
  s.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  s.rows = {0x80, 0x11, 0x00, 0x00};  // gray 0x8011, alpha 0
  const std::string path = write_file("ga16.png", make_png(s));
  EXPECT_EQ(read_image(path).data, (std::vector<uint8_t>{0x80, 0x80, 0x80}));
  ImageReadOptions white;
  white.alpha = AlphaMode::kCompositeWhite;
  EXPECT_EQ(read_image(path, white).data, (std::vector<uint8_t>{255, 255, 255}));
}

TEST(MediaImage, SniffsContentNotExtension) {
  PngSpec s{4, 4};
  s.rows = pattern_rgb(4, 4);
  Image a = read_image(write_file("actually_png.jpg", make_png(s)));
  EXPECT_EQ(a.data, s.rows);
  auto jpg = make_jpeg(8, 8, 3, pattern_rgb(8, 8));
  Image b = read_image(write_file("actually_jpeg.webp", jpg));
  EXPECT_EQ(b.width, 8);
  const auto rgb = pattern_rgb(4, 4);
  auto webp = make_webp_lossless(4, 4, rgb, false);
  Image c = read_image(write_file("actually_webp.png", webp));
  EXPECT_EQ(c.data, rgb);
  EXPECT_EQ(sniff_image_format(webp.data(), webp.size()), ImageFormat::kWebp);
  EXPECT_EQ(sniff_image_format(jpg.data(), jpg.size()), ImageFormat::kJpeg);
}

// ---------------------------------------------------------------- JPEG

TEST(MediaImage, JpegRgbWithinTolerance) {
  const int w = 32, h = 24;
  std::vector<uint8_t> px(w * h * 3);
  for (int y = 0; y < h; ++y)  // smooth content so quality-95 JPEG stays close
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) px[(y * w + x) * 3 + c] = static_cast<uint8_t>(20 + x * 3 + y * 2 + c * 30);
  Image img = read_image(write_file("rgb.jpg", make_jpeg(w, h, 3, px)));
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  int max_diff = 0;
  for (size_t i = 0; i < px.size(); ++i) max_diff = std::max(max_diff, std::abs(img.data[i] - px[i]));
  std::cout << "JPEG q95 max abs diff: " << max_diff << "\n";
  EXPECT_LE(max_diff, 8);
}

TEST(MediaImage, JpegGrayBecomesRgb) {
  std::vector<uint8_t> px(16 * 16, 90);
  Image img = read_image(write_file("gray.jpg", make_jpeg(16, 16, 1, px)));
  for (size_t i = 0; i < img.data.size(); ++i) ASSERT_NEAR(img.data[i], 90, 2);
}

TEST(MediaImage, JpegCmykAdobeInverted) {
  // libjpeg writes an Adobe marker for CMYK, so readers (PIL, us) treat the values as inverted.
  const int C = 30, M = 120, Y = 200, K = 60;  // true ink amounts
  std::vector<uint8_t> px;
  for (int i = 0; i < 16 * 16; ++i) {
    px.push_back(255 - C); px.push_back(255 - M); px.push_back(255 - Y); px.push_back(255 - K);
  }
  Image img = read_image(write_file("cmyk.jpg", make_jpeg(16, 16, 4, px)));
  const int expect[3] = {(255 - C) * (255 - K) / 255, (255 - M) * (255 - K) / 255,
                         (255 - Y) * (255 - K) / 255};
  for (int i = 0; i < 16 * 16; ++i) {
    for (int c = 0; c < 3; ++c) ASSERT_NEAR(img.data[i * 3 + c], expect[c], 3) << "pixel " << i;
  }
}

// ---------------------------------------------------------------- WebP

TEST(MediaImage, WebpLosslessExact) {
  const int w = 21, h = 11;
  auto rgb = pattern_rgb(w, h);
  Image img = read_image(write_file("l.webp", make_webp_lossless(w, h, rgb, false)));
  ASSERT_EQ(img.width, w);
  EXPECT_EQ(img.data, rgb);
}

TEST(MediaImage, WebpLosslessAlpha) {
  std::vector<uint8_t> rgba = {10, 20, 30, 255, 100, 110, 120, 0};
  const std::string path = write_file("la.webp", make_webp_lossless(2, 1, rgba, true));
  ImageReadOptions white;
  white.alpha = AlphaMode::kCompositeWhite;
  EXPECT_EQ(read_image(path, white).data, (std::vector<uint8_t>{10, 20, 30, 255, 255, 255}));
  Image dropped = read_image(path);
  EXPECT_EQ(dropped.data[0], 10);
  EXPECT_EQ(dropped.data[2], 30);
}

TEST(MediaImage, WebpLossyWithinTolerance) {
  std::vector<uint8_t> px(16 * 16 * 3);
  for (size_t i = 0; i < px.size(); i += 3) { px[i] = 200; px[i + 1] = 60; px[i + 2] = 90; }
  Image img = read_image(write_file("lossy.webp", make_webp_lossy(16, 16, px)));
  for (size_t i = 0; i < px.size(); ++i) ASSERT_NEAR(img.data[i], px[i], 6) << i;
}

// ---------------------------------------------------------------- bad input

TEST(MediaImage, MissingFileIsNotFound) {
  std::string msg;
  EXPECT_EQ(error_code_of("/nonexistent/dir/none.png", &msg), ErrorCode::kNotFound);
  EXPECT_NE(msg.find("/nonexistent/dir/none.png"), std::string::npos) << msg;
}

TEST(MediaImage, EmptyAndUnknownFilesAreInvalid) {
  std::string msg;
  const std::string empty = write_file("empty.png", {});
  EXPECT_EQ(error_code_of(empty, &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find(empty), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;

  const std::string text = write_file("text.png", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!'});
  EXPECT_EQ(error_code_of(text, &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("not a PNG, JPEG or WebP"), std::string::npos) << msg;

  const std::string gif = write_file("x.gif", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0});
  EXPECT_EQ(error_code_of(gif, &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("GIF"), std::string::npos) << msg;
}

TEST(MediaImage, TruncatedFilesAreCorrupt) {
  PngSpec s{40, 30};
  s.rows = pattern_rgb(40, 30);
  auto png = make_png(s);
  auto jpg = make_jpeg(40, 30, 3, pattern_rgb(40, 30));
  auto webp = make_webp_lossless(40, 30, pattern_rgb(40, 30), false);
  for (size_t keep : {size_t{8}, size_t{20}, size_t{40}}) {  // inside the headers
    std::vector<uint8_t> p(png.begin(), png.begin() + keep);
    EXPECT_EQ(error_code_of(write_file("tp.png", p)), ErrorCode::kCorruptData) << keep;
  }
  for (const auto* bytes : {&png, &jpg, &webp}) {
    std::vector<uint8_t> half(bytes->begin(), bytes->begin() + bytes->size() / 2);
    std::string msg;
    const std::string path = write_file("half.img", half);
    EXPECT_EQ(error_code_of(path, &msg), ErrorCode::kCorruptData) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
  // JPEG missing its last 40 bytes (end of the scan data and the EOI marker).
  std::vector<uint8_t> jpg_short(jpg.begin(), jpg.end() - 40);
  EXPECT_EQ(error_code_of(write_file("short.jpg", jpg_short)), ErrorCode::kCorruptData);
}

TEST(MediaImage, CorruptPngCrcIsCorrupt) {
  PngSpec s{40, 30};
  s.rows = pattern_rgb(40, 30);
  auto png = make_png(s);
  png[png.size() / 2] ^= 0x5A;  // inside IDAT: CRC mismatch
  std::string msg;
  EXPECT_EQ(error_code_of(write_file("crc.png", png), &msg), ErrorCode::kCorruptData);
  EXPECT_NE(msg.find("PNG"), std::string::npos) << msg;
}

TEST(MediaImage, ZeroWidthHeaderIsCorrupt) {
  PngSpec s{4, 4};
  s.rows = pattern_rgb(4, 4);
  auto png = png_with_width(make_png(s), 0);
  EXPECT_EQ(error_code_of(write_file("zero.png", png)), ErrorCode::kCorruptData);
}

TEST(MediaImage, HugeDimensionsAreRefused) {
  // A real 20000x1 PNG (small file, over the 16384 cap).
  PngSpec s{20000, 1};
  s.color_type = PNG_COLOR_TYPE_GRAY;
  s.rows.assign(20000, 3);
  std::string msg;
  EXPECT_EQ(error_code_of(write_file("wide.png", make_png(s)), &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("20000x1"), std::string::npos) << msg;
  // A header claiming 2^31-1 pixels wide: refused before any allocation.
  PngSpec t{4, 4};
  t.rows = pattern_rgb(4, 4);
  EXPECT_EQ(error_code_of(write_file("claims_huge.png", png_with_width(make_png(t), 0x7FFFFFFF))),
            ErrorCode::kInvalidArgument);
  // The cap applies to JPEG and WebP too.
  ImageReadOptions small;
  small.max_dimension = 8;
  EXPECT_EQ(error_code_of(write_file("j.jpg", make_jpeg(16, 4, 3, pattern_rgb(16, 4))), nullptr, small),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of(write_file("w.webp", make_webp_lossless(4, 16, pattern_rgb(4, 16), false)),
                          nullptr, small),
            ErrorCode::kInvalidArgument);
}

TEST(MediaImage, GarbageAfterMagicIsCorrupt) {
  std::vector<uint8_t> junk = {0xFF, 0xD8, 0xFF, 0x00, 0x13, 0x37, 0x00, 0x00};
  EXPECT_EQ(error_code_of(write_file("junk.jpg", junk)), ErrorCode::kCorruptData);
  std::vector<uint8_t> riff = {'R', 'I', 'F', 'F', 20, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 0, 0, 0, 0};
  EXPECT_EQ(error_code_of(write_file("junk.webp", riff)), ErrorCode::kCorruptData);
}

TEST(MediaImage, PngWriterRoundTripWithText) {
  Image img = Image::create(7, 5);
  auto px = pattern_rgb(7, 5);
  img.data = px;
  const std::string path = test::temp_dir() + "/w.png";
  write_png(path, img, {{"Title", "a cat"}, {"Comment", "seed 42 — ünïcode"}});
  EXPECT_EQ(read_image(path).data, px);
}
