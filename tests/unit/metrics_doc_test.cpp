// Keeps the metrics documented: every family /metrics exposes has a row in
// README.md's table (name, type, every label) and an entry in man/valved.8.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "master/status_report.h"

namespace valved {
namespace {

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(VALVED_SOURCE_DIR) + "/" + relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Family {
  std::string type;
  std::set<std::string> labels;  ///< "le" left out: every histogram has it
};

// The families of an exposition, from its TYPE lines and its samples.
std::map<std::string, Family> Families(const std::string& exposition) {
  std::map<std::string, Family> families;
  std::istringstream lines(exposition);
  std::regex type_line("# TYPE (\\w+) (\\w+)");
  std::regex label("[{,](\\w+)=");
  std::smatch match;
  std::string current;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, match, type_line)) {
      current = match[1];
      families[current].type = match[2];
    } else if (!current.empty() && line[0] != '#') {
      std::string labels = line.substr(0, line.find('}') + 1);
      for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label);
           it != std::sregex_iterator(); ++it)
        if ((*it)[1] != "le") families[current].labels.insert((*it)[1]);
    }
  }
  return families;
}

// The README row of `name`: "| `name` | type | labels | meaning |", or "".
std::string ReadmeRow(const std::string& readme, const std::string& name) {
  std::istringstream lines(readme);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("| ") && line.find("`" + name + "`") != std::string::npos &&
        line.find("`" + name + "`") < line.find(" | ", 2))
      return line;
  return "";
}

TEST(MetricsDoc, EveryFamilyIsInTheReadmeTableAndTheManPage) {
  master::StatusSnapshot s;
  s.version = "0.1.0";
  std::map<std::string, Family> families = Families(master::MetricsExposition(s));
  ASSERT_GT(families.size(), 20u);
  std::string readme = ReadSource("README.md");
  std::string man = ReadSource("man/valved.8");
  for (const auto& [name, family] : families) {
    std::string row = ReadmeRow(readme, name);
    ASSERT_NE(row, "") << name << " has no row in README.md's table of metrics";
    EXPECT_NE(row.find(" | " + family.type + " | "), std::string::npos)
        << name << " is a " << family.type << ": " << row;
    for (const std::string& label : family.labels)
      EXPECT_NE(row.find("`" + label + "`"), std::string::npos)
          << name << "'s label " << label << " is not in its README row: " << row;
    EXPECT_NE(man.find(name), std::string::npos) << name << " is not in man/valved.8";
  }
}

}  // namespace
}  // namespace valved
