// Image struct helpers, format sniffing, file reading and dispatch to the decoders.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "core/status.h"
#include "media/image.h"
#include "media/image_codecs.h"

namespace wan22::media {

Image Image::create(int width, int height) {
  constexpr int64_t kMaxPixels = int64_t{1} << 31;  // sanity bound (2 Gpx)
  if (width <= 0 || height <= 0 || int64_t{width} * height > kMaxPixels) {
    throw_error(ErrorCode::kInvalidArgument, "invalid image size " + std::to_string(width) +
                                                 "x" + std::to_string(height));
  }
  Image img;
  img.width = width;
  img.height = height;
  img.data.assign(static_cast<size_t>(width) * static_cast<size_t>(height) * 3, 0);
  return img;
}

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kWebp: return "WebP";
    default: return "unknown";
  }
}

ImageFormat sniff_image_format(const uint8_t* d, size_t n) {
  static const uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 8 && std::memcmp(d, kPngSig, 8) == 0) return ImageFormat::kPng;
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::kJpeg;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) {
    return ImageFormat::kWebp;
  }
  return ImageFormat::kUnknown;
}

namespace {

// Names formats we recognise but do not decode, for a more useful error.
const char* other_format_name(const uint8_t* d, size_t n) {
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return "GIF";
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "BMP";
  if (n >= 4 && (std::memcmp(d, "II*\0", 4) == 0 || std::memcmp(d, "MM\0*", 4) == 0)) return "TIFF";
  if (n >= 12 && std::memcmp(d + 4, "ftyp", 4) == 0) return "ISO-BMFF (AVIF/HEIC/MP4)";
  if (n >= 4 && std::memcmp(d, "\x00\x00\x01\x00", 4) == 0) return "ICO";
  if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7') return "PNM";
  return nullptr;
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& name,
                   const ImageReadOptions& options) {
  if (size == 0 || data == nullptr) {
    throw_error(ErrorCode::kInvalidArgument, "image '" + name + "' is empty (0 bytes)");
  }
  switch (sniff_image_format(data, size)) {
    case ImageFormat::kPng: return detail::decode_png(data, size, name, options);
    case ImageFormat::kJpeg: return detail::decode_jpeg(data, size, name, options);
    case ImageFormat::kWebp: return detail::decode_webp(data, size, name, options);
    case ImageFormat::kUnknown: break;
  }
  if (const char* other = other_format_name(data, size)) {
    throw_error(ErrorCode::kInvalidArgument, "image '" + name + "' is " + other +
                                                 ", which is not supported (use PNG, JPEG or WebP)");
  }
  throw_error(ErrorCode::kInvalidArgument,
              "image '" + name + "' is not a PNG, JPEG or WebP file (unrecognised content)");
}

Image read_image(const std::string& path, const ImageReadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw_error(ErrorCode::kNotFound, "image '" + path + "' does not exist");
  if (fs::is_directory(st)) throw_error(ErrorCode::kInvalidArgument, "image '" + path + "' is a directory");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    int err = errno;
    throw_error(ErrorCode::kIoError, "cannot open image '" + path + "': " + std::strerror(err));
  }
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  for (;;) {
    size_t got = std::fread(buf, 1, sizeof(buf), f.get());
    if (got > 0) {
      if (bytes.size() + got > options.max_file_bytes) {
        throw_error(ErrorCode::kInvalidArgument,
                    "image '" + path + "' is larger than the limit of " +
                        std::to_string(options.max_file_bytes) + " bytes");
      }
      bytes.insert(bytes.end(), buf, buf + got);
    }
    if (got < sizeof(buf)) break;
  }
  if (std::ferror(f.get())) {
    throw_error(ErrorCode::kIoError, "error reading image '" + path + "'");
  }
  return decode_image(bytes.data(), bytes.size(), path, options);
}

namespace detail {

void check_image_size(const std::string& name, const char* format, int64_t width, int64_t height,
                      const ImageReadOptions& options) {
  if (width <= 0 || height <= 0) {
    throw_error(ErrorCode::kCorruptData, std::string(format) + " image '" + name +
                                             "' has an invalid size " + std::to_string(width) +
                                             "x" + std::to_string(height));
  }
  if (width > options.max_dimension || height > options.max_dimension) {
    throw_error(ErrorCode::kInvalidArgument,
                std::string(format) + " image '" + name + "' is " + std::to_string(width) + "x" +
                    std::to_string(height) + ", larger than the limit of " +
                    std::to_string(options.max_dimension) + " pixels per side");
  }
}

void rgba_to_rgb(const uint8_t* rgba, size_t pixels, AlphaMode mode, uint8_t* rgb) {
  if (mode == AlphaMode::kDrop) {
    for (size_t i = 0; i < pixels; ++i) {
      rgb[3 * i + 0] = rgba[4 * i + 0];
      rgb[3 * i + 1] = rgba[4 * i + 1];
      rgb[3 * i + 2] = rgba[4 * i + 2];
    }
    return;
  }
  for (size_t i = 0; i < pixels; ++i) {
    const uint32_t a = rgba[4 * i + 3];
    for (int c = 0; c < 3; ++c) {
      // round(c*a/255 + 255*(255-a)/255), in integers
      const uint32_t v = rgba[4 * i + c] * a + 255u * (255u - a);
      rgb[3 * i + c] = static_cast<uint8_t>((v + 127u) / 255u);
    }
  }
}

}  // namespace detail
}  // namespace wan22::media
