// Issue 9, spawn_method: fork, against real R (tests/fixtures/fork.R): a
// forked child answers like a fresh one and is the master's child; children
// are independent (state, random numbers, descriptors); the template can die
// without touching serving children and comes back; a reload forks the new
// code; an API that opts out is started fresh; a burst of spawns is forked
// at once; children forked together are at different points of R's
// collection count; a child that has been idle answers its first request
// with few page faults (its warm-up done). Teardown (the harness) checks
// that no process, zombie, runtime directory or socket file remains.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/http_test_util.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// A forked child keeps its template's command line (template.R ...).
bool IsForked(const ProcInfo& info) {
  return std::any_of(info.argv.begin(), info.argv.end(), [](const std::string& arg) {
    return arg.find("template.R") != std::string::npos;
  });
}

bool IsForked(pid_t pid) {
  std::optional<ProcInfo> info = ReadProc(pid);
  return info && IsForked(*info);
}

/// Whether process `pid`'s environment holds `entry` ("NAME=value").
bool HasEnvEntry(pid_t pid, const std::string& entry) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string item;
  while (std::getline(in, item, '\0')) {
    if (item == entry) return true;
  }
  return false;
}

/// The template's spares (r/template.R): the children of its intermediate
/// processes, forked and warmed up ahead of the master's fork commands.
std::vector<pid_t> Spares(pid_t template_pid) {
  std::vector<pid_t> spares;
  for (const ProcInfo& middle : ChildrenOf(template_pid)) {
    for (const ProcInfo& spare : ChildrenOf(middle.pid)) {
      if (!spare.IsZombie()) spares.push_back(spare.pid);
    }
  }
  return spares;
}

/// `n` concurrent GET `target`s (one that sleeps, so that each reaches its
/// own child).
std::vector<HttpResponse> ConcurrentGets(int port, int n, const std::string& target) {
  std::vector<HttpResponse> responses(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back(
        [&, i] { responses[static_cast<size_t>(i)] = HttpGet(port, target, 60s); });
  }
  for (std::thread& t : threads) t.join();
  return responses;
}

class ForkTest : public ValvedTest {
 protected:
  /// A copy of fork.R in dir(), with `fork_ok` as given.
  std::string ApiCopy(bool fork_ok) {
    std::ifstream in(Fixture("fork.R"));
    std::stringstream text;
    text << in.rdbuf();
    std::string api = std::regex_replace(text.str(), std::regex("fork_ok <- TRUE"),
                                         fork_ok ? "fork_ok <- TRUE" : "fork_ok <- FALSE");
    fs::path path = dir() / "fork_api.R";
    std::ofstream(path) << api;
    fs::permissions(path, fs::perms(0644));
    return path.string();
  }

  /// SIGKILLs child `victim` and waits until `n` children are ready without it.
  bool KillAndAwaitReplacement(Valved& valved, pid_t victim, size_t n) {
    ExpectLogErrors("pid=" + std::to_string(victim) + "\\b");
    if (kill(victim, SIGKILL) != 0) return false;
    return Eventually(
        60s,
        [&] {
          std::vector<pid_t> now = valved.ReadyRChildPids();
          return now.size() == n && !Contains(now, victim);
        },
        "child " + std::to_string(victim) + " is replaced");
  }

  /// fork.R forked on demand: one child at first, up to `n_max`.
  Valved* StartOnDemand(int n_max, const std::vector<std::string>& extra) {
    std::vector<std::string> args{
        "-f", Fixture("fork.R"), "-n",  std::to_string(n_max), "--n-min", "1", "-w",
        "1",  "--spawn-method",  "fork"};
    args.insert(args.end(), extra.begin(), extra.end());
    return StartServing(args, 180s);
  }

  Valved* StartPool(const std::string& api, int n, const std::string& method = "fork") {
    Valved* valved = StartServing({"-f", api, "-n", std::to_string(n), "--n-min", std::to_string(n),
                                   "-w", "1", "--spawn-method", method},
                                  180s);
    if (!valved) return nullptr;
    bool up = Eventually(
        120s, [&] { return valved->ReadyRChildPids().size() == static_cast<size_t>(n); },
        std::to_string(n) + " children ready");
    return up ? valved : nullptr;
  }
};

TEST_F(ForkTest, AForkedChildAnswersLikeAFreshOneAndIsTheMastersChild) {
  Valved* forked = StartPool(Fixture("fork.R"), 1);
  ASSERT_NE(forked, nullptr);
  Valved* fresh = StartPool(Fixture("fork.R"), 1, "fresh");
  ASSERT_NE(fresh, nullptr);

  std::vector<pid_t> children = forked->ReadyRChildPids();
  ASSERT_EQ(children.size(), 1u);
  EXPECT_TRUE(IsForked(children[0])) << "the child runs the template's program";
  EXPECT_EQ(ReadProc(children[0])->ppid, forked->pid()) << "re-parented to the master";
  EXPECT_FALSE(IsForked(fresh->ReadyRChildPids().at(0)));
  EXPECT_EQ(forked->TemplatePids().size(), 1u);
  EXPECT_TRUE(fresh->TemplatePids().empty()) << "spawn_method fresh starts no template";

  for (const char* target : {"/echo?msg=hi%20there", "/nowhere", "/openapi.json"}) {
    HttpResponse a = HttpGet(forked->port(), target);
    HttpResponse b = HttpGet(fresh->port(), target);
    EXPECT_EQ(a.status, b.status) << target << ": " << a.Describe() << " vs " << b.Describe();
    EXPECT_EQ(a.body, b.body) << target;
    EXPECT_EQ(a.Header("content-type"), b.Header("content-type")) << target;
  }
  // The child's descriptors: its own stdio and server, nothing of the master's.
  HttpResponse fds = HttpGet(forked->port(), "/fds");
  ASSERT_EQ(fds.status, 200) << fds.Describe();
  EXPECT_NE(fds.body.find("\"0 -> /dev/null\""), std::string::npos) << fds.body;
  EXPECT_NE(fds.body.find(".sock.out\""), std::string::npos)
      << "stdout is the child's FIFO: " << fds.body;
  std::optional<ProcInfo> tmpl = ReadProc(forked->TemplatePids().at(0));
  ASSERT_TRUE(tmpl.has_value());
  std::string stdin_pipe = fs::read_symlink("/proc/" + std::to_string(tmpl->pid) + "/fd/0");
  EXPECT_EQ(fds.body.find(stdin_pipe), std::string::npos)
      << "the child holds the template's command pipe " << stdin_pipe << ": " << fds.body;
  // R's trigger growth for the template only (its trigger is the children's).
  EXPECT_TRUE(HasEnvEntry(tmpl->pid, "R_GC_GROWFRAC=0.75"));
  EXPECT_FALSE(HasEnvEntry(fresh->ReadyRChildPids().at(0), "R_GC_GROWFRAC=0.75"));
}

TEST_F(ForkTest, ChildrenAreIndependentAndDrawDifferentRandomNumbers) {
  Valved* valved = StartPool(Fixture("fork.R"), 3);
  ASSERT_NE(valved, nullptr);
  // Each child's first request: three children, three counts of 1, three draws.
  std::vector<HttpResponse> first = ConcurrentGets(valved->port(), 3, "/state?s=1.5");
  std::set<double> pids;
  std::set<std::string> draws;
  for (const HttpResponse& r : first) {
    ASSERT_EQ(r.status, 200) << r.Describe();
    pids.insert(JsonNumber(r.body, "pid").value_or(0));
    draws.insert(JsonString(r.body, "draw"));
    EXPECT_EQ(JsonNumber(r.body, "served"), 1) << "a child saw another's request: " << r.body;
    EXPECT_EQ(JsonNumber(r.body, "filtered"), 1)
        << "the API's filter saw a request before the first client's (the warm-up?): " << r.body;
  }
  ASSERT_EQ(pids.size(), 3u) << "the three requests reached three children";
  EXPECT_EQ(draws.size(), 3u) << "forked children drew the same random number";
}

// Children inherit the template's count of garbage collections, and R's
// first full collection in a forked child (which copies every page it shares
// with the template) comes when that count says so: each child spends a
// different share of it in its first seconds (r/template.R,
// spread_gc_count()), so that children forked together do not pause together.
TEST_F(ForkTest, ChildrenForkedTogetherAreAtDifferentPointsOfRsCollectionCount) {
  Valved* valved = StartPool(Fixture("fork.R"), 2);
  ASSERT_NE(valved, nullptr);
  // Child 1 spends 61 and child 2 22 of R's runway of 126, from 1 s after
  // their warm-up rounds; without that, both count the same (each reading adds one to
  // the child that answers it, and two concurrent requests reach the two).
  std::map<double, double> counts;
  bool apart = Eventually(
      30s,
      [&] {
        counts.clear();
        for (const HttpResponse& r : ConcurrentGets(valved->port(), 2, "/collections?s=0.5")) {
          if (r.status != 200) return false;
          counts[JsonNumber(r.body, "pid").value_or(0)] =
              JsonNumber(r.body, "collections").value_or(0);
        }
        return counts.size() == 2 &&
               std::abs(counts.begin()->second - std::next(counts.begin())->second) >= 30;
      },
      "the two children's collection counts 30 or more apart");
  EXPECT_TRUE(apart) << "last counts: " << (counts.empty() ? 0 : counts.begin()->second) << " and "
                     << (counts.size() < 2 ? 0 : std::next(counts.begin())->second);
}

/// Minor page faults process `pid` has taken (-1 if it is gone).
long MinorFaults(pid_t pid) {
  std::optional<ProcInfo> info = ReadProc(pid);
  return info ? info->minor_faults : -1;
}

// A forked child's first requests write pages it shares with the template
// (copy-on-write); a spare writes them ahead with decoy requests, and a child
// whose spare's command came first (as at a pool's start) finishes that
// while idle (r/template.R, finish_warm_up()). So a child that has been idle
// answers its first request without writing many new pages: 230-234 page
// faults with this fixture, against 930-938 with finish_warm_up() disabled.
TEST_F(ForkTest, AChildThatHasBeenIdleAnswersItsFirstRequestWithFewPageFaults) {
  Valved* valved = StartPool(Fixture("fork.R"), 1);
  ASSERT_NE(valved, nullptr);
  pid_t child = valved->ReadyRChildPids().at(0);
  // Idle: its faults rise slowly (~15 a second, its event loop) once its
  // warm-up (from 1 s after it is ready; hundreds a round) and its spread
  // collections (r/template.R) are done.
  long faults = MinorFaults(child);
  ASSERT_TRUE(Eventually(
      60s,
      [&] {
        std::this_thread::sleep_for(1s);  // the window the rate is read over
        long now = MinorFaults(child);
        bool settled = now - faults < 100;
        faults = now;
        return settled;
      },
      "the idle child's page faults settle"));
  HttpResponse r = HttpGet(valved->port(), "/echo?msg=first");
  ASSERT_EQ(r.status, 200) << r.Describe();
  long first = MinorFaults(child) - faults;
  EXPECT_LT(first, 400) << "page faults of the child's first request";
}

TEST_F(ForkTest, KillingTheTemplateLeavesChildrenServingAndANewTemplateForks) {
  Valved* valved = StartPool(Fixture("fork.R"), 2);
  ASSERT_NE(valved, nullptr);
  std::vector<pid_t> children = valved->RChildPids();
  pid_t old_template = valved->TemplatePids().at(0);
  ExpectLogErrors("template#1: killed by signal");
  ASSERT_EQ(kill(old_template, SIGKILL), 0);
  ASSERT_TRUE(Eventually(
      60s, [&] { return valved->TemplatePids().size() == 2; }, "a new template starts"));
  for (int i = 0; i < 4; ++i) {
    HttpResponse r = HttpGet(valved->port(), "/state");
    ASSERT_EQ(r.status, 200) << r.Describe();
    EXPECT_TRUE(Contains(children, static_cast<pid_t>(JsonNumber(r.body, "pid").value_or(0))));
  }
  EXPECT_EQ(valved->RChildPids(), children) << "the children outlive their template";
  ASSERT_TRUE(Eventually(
      120s,
      [&] {
        return valved->LogLines(std::regex("template#1 pid=\\d+: Starting -> Ready")).size() == 2;
      },
      "the new template is ready"));
  // A replacement child comes from the new template.
  ASSERT_TRUE(KillAndAwaitReplacement(*valved, children[0], 2));
  for (pid_t pid : valved->ReadyRChildPids()) EXPECT_TRUE(IsForked(pid)) << pid;
}

TEST_F(ForkTest, SparesServeTheNextSpawnAreReplacedAndLeaveWithTheirTemplate) {
  std::string api = ApiCopy(true);
  Valved* valved = StartPool(api, 1);
  ASSERT_NE(valved, nullptr);
  pid_t tmpl = valved->TemplatePids().at(0);
  // A full pool (n_max 1) keeps one spare, for replacements.
  std::vector<pid_t> spares;
  ASSERT_TRUE(Eventually(
      60s, [&] { return (spares = Spares(tmpl)).size() == 1; }, "the template has a spare"));
  // A spawn takes a spare: the new child is one of them, and it is replaced.
  ASSERT_TRUE(KillAndAwaitReplacement(*valved, valved->ReadyRChildPids().at(0), 1));
  pid_t second = valved->ReadyRChildPids().at(0);
  EXPECT_TRUE(Contains(spares, second)) << "the replacement is not a spare";
  ASSERT_TRUE(Eventually(
      60s, [&] { return Spares(tmpl).size() == 1 && !Contains(Spares(tmpl), second); },
      "the used spare is replaced"));
  HttpResponse r = HttpGet(valved->port(), "/state");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(JsonNumber(r.body, "filtered"), 1) << r.body;
  // Dead spares (noticed only when used): the next spawns still fork children,
  // and new spares replace the dead ones.
  std::vector<pid_t> dead = Spares(tmpl);
  for (pid_t spare : dead) ASSERT_EQ(kill(spare, SIGKILL), 0);
  ASSERT_TRUE(Eventually(
      30s, [&] { return std::none_of(dead.begin(), dead.end(), IsAlive); }, "the spares die"));
  pid_t victim = second;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(KillAndAwaitReplacement(*valved, victim, 1)) << "without a live spare";
    victim = valved->ReadyRChildPids().at(0);
    EXPECT_TRUE(IsForked(victim));
    EXPECT_FALSE(Contains(dead, victim));
  }
  ASSERT_TRUE(Eventually(
      60s, [&] { return Spares(tmpl).size() == 1; }, "a new spare replaces the dead one"));
  // A reload stops the old template, and its spares and intermediates with it.
  std::vector<pid_t> old_family = Spares(tmpl);
  for (const ProcInfo& middle : ChildrenOf(tmpl)) old_family.push_back(middle.pid);
  valved->Signal(SIGHUP);
  ASSERT_TRUE(Eventually(
      120s,
      [&] { return std::none_of(old_family.begin(), old_family.end(), IsAlive) && !IsAlive(tmpl); },
      "the old template's spares and intermediates exit with it"));
}

// The master writes one fork command per child and goes on; the template
// serves all that are waiting (spares first, then forks of its own). It
// keeps as many spares as the pool could still start (n_max 5, one child:
// four), so every spawn of a burst from the smallest pool finds one.
TEST_F(ForkTest, ABurstOfSpawnsIsForkedAtOnceAndEveryChildServes) {
  Valved* valved = StartOnDemand(5, {"--max-spawning", "5"});
  ASSERT_NE(valved, nullptr);
  pid_t tmpl = valved->TemplatePids().at(0);
  std::vector<pid_t> spares;
  ASSERT_TRUE(Eventually(
      60s, [&] { return (spares = Spares(tmpl)).size() == 4; }, "four spares"));
  std::vector<HttpResponse> burst = ConcurrentGets(valved->port(), 5, "/state?s=1.5");
  std::set<double> pids;
  for (const HttpResponse& r : burst) {
    ASSERT_EQ(r.status, 200) << r.Describe();
    pids.insert(JsonNumber(r.body, "pid").value_or(0));
  }
  EXPECT_EQ(pids.size(), 5u) << "five requests, five children";
  for (double pid : pids) EXPECT_TRUE(IsForked(static_cast<pid_t>(pid))) << pid;
  for (pid_t spare : spares) EXPECT_TRUE(pids.count(spare)) << "spare " << spare << " unused";
  // The pool is full now: one spare is kept, for a replacement.
  ASSERT_TRUE(Eventually(
      60s, [&] { return Spares(tmpl).size() == 1; }, "one spare in a full pool"));
  // Every spawn's pid came from the template, none fell back to a fresh start.
  EXPECT_EQ(valved->LogLines(std::regex("child#\\d+ pid=[1-9]\\d*: spawned")).size(), 5u);
  EXPECT_TRUE(valved->LogLines(std::regex("not forked|cannot fork")).empty());
}

// fork_spares caps the spares; 0 means none, and every spawn is forked
// when it is asked for.
TEST_F(ForkTest, ForkSparesCapsTheSparesAndZeroMeansNone) {
  Valved* capped = StartOnDemand(6, {"--fork-spares", "2"});
  ASSERT_NE(capped, nullptr);
  pid_t tmpl = capped->TemplatePids().at(0);
  ASSERT_TRUE(Eventually(
      60s, [&] { return Spares(tmpl).size() == 2; }, "two spares"));
  Valved* none = StartOnDemand(3, {"--fork-spares", "0"});
  ASSERT_NE(none, nullptr);
  std::vector<HttpResponse> burst = ConcurrentGets(none->port(), 3, "/state?s=1");
  for (const HttpResponse& r : burst) {
    ASSERT_EQ(r.status, 200) << r.Describe();
    EXPECT_TRUE(IsForked(static_cast<pid_t>(JsonNumber(r.body, "pid").value_or(0)))) << r.body;
  }
  EXPECT_TRUE(Spares(none->TemplatePids().at(0)).empty());
  EXPECT_EQ(Spares(tmpl).size(), 2u) << "the capped pool still has its two";
}

TEST_F(ForkTest, ReloadForksTheNewCodeFromANewTemplate) {
  std::string api = ApiCopy(true);
  Valved* valved = StartPool(api, 1);
  ASSERT_NE(valved, nullptr);
  EXPECT_EQ(HttpGet(valved->port(), "/echo?msg=a").body, "{\"msg\":[\"The message is: 'a'\"]}");
  std::ifstream in(api);
  std::stringstream text;
  text << in.rdbuf();
  std::ofstream(api + ".tmp") << std::regex_replace(text.str(), std::regex("The message is: "),
                                                    "Reloaded: ");
  fs::rename(api + ".tmp", api);
  valved->Signal(SIGHUP);
  ASSERT_TRUE(Eventually(
      120s,
      [&] {
        return HttpGet(valved->port(), "/echo?msg=a").body == "{\"msg\":[\"Reloaded: 'a'\"]}";
      },
      "the new code serves"));
  EXPECT_EQ(valved->TemplatePids().size(), 2u);
  ASSERT_TRUE(Eventually(
      60s, [&] { return !IsAlive(valved->TemplatePids().at(0)); }, "the old template stops"));
  for (pid_t pid : valved->ReadyRChildPids()) {
    // One read: an old child that is exiting loses its command line before
    // it is a zombie.
    std::optional<ProcInfo> info = ReadProc(pid);
    if (!info || info->IsZombie() || info->argv.empty()) continue;
    EXPECT_TRUE(IsForked(*info)) << pid;
  }
}

TEST_F(ForkTest, AnApiThatOptsOutIsStartedFresh) {
  Valved* valved = StartPool(ApiCopy(false), 2);
  ASSERT_NE(valved, nullptr);
  EXPECT_FALSE(valved->LogLines(std::regex("asks not to be forked")).empty());
  for (pid_t pid : valved->RChildPids()) EXPECT_FALSE(IsForked(pid)) << pid;
  EXPECT_EQ(HttpGet(valved->port(), "/state").status, 200);
}

}  // namespace
}  // namespace valved::itest
