#include "train/metrics.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_io.h"
#include "io/json_reader.h"

namespace tinyr2::train {

namespace {

namespace fs = std::filesystem;

// A JSON number in its shortest round-trip form (floats print as floats), or null.
template <typename T>
std::string num(T v) {
  return std::isfinite(v) ? fmt::format("{}", v) : std::string("null");
}

double get(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::numeric_limits<double>::quiet_NaN();
  return it->get<double>();
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A "nice" tick spacing (1, 2 or 5 × 10^k) giving about `target` intervals over `range`.
double nice_step(double range, int target) {
  if (!(range > 0)) return 1.0;
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
}

std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-6) v = 0;
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return fmt::format("{:.{}f}", v, decimals);
}

}  // namespace

char parse_metrics_line(const std::string& line, TrainRecord& t, EvalRecord& e) {
  nlohmann::json j;
  try {
    j = io::parse_json(line, "metrics.jsonl");  // bounded (io/json_reader.h)
  } catch (const Error&) {
    return 0;  // a half-written or foreign line is skipped
  }
  if (!j.is_object() || !j.contains("type") || !j.contains("step") ||
      !j["step"].is_number_integer())
    return 0;
  if (j["type"] == "train") {
    t = {j["step"].get<int64_t>(),
         get(j, "loss"),
         get(j, "ce"),
         get(j, "bal"),
         get(j, "lr"),
         get(j, "grad_norm"),
         get(j, "ms"),
         get(j, "tokens_per_s"),
         {}};
    if (j.contains("moe_dropped") && j["moe_dropped"].is_array())
      for (const auto& v : j["moe_dropped"])
        t.moe_dropped.push_back(v.is_number() ? v.get<double>() : std::nan(""));
    return 't';
  }
  if (j["type"] == "eval") {
    e = {j["step"].get<int64_t>(), get(j, "train_loss"), get(j, "val_loss")};
    return 'e';
  }
  return 0;
}

MetricsLog::MetricsLog(std::string dir, int64_t keep_until) : dir_(std::move(dir)) {
  const std::string file = path();
  if (keep_until >= 0 && fs::exists(file)) {
    // Keep the records up to the checkpoint, drop the rest, rewrite atomically.
    std::ifstream in(file);
    std::string line, kept;
    while (std::getline(in, line)) {
      TrainRecord t;
      EvalRecord e;
      const char kind = parse_metrics_line(line, t, e);
      if (kind == 't' && t.step <= keep_until) train_.push_back(t), kept += line + "\n";
      if (kind == 'e' && e.step <= keep_until) eval_.push_back(e), kept += line + "\n";
    }
    io::write_file_atomically(file, kept);
    out_.open(file, std::ios::app);
  } else {
    out_.open(file, std::ios::trunc);
  }
  if (!out_) fail("{}: cannot write: {}", file, std::strerror(errno));
}

void MetricsLog::write_line(const std::string& line) {
  out_ << line << '\n';
  out_.flush();
  if (!out_) fail("{}: cannot write: {}", path(), std::strerror(errno));
}

void MetricsLog::append(const TrainRecord& r) {
  train_.push_back(r);
  std::string dropped;  // SPEC §11
  if (!r.moe_dropped.empty()) {
    dropped = ",\"moe_dropped\":[";
    for (size_t i = 0; i < r.moe_dropped.size(); ++i) {
      if (i > 0) dropped.push_back(',');
      dropped.append(num(static_cast<float>(r.moe_dropped[i])));
    }
    dropped += "]";
  }
  write_line(fmt::format(
      R"({{"type":"train","step":{},"loss":{},"ce":{},"bal":{},"lr":{},"grad_norm":{},"ms":{},"tokens_per_s":{}{}}})",
      r.step, num(static_cast<float>(r.loss)), num(static_cast<float>(r.ce)),
      num(static_cast<float>(r.bal)), num(r.lr), num(static_cast<float>(r.grad_norm)),
      num(std::round(r.ms * 10) / 10), num(std::round(r.tokens_per_s)), dropped));
}

void MetricsLog::append(const EvalRecord& r) {
  eval_.push_back(r);
  write_line(fmt::format(R"({{"type":"eval","step":{},"train_loss":{},"val_loss":{}}})", r.step,
                         num(static_cast<float>(r.train_loss)),
                         num(static_cast<float>(r.val_loss))));
}

void MetricsLog::write_svg(const std::string& title) const {
  io::write_file_atomically(dir_ + "/loss.svg", loss_svg(train_, eval_, title));
}

std::string loss_svg(const std::vector<TrainRecord>& train, const std::vector<EvalRecord>& eval,
                     const std::string& title) {
  constexpr double W = 800, H = 500, left = 72, right = 24, top = 48, bottom = 64;
  const double pw = W - left - right, ph = H - top - bottom;

  // Data ranges over the finite values.
  double x_max = 1, y_min = std::numeric_limits<double>::infinity(), y_max = -y_min;
  auto see = [&](int64_t step, double y) {
    x_max = std::max(x_max, static_cast<double>(step));
    if (std::isfinite(y)) y_min = std::min(y_min, y), y_max = std::max(y_max, y);
  };
  for (const auto& r : train) see(r.step, r.loss);
  for (const auto& r : eval) see(r.step, r.val_loss);
  if (!(y_min <= y_max)) y_min = 0, y_max = 1;
  if (y_max - y_min < 1e-6) y_min -= 0.5, y_max += 0.5;
  const double y_step = nice_step(y_max - y_min, 6);
  y_min = std::floor(y_min / y_step) * y_step;
  y_max = std::ceil(y_max / y_step) * y_step;
  const double x_step = nice_step(x_max, 8);
  x_max = std::ceil(x_max / x_step) * x_step;

  auto X = [&](double step) { return left + pw * step / x_max; };
  auto Y = [&](double v) { return top + ph * (1 - (v - y_min) / (y_max - y_min)); };

  std::ostringstream s;
  s << fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n",
      W, H);
  s << fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", W, H);
  s << fmt::format("<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
                   left + pw / 2, xml_escape(title));

  // Grid, ticks and tick labels.
  s << "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n";
  for (double v = y_min; v <= y_max + y_step * 1e-6; v += y_step)
    s << fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n", left,
                     Y(v), left + pw, Y(v));
  for (double v = 0; v <= x_max + x_step * 1e-6; v += x_step)
    s << fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n", X(v), top,
                     X(v), top + ph);
  s << "</g>\n<g fill=\"#333\">\n";
  for (double v = y_min; v <= y_max + y_step * 1e-6; v += y_step)
    s << fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 6,
                     Y(v) + 4, tick_label(v, y_step));
  for (double v = 0; v <= x_max + x_step * 1e-6; v += x_step)
    s << fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", X(v),
                     top + ph + 18, tick_label(v, x_step));
  s << "</g>\n";

  // Axes and their labels.
  s << fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left,
      top, pw, ph);
  s << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">step</text>\n",
                   left + pw / 2, H - 18);
  s << fmt::format(
      "<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 18 "
      "{0})\">"
      "loss (nats/token)</text>\n",
      top + ph / 2);

  // Curves: polylines broken at non-finite values.
  auto polyline = [&](const std::vector<std::pair<double, double>>& pts, const char* style) {
    std::string cur;
    auto flush = [&] {
      if (!cur.empty())
        s << fmt::format("<polyline fill=\"none\" {} points=\"{}\"/>\n", style, cur);
      cur.clear();
    };
    for (const auto& [x, y] : pts) {
      if (!std::isfinite(y)) {
        flush();
        continue;
      }
      cur += fmt::format("{}{:.1f},{:.1f}", cur.empty() ? "" : " ", X(x), Y(y));
    }
    flush();
  };
  std::vector<std::pair<double, double>> tp, vp;
  for (const auto& r : train) tp.emplace_back(static_cast<double>(r.step), r.loss);
  for (const auto& r : eval) vp.emplace_back(static_cast<double>(r.step), r.val_loss);
  polyline(tp, "stroke=\"#1f77b4\" stroke-width=\"1.2\"");
  polyline(vp, "stroke=\"#d62728\" stroke-width=\"2\"");
  for (const auto& [x, y] : vp)
    if (std::isfinite(y))
      s << fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"#d62728\"><title>step {}: val "
          "{:.4f}</title></circle>\n",
          X(x), Y(y), static_cast<int64_t>(x), y);

  // Legend.
  const double lx = left + pw - 170, ly = top + 12;
  s << fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"160\" height=\"44\" fill=\"white\" stroke=\"#bbb\"/>\n", lx,
      ly);
  s << fmt::format(
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n",
      lx + 10, ly + 15, lx + 36, ly + 15);
  s << fmt::format("<text x=\"{}\" y=\"{}\">train loss (per step)</text>\n", lx + 44, ly + 19);
  s << fmt::format(
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#d62728\" stroke-width=\"2\"/>\n",
      lx + 10, ly + 33, lx + 36, ly + 33);
  s << fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"#d62728\"/>\n", lx + 23, ly + 33);
  s << fmt::format("<text x=\"{}\" y=\"{}\">val loss (per eval)</text>\n", lx + 44, ly + 37);
  s << "</svg>\n";
  return s.str();
}

}  // namespace tinyr2::train
