// The official prompt cleaning of Wan's HuggingfaceTokenizer(clean='whitespace'):
//   whitespace_clean(basic_clean(text)), basic_clean = ftfy.fix_text, html.unescape twice, strip.
// All functions take and return UTF-8 (invalid bytes become U+FFFD).
//
// ftfy.fix_text is approximated by the steps that change real prompts (see docs/models/text.md):
// its own HTML unescaping (semicolon-terminated entities, all-caps names; off for the rest of the
// text once a line contains '<'), C1 controls read as Windows-1252, Latin ligatures, full/halfwidth
// forms, curly quotes, line breaks, ANSI terminal escapes, control characters; repeated per line
// until nothing changes. Not done: mojibake repair (fix_encoding) and NFC normalisation
// (sentencepiece's NFKC normaliser, which the T5 models use, subsumes it).
#pragma once
#include <string>

namespace wan22::models::text {

// Python's html.unescape (HTML5 rules: numeric references with the Windows-1252 and invalid-code-point
// rules, named references with or without ';' for the legacy names, longest-prefix matching).
// Named entities: the HTML 4 set, the HTML5 names of ASCII characters, and the uppercase legacy names.
std::string html_unescape(const std::string& utf8);

// ftfy.fixes.unescape_html: only '&#?[0-9A-Za-z]{1,24};' references, plus all-caps names.
std::string ftfy_unescape_html(const std::string& utf8);

// The ftfy.fix_text subset described above.
std::string ftfy_fix_text(const std::string& utf8);

// Runs of Unicode whitespace -> one space; leading/trailing whitespace removed.
std::string whitespace_clean(const std::string& utf8);

// whitespace_clean(basic_clean(text)): what the official tokenizer wrapper feeds to the tokenizer.
std::string clean_prompt(const std::string& utf8);

}  // namespace wan22::models::text
