// Internal: the per-format decoders behind decode_image() and shared helpers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "media/image.h"

namespace wan22::media::detail {

Image decode_png(const uint8_t* data, size_t size, const std::string& name,
                 const ImageReadOptions& options);
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name,
                  const ImageReadOptions& options);
Image decode_webp(const uint8_t* data, size_t size, const std::string& name,
                  const ImageReadOptions& options);

// Throws kCorruptData for a zero size and kInvalidArgument for a size over the cap.
void check_image_size(const std::string& name, const char* format, int64_t width,
                      int64_t height, const ImageReadOptions& options);

// Converts interleaved RGBA8 rows to RGB8 following options.alpha (drop or blend on white).
void rgba_to_rgb(const uint8_t* rgba, size_t pixels, AlphaMode mode, uint8_t* rgb);

}  // namespace wan22::media::detail
