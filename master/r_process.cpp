#include "master/r_process.h"

#include <Poco/Exception.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <stdexcept>

#include "common/log.h"
#include "master/run_as.h"

namespace valved::master {
namespace {

// Poco's pipes are not close-on-exec; keep our own CLOEXEC copy of one end
// so it does not leak into workers forked later. Poco closes its copies.
UniqueFd TakeEnd(Poco::Pipe& pipe, bool read_end) {
  int fd = fcntl(read_end ? pipe.readHandle() : pipe.writeHandle(), F_DUPFD_CLOEXEC, 3);
  pipe.close();
  return UniqueFd(fd);
}

}  // namespace

bool SameProgram(const RLaunchSpec& a, const RLaunchSpec& b) {
  auto uid = [](const RLaunchSpec& s) { return s.run_as ? static_cast<long>(s.run_as->uid) : -1L; };
  auto gid = [](const RLaunchSpec& s) { return s.run_as ? static_cast<long>(s.run_as->gid) : -1L; };
  return a.rscript == b.rscript && a.launcher_script == b.launcher_script &&
         a.api_path == b.api_path && a.working_dir == b.working_dir &&
         a.public_host == b.public_host && a.public_port == b.public_port && a.warmup == b.warmup &&
         uid(a) == uid(b) && gid(a) == gid(b) && a.valved_exe == b.valved_exe && a.fork == b.fork &&
         a.template_script == b.template_script;
}

std::map<std::string, std::string> REnvironment(const RLaunchSpec& spec) {
  return {{"VALVED_HOST", spec.public_host}, {"VALVED_PORT", std::to_string(spec.public_port)}};
}

RProcess StartRProcess(const RLaunchSpec& spec, const std::string& script,
                       const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  Poco::Process::Args argv = {script};
  argv.insert(argv.end(), args.begin(), args.end());
  Poco::Process::Env poco_env(env.begin(), env.end());
  // R starts through `valved run-as` (its own process group, the configured
  // user). /proc/self/exe, resolved in the forked child before exec, is the
  // master's own image even after a package upgrade replaced the file.
  argv = RunAsArgs(spec.run_as, spec.rscript, argv);
  std::string command = spec.valved_exe.empty() ? "/proc/self/exe" : spec.valved_exe;
  Poco::Pipe in, out, err;
  // The pipes belong to the master's user; R, once `run-as` switched to
  // `user`, may reopen its stdin through /proc/self/fd/0 (the template does,
  // to look for a second command without blocking), which checks them.
  if (spec.run_as) {
    for (int fd : {in.readHandle(), out.writeHandle(), err.writeHandle()}) {
      if (::fchown(fd, spec.run_as->uid, spec.run_as->gid) == -1)
        throw std::runtime_error("cannot give R its pipes: fchown: " + ErrnoString(errno));
    }
  }
  RProcess process;
  try {
    Poco::ProcessHandle handle =
        Poco::Process::launch(command, argv, spec.working_dir, &in, &out, &err, poco_env);
    process.pid = handle.id();
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("cannot start " + command + ": " + e.displayText());
  }
  process.in = TakeEnd(in, false);
  process.out = TakeEnd(out, true);
  process.err = TakeEnd(err, true);
  return process;
}

std::string RandomToken() {
  std::random_device random;
  std::string token;
  for (int i = 0; i < 4; ++i) {
    char buf[9];
    snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(random()));
    token += buf;
  }
  return token;
}

}  // namespace valved::master
