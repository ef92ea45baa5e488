// Video files: writing RGB8 frames as MP4 (H.264) / WebM (VP9, VP8 fallback) / a directory of
// PNG frames, and reading a video back (for tests and tools).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "media/image.h"

namespace wan22::media {

enum class VideoFormat {
  kAuto,       // from the path: ".mp4" -> kMp4, ".webm" -> kWebm, no extension -> kPngFrames
  kMp4,        // ISO MP4, H.264 (libx264 preferred), yuv420p
  kWebm,       // WebM, VP9 (libvpx-vp9) or VP8 (libvpx), yuv420p
  kPngFrames,  // a directory of frame_00000.png, frame_00001.png, ...
};
const char* video_format_name(VideoFormat f);
// The format an output path implies (case-insensitive extension); kAuto when it implies none
// (an unknown extension such as ".mov", which write_video refuses with kInvalidArgument).
VideoFormat video_format_from_path(const std::string& path);

// H.264 / VP8 / VP9 in yuv420p need even width and height.
enum class OddSizePolicy {
  kPad,    // add one column / row repeating the last one (the file is 1 px wider / taller)
  kError,  // refuse with kInvalidArgument
};

struct VideoWriteOptions {
  VideoFormat format = VideoFormat::kAuto;
  // Frame rate as a fraction; time_base is 1/fps exactly (den/num), each frame lasts one tick.
  int fps_num = 16;
  int fps_den = 1;
  // Constant-quality factor; -1 = default: 10 for H.264 (what the official save_video gets from
  // imageio quality=8), 31 for VP9/VP8. Range 0..51 (H.264), 0..63 (VP9/VP8).
  int crf = -1;
  std::string preset = "medium";  // x264 preset; VP8/VP9 map it onto cpu-used
  std::string codec;              // force an encoder by FFmpeg name ("libx264", "libvpx-vp9", ...)
  std::string title;              // container metadata "title" (e.g. the prompt)
  std::string comment;            // container metadata "comment" (e.g. seed and settings)
  // More metadata as key -> value. MP4 writes them as QuickTime "mdta" keys (movflags
  // use_metadata_tags), WebM as Matroska tags, PNG frames as text chunks.
  std::vector<std::pair<std::string, std::string>> metadata;
  OddSizePolicy odd_size = OddSizePolicy::kPad;
  int threads = 0;          // encoder / conversion threads; 0 = the wan22 thread pool size
  bool overwrite = true;    // replace an existing file (PNG frames: see docs/media.md)
  int png_compression = 6;  // PNG frames: zlib level 0..9
};

struct VideoWriteResult {
  std::string path;
  VideoFormat format = VideoFormat::kAuto;
  std::string codec;  // FFmpeg encoder name actually used ("libx264", "libvpx-vp9", "png")
  int width = 0;      // as stored (after padding)
  int height = 0;
  bool padded = false;
  int64_t frames = 0;
  int fps_num = 0;
  int fps_den = 1;
};

// Writes all frames (same size, at least one). The file is written under a temporary name in the
// same directory and renamed into place at the end, so a failure leaves no partial output.
// Errors: kInvalidArgument (no frames, mixed sizes, odd size with kError, bad fps/crf/format),
// kNotFound (the directory does not exist), kUnsupported (no suitable encoder),
// kIoError (cannot create / write, disk full).
VideoWriteResult write_video(const std::string& path, const std::vector<Image>& frames,
                             const VideoWriteOptions& options = {});

// Encoders the linked libavcodec offers for H.264 and WebM, in preference order (for reports).
std::vector<std::string> available_h264_encoders();
std::vector<std::string> available_webm_encoders();

struct VideoInfo {
  std::string container;  // libavformat demuxer name ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"),
                          // or "png_frames"
  std::string codec;      // codec name ("h264", "vp9", "vp8", "png")
  std::string pix_fmt;    // decoder pixel format ("yuv420p", ...)
  int width = 0;
  int height = 0;
  int fps_num = 0;  // average frame rate (stream avg_frame_rate, else r_frame_rate)
  int fps_den = 1;
  double fps() const { return fps_den ? static_cast<double>(fps_num) / fps_den : 0.0; }
  int64_t frame_count = 0;  // frames actually decoded
  std::map<std::string, std::string> metadata;  // container (and stream) tags
};

struct DecodedVideo {
  VideoInfo info;
  std::vector<Image> frames;  // empty when read with keep_frames = false
};

// Decodes every frame of a video file (or a PNG-frames directory) to RGB8.
// Errors: kNotFound, kCorruptData (cannot parse / decode), kUnsupported (no decoder).
DecodedVideo read_video(const std::string& path, bool keep_frames = true);

}  // namespace wan22::media
