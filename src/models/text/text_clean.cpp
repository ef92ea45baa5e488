#include "models/text/text_clean.h"

#include <algorithm>
#include <cstring>

#include "models/text/text_clean_internal.h"
#include "models/text/utf8.h"

namespace wan22::models::text {

namespace {

struct WidthMapping {
  char32_t from, first, second;
};
#include "models/text/width_map.inc"

std::u32string fix_c1_controls(const std::u32string& s) {
  std::u32string out = s;
  for (char32_t& c : out) c = internal::cp1252_c1(c);
  return out;
}

std::u32string fix_latin_ligatures(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    switch (c) {
      case 0x0132: out += U"IJ"; break;
      case 0x0133: out += U"ij"; break;
      case 0x0149: out += U"\u02BCn"; break;
      case 0x01F1: out += U"DZ"; break;
      case 0x01F2: out += U"Dz"; break;
      case 0x01F3: out += U"dz"; break;
      case 0x01C4: out += U"D\u017D"; break;
      case 0x01C5: out += U"D\u017E"; break;
      case 0x01C6: out += U"d\u017E"; break;
      case 0x01C7: out += U"LJ"; break;
      case 0x01C8: out += U"Lj"; break;
      case 0x01C9: out += U"lj"; break;
      case 0x01CA: out += U"NJ"; break;
      case 0x01CB: out += U"Nj"; break;
      case 0x01CC: out += U"nj"; break;
      case 0xFB00: out += U"ff"; break;
      case 0xFB01: out += U"fi"; break;
      case 0xFB02: out += U"fl"; break;
      case 0xFB03: out += U"ffi"; break;
      case 0xFB04: out += U"ffl"; break;
      case 0xFB05: out += U"\u017Ft"; break;
      case 0xFB06: out += U"st"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::u32string fix_character_width(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c == 0x3000) {
      out.push_back(U' ');
    } else if (c >= 0xFF01 && c <= 0xFF5E) {
      out.push_back(c - 0xFEE0);
    } else if (c >= 0xFF5F && c <= 0xFFEF) {
      auto it = std::lower_bound(std::begin(kWidthMap), std::end(kWidthMap), c,
                                 [](const WidthMapping& m, char32_t v) { return m.from < v; });
      if (it != std::end(kWidthMap) && it->from == c) {
        out.push_back(it->first);
        if (it->second) out.push_back(it->second);
      } else {
        out.push_back(c);
      }
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string uncurl_quotes(const std::u32string& s) {
  std::u32string out = s;
  for (char32_t& c : out) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = U'\'';
    else if (c >= 0x201C && c <= 0x201F) c = U'"';
  }
  return out;
}

std::u32string fix_line_breaks(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == U'\r' && i + 1 < s.size() && s[i + 1] == U'\n') continue;  // \r\n -> \n
    out.push_back((c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85) ? U'\n' : c);
  }
  return out;
}

// "\x1b[" (digits | ';')* letter
std::u32string remove_terminal_escapes(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == U'[') {
      size_t k = i + 2;
      while (k < s.size() && ((s[k] >= U'0' && s[k] <= U'9') || s[k] == U';')) ++k;
      if (k < s.size() && ((s[k] >= U'a' && s[k] <= U'z') || (s[k] >= U'A' && s[k] <= U'Z'))) {
        i = k + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

std::u32string remove_control_chars(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (!is_removed_control(c)) out.push_back(c);
  }
  return out;
}

// fix_and_explain on one line, repeated until stable.
std::u32string fix_segment(std::u32string t, bool unescape) {
  for (int round = 0; round < 64; ++round) {
    const std::u32string before = t;
    if (unescape) t = internal::ftfy_unescape_html(t);
    t = fix_c1_controls(t);
    t = fix_latin_ligatures(t);
    t = fix_character_width(t);
    t = uncurl_quotes(t);
    t = fix_line_breaks(t);
    t = remove_terminal_escapes(t);
    t = remove_control_chars(t);
    if (t == before) break;
  }
  return t;
}

std::u32string strip(const std::u32string& s) {
  size_t b = 0, e = s.size();
  while (b < e && internal::is_space(s[b])) ++b;
  while (e > b && internal::is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::u32string collapse_whitespace(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  bool in_space = false;
  for (char32_t c : s) {
    if (internal::is_space(c)) {
      if (!in_space) out.push_back(U' ');
      in_space = true;
    } else {
      out.push_back(c);
      in_space = false;
    }
  }
  return strip(out);
}

std::u32string ftfy_fix_text_u32(const std::u32string& s) {
  // fix_text: line by line ('\n' kept with its line); once a line contains '<', HTML unescaping stays
  // off for it and the rest of the text.
  std::u32string out;
  bool unescape = true;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t brk = s.find(U'\n', pos);
    brk = brk == std::u32string::npos ? s.size() : brk + 1;
    const std::u32string segment = s.substr(pos, brk - pos);
    if (unescape && segment.find(U'<') != std::u32string::npos) unescape = false;
    out += fix_segment(segment, unescape);
    pos = brk;
  }
  return out;
}

}  // namespace

namespace internal {
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
}  // namespace internal

std::string ftfy_fix_text(const std::string& utf8) { return utf8::encode(ftfy_fix_text_u32(utf8::decode(utf8))); }

std::string whitespace_clean(const std::string& utf8) { return utf8::encode(collapse_whitespace(utf8::decode(utf8))); }

std::string clean_prompt(const std::string& utf8) {
  std::u32string t = ftfy_fix_text_u32(utf8::decode(utf8));
  t = internal::html_unescape(internal::html_unescape(t));
  t = strip(t);                   // basic_clean
  return utf8::encode(collapse_whitespace(t));  // whitespace_clean
}

}  // namespace wan22::models::text
