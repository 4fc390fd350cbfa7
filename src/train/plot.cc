#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace r1::train {

namespace {
constexpr double kW = 720, kH = 400, kL = 60, kR = 20, kT = 40, kB = 40;

std::string escape(const std::string& t) {
  std::string o;
  for (char c : t) {
    if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else
      o += c;
  }
  return o;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
}  // namespace

std::string loss_svg(const std::vector<std::pair<double, double>>& train,
                     const std::vector<std::pair<double, double>>& eval, const std::string& title) {
  double x1 = 1, lo = 1e300, hi = -1e300;
  for (const auto* s : {&train, &eval})
    for (const auto& [x, y] : *s) {
      if (!(y > 0)) continue;
      x1 = std::max(x1, x);
      lo = std::min(lo, y);
      hi = std::max(hi, y);
    }
  if (lo > hi) lo = 0.1, hi = 10;
  const double l0 = std::floor(std::log10(lo)), l1 = std::max(l0 + 1, std::ceil(std::log10(hi)));
  auto px = [&](double x) { return kL + (kW - kL - kR) * x / x1; };
  auto py = [&](double y) { return kT + (kH - kT - kB) * (l1 - std::log10(y)) / (l1 - l0); };
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kW) + "\" height=\"" +
                  num(kH) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(kW / 2) + "\" y=\"20\" text-anchor=\"middle\">" + escape(title) +
       "</text>\n";
  for (double d = l0; d <= l1; d += 1) {  // decades of the loss axis
    const double y = py(std::pow(10, d));
    s += "<line x1=\"" + num(kL) + "\" x2=\"" + num(kW - kR) + "\" y1=\"" + num(y) + "\" y2=\"" +
         num(y) + "\" stroke=\"#ddd\"/>\n<text x=\"" + num(kL - 6) + "\" y=\"" + num(y + 4) +
         "\" text-anchor=\"end\">1e" + std::to_string(static_cast<int>(d)) + "</text>\n";
  }
  s += "<text x=\"" + num(kW - kR) + "\" y=\"" + num(kH - 12) + "\" text-anchor=\"end\">step " +
       std::to_string(static_cast<long long>(x1)) + "</text>\n";
  auto polyline = [&](const std::vector<std::pair<double, double>>& pts, const char* color) {
    std::string p;
    for (const auto& [x, y] : pts)
      if (y > 0) p += num(px(x)) + "," + num(py(y)) + " ";
    return "<polyline fill=\"none\" stroke=\"" + std::string(color) +
           "\" stroke-width=\"1.5\" points=\"" + p + "\"/>\n";
  };
  s += polyline(train, "#1f77b4");
  s += polyline(eval, "#d62728");
  for (const auto& [x, y] : eval)
    if (y > 0)
      s += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) +
           "\" r=\"3\" fill=\"#d62728\"/>\n";
  s += "<text x=\"" + num(kL + 10) + "\" y=\"" + num(kT + 14) +
       "\" fill=\"#1f77b4\">training loss</text>\n<text x=\"" + num(kL + 10) + "\" y=\"" +
       num(kT + 30) + "\" fill=\"#d62728\">eval loss</text>\n</svg>\n";
  return s;
}

std::string series_svg(const std::vector<Series>& series, const std::string& title,
                       const std::string& y_label) {
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"};
  double x1 = 1, lo = 0, hi = -1e300;
  for (const Series& se : series)
    for (const auto& [x, y] : se.points) {
      if (!std::isfinite(y)) continue;
      x1 = std::max(x1, x);
      lo = std::min(lo, y);
      hi = std::max(hi, y);
    }
  if (!(hi > lo)) hi = lo + 1;
  auto px = [&](double x) { return kL + (kW - kL - kR) * x / x1; };
  auto py = [&](double y) { return kT + (kH - kT - kB) * (hi - y) / (hi - lo); };
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kW) + "\" height=\"" +
                  num(kH) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(kW / 2) + "\" y=\"20\" text-anchor=\"middle\">" + escape(title) +
       "</text>\n";
  for (int g = 0; g <= 4; ++g) {  // five grid lines with their values
    const double v = lo + (hi - lo) * g / 4, y = py(v);
    char label[32];
    std::snprintf(label, sizeof label, "%.3g", v);
    s += "<line x1=\"" + num(kL) + "\" x2=\"" + num(kW - kR) + "\" y1=\"" + num(y) + "\" y2=\"" +
         num(y) + "\" stroke=\"#ddd\"/>\n<text x=\"" + num(kL - 6) + "\" y=\"" + num(y + 4) +
         "\" text-anchor=\"end\">" + label + "</text>\n";
  }
  s += "<text x=\"14\" y=\"" + num(kH / 2) + "\" transform=\"rotate(-90 14 " + num(kH / 2) +
       ")\" text-anchor=\"middle\">" + escape(y_label) + "</text>\n";
  s += "<text x=\"" + num(kW - kR) + "\" y=\"" + num(kH - 12) + "\" text-anchor=\"end\">step " +
       std::to_string(static_cast<long long>(x1)) + "</text>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const char* color = kColors[k % 5];
    std::string p;
    for (const auto& [x, y] : series[k].points)
      if (std::isfinite(y)) p += num(px(x)) + "," + num(py(y)) + " ";
    s += "<polyline fill=\"none\" stroke=\"" + std::string(color) +
         "\" stroke-width=\"1.5\" points=\"" + p + "\"/>\n";
    if (series[k].dots)
      for (const auto& [x, y] : series[k].points)
        if (std::isfinite(y))
          s += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3\" fill=\"" +
               color + "\"/>\n";
    s += "<text x=\"" + num(kL + 10) + "\" y=\"" + num(kT + 14 + 16 * static_cast<double>(k)) +
         "\" fill=\"" + color + "\">" + escape(series[k].name) + "</text>\n";
  }
  return s + "</svg>\n";
}

}  // namespace r1::train
