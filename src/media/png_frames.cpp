// Video as a directory of PNG frames: frame_00000.png, frame_00001.png, ...
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "core/status.h"
#include "core/thread_pool.h"
#include "media/atomic_file.h"
#include "media/image.h"
#include "media/video.h"
#include "media/video_internal.h"

namespace wan22::media::detail {
namespace fs = std::filesystem;
namespace {

bool is_frame_name(const std::string& name, int64_t* index) {
  static const std::regex kFrame(R"(frame_(\d{5,})\.png)");
  std::smatch m;
  if (!std::regex_match(name, m, kFrame)) return false;
  if (index != nullptr) *index = std::stoll(m[1].str());
  return true;
}

std::string frame_name(int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "frame_%05lld.png", static_cast<long long>(i));
  return buf;
}

// Existing output: absent is fine; a directory holding only frame_*.png may be replaced when
// overwrite is set; anything else is refused (we never delete files we did not write).
void check_existing(const std::string& dir, bool overwrite) {
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (ec || !fs::exists(st)) return;
  if (!fs::is_directory(st)) {
    throw_error(ErrorCode::kInvalidArgument,
                "cannot write PNG frames to '" + dir + "': it exists and is not a directory");
  }
  bool empty = true;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    empty = false;
    if (!e.is_regular_file() || !is_frame_name(e.path().filename().string(), nullptr)) {
      throw_error(ErrorCode::kInvalidArgument,
                  "cannot write PNG frames to '" + dir + "': the directory holds other files (" +
                      e.path().filename().string() + ")");
    }
  }
  if (!empty && !overwrite) {
    throw_error(ErrorCode::kInvalidArgument, "PNG frames directory '" + dir + "' already exists");
  }
}

void remove_old_frames(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (is_frame_name(e.path().filename().string(), nullptr)) fs::remove(e.path());
  }
  if (!fs::remove(dir, ec) || ec) {
    throw_error(ErrorCode::kIoError, "cannot replace PNG frames directory '" + dir + "': " + ec.message());
  }
}

}  // namespace

VideoWriteResult write_png_frames(const std::string& dir, const std::vector<Image>& frames,
                                  const VideoWriteOptions& opt) {
  validate_frames(frames, dir);
  AtomicOutput out(dir);
  check_existing(out.final_path(), opt.overwrite);
  std::error_code ec;
  if (!fs::create_directory(out.temp_path(), ec) || ec) {
    throw_error(ErrorCode::kIoError, "cannot create PNG frames directory next to '" + dir +
                                         "': " + ec.message());
  }
  PngText text;
  if (!opt.title.empty()) text.emplace_back("Title", opt.title);
  if (!opt.comment.empty()) text.emplace_back("Comment", opt.comment);
  for (const auto& kv : opt.metadata) text.push_back(kv);
  text.emplace_back("FrameRate", std::to_string(opt.fps_num) + "/" + std::to_string(opt.fps_den));
  parallel_for(0, static_cast<int64_t>(frames.size()), 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      std::vector<uint8_t> bytes = encode_png(frames[i], text, opt.png_compression);
      const std::string name = frame_name(i);
      write_file_bytes((fs::path(out.temp_path()) / name).string(), bytes.data(), bytes.size(),
                       (fs::path(out.final_path()) / name).string());
    }
  });
  remove_old_frames(out.final_path());
  out.commit();
  VideoWriteResult r;
  r.path = out.final_path();
  r.format = VideoFormat::kPngFrames;
  r.codec = "png";
  r.width = frames[0].width;
  r.height = frames[0].height;
  r.frames = static_cast<int64_t>(frames.size());
  r.fps_num = opt.fps_num;
  r.fps_den = opt.fps_den;
  return r;
}

DecodedVideo read_png_frames(const std::string& dir, bool keep_frames) {
  std::vector<std::pair<int64_t, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    int64_t index = 0;
    if (e.is_regular_file() && is_frame_name(e.path().filename().string(), &index)) {
      files.emplace_back(index, e.path());
    }
  }
  if (files.empty()) {
    throw_error(ErrorCode::kNotFound, "directory '" + dir + "' holds no frame_NNNNN.png files");
  }
  std::sort(files.begin(), files.end());
  DecodedVideo v;
  v.info.container = "png_frames";
  v.info.codec = "png";
  v.info.pix_fmt = "rgb24";
  v.info.frame_count = static_cast<int64_t>(files.size());
  std::vector<Image> frames(files.size());
  parallel_for(0, static_cast<int64_t>(files.size()), 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) frames[i] = read_image(files[i].second.string());
  });
  v.info.width = frames[0].width;
  v.info.height = frames[0].height;
  for (size_t i = 1; i < frames.size(); ++i) {
    if (frames[i].width != v.info.width || frames[i].height != v.info.height) {
      throw_error(ErrorCode::kCorruptData, "PNG frame '" + files[i].second.string() +
                                               "' differs in size from the first frame");
    }
  }
  if (keep_frames) v.frames = std::move(frames);
  return v;
}

}  // namespace wan22::media::detail
