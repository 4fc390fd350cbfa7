// A training curve as a self-contained SVG (docs/DESIGN.md: what people would rather see than read
// is written as a file): training loss per step and evaluation loss points, log-scale loss axis.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace r1::train {

// (step, loss) series; either may be empty. Returns the SVG document.
std::string loss_svg(const std::vector<std::pair<double, double>>& train,
                     const std::vector<std::pair<double, double>>& eval, const std::string& title);

}  // namespace r1::train
