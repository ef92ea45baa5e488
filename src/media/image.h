// RGB8 images: reading PNG / JPEG / WebP (sniffed by content) and writing PNG.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace wan22::media {

// An 8-bit RGB image, rows top to bottom, pixels R,G,B interleaved, no row padding.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> data;  // width * height * 3 bytes

  static Image create(int width, int height);  // zero-filled; throws on bad / huge sizes
  bool empty() const { return width <= 0 || height <= 0; }
  size_t stride() const { return static_cast<size_t>(width) * 3; }
  uint8_t* row(int y) { return data.data() + static_cast<size_t>(y) * stride(); }
  const uint8_t* row(int y) const { return data.data() + static_cast<size_t>(y) * stride(); }
  uint8_t* pixel(int x, int y) { return row(y) + static_cast<size_t>(x) * 3; }
  const uint8_t* pixel(int x, int y) const { return row(y) + static_cast<size_t>(x) * 3; }
};

enum class ImageFormat { kUnknown, kPng, kJpeg, kWebp };
const char* image_format_name(ImageFormat f);

// What happens to an alpha channel (PNG RGBA / gray+alpha / tRNS, WebP with alpha).
//   kDrop: the colour channels are kept as stored and alpha is ignored. This is what the
//          official code gets from PIL's Image.open(path).convert("RGB") (the default).
//   kCompositeWhite: colour is blended over a white background: c' = (c*a + 255*(255-a)) / 255.
enum class AlphaMode { kDrop, kCompositeWhite };

struct ImageReadOptions {
  AlphaMode alpha = AlphaMode::kDrop;
  int max_dimension = 16384;                   // width and height must be <= this
  size_t max_file_bytes = size_t{1} << 30;     // files larger than this are refused
};

// The format from the first bytes (magic numbers), independent of the file name.
ImageFormat sniff_image_format(const uint8_t* data, size_t size);

// Decodes an in-memory PNG/JPEG/WebP. `name` (usually the path) appears in every error.
// Errors: kInvalidArgument (empty input, unknown/unsupported format, size over the cap),
//         kCorruptData (truncated or malformed data, zero width/height in the header).
Image decode_image(const uint8_t* data, size_t size, const std::string& name,
                   const ImageReadOptions& options = {});
// Reads and decodes a file. Also kNotFound (missing file) and kIoError (unreadable).
Image read_image(const std::string& path, const ImageReadOptions& options = {});

// Text chunks stored in written PNGs (tEXt for ASCII values, iTXt for UTF-8 values).
using PngText = std::vector<std::pair<std::string, std::string>>;

// Encodes an 8-bit RGB PNG (zlib level 0..9; 6 is libpng's usual default).
std::vector<uint8_t> encode_png(const Image& image, const PngText& text = {},
                                int compression_level = 6);
// Writes a PNG through a temporary file renamed into place (nothing half-written remains).
void write_png(const std::string& path, const Image& image, const PngText& text = {},
               int compression_level = 6);

}  // namespace wan22::media
