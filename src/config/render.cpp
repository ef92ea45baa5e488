#include "config/render.h"

#include <cctype>
#include <sstream>

namespace wan22::config {

std::string format_value(const Json& v) {
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + format_value(v[i]);
    return s + "]";
  }
  return v.dump();
}

namespace {

// Wraps `text` into `//` comment lines of at most `width` columns at `indent`.
void comment(std::ostringstream& out, const std::string& indent, const std::string& text, size_t width = 100) {
  std::istringstream words(text);
  std::string word, line;
  auto flush = [&] {
    if (!line.empty()) out << indent << "// " << line << "\n";
    line.clear();
  };
  while (words >> word) {
    if (!line.empty() && indent.size() + 3 + line.size() + 1 + word.size() > width) flush();
    line += (line.empty() ? "" : " ") + word;
  }
  flush();
}

const SectionSpec* find_section(const std::string& name) {
  for (const auto& s : sections())
    if (s.name == name) return &s;
  return nullptr;
}

std::string join_path(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

void render_level(std::ostringstream& out, const Settings& s, const std::string& section, int depth) {
  const std::string indent(static_cast<size_t>(depth + 1) * 2, ' ');
  auto children = children_of(section);
  for (size_t i = 0; i < children.size(); ++i) {
    const std::string path = join_path(section, children[i]);
    const bool last = i + 1 == children.size();
    if (const KeySpec* k = find_key(path)) {
      std::string note = k->description;
      if (!k->guide_value.is_null()) note += " (the guide's value: " + format_value(k->guide_value) + ")";
      comment(out, indent, note + ". Allowed: " + k->allowed() + ". [" + k->status.str() + "]");
      out << indent << "\"" << children[i] << "\": " << format_value(s.get_json(path)) << (last ? "" : ",") << "\n";
    } else {
      const SectionSpec* sec = find_section(path);
      if (depth == 0 && i > 0) out << "\n";
      if (sec) {
        std::string title = "---- " + path + ": " + sec->title + " ----";
        out << indent << "// " << title << "\n";
        comment(out, indent, sec->description + (sec->from_guide ? "" : " (engine section, not in the guide)"));
      }
      out << indent << "\"" << children[i] << "\": {\n";
      render_level(out, s, path, depth + 1);
      out << indent << "}" << (last ? "" : ",") << "\n";
    }
  }
}

std::string md_escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

}  // namespace

std::string render_config(const Settings& s, const std::string& header) {
  std::ostringstream out;
  out << header;
  out << "{\n";
  render_level(out, s, "", 0);
  out << "}\n";
  return out.str();
}

std::string example_config() {
  const std::string header =
      "// wan22 configuration file, written by `wan22 config init`: every key at its default.\n"
      "// JSON with // and /* */ comments. Delete a key or a whole section to keep the default;\n"
      "// docs/config.md describes every key. Use it with `wan22 <command> --config FILE`, check it\n"
      "// with `wan22 config validate FILE`, see the effective values with `wan22 config show`.\n"
      "// The tag after each description is the key's status in this build:\n"
      "//   [applied: ...]         the engine uses the value\n"
      "//   [fixed: ...]           the engine always behaves as the default; another value is reported\n"
      "//   [planned: ...]         accepted and validated; the feature is not built yet, so setting\n"
      "//                          the key makes wan22 warn \"not applied\"\n"
      "//   [not applicable: ...]  cannot apply to Wan2.2; accepted and reported\n"
      "// `rtx4080_optimizations` (the guide's name) is accepted for `gpu_optimizations`.\n";
  return render_config(Settings(), header);
}

std::string reference_markdown() {
  std::ostringstream out;
  for (const auto& sec : sections()) {
    std::string alias;
    for (const auto& a : section_aliases())
      if (a.canonical == sec.name) alias = " (alias: `" + a.alias + "`)";
    out << "### `" << sec.name << "`" << alias << " -- " << sec.title << "\n\n";
    std::string desc = sec.description;
    if (!desc.empty()) desc[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(desc[0])));
    out << desc << (sec.from_guide ? "." : ". Engine section (not in the guide).") << "\n\n";
    out << "| key | type | default | allowed | status | what it does here |\n";
    out << "| --- | --- | --- | --- | --- | --- |\n";
    const std::string prefix = sec.name + ".";
    for (const auto& k : schema()) {
      if (k.path.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string name = k.path.substr(prefix.size());
      if (name.find('.') != std::string::npos) continue;  // belongs to a nested section
      std::string def = "`";
      def += format_value(k.default_value);
      def += '`';
      if (!k.guide_value.is_null()) {
        def += " (guide: `";
        def += format_value(k.guide_value);
        def += "`)";
      }
      out << "| `" << name << "` | " << md_escape(value_type_name(k.type)) << " | " << md_escape(def) << " | "
          << md_escape(k.allowed()) << " | " << md_escape(k.status.str()) << " | " << md_escape(k.description)
          << (k.from_guide || !sec.from_guide ? "" : " (engine key)") << " |\n";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace wan22::config
