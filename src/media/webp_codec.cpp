// WebP decoding with libwebp (stills) and libwebpdemux (animations: the first frame, as PIL).
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/status.h"
#include "media/image.h"
#include "media/image_codecs.h"

namespace wan22::media::detail {
namespace {

const char* vp8_status_text(VP8StatusCode s) {
  switch (s) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "unexpected end of data (truncated)";
  }
  return "unknown error";
}

[[noreturn]] void corrupt(const std::string& name, const std::string& what) {
  throw_error(ErrorCode::kCorruptData, "WebP image '" + name + "' is corrupt or truncated: " + what);
}

Image decode_animation_first_frame(const uint8_t* data, size_t size, const std::string& name,
                                   const ImageReadOptions& options) {
  WebPData wd{data, size};
  WebPAnimDecoderOptions dopts;
  if (!WebPAnimDecoderOptionsInit(&dopts)) corrupt(name, "libwebp version mismatch");
  dopts.color_mode = MODE_RGBA;
  dopts.use_threads = 0;
  std::unique_ptr<WebPAnimDecoder, decltype(&WebPAnimDecoderDelete)> dec(
      WebPAnimDecoderNew(&wd, &dopts), &WebPAnimDecoderDelete);
  if (!dec) corrupt(name, "cannot parse the animation");
  WebPAnimInfo info;
  if (!WebPAnimDecoderGetInfo(dec.get(), &info)) corrupt(name, "cannot read the animation header");
  check_image_size(name, "WebP", info.canvas_width, info.canvas_height, options);
  uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(dec.get(), &rgba, &timestamp) || rgba == nullptr) {
    corrupt(name, "cannot decode the first frame");
  }
  Image img = Image::create(static_cast<int>(info.canvas_width), static_cast<int>(info.canvas_height));
  rgba_to_rgb(rgba, static_cast<size_t>(img.width) * img.height, options.alpha, img.data.data());
  return img;
}

}  // namespace

Image decode_webp(const uint8_t* data, size_t size, const std::string& name,
                  const ImageReadOptions& options) {
  WebPBitstreamFeatures features;
  const VP8StatusCode st = WebPGetFeatures(data, size, &features);
  if (st != VP8_STATUS_OK) corrupt(name, vp8_status_text(st));
  if (features.has_animation) return decode_animation_first_frame(data, size, name, options);
  check_image_size(name, "WebP", features.width, features.height, options);
  Image img = Image::create(features.width, features.height);
  const size_t count = static_cast<size_t>(img.width) * img.height;
  if (!features.has_alpha) {
    if (WebPDecodeRGBInto(data, size, img.data.data(), img.data.size(),
                          static_cast<int>(img.stride())) == nullptr) {
      corrupt(name, "decoding failed");
    }
    return img;
  }
  std::vector<uint8_t> rgba(count * 4);
  if (WebPDecodeRGBAInto(data, size, rgba.data(), rgba.size(), img.width * 4) == nullptr) {
    corrupt(name, "decoding failed");
  }
  rgba_to_rgb(rgba.data(), count, options.alpha, img.data.data());
  return img;
}

}  // namespace wan22::media::detail
