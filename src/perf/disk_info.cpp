// The filesystem and disk behind a path: statvfs, /proc/self/mountinfo, /sys/block.
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "perf/sysfs_read.h"
#include "perf/sysinfo.h"

namespace wan22::perf {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string oct = s.substr(i + 1, 3);
      if (oct.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(oct, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool parse_majmin(const std::string& s, unsigned& major, unsigned& minor) {
  const size_t colon = s.find(':');
  if (colon == std::string::npos) return false;
  auto a = parse_u64(s.substr(0, colon)), b = parse_u64(s.substr(colon + 1));
  if (!a || !b || *a > 0xffffffffu || *b > 0xffffffffu) return false;
  major = static_cast<unsigned>(*a);
  minor = static_cast<unsigned>(*b);
  return true;
}

bool is_prefix_dir(const std::string& mount, const std::string& path) {
  if (mount == "/") return !path.empty() && path[0] == '/';
  return path.compare(0, mount.size(), mount) == 0 && (path.size() == mount.size() || path[mount.size()] == '/');
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(const std::string& mountinfo) {
  std::vector<MountEntry> out;
  std::istringstream in(mountinfo);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    for (std::string w; ls >> w;) f.push_back(w);
    // id parent maj:min root mount_point options [optional...] - fstype source super_options
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (dash == 0 || dash + 2 >= f.size()) continue;
    MountEntry e;
    if (!parse_majmin(f[2], e.major, e.minor)) continue;
    e.mount_point = unescape(f[4]);
    e.fstype = f[dash + 1];
    e.source = unescape(f[dash + 2]);
    if (e.mount_point.empty() || e.mount_point[0] != '/') continue;
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<MountEntry> find_mount(const std::string& mountinfo, const std::string& canonical_path) {
  std::optional<MountEntry> best;
  for (auto& e : parse_mountinfo(mountinfo))
    if (is_prefix_dir(e.mount_point, canonical_path) && (!best || e.mount_point.size() >= best->mount_point.size()))
      best = e;
  return best;
}

Known<std::string> find_block_device(const std::string& root, unsigned major, unsigned minor) {
  const std::string want = std::to_string(major) + ":" + std::to_string(minor);
  if (major == 0) return Known<std::string>::unknown("device " + want + " is not a block device (virtual filesystem)");
  auto dev_matches = [&](const std::string& file) {
    auto t = read_text(root, file);
    return t.known() && trim(*t.value) == want;
  };
  for (const auto& disk : list_dir(root, "/sys/block")) {
    const std::string dir = "/sys/block/" + disk;
    if (dev_matches(dir + "/dev")) return Known<std::string>::of(disk);
    for (const auto& part : list_dir(root, dir))  // partitions are subdirectories named after the disk
      if (part.starts_with(disk) && path_exists(root, dir + "/" + part + "/partition") &&
          dev_matches(dir + "/" + part + "/dev"))
        return Known<std::string>::of(disk);
  }
  return Known<std::string>::unknown("no disk with device " + want + " under /sys/block");
}

Known<bool> read_rotational(const std::string& root, const std::string& block_device) {
  const std::string file = "/sys/block/" + block_device + "/queue/rotational";
  auto t = read_text(root, file);
  if (!t.known()) return Known<bool>::unknown(t.why);
  auto v = parse_i64(*t.value);
  if (!v || (*v != 0 && *v != 1)) return Known<bool>::unknown("unreadable " + file);
  return Known<bool>::of(*v == 1);
}

DiskInfo collect_disk(const std::string& root, const std::string& path) {
  namespace fs = std::filesystem;
  DiskInfo d;
  d.path = path;
  std::error_code ec;
  fs::path canon = fs::weakly_canonical(fs::absolute(path, ec), ec);
  d.resolved = ec ? path : canon.string();

  struct statvfs sv {};
  if (statvfs(d.resolved.c_str(), &sv) == 0) {
    const uint64_t unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
    d.free_bytes = Known<uint64_t>::of(static_cast<uint64_t>(sv.f_bavail) * unit);
    d.total_bytes = Known<uint64_t>::of(static_cast<uint64_t>(sv.f_blocks) * unit);
  } else {
    const std::string why = "statvfs(" + d.resolved + "): " + std::strerror(errno);
    d.free_bytes = d.total_bytes = Known<uint64_t>::unknown(why);
  }

  auto mi = read_text(root, "/proc/self/mountinfo");
  std::optional<MountEntry> m = mi.known() ? find_mount(*mi.value, d.resolved) : std::nullopt;
  if (!m) {
    const std::string why = mi.known() ? "no mount for " + d.resolved + " in /proc/self/mountinfo" : mi.why;
    d.mount_point = d.fstype = d.source = d.block_device = Known<std::string>::unknown(why);
    d.rotational = Known<bool>::unknown(why);
    return d;
  }
  d.mount_point = Known<std::string>::of(m->mount_point);
  d.fstype = Known<std::string>::of(m->fstype);
  d.source = Known<std::string>::of(m->source);
  d.block_device = find_block_device(root, m->major, m->minor);
  d.rotational = d.block_device.known() ? read_rotational(root, *d.block_device.value)
                                        : Known<bool>::unknown(d.block_device.why);
  return d;
}

}  // namespace wan22::perf
