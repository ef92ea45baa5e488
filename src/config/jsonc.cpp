#include "config/jsonc.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/status.h"

namespace wan22::config {

std::string Problem::str() const {
  std::string o = origin;
  if (o.rfind("file:", 0) == 0) o = o.substr(5);
  std::string s = o.empty() ? "" : o + ": ";
  if (!path.empty()) s += path + ": ";
  return s + message;
}

std::string join_problems(const std::vector<Problem>& problems) {
  std::string s;
  for (const auto& p : problems) {
    if (!s.empty()) s += '\n';
    s += p.str();
  }
  return s;
}

namespace {

std::string join_path(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

// Builds the document; merges repeated object keys; records repeated leaf keys.
class Builder : public nlohmann::json_sax<Json> {
 public:
  Builder(const std::string& text, std::string origin) : text_(text), origin_(std::move(origin)) {}

  bool null() override { return put(Json(nullptr)); }
  bool boolean(bool v) override { return put(Json(v)); }
  bool number_integer(number_integer_t v) override { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(Json(v)); }
  bool string(string_t& v) override { return put(Json(v)); }
  bool binary(binary_t&) override { return put(Json(nullptr)); }
  bool start_object(std::size_t) override {
    if (!enter()) return false;
    stack_.push_back({Json::object(), child_path(), {}});
    return true;
  }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return finish(); }
  bool start_array(std::size_t) override {
    if (!enter()) return false;
    stack_.push_back({Json::array(), child_path(), {}});
    return true;
  }
  bool end_array() override { return finish(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    std::string msg = ex.what();
    // Locate the first character of the offending token (the end, for "unexpected end of input"
    // and invalid tokens), as a 1-based line and column.
    size_t at = position == 0 ? 0 : std::min(position - 1, text_.size() - (text_.empty() ? 0 : 1));
    if (!text_.empty() && msg.find("end of input") == std::string::npos && msg.find("last read") == std::string::npos)
      at = token_start(at);
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    // "[json.exception.parse_error.101] parse error at line 3, column 0: syntax error ..." -> "syntax error ..."
    if (auto c = msg.find("column"); c != std::string::npos) {
      if (auto colon = msg.find(": ", c); colon != std::string::npos) msg = msg.substr(colon + 2);
    } else if (auto b = msg.find("] "); b != std::string::npos) {
      msg = msg.substr(b + 2);
    }
    std::string o = origin_.rfind("file:", 0) == 0 ? origin_.substr(5) : origin_;
    error_ = o + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + msg;
    return false;
  }

  Json result;
  std::vector<Problem> problems;
  std::string error_;

 private:
  // The start of the token whose last character is at `end`: a string literal, a number or
  // literal word, or the single character itself.
  size_t token_start(size_t end) const {
    if (text_[end] == '"') {
      for (size_t i = end; i-- > 0;) {
        if (text_[i] != '"') continue;
        size_t backslashes = 0;
        for (size_t j = i; j-- > 0 && text_[j] == '\\';) ++backslashes;
        if (backslashes % 2 == 0) return i;
      }
      return end;
    }
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-'; };
    size_t i = end;
    while (i > 0 && word(text_[i]) && word(text_[i - 1])) --i;
    return i;
  }

  // Config documents are shallow; refusing deep nesting keeps every later step (merging, printing)
  // free of deep recursion.
  static constexpr size_t kMaxDepth = 32;
  bool enter() {
    if (stack_.size() < kMaxDepth) return true;
    std::string o = origin_.rfind("file:", 0) == 0 ? origin_.substr(5) : origin_;
    error_ = o + ": nesting deeper than " + std::to_string(kMaxDepth) + " levels at " + child_path();
    return false;
  }

  struct Frame {
    Json value;
    std::string path;
    std::string key;  // pending key (objects)
  };

  std::string child_path() const {
    if (stack_.empty()) return "";
    const Frame& f = stack_.back();
    if (f.value.is_array()) return f.path + "[" + std::to_string(f.value.size()) + "]";
    return join_path(f.path, f.key);
  }

  bool finish() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    return put(std::move(f.value));
  }

  bool put(Json v) {
    if (stack_.empty()) {
      result = std::move(v);
      return true;
    }
    Frame& f = stack_.back();
    if (f.value.is_array()) {
      f.value.push_back(std::move(v));
      return true;
    }
    insert(f.value, f.key, std::move(v), join_path(f.path, f.key));
    return true;
  }

  void insert(Json& obj, const std::string& key, Json v, const std::string& path) {
    auto it = obj.find(key);
    if (it == obj.end()) {
      obj[key] = std::move(v);
      return;
    }
    if (it->is_object() && v.is_object()) {
      for (auto& [k, sub] : v.items()) insert(*it, k, std::move(sub), join_path(path, k));
      return;
    }
    problems.push_back({origin_, path, "is set more than once in the file"});
    *it = std::move(v);
  }

  const std::string& text_;
  std::string origin_;
  std::vector<Frame> stack_;
};

}  // namespace

ParsedText parse_jsonc(const std::string& text, const std::string& origin) {
  Builder b(text, origin);
  bool ok = Json::sax_parse(text, &b, Json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/true);
  if (!ok) {
    if (b.error_.empty()) b.error_ = origin + ": syntax error";
    throw Error(ErrorCode::kInvalidArgument, b.error_);
  }
  return {std::move(b.result), std::move(b.problems)};
}

std::string read_config_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(ErrorCode::kNotFound, path + ": config file not found");
  if (std::filesystem::is_directory(path, ec))
    throw Error(ErrorCode::kInvalidArgument, path + ": is a directory, expected a JSON config file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::kNotFound, path + ": cannot open config file");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(ErrorCode::kIoError, path + ": read error");
  return ss.str();
}

ParsedText parse_jsonc_file(const std::string& path) { return parse_jsonc(read_config_file(path), "file:" + path); }

}  // namespace wan22::config
