// Inline SVG charts for the HTML report: a horizontal bar chart (time per stage) and a line chart
// (a metric's history). Plain SVG 1.1 with <title> tooltips; no script, no external resources.
#pragma once
#include <string>
#include <vector>

namespace wan22::bench {

struct Bar {
  std::string label;
  double value = 0;
  std::string color = "#3b6fb6";
};

struct LinePoint {
  std::string label;  // x label / tooltip head (e.g. "run 12")
  double value = 0;
  double band = 0;         // relative noise band: an error bar of value * (1 +- band)
  bool highlight = false;  // the current run
};

// Bars scaled to the largest value; each labelled with its value and share of the total.
std::string svg_bar_chart(const std::string& title, const std::vector<Bar>& bars,
                          const std::string& unit);
// The y axis starts at 0; the x axis is the run order.
std::string svg_line_chart(const std::string& title, const std::vector<LinePoint>& points,
                           const std::string& unit);

std::string xml_escape(const std::string& s);

}  // namespace wan22::bench
