#include "config/settings.h"

#include <algorithm>
#include <cctype>

#include "config/jsonc.h"
#include "config/validate.h"
#include "core/log.h"
#include "core/status.h"

namespace wan22::config {

std::string Source::str() const {
  switch (kind) {
    case SourceKind::kDefault: return "default";
    case SourceKind::kFile: return "file:" + file;
    case SourceKind::kCli: return "cli";
  }
  return "?";
}

std::string NotApplied::str() const {
  return path + " = " + short_value(value) + " (" + source.str() + "): " + status.str();
}

Settings::Settings() {
  for (const auto& k : schema()) values_[k.path] = {k.default_value, Source{}};
}

namespace {

[[noreturn]] void unknown_setting(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& k : schema()) names.push_back(k.path);
  std::string c = closest_name(path, names);
  throw Error(ErrorCode::kInvalidArgument,
              "unknown setting '" + path + "'" + (c.empty() ? "" : " (did you mean '" + c + "'?)") +
                  " (see wan22 config show)");
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Reads a JSON number/array from text; returns the text as a JSON string when it is not JSON.
Json json_or_string(const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/false);
  if (j.is_discarded()) return Json(text);
  return j;
}

Json cli_value(const KeySpec& spec, const std::string& raw) {
  const std::string text = trim(raw);
  switch (spec.type) {
    case ValueType::kBool: {
      std::string l = lower(text);
      if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
      if (l == "false" || l == "0" || l == "no" || l == "off") return false;
      return Json(raw);
    }
    case ValueType::kInt:
    case ValueType::kNumber: {
      Json j = json_or_string(text);
      return j.is_number() ? j : Json(raw);
    }
    case ValueType::kString:
    case ValueType::kEnum: return Json(raw);
    case ValueType::kIntPair: {
      if (!text.empty() && text[0] == '[') return json_or_string(text);
      size_t sep = text.find_first_of("x,X");
      if (sep == std::string::npos) return Json(raw);
      Json a = json_or_string(trim(text.substr(0, sep))), b = json_or_string(trim(text.substr(sep + 1)));
      if (!a.is_number() || !b.is_number()) return Json(raw);
      return Json::array({a, b});
    }
    case ValueType::kEnumList: {
      if (!text.empty() && text[0] == '[') return json_or_string(text);
      Json arr = Json::array();
      size_t start = 0;
      while (start <= text.size() && !text.empty()) {
        size_t comma = text.find(',', start);
        std::string item = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (!item.empty()) arr.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      return arr;
    }
  }
  return Json(raw);
}

}  // namespace

const Settings::Entry& Settings::entry(const std::string& path) const {
  auto it = values_.find(canonical_path(path));
  if (it == values_.end()) {
    try {
      unknown_setting(path);
    } catch (const Error& e) {
      throw Error(ErrorCode::kInternal, std::string("config: ") + e.what());
    }
  }
  return it->second;
}

const KeySpec& Settings::spec(const std::string& path) const {
  const KeySpec* k = find_key(path);
  if (!k) entry(path);  // throws
  return *k;
}

std::vector<Problem> Settings::commit(const std::vector<std::pair<std::string, Json>>& values,
                                      const Source& src) {
  std::map<std::string, Entry> saved = values_;
  for (const auto& [path, v] : values) values_[path] = {v, src};
  if (batch_) return {};
  std::vector<Problem> problems = cross_problems();
  if (!problems.empty()) values_ = std::move(saved);
  return problems;
}

std::vector<Problem> Settings::cross_problems() const {
  auto get = [&](const std::string& p) -> const Json& { return values_.at(p).value; };
  auto origin_of = [&](const std::string& p) {
    const Entry& e = values_.at(p);
    return e.source.kind == SourceKind::kDefault ? std::string("default") : e.source.str();
  };
  return cross_check(get, origin_of);
}

void Settings::end_batch() {
  batch_ = false;
  std::vector<Problem> problems = cross_problems();
  for (auto& p : problems)
    if (p.origin == "cli") p.origin = "--set";
  if (!problems.empty()) throw Error(ErrorCode::kInvalidArgument, join_problems(problems));
}

std::vector<Problem> Settings::try_load_text(const std::string& text, const std::string& origin) {
  ParsedText parsed;
  try {
    parsed = parse_jsonc(text, origin);
  } catch (const Error& e) {
    return {Problem{"", "", e.what()}};
  }
  Validated v = validate_document(parsed.value, origin);
  std::vector<Problem> problems = parsed.problems;
  problems.insert(problems.end(), v.problems.begin(), v.problems.end());
  if (!problems.empty()) return problems;
  std::vector<std::pair<std::string, Json>> values;
  for (auto& fv : v.values) values.emplace_back(fv.path, fv.value);
  Source src{SourceKind::kFile, origin.rfind("file:", 0) == 0 ? origin.substr(5) : origin};
  return commit(values, src);
}

std::vector<Problem> Settings::try_load_file(const std::string& path) {
  std::string text;
  try {
    text = read_config_file(path);
  } catch (const Error& e) {
    return {Problem{"", "", e.what()}};
  }
  std::vector<Problem> problems = try_load_text(text, "file:" + path);
  if (problems.empty()) files_.push_back(path);
  return problems;
}

void Settings::load_file(const std::string& path) {
  std::vector<Problem> problems = try_load_file(path);
  if (problems.empty()) return;
  std::string msg = problems.size() == 1 ? "" : path + ": " + std::to_string(problems.size()) + " problems:\n";
  throw Error(ErrorCode::kInvalidArgument, msg + join_problems(problems));
}

void Settings::set_cli_json(const std::string& path, const Json& value, const std::string& option) {
  const KeySpec* spec = find_key(path);
  if (!spec) unknown_setting(path);
  const std::string origin = option.empty() ? "--set" : option;
  std::string err = check_value(*spec, value);
  if (!err.empty()) throw Error(ErrorCode::kInvalidArgument, Problem{origin, path, err}.str());
  std::vector<Problem> problems = commit({{spec->path, value}}, Source{SourceKind::kCli, ""});
  if (!problems.empty()) {
    for (auto& p : problems)
      if (p.origin == "cli") p.origin = origin;
    throw Error(ErrorCode::kInvalidArgument, join_problems(problems));
  }
}

void Settings::set_cli(const std::string& path, const std::string& text, const std::string& option) {
  const KeySpec* spec = find_key(path);
  if (!spec) unknown_setting(path);
  set_cli_json(path, cli_value(*spec, text), option);
}

void Settings::set_cli_assignment(const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(ErrorCode::kInvalidArgument,
                "--set: expected KEY=VALUE (e.g. memory_pool.pool_size_gb=16), got '" + assignment + "'");
  set_cli(trim(assignment.substr(0, eq)), assignment.substr(eq + 1), "--set");
}

// ---- accessors ----

namespace {
[[noreturn]] void wrong_getter(const KeySpec& k, const char* getter) {
  throw Error(ErrorCode::kInternal, std::string("config: ") + getter + "(\"" + k.path + "\") on a " +
                                        value_type_name(k.type) + " setting");
}
}  // namespace

const Json& Settings::get_json(const std::string& path) const { return entry(path).value; }
const Source& Settings::source(const std::string& path) const { return entry(path).source; }
bool Settings::is_default(const std::string& path) const { return source(path).kind == SourceKind::kDefault; }

bool Settings::get_bool(const std::string& path) const {
  const KeySpec& k = spec(path);
  if (k.type != ValueType::kBool) wrong_getter(k, "get_bool");
  return get_json(path).get<bool>();
}

int64_t Settings::get_int(const std::string& path) const {
  const KeySpec& k = spec(path);
  if (k.type != ValueType::kInt) wrong_getter(k, "get_int");
  return get_json(path).get<int64_t>();
}

double Settings::get_double(const std::string& path) const {
  const KeySpec& k = spec(path);
  if (k.type != ValueType::kNumber && k.type != ValueType::kInt) wrong_getter(k, "get_double");
  return get_json(path).get<double>();
}

std::string Settings::get_string(const std::string& path) const {
  const KeySpec& k = spec(path);
  if (k.type != ValueType::kString && k.type != ValueType::kEnum) wrong_getter(k, "get_string");
  return get_json(path).get<std::string>();
}

std::array<int64_t, 2> Settings::get_int_pair(const std::string& path) const {
  const KeySpec& k = spec(path);
  if (k.type != ValueType::kIntPair) wrong_getter(k, "get_int_pair");
  const Json& v = get_json(path);
  return {v[0].get<int64_t>(), v[1].get<int64_t>()};
}

std::vector<std::string> Settings::get_string_list(const std::string& path) const {
  const KeySpec& k = spec(path);
  if (k.type != ValueType::kEnumList) wrong_getter(k, "get_string_list");
  return get_json(path).get<std::vector<std::string>>();
}

std::array<int64_t, 2> Settings::get_size(const std::string& path) const {
  const std::string s = get_string(path);  // validated as WIDTHxHEIGHT
  size_t x = s.find('x');
  if (x == std::string::npos) throw Error(ErrorCode::kInternal, "config: " + path + " is not WIDTHxHEIGHT");
  return {std::stoll(s.substr(0, x)), std::stoll(s.substr(x + 1))};
}

std::vector<NotApplied> Settings::not_applied() const {
  std::vector<NotApplied> out;
  for (const auto& k : schema()) {
    const Entry& e = values_.at(k.path);
    if (e.source.kind == SourceKind::kDefault) continue;
    bool report = false;
    switch (k.status.kind) {
      case Availability::kApplied: report = false; break;
      case Availability::kFixed: report = e.value != k.default_value; break;
      case Availability::kPlanned:
      case Availability::kNotApplicable: report = true; break;
    }
    if (report) out.push_back({k.path, e.value, e.source, k.status});
  }
  return out;
}

size_t Settings::num_set() const {
  size_t n = 0;
  for (const auto& [p, e] : values_) n += e.source.kind != SourceKind::kDefault;
  return n;
}

Json Settings::to_json() const {
  Json doc = Json::object();
  for (const auto& k : schema()) {
    Json* node = &doc;
    std::string rest = k.path;
    for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1))
      node = &(*node)[rest.substr(0, dot)];
    (*node)[rest] = values_.at(k.path).value;
  }
  return doc;
}

Json Settings::to_json_with_sources() const {
  Json out = Json::object();
  for (const auto& k : schema()) {
    const Entry& e = values_.at(k.path);
    out[k.path] = {{"value", e.value},
                   {"default", k.default_value},
                   {"source", e.source.str()},
                   {"status", k.status.str()}};
  }
  return out;
}

size_t warn_not_applied(const Settings& s) {
  auto list = s.not_applied();
  for (const auto& n : list) LOG_WARN << "not applied: " << n.str();
  return list.size();
}

}  // namespace wan22::config
