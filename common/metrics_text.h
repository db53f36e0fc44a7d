// The Prometheus text exposition format (version 0.0.4), written by hand:
// Debian 12 has no C++ client library, and the format is small. Checked by
// unit tests and, when installed, by `promtool check metrics`.
//
//   # HELP valved_requests_total Requests answered, by status class.
//   # TYPE valved_requests_total counter
//   valved_requests_total{class="2xx"} 37
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace valved {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsText {
 public:
  /// Starts a metric family: its HELP and TYPE lines ("counter", "gauge", "histogram").
  void Family(std::string_view name, std::string_view type, std::string_view help);
  /// One sample of the current family.
  void Sample(std::string_view name, const Labels& labels, double value);
  void Sample(std::string_view name, const Labels& labels, uint64_t value);
  /// The _bucket (cumulative, le="..." up to +Inf), _sum (seconds) and _count
  /// samples of a histogram family `name`.
  void HistogramSamples(std::string_view name, const Labels& labels, const Histogram& h);
  const std::string& text() const { return out_; }

  /// A label value with \, " and newline escaped.
  static std::string EscapeLabel(std::string_view value);
  /// HELP text with \ and newline escaped.
  static std::string EscapeHelp(std::string_view text);
  /// A number as Prometheus reads it: integers without a decimal point,
  /// +Inf, -Inf, NaN.
  static std::string Number(double value);

 private:
  static std::string Escape(std::string_view text, bool quotes);
  void Line(std::string_view name, const Labels& labels, const std::string& value);
  std::string out_;
};

}  // namespace valved
