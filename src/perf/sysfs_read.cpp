#include "perf/sysfs_read.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace wan22::perf {
namespace fs = std::filesystem;

std::string under_root(const std::string& root, const std::string& abs_path) {
  if (root.empty() || root == "/") return abs_path;
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return r + (abs_path.empty() || abs_path[0] != '/' ? "/" : "") + abs_path;
}

Known<std::string> read_text(const std::string& root, const std::string& abs_path) {
  const std::string p = under_root(root, abs_path);
  try {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      std::error_code ec;
      return Known<std::string>::unknown((fs::exists(p, ec) ? "cannot read " : "no ") + abs_path);
    }
    constexpr size_t kMax = 16u << 20;
    std::string text;
    char buf[8192];
    while (in && text.size() < kMax) {
      in.read(buf, sizeof buf);
      text.append(buf, static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) return Known<std::string>::unknown("read error on " + abs_path);
    return Known<std::string>::of(std::move(text));
  } catch (const std::exception& e) {
    return Known<std::string>::unknown("cannot read " + abs_path + ": " + e.what());
  }
}

std::vector<std::string> list_dir(const std::string& root, const std::string& abs_path) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(under_root(root, abs_path), ec), end;
  for (; !ec && it != end; it.increment(ec)) names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool path_exists(const std::string& root, const std::string& abs_path) {
  std::error_code ec;
  return fs::exists(under_root(root, abs_path), ec);
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::optional<int64_t> parse_i64(const std::string& s) {
  const std::string t = trim(s);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  const std::string t = trim(s);
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
  return v;
}

Known<std::vector<int>> parse_cpulist(const std::string& s) {
  using R = Known<std::vector<int>>;
  const std::string t = trim(s);
  std::vector<int> cpus;
  if (t.empty()) return R::of(cpus);
  constexpr int64_t kMaxCpu = 1 << 20;
  size_t start = 0;
  while (start <= t.size()) {
    size_t comma = t.find(',', start);
    if (comma == std::string::npos) comma = t.size();
    const std::string tok = t.substr(start, comma - start);
    const size_t dash = tok.find('-');
    auto lo = parse_i64(dash == std::string::npos ? tok : tok.substr(0, dash));
    auto hi = dash == std::string::npos ? lo : parse_i64(tok.substr(dash + 1));
    if (!lo || !hi || *lo < 0 || *hi < *lo || *hi > kMaxCpu)
      return R::unknown("malformed cpulist '" + t + "' at '" + tok + "'");
    for (int64_t c = *lo; c <= *hi; ++c) cpus.push_back(static_cast<int>(c));
    start = comma + 1;
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return R::of(cpus);
}

std::string format_cpulist(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) {
      out += '-';
      out += std::to_string(cpus[j]);
    }
    i = j + 1;
  }
  return out;
}

std::optional<int> numbered(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string digits = name.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  auto v = parse_i64(digits);
  if (!v || *v > 1 << 30) return std::nullopt;
  return static_cast<int>(*v);
}

}  // namespace wan22::perf
