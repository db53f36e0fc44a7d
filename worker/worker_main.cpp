#include "worker/worker_main.h"

#include <fcntl.h>
#include <malloc.h>

#include <csignal>
#include <string_view>

#include "common/event_ptr.h"
#include "common/exit_status.h"
#include "common/lease_table.h"
#include "common/log.h"
#include "common/parse_text.h"
#include "common/privileges.h"
#include "common/process_title.h"
#include "common/settings.h"
#include "common/signal_set.h"
#include "worker/worker.h"

namespace valved::worker {
namespace {

template <typename T>
bool SetNumber(std::string_view text, T* out) {
  std::optional<T> number = ParseNumber<T>(text);
  if (number) *out = *number;
  return number.has_value();
}

bool ParseSetting(std::string_view pair, WorkerArgs* args, std::string* error) {
  auto key_value = SplitKeyValue(pair);
  if (!key_value) {
    *error = "--set expects key=value, got \"" + std::string(pair) + "\"";
    return false;
  }
  args->settings.emplace_back(key_value->first, key_value->second);
  return true;
}

// One argument, possibly consuming the next one (--set key=value).
bool ParseArg(int argc, char** argv, int* i, WorkerArgs* args, std::string* error) {
  std::string_view arg = argv[*i];
  auto value_of = [&](std::string_view flag, std::string_view* value) {
    if (arg.substr(0, flag.size()) != flag) return false;
    *value = arg.substr(flag.size());
    return true;
  };
  std::string_view value;
  if (value_of("--channel-fd=", &value)) return SetNumber(value, &args->channel_fd);
  if (value_of("--listen-fd=", &value)) return SetNumber(value, &args->listen_fd);
  if (value_of("--lease-table-fd=", &value)) return SetNumber(value, &args->lease_table_fd);
  if (value_of("--id=", &value)) return SetNumber(value, &args->id);
  if (value_of("--runtime-dir=", &value)) {
    args->runtime_dir = std::string(value);
    return true;
  }
  if (value_of("--set=", &value)) return ParseSetting(value, args, error);
  if (arg == "--set" && *i + 1 < argc) return ParseSetting(argv[++*i], args, error);
  *error = "unknown argument \"" + std::string(arg) + "\"";
  return false;
}

bool IsOpenFd(int fd) { return fd >= 0 && fcntl(fd, F_GETFD) != -1; }

// The master owns the signal policy: a signal sent to the whole process group
// or cgroup (Ctrl-C, systemd's stop) must not kill a worker in the middle of
// a response. The master's word arrives as QUIT/TERMINATE/REOPEN instead.
void IgnoreSignals() {
  IgnoreSigpipe();
  for (int signo : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU})
    std::signal(signo, SIG_IGN);
}

// Bodies pass through evbuffer chains of 128 KiB (64 KiB reads,
// worker/socket_io.h). glibc's defaults mmap a chunk that size and, once its
// dynamic threshold has moved past it, give the heap's top back to the kernel
// whenever 256 KiB of it are free: either way every response's chains were
// fresh pages, each a page fault, which costs 11-14 us on a virtual machine
// with shadow page tables. Measured (GET /big, 1 MiB, N=2, 4 connections):
// 126 faults and 3.4 ms of worker CPU per request with the defaults, none
// and 0.67 ms with these. The price: up to kKeepFree bytes of free heap stay
// with the worker after a burst (its peak RSS is unchanged).
void KeepBufferMemory() {
  constexpr int kNoMmapBelow = 4 << 20;
  constexpr int kKeepFree = 32 << 20;
  mallopt(M_MMAP_THRESHOLD, kNoMmapBelow);
  mallopt(M_TRIM_THRESHOLD, kKeepFree);
}

bool SetUpLogging(const Config& config) {
  SetLogLevel(LogLevelOf(config));
  std::string error;
  if (SetLogFile(config.log_file, &error)) return true;
  Log(LogLevel::kError) << error;
  return false;
}

int Run(Config config, const WorkerArgs& args) {
  KeepBufferMemory();
  // Not inherited by anything the worker might start.
  fcntl(args.channel_fd, F_SETFD, FD_CLOEXEC);
  fcntl(args.listen_fd, F_SETFD, FD_CLOEXEC);
  if (args.lease_table_fd >= 0) fcntl(args.lease_table_fd, F_SETFD, FD_CLOEXEC);
  try {
    std::optional<LeaseTable> table;
    if (args.lease_table_fd >= 0) table.emplace(LeaseTable::Attach(UniqueFd(args.lease_table_fd)));
    EventBasePtr base(event_base_new());
    if (!base) throw std::runtime_error("event_base_new() failed");
    // Two priorities: the master channel's events (0) before the clients'
    // and the children's (1, the default from here on); see IpcChannel.
    event_base_priority_init(base.get(), 2);
    Worker worker(base.get(), std::move(config), args.id, UniqueFd(args.listen_fd),
                  UniqueFd(args.channel_fd), args.runtime_dir, table ? &*table : nullptr);
    event_base_dispatch(base.get());
    return worker.exit_code().value_or(kExitSoftware);
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "worker failed: " << e.what();
    return kExitSoftware;
  }
}

}  // namespace

std::optional<WorkerArgs> ParseWorkerArgs(int argc, char** argv, std::string* error) {
  WorkerArgs args;
  for (int i = 2; i < argc; ++i) {
    if (!ParseArg(argc, argv, &i, &args, error)) {
      if (error->empty()) *error = "bad number in \"" + std::string(argv[i]) + "\"";
      return std::nullopt;
    }
  }
  if (args.id == 0) *error = "--id=K (K >= 1) is required";
  if (!IsOpenFd(args.listen_fd)) *error = "--listen-fd must name an open file descriptor";
  if (!IsOpenFd(args.channel_fd)) *error = "--channel-fd must name an open file descriptor";
  if (args.lease_table_fd != -1 && !IsOpenFd(args.lease_table_fd))
    *error = "--lease-table-fd must name an open file descriptor";
  if (!error->empty()) return std::nullopt;
  return args;
}

Config BuildWorkerConfig(const std::vector<std::pair<std::string, std::string>>& settings) {
  Config config;
  for (const auto& [key, value] : settings) ApplySetting(config, key, value);
  Validate(config);
  return config;
}

int WorkerMain(int argc, char** argv) {
  InitLog("worker", LogLevel::kNotice);
  std::string error;
  std::optional<WorkerArgs> args = ParseWorkerArgs(argc, argv, &error);
  if (!args) {
    Log(LogLevel::kError) << "bad worker command line: " << error;
    return kExitUsage;
  }
  InitLog("worker#" + std::to_string(args->id), LogLevel::kNotice);
  SetProcessTitle("valved: worker " + std::to_string(args->id));
  Config config;
  try {
    config = BuildWorkerConfig(args->settings);
  } catch (const ConfigError& e) {
    Log(LogLevel::kError) << "bad settings from the master: " << e.what();
    return kExitConfig;
  }
  if (!SetUpLogging(config)) return kExitConfig;
  // Before any client byte is read; after the log file, which may be root's, is open.
  if (!DropConfiguredPrivileges(config)) return kExitConfig;
  IgnoreSignals();
  return Run(std::move(config), *args);
}

}  // namespace valved::worker
