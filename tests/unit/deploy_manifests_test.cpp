// Checks what can be checked of deploy/ and the Dockerfile without a cluster
// or a container engine: every YAML file parses; each Kubernetes object has
// the fields its kind requires, and names and selectors agree; the container
// configuration (deploy/kubernetes/valve.yaml) loads with valved's own loader,
// and the probes, ports, grace period and memory limit follow from it as
// deploy/kubernetes/README.md says.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/config_file.h"
#include "common/settings.h"

namespace valved {
namespace {

namespace fs = std::filesystem;

const fs::path kDeploy = fs::path(VALVED_SOURCE_DIR) / "deploy" / "kubernetes";

/// Every Kubernetes object under deploy/kubernetes, keyed "Kind/name", with
/// the file it came from.
struct Manifests {
  std::map<std::string, YAML::Node> objects;
  std::map<std::string, std::string> files;
};

Manifests LoadManifests() {
  Manifests m;
  for (const auto& entry : fs::recursive_directory_iterator(kDeploy)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".yaml" || name == "valve.yaml" ||
        name == "kustomization.yaml" || name.ends_with("-values.yaml")) {
      continue;
    }
    for (const YAML::Node& doc : YAML::LoadAllFromFile(entry.path().string())) {
      std::string key =
          doc["kind"].as<std::string>("") + "/" + doc["metadata"]["name"].as<std::string>("");
      m.objects[key] = doc;
      m.files[key] = entry.path().string();
    }
  }
  return m;
}

/// A Kubernetes quantity of memory ("704Mi", "1Gi", "512M") in bytes.
double MemoryBytes(const std::string& quantity) {
  static const std::map<std::string, double> kUnits = {
      {"", 1},       {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
      {"k", 1000.0}, {"M", 1e6},     {"G", 1e9}};
  size_t digits = quantity.find_first_not_of("0123456789.");
  std::string unit = digits == std::string::npos ? "" : quantity.substr(digits);
  auto it = kUnits.find(unit);
  if (it == kUnits.end() || digits == 0) return -1;
  return std::stod(quantity.substr(0, digits)) * it->second;
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

/// The port of "HOST:PORT" or "[V6]:PORT"; -1 for anything else.
int PortOf(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || address.starts_with("unix:")) return -1;
  return std::stoi(address.substr(colon + 1));
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// valve.yaml as valved loads it. Until the status listener (issue 10) is a
/// setting of this valved, its status_listen line is left out for the loader.
void LoadValveYaml(Config& config) {
  std::string text = ReadFile(kDeploy / "valve.yaml");
  if (!FindSetting("status_listen")) {
    std::string kept;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      kept += line.starts_with("status_listen:") ? "\n" : line + "\n";
    }
    text = kept;
  }
  LoadConfigText(text, (kDeploy / "valve.yaml").string(), config);
}

class DeployManifestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_THROW(manifests_ = LoadManifests()) << "a file under " << kDeploy << " is not YAML";
    ASSERT_NO_THROW(LoadValveYaml(config_));
    status_listen_ =
        YAML::LoadFile((kDeploy / "valve.yaml").string())["status_listen"].as<std::string>("");
    ASSERT_EQ(manifests_.objects.count("Deployment/valved"), 1u) << "no Deployment valved";
    deployment_ = manifests_.objects["Deployment/valved"];
    container_ = deployment_["spec"]["template"]["spec"]["containers"][0];
    ASSERT_TRUE(container_.IsMap()) << "the Deployment has no container";
  }

  /// The container port named `name`, or -1.
  int ContainerPort(const std::string& name) const {
    for (const YAML::Node& port : container_["ports"]) {
      if (port["name"].as<std::string>("") == name) return port["containerPort"].as<int>();
    }
    return -1;
  }

  Manifests manifests_;
  Config config_;
  std::string status_listen_;  ///< valve.yaml's, read as YAML (see LoadValveYaml)
  YAML::Node deployment_;
  YAML::Node container_;
};

TEST_F(DeployManifestsTest, EveryObjectHasWhatItsKindRequires) {
  const std::map<std::string, std::vector<std::string>> kRequired = {
      {"Deployment",
       {"spec.selector.matchLabels", "spec.template.metadata.labels",
        "spec.template.spec.containers"}},
      {"Service", {"spec.selector", "spec.ports"}},
      {"PodMonitor", {"spec.selector.matchLabels", "spec.podMetricsEndpoints"}},
      {"HorizontalPodAutoscaler", {"spec.scaleTargetRef.name", "spec.maxReplicas", "spec.metrics"}},
      {"ScaledObject", {"spec.scaleTargetRef.name", "spec.triggers"}},
  };
  ASSERT_FALSE(manifests_.objects.empty());
  for (const auto& [key, doc] : manifests_.objects) {
    const std::string& file = manifests_.files[key];
    EXPECT_TRUE(doc["apiVersion"].IsScalar()) << file << ": " << key << " has no apiVersion";
    EXPECT_FALSE(doc["metadata"]["name"].as<std::string>("").empty()) << file << ": no name";
    std::string kind = doc["kind"].as<std::string>("");
    ASSERT_TRUE(kRequired.count(kind)) << file << ": unexpected kind \"" << kind << "\"";
    for (const std::string& path : kRequired.at(kind)) {
      YAML::Node node = YAML::Clone(doc);
      std::istringstream parts(path);
      for (std::string part; std::getline(parts, part, '.') && node.IsDefined();) {
        node = node[part];
      }
      EXPECT_TRUE(node.IsDefined() && !node.IsNull()) << file << ": " << key << " lacks " << path;
    }
  }
}

TEST_F(DeployManifestsTest, SelectorsAndTargetsNameTheDeployment) {
  YAML::Node labels = deployment_["spec"]["template"]["metadata"]["labels"];
  auto selects_pods = [&](const YAML::Node& selector) {
    for (const auto& pair : selector) {
      if (labels[pair.first.as<std::string>()].as<std::string>("") != pair.second.as<std::string>())
        return false;
    }
    return selector.size() > 0;
  };
  EXPECT_TRUE(selects_pods(deployment_["spec"]["selector"]["matchLabels"]));
  EXPECT_TRUE(selects_pods(manifests_.objects["Service/valved"]["spec"]["selector"]));
  YAML::Node monitor = manifests_.objects["PodMonitor/valved"];
  EXPECT_TRUE(selects_pods(monitor["spec"]["selector"]["matchLabels"]));
  for (const YAML::Node& endpoint : monitor["spec"]["podMetricsEndpoints"]) {
    EXPECT_NE(ContainerPort(endpoint["port"].as<std::string>()), -1) << "PodMonitor port";
    EXPECT_EQ(endpoint["path"].as<std::string>(), "/metrics");
  }
  for (const YAML::Node& port : manifests_.objects["Service/valved"]["spec"]["ports"]) {
    EXPECT_EQ(port["targetPort"].as<std::string>(), "http") << "the Service carries API traffic";
  }
  for (std::string key : {"HorizontalPodAutoscaler/valved", "ScaledObject/valved"}) {
    ASSERT_EQ(manifests_.objects.count(key), 1u) << key;
    EXPECT_EQ(manifests_.objects[key]["spec"]["scaleTargetRef"]["name"].as<std::string>(),
              "valved");
  }
}

TEST_F(DeployManifestsTest, PortsAndProbesMatchValvedsConfiguration) {
  EXPECT_EQ(config_.host, "0.0.0.0") << "a container must listen beyond its loopback";
  EXPECT_EQ(ContainerPort("http"), config_.port);
  ASSERT_FALSE(status_listen_.empty()) << "valve.yaml needs status_listen for the probes";
  EXPECT_EQ(ContainerPort("status"), PortOf(status_listen_));
  const std::map<std::string, std::string> kProbePaths = {
      {"readinessProbe", "/readyz"}, {"livenessProbe", "/livez"}, {"startupProbe", "/livez"}};
  for (const auto& [probe, path] : kProbePaths) {
    YAML::Node get = container_[probe]["httpGet"];
    ASSERT_TRUE(get.IsMap()) << probe << " is not an httpGet probe";
    EXPECT_EQ(get["path"].as<std::string>(), path) << probe;
    EXPECT_EQ(get["port"].as<std::string>(), "status") << probe << " must not queue behind R";
  }
  EXPECT_EQ(config_.file, "/srv/valved") << "the documented API path";
}

TEST_F(DeployManifestsTest, GracePeriodOutlastsAGracefulStop) {
  double grace =
      deployment_["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as<double>();
  double pre_stop = 0;
  YAML::Node command = container_["lifecycle"]["preStop"]["exec"]["command"];
  if (command.IsSequence() && command.size() == 2) pre_stop = command[1].as<double>();
  EXPECT_GT(grace, pre_stop + Seconds(config_.graceful_timeout) + Seconds(config_.kill_timeout))
      << "the kubelet's SIGKILL would cut requests valved promised to finish";
}

TEST_F(DeployManifestsTest, MemoryIsSizedFromNMax) {
  double child = MemoryBytes(
      deployment_["metadata"]["annotations"]["valved.example.org/r-child-memory"].as<std::string>(
          ""));
  ASSERT_GT(child, 0) << "the per-child memory annotation is missing or not a quantity";
  YAML::Node resources = container_["resources"];
  double limit = MemoryBytes(resources["limits"]["memory"].as<std::string>(""));
  double request = MemoryBytes(resources["requests"]["memory"].as<std::string>(""));
  EXPECT_GE(limit, config_.n_max * child) << "n_max R children do not fit the limit";
  EXPECT_EQ(request, limit) << "README: request = limit";
  EXPECT_LE(config_.n_min, config_.n_max);
  EXPECT_FALSE(resources["limits"]["cpu"].IsDefined()) << "README: no CPU limit";
}

TEST_F(DeployManifestsTest, DockerfileExposesTheSamePortsAndProbes) {
  std::string dockerfile = ReadFile(fs::path(VALVED_SOURCE_DIR) / "Dockerfile");
  ASSERT_FALSE(dockerfile.empty()) << "no Dockerfile";
  std::string status_port = std::to_string(PortOf(status_listen_));
  EXPECT_NE(dockerfile.find("EXPOSE " + std::to_string(config_.port) + " " + status_port),
            std::string::npos);
  EXPECT_NE(dockerfile.find("http://127.0.0.1:" + status_port + "/readyz"), std::string::npos)
      << "HEALTHCHECK";
  EXPECT_NE(dockerfile.find("COPY deploy/kubernetes/valve.yaml"), std::string::npos);
  EXPECT_NE(dockerfile.find("STOPSIGNAL SIGTERM"), std::string::npos);
  YAML::Node pod_security = deployment_["spec"]["template"]["spec"]["securityContext"];
  std::string uid = pod_security["runAsUser"].as<std::string>("");
  std::string gid = pod_security["runAsGroup"].as<std::string>("");
  EXPECT_TRUE(pod_security["runAsNonRoot"].as<bool>(false));
  EXPECT_NE(dockerfile.find("USER " + uid + ":" + gid + "\n"), std::string::npos)
      << "the image's USER is not the Deployment's runAsUser:runAsGroup " << uid << ":" << gid;
  EXPECT_NE(dockerfile.find("--uid " + uid + " "), std::string::npos) << "valve's uid in the image";
  EXPECT_NE(dockerfile.find("ENTRYPOINT [\"/usr/sbin/valved\", \"-c\", \"/etc/valve.yaml\"]"),
            std::string::npos);
}

TEST_F(DeployManifestsTest, EveryOtherYamlFileParses) {
  for (const auto& entry : fs::recursive_directory_iterator(kDeploy)) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(YAML::LoadAllFromFile(entry.path().string())) << entry.path();
  }
  YAML::Node kustomization = YAML::LoadFile((kDeploy / "kustomization.yaml").string());
  for (const YAML::Node& resource : kustomization["resources"]) {
    EXPECT_TRUE(fs::exists(kDeploy / resource.as<std::string>())) << resource;
  }
}

}  // namespace
}  // namespace valved
