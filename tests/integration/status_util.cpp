#include "tests/integration/status_util.h"

#include <regex>
#include <sstream>

namespace valved::itest {

using namespace std::chrono_literals;

Valved& StatusTest::StartObserved(const std::vector<std::string>& args,
                                  const std::map<std::string, std::string>& env) {
  status_port_ = FreePort();
  std::vector<std::string> all = {"-f", Fixture("observe.R"), "--status-listen",
                                  "127.0.0.1:" + std::to_string(status_port_)};
  all.insert(all.end(), args.begin(), args.end());
  last_ = &Start(all, env);
  return *last_;
}

Valved* StatusTest::StartObservedServing(const std::vector<std::string>& args,
                                         const std::map<std::string, std::string>& env) {
  Valved& valved = StartObserved(args, env);
  return valved.WaitServing(120s) ? &valved : nullptr;
}

std::string StatusTest::StatusJson() const { return HttpGet(status_port_, "/status", 10s).body; }

double Metric(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ')
      return std::strtod(line.c_str() + name.size() + 1, nullptr);
  }
  return -1;
}

std::vector<double> JsonNumbers(const std::string& json, const std::string& key,
                                const std::string& after, const std::string& before) {
  size_t start = json.find(after);
  if (start == std::string::npos) return {};
  size_t end = before.empty() ? std::string::npos : json.find(before, start + after.size());
  std::string part = json.substr(start, end == std::string::npos ? end : end - start);
  std::vector<double> numbers;
  std::regex pattern("\"" + key + "\"\\s*:\\s*(-?[0-9][0-9.eE+-]*)");
  for (auto it = std::sregex_iterator(part.begin(), part.end(), pattern);
       it != std::sregex_iterator(); ++it)
    numbers.push_back(std::strtod((*it)[1].str().c_str(), nullptr));
  return numbers;
}

}  // namespace valved::itest
