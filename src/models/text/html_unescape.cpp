// Python's html.unescape and ftfy's unescape_html, on UTF-32 text (declared in text_clean.h).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "models/text/text_clean.h"
#include "models/text/text_clean_internal.h"
#include "models/text/utf8.h"

namespace wan22::models::text {

namespace {

struct Entity {
  const char* name;
  char32_t first, second;
  bool legacy;  // also recognised without the trailing ';'
};

#include "models/text/html_entities.inc"

template <size_t N>
const Entity* find_in(const Entity (&table)[N], const std::string& name) {
  auto it = std::lower_bound(std::begin(table), std::end(table), name,
                             [](const Entity& e, const std::string& n) { return std::strcmp(e.name, n.c_str()) < 0; });
  return it != std::end(table) && name == it->name ? it : nullptr;
}

void append_entity(std::u32string& out, const Entity& e) {
  out.push_back(e.first);
  if (e.second) out.push_back(e.second);
}

std::string ascii_name(const std::u32string& s, size_t begin, size_t end) {
  std::string name;
  for (size_t i = begin; i < end; ++i) {
    if (s[i] >= 0x80) return {};  // no entity name has non-ASCII characters
    name.push_back(static_cast<char>(s[i]));
  }
  return name;
}

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_hex(char32_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_alnum(char32_t c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
int hex_value(char32_t c) {
  if (is_digit(c)) return static_cast<int>(c - '0');
  return static_cast<int>((c | 0x20) - 'a' + 10);
}

// Code points that html.unescape drops (the HTML5 "parse error" set without a replacement).
bool invalid_codepoint(uint64_t cp) {
  return (cp >= 0x1 && cp <= 0x8) || cp == 0xB || (cp >= 0xE && cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F) ||
         (cp >= 0xFDD0 && cp <= 0xFDEF) || ((cp & 0xFFFE) == 0xFFFE && cp <= 0x10FFFF);
}

// _replace_charref for a numeric reference with value num (saturated above 0x10FFFF).
void append_numeric(std::u32string& out, uint64_t num) {
  if (num == 0x00) {
    out.push_back(0xFFFD);
  } else if (num == 0x0D) {
    out.push_back(U'\r');
  } else if (num >= 0x80 && num <= 0x9F) {
    out.push_back(internal::cp1252_c1(static_cast<char32_t>(num)));
  } else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    out.push_back(0xFFFD);
  } else if (!invalid_codepoint(num)) {
    out.push_back(static_cast<char32_t>(num));
  }
}

// Characters that end a named reference in html.unescape's pattern [^\t\n\f <&#;].
bool ends_name(char32_t c) {
  return c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' || c == U'#' || c == U';';
}

// The named part of _replace_charref: s = name (+ ';' when semi).
void append_named(std::u32string& out, const std::u32string& text, size_t begin, size_t end, bool semi) {
  const std::string name = ascii_name(text, begin, end);
  if (!name.empty()) {
    const Entity* e = find_in(kEntities, name);
    if (e && (semi || e->legacy)) {
      append_entity(out, *e);
      return;
    }
  }
  // Longest prefix (at least 2 characters) that is a legacy name; the rest stays as text.
  const size_t len = end - begin + (semi ? 1 : 0);
  for (size_t x = len - 1; x >= 2; --x) {
    if (x > end - begin) continue;
    const std::string prefix = ascii_name(text, begin, begin + x);
    if (prefix.empty()) continue;
    const Entity* e = find_in(kEntities, prefix);
    if (e && e->legacy) {
      append_entity(out, *e);
      out.append(text, begin + x, end - begin - x);
      if (semi) out.push_back(U';');
      return;
    }
  }
  out.push_back(U'&');
  out.append(text, begin, end - begin);
  if (semi) out.push_back(U';');
}

}  // namespace

namespace internal {

char32_t cp1252_c1(char32_t c) {
  static const char32_t kTable[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                      0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
                                      0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                      0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  return (c >= 0x80 && c <= 0x9F) ? kTable[c - 0x80] : c;
}

std::u32string html_unescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    const size_t j = i + 1;
    if (j < n && s[j] == U'#') {
      size_t k = j + 1;
      const bool hex = k < n && (s[k] == U'x' || s[k] == U'X') && k + 1 < n && is_hex(s[k + 1]);
      if (!hex && !(k < n && is_digit(s[k]))) {  // '&#' not followed by a number: literal
        out.push_back(s[i++]);
        continue;
      }
      if (hex) ++k;
      uint64_t num = 0;
      while (k < n && (hex ? is_hex(s[k]) : is_digit(s[k]))) {
        num = num * (hex ? 16 : 10) + static_cast<uint64_t>(hex ? hex_value(s[k]) : static_cast<int>(s[k] - '0'));
        num = std::min<uint64_t>(num, 0x110000);  // saturate: anything above is U+FFFD anyway
        ++k;
      }
      if (k < n && s[k] == U';') ++k;
      append_numeric(out, num);
      i = k;
      continue;
    }
    size_t k = j;
    while (k < n && k - j < 32 && !ends_name(s[k])) ++k;
    if (k == j) {
      out.push_back(s[i++]);
      continue;
    }
    const bool semi = k < n && s[k] == U';';
    append_named(out, s, j, k, semi);
    i = k + (semi ? 1 : 0);
  }
  return out;
}

std::u32string ftfy_unescape_html(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    // &#?[0-9A-Za-z]{1,24};
    const bool numeric = i + 1 < n && s[i + 1] == U'#';
    const size_t begin = i + 1 + (numeric ? 1 : 0);
    size_t k = begin;
    while (k < n && k - begin < 24 && is_alnum(s[k])) ++k;
    if (k == begin || k >= n || s[k] != U';') {
      out.push_back(s[i++]);
      continue;
    }
    const std::u32string whole = s.substr(i, k + 1 - i);
    if (numeric) {
      // html.unescape of the reference; kept as is unless it consumed the ';'.
      std::u32string decoded = html_unescape(whole);
      out += decoded.find(U';') == std::u32string::npos ? decoded : whole;
    } else {
      const std::string name = ascii_name(s, begin, k);
      const Entity* e = find_in(kEntities, name);
      if (!e) e = find_in(kUpperEntities, name);
      if (e) {
        append_entity(out, *e);
      } else {
        out += whole;
      }
    }
    i = k + 1;
  }
  return out;
}

}  // namespace internal

std::string html_unescape(const std::string& utf8) { return utf8::encode(internal::html_unescape(utf8::decode(utf8))); }

std::string ftfy_unescape_html(const std::string& utf8) {
  return utf8::encode(internal::ftfy_unescape_html(utf8::decode(utf8)));
}

}  // namespace wan22::models::text
