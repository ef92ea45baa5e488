#include "bench/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "bench/report.h"

namespace wan22::bench {

std::string xml_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

namespace {
std::string f1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}
double finite_or_zero(double v) { return std::isfinite(v) ? v : 0.0; }
}  // namespace

std::string svg_bar_chart(const std::string& title, const std::vector<Bar>& bars,
                          const std::string& unit) {
  const double label_w = 200, bar_w = 420, value_w = 160, row_h = 28, top = 6;
  const double width = label_w + bar_w + value_w;
  const double height = top + row_h * static_cast<double>(std::max<size_t>(bars.size(), 1)) + 10;
  double maxv = 0, total = 0;
  for (const auto& b : bars) {
    maxv = std::max(maxv, finite_or_zero(b.value));
    total += finite_or_zero(b.value);
  }
  std::ostringstream o;
  o << "<svg class=\"chart bar-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " " << height
    << "\" role=\"img\" aria-label=\"" << xml_escape(title) << "\">\n";
  o << "<title>" << xml_escape(title) << "</title>\n";
  if (bars.empty()) {
    o << "<text x=\"0\" y=\"" << top + 16 << "\" font-size=\"12\">no timings</text>\n";
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = top + row_h * static_cast<double>(i);
    const double v = finite_or_zero(b.value);
    const double w = maxv > 0 ? std::max(1.0, bar_w * v / maxv) : 1.0;
    const std::string value_text = format_value(b.value, unit) +
                                   (total > 0 ? " (" + format_percent(v / total, false) + ")" : "");
    o << "<g><title>" << xml_escape(b.label + ": " + value_text) << "</title>";
    o << "<text x=\"" << label_w - 8 << "\" y=\"" << y + 18
      << "\" text-anchor=\"end\" font-size=\"12\">" << xml_escape(b.label) << "</text>";
    o << "<rect x=\"" << label_w << "\" y=\"" << y + 4 << "\" width=\"" << f1(w) << "\" height=\""
      << row_h - 8 << "\" fill=\"" << xml_escape(b.color) << "\" rx=\"2\"/>";
    o << "<text x=\"" << label_w + w + 6 << "\" y=\"" << y + 18 << "\" font-size=\"12\">"
      << xml_escape(value_text) << "</text></g>\n";
  }
  o << "</svg>";
  return o.str();
}

std::string svg_line_chart(const std::string& title, const std::vector<LinePoint>& pts,
                           const std::string& unit) {
  const double width = 500, height = 210, left = 70, right = 16, top = 30, bottom = 40;
  const double pw = width - left - right, ph = height - top - bottom;
  double maxv = 0;
  for (const auto& p : pts) maxv = std::max(maxv, finite_or_zero(p.value) * (1 + p.band));
  if (!(maxv > 0)) maxv = 1;
  maxv *= 1.08;
  const size_t n = pts.size();
  auto x_of = [&](size_t i) {
    return left + (n <= 1 ? pw / 2 : pw * static_cast<double>(i) / static_cast<double>(n - 1));
  };
  auto y_of = [&](double v) { return top + ph * (1 - finite_or_zero(v) / maxv); };

  std::ostringstream o;
  o << "<svg class=\"chart line-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " " << height
    << "\" role=\"img\" aria-label=\"" << xml_escape(title) << "\">\n";
  o << "<title>" << xml_escape(title) << "</title>\n";
  o << "<text x=\"0\" y=\"16\" font-size=\"13\" font-weight=\"bold\">" << xml_escape(title)
    << "</text>\n";
  // axes and y ticks (0, half, max)
  o << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << top + ph
    << "\" stroke=\"#888\"/>";
  o << "<line x1=\"" << left << "\" y1=\"" << top + ph << "\" x2=\"" << left + pw << "\" y2=\""
    << top + ph << "\" stroke=\"#888\"/>\n";
  for (double frac : {0.0, 0.5, 1.0}) {
    const double v = maxv * frac;
    const double y = y_of(v);
    o << "<line x1=\"" << left << "\" y1=\"" << f1(y) << "\" x2=\"" << left + pw << "\" y2=\""
      << f1(y) << "\" stroke=\"#e4e4e4\"/>";
    o << "<text x=\"" << left - 6 << "\" y=\"" << f1(y + 4)
      << "\" text-anchor=\"end\" font-size=\"11\">" << xml_escape(format_value(v, unit))
      << "</text>\n";
  }
  if (n == 0) {
    o << "<text x=\"" << left + 10 << "\" y=\"" << top + ph / 2
      << "\" font-size=\"12\">no stored runs</text>\n";
  }
  // the line
  if (n >= 2) {
    o << "<polyline fill=\"none\" stroke=\"#3b6fb6\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < n; ++i)
      o << (i ? " " : "") << f1(x_of(i)) << "," << f1(y_of(pts[i].value));
    o << "\"/>\n";
  }
  for (size_t i = 0; i < n; ++i) {
    const LinePoint& p = pts[i];
    const double x = x_of(i), y = y_of(p.value);
    o << "<g><title>"
      << xml_escape(p.label + ": " + format_value(p.value, unit) +
                    (p.band > 0 ? " +-" + format_percent(p.band, false) : ""))
      << "</title>";
    if (p.band > 0) {
      o << "<line x1=\"" << f1(x) << "\" y1=\"" << f1(y_of(p.value * (1 + p.band))) << "\" x2=\""
        << f1(x) << "\" y2=\"" << f1(y_of(p.value * (1 - p.band))) << "\" stroke=\"#7a9cd0\"/>";
    }
    o << "<circle cx=\"" << f1(x) << "\" cy=\"" << f1(y) << "\" r=\"" << (p.highlight ? 5 : 3.5)
      << "\" fill=\"" << (p.highlight ? "#d9480f" : "#3b6fb6") << "\"/></g>\n";
  }
  if (n >= 1) {
    o << "<text x=\"" << f1(x_of(0)) << "\" y=\"" << height - 18 << "\" text-anchor=\""
      << (n >= 2 ? "start" : "middle") << "\" font-size=\"11\">" << xml_escape(pts.front().label)
      << "</text>";
    if (n >= 2) {
      o << "<text x=\"" << f1(x_of(n - 1)) << "\" y=\"" << height - 18
        << "\" text-anchor=\"end\" font-size=\"11\">" << xml_escape(pts.back().label) << "</text>";
    }
    o << "\n";
  }
  o << "</svg>";
  return o.str();
}

}  // namespace wan22::bench
