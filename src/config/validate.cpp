#include "config/validate.h"

#include <cmath>
#include <map>
#include <set>

namespace wan22::config {

std::string short_value(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

namespace {

const char* json_kind(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "a value";
}

std::string got(const Json& v) { return short_value(v) + " (" + json_kind(v) + ")"; }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

std::string join_path(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

bool in_range(const Json& v, double lo, double hi) {
  if (v.is_number_unsigned()) {
    double d = static_cast<double>(v.get<uint64_t>());
    return d >= lo && d <= hi;
  }
  if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    return static_cast<double>(i) >= lo && static_cast<double>(i) <= hi;
  }
  double d = v.get<double>();
  return std::isfinite(d) && d >= lo && d <= hi;
}

std::string suggestion(const std::string& s, const std::vector<std::string>& choices) {
  std::string c = closest_name(s, choices);
  return c.empty() ? "" : " (did you mean \"" + c + "\"?)";
}

}  // namespace

std::string check_value(const KeySpec& spec, const Json& v) {
  const std::string expected = "expected " + spec.allowed() + ", got ";
  if (v.is_null()) return "null is not allowed (remove the key to use the default); " + expected + "null";
  switch (spec.type) {
    case ValueType::kBool:
      if (!v.is_boolean()) return expected + got(v);
      break;
    case ValueType::kInt:
      if (!v.is_number_integer()) return expected + got(v);
      if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        return short_value(v) + " is out of range; allowed: " + spec.allowed();
      if (!in_range(v, spec.min, spec.max)) return short_value(v) + " is out of range; allowed: " + spec.allowed();
      break;
    case ValueType::kNumber:
      if (!v.is_number()) return expected + got(v);
      if (!in_range(v, spec.min, spec.max)) return short_value(v) + " is out of range; allowed: " + spec.allowed();
      break;
    case ValueType::kString:
      if (!v.is_string()) return expected + got(v);
      break;
    case ValueType::kEnum: {
      if (!v.is_string()) return expected + got(v);
      const std::string s = v.get<std::string>();
      bool found = false;
      for (const auto& c : spec.choices) found = found || c == s;
      if (!found) return short_value(v) + " is not allowed" + suggestion(s, spec.choices) + "; allowed: " + spec.allowed();
      break;
    }
    case ValueType::kIntPair: {
      if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer())
        return expected + got(v);
      for (const auto& e : v)
        if ((e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) ||
            !in_range(e, spec.min, spec.max))
          return short_value(v) + " is out of range; allowed: " + spec.allowed();
      break;
    }
    case ValueType::kEnumList: {
      if (!v.is_array()) return expected + got(v);
      std::set<std::string> seen;
      for (const auto& e : v) {
        if (!e.is_string()) return expected + got(v) + " with element " + got(e);
        const std::string s = e.get<std::string>();
        bool found = false;
        for (const auto& c : spec.choices) found = found || c == s;
        if (!found)
          return "element " + short_value(e) + " is not allowed" + suggestion(s, spec.choices) + "; allowed: " +
                 spec.allowed();
        if (!seen.insert(s).second) return "element " + short_value(e) + " appears twice; allowed: " + spec.allowed();
      }
      break;
    }
  }
  if (spec.check) {
    std::string e = spec.check(v);
    if (!e.empty()) return short_value(v) + " is not allowed; expected " + e;
  }
  return "";
}

namespace {

struct Walker {
  std::string origin;
  Validated out;
  std::map<std::string, std::string> written_of;  // canonical -> as written (alias conflicts)

  void walk(const Json& obj, const std::string& section, const std::string& written_prefix) {
    for (const auto& [name, v] : obj.items()) {
      const std::string written = join_path(written_prefix, name);
      const std::string canon = canonical_path(join_path(section, name));
      if (const KeySpec* spec = find_key(canon)) {
        std::string err = check_value(*spec, v);
        if (!err.empty()) {
          out.problems.push_back({origin, written, err});
          continue;
        }
        if (auto it = written_of.find(canon); it != written_of.end()) {
          out.problems.push_back({origin, written,
                                  "is also set as " + it->second + " (" + alias_note() + "); set it once"});
          continue;
        }
        written_of[canon] = written;
        out.values.push_back({canon, written, v});
      } else if (is_section(canon)) {
        if (!v.is_object()) {
          out.problems.push_back({origin, written,
                                  "expected an object (a section) with keys " + join(children_of(canon)) + ", got " +
                                      got(v)});
          continue;
        }
        walk(v, canon, written);
      } else if (section.empty()) {
        std::vector<std::string> names = children_of("");
        for (const auto& a : section_aliases()) names.push_back(a.alias);
        std::string c = closest_name(name, names);
        out.problems.push_back({origin, written,
                                "unknown section" + (c.empty() ? "" : " (did you mean \"" + c + "\"?)") +
                                    "; known sections: " + join(names)});
      } else {
        std::vector<std::string> names = children_of(section);
        std::string c = closest_name(name, names);
        out.problems.push_back({origin, written,
                                "unknown key" + (c.empty() ? "" : " (did you mean \"" + c + "\"?)") + "; keys of " +
                                    written_prefix + ": " + join(names) + elsewhere(name)});
      }
    }
  }

  // "; `name` is a key of a.b" when a key of that name exists in another section.
  static std::string elsewhere(const std::string& name) {
    std::vector<std::string> where;
    for (const auto& k : schema()) {
      size_t dot = k.path.rfind('.');
      if (k.path.compare(dot + 1, std::string::npos, name) == 0) where.push_back(k.path.substr(0, dot));
    }
    if (where.empty()) return "";
    return "; \"" + name + "\" is a key of " + join(where);
  }

  static std::string alias_note() {
    std::string s;
    for (const auto& a : section_aliases()) s += (s.empty() ? "" : "; ") + a.alias + " is an alias of " + a.canonical;
    return s;
  }
};

}  // namespace

Validated validate_document(const Json& doc, const std::string& origin) {
  Walker w;
  w.origin = origin;
  if (!doc.is_object()) {
    w.out.problems.push_back({origin, "", "expected a JSON object at the top level, got " + got(doc)});
    return std::move(w.out);
  }
  w.walk(doc, "", "");
  return std::move(w.out);
}

std::vector<Problem> cross_check(const std::function<const Json&(const std::string&)>& get,
                                 const std::function<std::string(const std::string&)>& origin_of) {
  std::vector<Problem> out;
  // Adaptive step bounds.
  {
    int64_t lo = get("inference_optimization.min_steps").get<int64_t>();
    int64_t hi = get("inference_optimization.max_steps").get<int64_t>();
    if (lo > hi)
      out.push_back({origin_of("inference_optimization.min_steps"), "inference_optimization.min_steps",
                     std::to_string(lo) + " is greater than inference_optimization.max_steps (" + std::to_string(hi) +
                         "); allowed: min_steps <= max_steps"});
  }
  // The VAE tile overlap must leave a core in each tile.
  {
    const Json& tile = get("tile_optimization.vae_tile_size");
    int64_t overlap = get("tile_optimization.overlap_pixels").get<int64_t>();
    int64_t smallest = std::min(tile[0].get<int64_t>(), tile[1].get<int64_t>());
    if (smallest > 0 && 2 * overlap >= smallest)
      out.push_back({origin_of("tile_optimization.overlap_pixels"), "tile_optimization.overlap_pixels",
                     std::to_string(overlap) + " is too large for tile_optimization.vae_tile_size " +
                         short_value(tile) + "; allowed: less than half the smaller tile side (< " +
                         std::to_string((smallest + 1) / 2) + ")"});
  }
  return out;
}

}  // namespace wan22::config
