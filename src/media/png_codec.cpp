// PNG decoding and encoding with libpng. libpng reports errors by longjmp, so every libpng call
// happens inside a C-style function (png_decode_raw / png_encode_raw) whose frame holds no C++
// objects with destructors; the C++ wrappers around them own the memory and throw wan22::Error.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/status.h"
#include "media/atomic_file.h"
#include "media/image.h"
#include "media/image_codecs.h"

namespace wan22::media {
namespace {

// ---------------------------------------------------------------- decoding

struct PngReadJob {
  const uint8_t* data;
  size_t size;
  size_t pos;
  int keep_alpha;  // 1: expand tRNS / keep alpha for compositing; 0: drop alpha
  int max_dim;
  char message[256];
  png_uint_32 width;
  png_uint_32 height;
  int channels;     // 3 (RGB) or 4 (RGBA) after the transforms
  uint8_t* pixels;  // malloc'ed width*height*channels; freed by the caller
  png_bytep* rows;  // malloc'ed; freed by the caller
};

void png_error_cb(png_structp png, png_const_charp msg) {
  auto* job = static_cast<PngReadJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", msg);
  png_longjmp(png, 1);
}

void png_quiet_warning_cb(png_structp, png_const_charp) {}

void png_read_cb(png_structp png, png_bytep out, size_t n) {
  auto* job = static_cast<PngReadJob*>(png_get_io_ptr(png));
  if (job->size - job->pos < n) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(out, job->data + job->pos, n);
  job->pos += n;
}

enum { kPngFailed = 0, kPngOk = 1, kPngTooLarge = 2 };

// C-style on purpose: see the file comment.
int png_decode_raw(PngReadJob* job) {
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, job, png_error_cb, png_quiet_warning_cb);
  if (png == nullptr) {
    std::snprintf(job->message, sizeof(job->message), "cannot create a libpng decoder");
    return kPngFailed;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(job->message, sizeof(job->message), "cannot create a libpng decoder");
    return kPngFailed;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return kPngFailed;
  }
  png_set_read_fn(png, job, png_read_cb);
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);  // our own cap is checked below
  png_read_info(png, info);
  job->width = png_get_image_width(png, info);
  job->height = png_get_image_height(png, info);
  if (job->width > static_cast<png_uint_32>(job->max_dim) ||
      job->height > static_cast<png_uint_32>(job->max_dim)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return kPngTooLarge;
  }
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (job->keep_alpha && png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (bit_depth == 16) png_set_strip_16(png);  // keeps the high byte, like PIL
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_gray_to_rgb(png);
  }
  if (!job->keep_alpha && (color_type & PNG_COLOR_MASK_ALPHA)) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  job->channels = png_get_channels(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if ((job->channels != 3 && job->channels != 4) || png_get_bit_depth(png, info) != 8 ||
      rowbytes != static_cast<size_t>(job->width) * job->channels) {
    png_error(png, "unexpected pixel layout after conversion");
  }
  job->pixels = static_cast<uint8_t*>(std::malloc(rowbytes * job->height));
  job->rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * job->height));
  if (job->pixels == nullptr || job->rows == nullptr) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < job->height; ++y) job->rows[y] = job->pixels + y * rowbytes;
  png_read_image(png, job->rows);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return kPngOk;
}

// ---------------------------------------------------------------- encoding

struct PngWriteJob {
  const Image* image;
  const png_text* text;
  int num_text;
  int level;
  char message[256];
  uint8_t* out;  // malloc'ed output; freed by the caller
  size_t out_size;
  size_t out_cap;
};

void png_write_error_cb(png_structp png, png_const_charp msg) {
  auto* job = static_cast<PngWriteJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", msg);
  png_longjmp(png, 1);
}

void png_write_cb(png_structp png, png_bytep data, size_t n) {
  auto* job = static_cast<PngWriteJob*>(png_get_io_ptr(png));
  if (job->out_cap - job->out_size < n) {
    size_t cap = job->out_cap ? job->out_cap : 4096;
    while (cap - job->out_size < n) cap *= 2;
    auto* grown = static_cast<uint8_t*>(std::realloc(job->out, cap));
    if (grown == nullptr) png_error(png, "out of memory");
    job->out = grown;
    job->out_cap = cap;
  }
  std::memcpy(job->out + job->out_size, data, n);
  job->out_size += n;
}

void png_flush_cb(png_structp) {}

// C-style on purpose: see the file comment.
int png_encode_raw(PngWriteJob* job) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, png_write_error_cb,
                                            png_quiet_warning_cb);
  if (png == nullptr) {
    std::snprintf(job->message, sizeof(job->message), "cannot create a libpng encoder");
    return 0;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    std::snprintf(job->message, sizeof(job->message), "cannot create a libpng encoder");
    return 0;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return 0;
  }
  const Image* img = job->image;
  png_set_write_fn(png, job, png_write_cb, png_flush_cb);
  png_set_compression_level(png, job->level);
  png_set_IHDR(png, info, static_cast<png_uint_32>(img->width),
               static_cast<png_uint_32>(img->height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (job->num_text > 0) png_set_text(png, info, job->text, job->num_text);
  png_write_info(png, info);
  for (int y = 0; y < img->height; ++y) {
    png_write_row(png, const_cast<png_bytep>(img->row(y)));
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return 1;
}

bool is_ascii(const std::string& s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

}  // namespace

namespace detail {

Image decode_png(const uint8_t* data, size_t size, const std::string& name,
                 const ImageReadOptions& options) {
  PngReadJob job{};
  job.data = data;
  job.size = size;
  job.keep_alpha = options.alpha == AlphaMode::kCompositeWhite ? 1 : 0;
  job.max_dim = options.max_dimension;
  const int rc = png_decode_raw(&job);
  std::unique_ptr<uint8_t, decltype(&std::free)> pixels(job.pixels, &std::free);
  std::unique_ptr<png_bytep, decltype(&std::free)> rows(job.rows, &std::free);
  if (rc == kPngFailed) {
    throw_error(ErrorCode::kCorruptData,
                "PNG image '" + name + "' is corrupt or truncated: " + job.message);
  }
  check_image_size(name, "PNG", job.width, job.height, options);
  Image img = Image::create(static_cast<int>(job.width), static_cast<int>(job.height));
  const size_t count = static_cast<size_t>(img.width) * img.height;
  if (job.channels == 4) {
    rgba_to_rgb(job.pixels, count, options.alpha, img.data.data());
  } else {
    std::memcpy(img.data.data(), job.pixels, count * 3);
  }
  return img;
}

}  // namespace detail

std::vector<uint8_t> encode_png(const Image& image, const PngText& text, int compression_level) {
  if (image.empty() || image.data.size() != image.stride() * image.height) {
    throw_error(ErrorCode::kInvalidArgument,
                "cannot encode PNG: invalid image " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " with " + std::to_string(image.data.size()) +
                    " bytes");
  }
  std::vector<png_text> chunks(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    png_text& t = chunks[i];
    std::memset(&t, 0, sizeof(t));
    t.compression = is_ascii(text[i].second) ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
    t.key = const_cast<char*>(text[i].first.c_str());
    t.text = const_cast<char*>(text[i].second.c_str());
    t.text_length = text[i].second.size();
  }
  PngWriteJob job{};
  job.image = &image;
  job.text = chunks.data();
  job.num_text = static_cast<int>(chunks.size());
  job.level = compression_level < 0 ? 0 : (compression_level > 9 ? 9 : compression_level);
  const int ok = png_encode_raw(&job);
  std::unique_ptr<uint8_t, decltype(&std::free)> out(job.out, &std::free);
  if (!ok) throw_error(ErrorCode::kInternal, std::string("PNG encoding failed: ") + job.message);
  return std::vector<uint8_t>(job.out, job.out + job.out_size);
}

void write_png(const std::string& path, const Image& image, const PngText& text,
               int compression_level) {
  std::vector<uint8_t> bytes = encode_png(image, text, compression_level);
  AtomicOutput out(path);
  write_file_bytes(out.temp_path(), bytes.data(), bytes.size(), path);
  out.commit();
}

}  // namespace wan22::media
