// Helpers for the tests of the status listener, the logs and readiness
// (status_test.cpp, observe_test.cpp): valved with tests/fixtures/observe.R
// and a status listener on a free loopback port, and readers for /metrics
// and /status.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/integration/valved_harness.h"

namespace valved::itest {

class StatusTest : public ValvedTest {
 protected:
  /// Start() with the observe fixture, --status-listen 127.0.0.1:<free port>
  /// and `args`.
  Valved& StartObserved(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {});
  /// StartObserved() and WaitServing(); nullptr (with a failure) if it does not serve.
  Valved* StartObservedServing(const std::vector<std::string>& args,
                               const std::map<std::string, std::string>& env = {});
  Valved* instance() const { return last_; }
  int status_port() const { return status_port_; }
  /// GET /status's body ("" when it does not answer).
  std::string StatusJson() const;

 private:
  int status_port_ = 0;
  Valved* last_ = nullptr;
};

/// The value of the sample `name` (with its labels, exactly as exposed) in a
/// Prometheus text, or -1 when it is absent.
double Metric(const std::string& text, const std::string& name);

/// Every number of `"key": N` in `json` after the first `after` and before
/// the next `before` ("" = to the end).
std::vector<double> JsonNumbers(const std::string& json, const std::string& key,
                                const std::string& after, const std::string& before);

}  // namespace valved::itest
