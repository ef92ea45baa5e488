// The official prompt cleaning: Python html.unescape (expected values computed with CPython's html
// module), the ftfy.fix_text subset (ftfy's documented examples), whitespace collapsing.
#include <gtest/gtest.h>

#include <string>

#include "models/text/negative_prompt.h"
#include "models/text/text_clean.h"

using namespace wan22::models::text;

TEST(TextClean, HtmlUnescapeMatchesPython) {
  const std::pair<const char*, const char*> cases[] = {
      {"&amp;", "&"},
      {"&amp", "&"},
      {"&ampfoo bar", "&foo bar"},
      {"&amp;amp;", "&amp;"},
      {"&lt;b&gt;", "<b>"},
      {"&#65;&#x42;&#X43", "ABC"},
      {"&#0;", "\uFFFD"},
      {"&#x80;&#x9d;", "\u20AC\u009D"},
      {"&#xD800;", "\uFFFD"},
      {"&#1114112;", "\uFFFD"},
      {"&#13;", "\r"},
      {"&#11;", ""},
      {"&#x7f;", ""},
      {"&#xFFFE;", ""},
      {"&nbsp;x", "\u00A0x"},
      {"&noti;", "\u00ACi;"},
      {"&copy2024", "\u00A92024"},
      {"&COPY;", "\u00A9"},
      {"&Copy;", "&Copy;"},
      {"a & b", "a & b"},
      {"&#;", "&#;"},
      {"&#x;", "&#x;"},
      {"&;", "&;"},
      {"&eacute;t&eacute;", "\u00E9t\u00E9"},
      {"&hellip;&mdash;&rsquo;", "\u2026\u2014\u2019"},
      {"&apos;", "'"},
      {"&frac12;", "\u00BD"},
      {"&lang;&rang;", "\u27E8\u27E9"},
      {"&#99999999999999999999;", "\uFFFD"},
      {"&ltx", "<x"},
      {"&gtx;", ">x;"},
      {"&AElig", "\u00C6"},
      {"&unknown;", "&unknown;"},
      {"&Tab;x", "\tx"},
      {"&NewLine;", "\n"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(html_unescape(in), want) << "input " << in;
}

TEST(TextClean, FtfyUnescapeOnlyTerminatedReferences) {
  EXPECT_EQ(ftfy_unescape_html("&lt;tag&gt;"), "<tag>");
  EXPECT_EQ(ftfy_unescape_html("P&eacute;rez"), "P\u00E9rez");
  EXPECT_EQ(ftfy_unescape_html("P&EACUTE;REZ"), "P\u00C9REZ");
  EXPECT_EQ(ftfy_unescape_html("BUNDESSTRA&SZLIG;E"), "BUNDESSTRASSE");
  EXPECT_EQ(ftfy_unescape_html("&ntilde; &Ntilde; &NTILDE; &nTILDE;"), "\u00F1 \u00D1 \u00D1 &nTILDE;");
  EXPECT_EQ(ftfy_unescape_html("this&not that"), "this&not that");  // no ';': left alone
  EXPECT_EQ(ftfy_unescape_html("&#65;&#x42;&#59;&#65a;"), "AB&#59;&#65a;");
}

TEST(TextClean, FtfySubset) {
  EXPECT_EQ(ftfy_fix_text("\u201Chere\u2019s a test\u201D"), "\"here's a test\"");
  EXPECT_EQ(ftfy_fix_text("\uFF2C\uFF2F\uFF35\uFF24\u3000\uFF2E\uFF2F\uFF29\uFF33\uFF25\uFF33"), "LOUD NOISES");
  EXPECT_EQ(ftfy_fix_text("\uFF35\uFF80\uFF70\uFF9D"), "U\u30BF\u30FC\u30F3");
  EXPECT_EQ(ftfy_fix_text("\x1b[36;44mI'm blue\x1b[0m"), "I'm blue");
  EXPECT_EQ(ftfy_fix_text("\uFB02u\uFB03e\uFB06"), "fluffiest");
  EXPECT_EQ(ftfy_fix_text("a\x0b" "b\x01\u200Dc\uFEFF"), "ab\u200Dc");
  EXPECT_EQ(ftfy_fix_text("What is this \u0085 I"), "What is this \u2026 I");  // C1 read as Windows-1252
  EXPECT_EQ(ftfy_fix_text("a\r\nb\rc\u2028d"), "a\nb\nc\nd");
  // Repeated until stable: a multiply escaped entity is fully decoded.
  EXPECT_EQ(ftfy_fix_text("&amp;amp;amp;amp;"), "&");
  // A '<' turns its own unescaping off, and that of the following lines.
  EXPECT_EQ(ftfy_fix_text("&amp;\n<b>&amp;\n&amp;"), "&\n<b>&amp;\n&amp;");
  EXPECT_EQ(ftfy_fix_text("\xff"), "\uFFFD");  // invalid UTF-8
}

TEST(TextClean, WhitespaceClean) {
  EXPECT_EQ(whitespace_clean("  a \t\n b  "), "a b");
  EXPECT_EQ(whitespace_clean("\u3000a\u00A0\u2009b\u205F"), "a b");
  EXPECT_EQ(whitespace_clean(""), "");
  EXPECT_EQ(whitespace_clean(" \n\t "), "");
  EXPECT_EQ(whitespace_clean("a\u200Bb"), "a\u200Bb");  // zero-width space is not whitespace
}

TEST(TextClean, CleanPromptOfficialPipeline) {
  EXPECT_EQ(clean_prompt("  Aerial   view of a  neon city\n at night &amp; rain  "),
            "Aerial view of a neon city at night & rain");
  // html.unescape twice after ftfy: with a '<' ftfy leaves entities, the two passes remove two levels.
  EXPECT_EQ(clean_prompt("<b> &amp;amp;amp; </b>"), "<b> &amp; </b>");
  EXPECT_EQ(clean_prompt("caf&eacute;&nbsp;&nbsp;time"), "caf\u00E9 time");
  EXPECT_EQ(clean_prompt(""), "");
  // The default negative prompt: ftfy turns its fullwidth commas into ASCII ones, nothing else changes.
  const std::string neg = kDefaultNegativePrompt;
  const std::string fullwidth_comma = "\uFF0C";
  std::string want;
  for (size_t i = 0; i < neg.size();) {
    const bool comma = neg.compare(i, fullwidth_comma.size(), fullwidth_comma) == 0;
    want += comma ? std::string(",") : neg.substr(i, 1);
    i += comma ? fullwidth_comma.size() : 1;
  }
  EXPECT_NE(want, kDefaultNegativePrompt);
  EXPECT_EQ(clean_prompt(kDefaultNegativePrompt), want);
}
