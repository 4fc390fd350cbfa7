// A training curve as a self-contained SVG (docs/DESIGN.md: what people would rather see than read
// is written as a file): training loss per step and evaluation loss points, log-scale loss axis.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace r1::train {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (step, value)
  bool dots = false;  // mark each point (sparse series such as periodic evaluations)
};

// Series against steps on a linear axis from 0 (or the smallest value, if negative) to the
// largest value, each in its own color with its name in the legend. Returns the SVG document.
std::string series_svg(const std::vector<Series>& series, const std::string& title,
                       const std::string& y_label);

// (step, loss) series; either may be empty. Returns the SVG document.
std::string loss_svg(const std::vector<std::pair<double, double>>& train,
                     const std::vector<std::pair<double, double>>& eval, const std::string& title);

}  // namespace r1::train
