// UTF-32 forms of the cleaning steps (private to models/text; exposed for the unit tests).
#pragma once
#include <string>

namespace wan22::models::text::internal {

// Windows-1252 reading of a C1 control U+0080..U+009F (undefined bytes keep their code point).
char32_t cp1252_c1(char32_t c);
std::u32string html_unescape(const std::u32string& s);
std::u32string ftfy_unescape_html(const std::u32string& s);
// Python str.isspace() / Unicode White_Space.
bool is_space(char32_t c);

}  // namespace wan22::models::text::internal
