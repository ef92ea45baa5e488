// JPEG decoding with libjpeg(-turbo) through the error-manager pattern: error_exit longjmps back
// into jpeg_decode_raw, a C-style function whose frame holds no C++ objects with destructors;
// all decoder state lives in a JpegJob owned by the C++ wrapper.
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <jerror.h>

#include "core/status.h"
#include "media/image.h"
#include "media/image_codecs.h"

namespace wan22::media {
namespace {

constexpr int kMaxProgressiveScans = 1000;  // guards against scan-bomb files

struct JpegJob {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_progress_mgr progress;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
  const uint8_t* data;
  size_t size;
  int max_dim;
  unsigned width;
  unsigned height;
  int cmyk;          // 1: pixels are CMYK as stored, 0: RGB
  int adobe_invert;  // 1: CMYK values are stored inverted (Adobe APP14 marker)
  uint8_t* pixels;   // malloc'ed; freed by the caller
};

JpegJob* job_of(j_common_ptr cinfo) {
  // err is a member of JpegJob; recover the job from it.
  return reinterpret_cast<JpegJob*>(reinterpret_cast<char*>(cinfo->err) - offsetof(JpegJob, err));
}

void jpeg_error_exit_cb(j_common_ptr cinfo) {
  JpegJob* job = job_of(cinfo);
  (*cinfo->err->format_message)(cinfo, job->message);
  std::longjmp(job->jump, 1);
}

void jpeg_emit_message_cb(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  // A warning. Running out of data is a truncated file: fail (libjpeg would fill the rest grey).
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_error_exit_cb(cinfo);
  cinfo->err->num_warnings++;
}

void jpeg_progress_cb(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxProgressiveScans) {
    JpegJob* job = job_of(cinfo);
    std::snprintf(job->message, sizeof(job->message), "more than %d progressive scans",
                  kMaxProgressiveScans);
    std::longjmp(job->jump, 1);
  }
}

enum { kJpegFailed = 0, kJpegOk = 1, kJpegTooLarge = 2 };

// C-style on purpose: see the file comment.
int jpeg_decode_raw(JpegJob* job) {
  job->cinfo.err = jpeg_std_error(&job->err);
  job->err.error_exit = jpeg_error_exit_cb;
  job->err.emit_message = jpeg_emit_message_cb;
  if (setjmp(job->jump)) {
    jpeg_destroy_decompress(&job->cinfo);
    return kJpegFailed;
  }
  jpeg_create_decompress(&job->cinfo);
  job->progress.progress_monitor = jpeg_progress_cb;
  job->cinfo.progress = &job->progress;
  jpeg_mem_src(&job->cinfo, job->data, static_cast<unsigned long>(job->size));
  jpeg_read_header(&job->cinfo, TRUE);
  job->width = job->cinfo.image_width;
  job->height = job->cinfo.image_height;
  if (job->width > static_cast<unsigned>(job->max_dim) ||
      job->height > static_cast<unsigned>(job->max_dim) || job->width == 0 || job->height == 0) {
    jpeg_destroy_decompress(&job->cinfo);
    return kJpegTooLarge;
  }
  if (job->cinfo.jpeg_color_space == JCS_CMYK || job->cinfo.jpeg_color_space == JCS_YCCK) {
    job->cinfo.out_color_space = JCS_CMYK;
    job->cmyk = 1;
    job->adobe_invert = job->cinfo.saw_Adobe_marker ? 1 : 0;
  } else {
    job->cinfo.out_color_space = JCS_RGB;  // also expands grayscale
  }
  jpeg_start_decompress(&job->cinfo);
  const int comps = job->cmyk ? 4 : 3;
  if (job->cinfo.output_width != job->width || job->cinfo.output_height != job->height ||
      job->cinfo.output_components != comps) {
    std::snprintf(job->message, sizeof(job->message), "unexpected decoder output layout");
    jpeg_destroy_decompress(&job->cinfo);
    return kJpegFailed;
  }
  const size_t stride = static_cast<size_t>(job->width) * comps;
  job->pixels = static_cast<uint8_t*>(std::malloc(stride * job->height));
  if (job->pixels == nullptr) {
    std::snprintf(job->message, sizeof(job->message), "out of memory");
    jpeg_destroy_decompress(&job->cinfo);
    return kJpegFailed;
  }
  while (job->cinfo.output_scanline < job->cinfo.output_height) {
    JSAMPROW row = job->pixels + job->cinfo.output_scanline * stride;
    if (jpeg_read_scanlines(&job->cinfo, &row, 1) != 1) {
      std::snprintf(job->message, sizeof(job->message), "decoder stopped early");
      jpeg_destroy_decompress(&job->cinfo);
      return kJpegFailed;
    }
  }
  jpeg_finish_decompress(&job->cinfo);
  jpeg_destroy_decompress(&job->cinfo);
  return kJpegOk;
}

// PIL's CMYK -> RGB: r = (255 - C) * (255 - K) / 255 with its MULDIV255 rounding.
inline uint8_t cmyk_channel(unsigned c, unsigned k) {
  const unsigned nk = 255 - k;
  const unsigned t = c * nk + 128;
  const unsigned prod = ((t >> 8) + t) >> 8;
  return static_cast<uint8_t>(nk - prod);
}

}  // namespace

namespace detail {

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name,
                  const ImageReadOptions& options) {
  auto job = std::make_unique<JpegJob>();
  std::memset(job.get(), 0, sizeof(JpegJob));
  job->data = data;
  job->size = size;
  job->max_dim = options.max_dimension;
  const int rc = jpeg_decode_raw(job.get());
  std::unique_ptr<uint8_t, decltype(&std::free)> pixels(job->pixels, &std::free);
  if (rc == kJpegFailed) {
    throw_error(ErrorCode::kCorruptData,
                "JPEG image '" + name + "' is corrupt or truncated: " + job->message);
  }
  check_image_size(name, "JPEG", job->width, job->height, options);
  Image img = Image::create(static_cast<int>(job->width), static_cast<int>(job->height));
  const size_t count = static_cast<size_t>(img.width) * img.height;
  if (!job->cmyk) {
    std::memcpy(img.data.data(), job->pixels, count * 3);
    return img;
  }
  const uint8_t flip = job->adobe_invert ? 0xFF : 0x00;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* p = job->pixels + 4 * i;
    const unsigned k = p[3] ^ flip;
    for (int c = 0; c < 3; ++c) img.data[3 * i + c] = cmyk_channel(p[c] ^ flip, k);
  }
  return img;
}

}  // namespace detail
}  // namespace wan22::media
