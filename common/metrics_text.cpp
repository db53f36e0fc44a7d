#include "common/metrics_text.h"

#include <cmath>
#include <cstdio>

namespace valved {

void MetricsText::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += EscapeHelp(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void MetricsText::Sample(std::string_view name, const Labels& labels, double value) {
  Line(name, labels, Number(value));
}

void MetricsText::Sample(std::string_view name, const Labels& labels, uint64_t value) {
  Line(name, labels, std::to_string(value));
}

void MetricsText::HistogramSamples(std::string_view name, const Labels& labels,
                                   const Histogram& h) {
  uint64_t cumulative = 0;
  std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    cumulative += h.bucket(i);
    Labels with_le = labels;
    bool last = i == Histogram::kBounds.size();
    with_le.emplace_back("le", last ? "+Inf" : Number(Histogram::kBounds[i]));
    Sample(bucket, with_le, cumulative);
  }
  Sample(std::string(name) + "_sum", labels, h.sum_seconds());
  Sample(std::string(name) + "_count", labels, cumulative);
}

void MetricsText::Line(std::string_view name, const Labels& labels, const std::string& value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += labels[i].first + "=\"" + EscapeLabel(labels[i].second) + "\"";
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

// Label values escape \, " and newline; HELP text only \ and newline.
std::string MetricsText::Escape(std::string_view text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || (quotes && c == '"')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string MetricsText::EscapeLabel(std::string_view value) { return Escape(value, true); }

std::string MetricsText::EscapeHelp(std::string_view text) { return Escape(text, false); }

std::string MetricsText::Number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return std::to_string(static_cast<int64_t>(value));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", value);
  return buf;
}

}  // namespace valved
