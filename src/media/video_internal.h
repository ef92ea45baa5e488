// Internal: pieces shared by the video writer / reader and the PNG-frames backend.
#pragma once
#include <string>
#include <vector>

#include "media/video.h"

namespace wan22::media::detail {

// Throws kInvalidArgument unless there is at least one frame and all frames have one valid size.
void validate_frames(const std::vector<Image>& frames, const std::string& path);
int resolve_threads(int requested);  // 0 -> the wan22 thread pool size

VideoWriteResult write_png_frames(const std::string& dir, const std::vector<Image>& frames,
                                  const VideoWriteOptions& options);
DecodedVideo read_png_frames(const std::string& dir, bool keep_frames);

}  // namespace wan22::media::detail
