#include "common/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <system_error>
#include <vector>

#include "common/log.h"
#include "common/parse_text.h"

namespace valved {
namespace {

/// Calls a getpwnam_r-style `lookup(buffer, size, &result)`, growing the
/// buffer on ERANGE. Returns the errno of a failed lookup, or 0 (then
/// `result` is null when there is no such entry).
template <typename Entry, typename Lookup>
int LookUp(std::vector<char>& buffer, Entry*& result, Lookup lookup) {
  buffer.resize(1024);
  for (;;) {
    result = nullptr;
    int err = lookup(buffer.data(), buffer.size(), &result);
    if (err == ERANGE && buffer.size() < (size_t{1} << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    // glibc reports "no such entry" as 0, ENOENT, ESRCH, EBADF or EPERM
    // depending on the NSS module (getpwnam_r(3), NOTES).
    bool absent = err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
    if (err != 0) result = nullptr;
    return absent ? 0 : err;
  }
}

[[noreturn]] void FailLookup(const char* key, const char* what, const std::string& name, int err) {
  std::string problem =
      err == 0 ? "no such " + std::string(what) + " \"" + name + "\""
               : "cannot look up " + std::string(what) + " \"" + name + "\": " + ErrnoString(err);
  throw ConfigError(std::string(key) + ": " + problem);
}

/// The passwd entry of `name`, or of the number `name` spells when no user
/// has that name (as chown(1) does).
void ResolveUser(const std::string& name, Identity& out) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer;
  int err = LookUp(buffer, found, [&](char* buf, size_t size, passwd** result) {
    return getpwnam_r(name.c_str(), &entry, buf, size, result);
  });
  if (!found && err == 0 && ParseNumber<unsigned long>(name)) {
    uid_t uid = static_cast<uid_t>(*ParseNumber<unsigned long>(name));
    err = LookUp(buffer, found, [&](char* buf, size_t size, passwd** result) {
      return getpwuid_r(uid, &entry, buf, size, result);
    });
  }
  // A user without an entry has no name for initgroups(): refuse it.
  if (!found) FailLookup("user", "user", name, err);
  out.user = found->pw_name;
  out.uid = found->pw_uid;
  out.gid = found->pw_gid;
  out.home = found->pw_dir ? found->pw_dir : "";
}

std::string GroupName(gid_t gid);

/// The group `name` (a name, or a number); a number without an entry is
/// accepted as it is, since setgid() needs only the number.
void ResolveGroup(const std::string& name, Identity& out) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer;
  int err = LookUp(buffer, found, [&](char* buf, size_t size, group** result) {
    return getgrnam_r(name.c_str(), &entry, buf, size, result);
  });
  if (found) {
    out.group = found->gr_name;
    out.gid = found->gr_gid;
    return;
  }
  auto number = ParseNumber<unsigned long>(name);
  if (err != 0 || !number) FailLookup("group", "group", name, err);
  out.gid = static_cast<gid_t>(*number);
  out.group = GroupName(out.gid);
}

/// The name of the user's primary group, or its number when it has none.
std::string GroupName(gid_t gid) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer;
  LookUp(buffer, found, [&](char* buf, size_t size, group** result) {
    return getgrgid_r(gid, &entry, buf, size, result);
  });
  return found ? found->gr_name : std::to_string(gid);
}

std::vector<gid_t> GroupsOf(const Identity& identity) {
  int count = 64;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  while (getgrouplist(identity.user.c_str(), identity.gid, groups.data(), &count) == -1) {
    groups.resize(static_cast<size_t>(count));
  }
  groups.resize(static_cast<size_t>(count));
  return groups;
}

/// Whether `identity` has all of `want` (a mask of the owner bits, S_IRUSR
/// and/or S_IXUSR) on a file with `st`: the owner, group or other bits
/// apply, whichever class the user falls in first, as the kernel decides.
bool Permits(const struct stat& st, const Identity& identity, const std::vector<gid_t>& groups,
             mode_t want) {
  if (identity.uid == 0) return true;
  if (st.st_uid == identity.uid) return (st.st_mode & want) == want;
  bool member = std::find(groups.begin(), groups.end(), st.st_gid) != groups.end();
  mode_t shift = member ? 3 : 6;
  return (st.st_mode & (want >> shift)) == (want >> shift);
}

std::string Describe(const std::string& path, const struct stat& st) {
  char mode[8];
  snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return path + " (owner " + std::to_string(st.st_uid) + ", mode " + mode + ")";
}

[[noreturn]] void FailCall(const std::string& call) {
  throw std::system_error(errno, std::generic_category(), call);
}

constexpr const char* kRootAdvice =
    "set user to the user they should run as (for example \"user: nobody\", or --user nobody), "
    "or set allow_root: true (--allow-root) to run them as root";

}  // namespace

Identity ResolveIdentity(const std::string& user, const std::string& group) {
  Identity identity;
  ResolveUser(user, identity);
  if (group.empty()) {
    identity.group = GroupName(identity.gid);
  } else {
    ResolveGroup(group, identity);
  }
  return identity;
}

std::optional<Identity> ChildIdentity(const Config& config, uid_t euid) {
  std::optional<Identity> identity;
  if (!config.user.empty()) identity = ResolveIdentity(config.user, config.group);
  if (euid != 0) return std::nullopt;
  if (config.allow_root) return identity;
  if (!identity) {
    throw ConfigError(
        "valved is running as root and would run the R children (the API's code) and the "
        "workers as root; " +
        std::string(kRootAdvice));
  }
  if (identity->uid == 0) {
    throw ConfigError("user: \"" + config.user + "\" is root; " + kRootAdvice);
  }
  return identity;
}

void DropPrivileges(const Identity& identity) {
  std::string ids = "(" + identity.user + ", " + std::to_string(identity.gid) + ")";
  if (initgroups(identity.user.c_str(), identity.gid) == -1) FailCall("initgroups" + ids);
  if (setgid(identity.gid) == -1) FailCall("setgid(" + std::to_string(identity.gid) + ")");
  if (setuid(identity.uid) == -1) FailCall("setuid(" + std::to_string(identity.uid) + ")");
  // setuid() from root changes all three uids, but check rather than trust:
  // a process that could get root back has not dropped anything.
  bool switched = getuid() == identity.uid && geteuid() == identity.uid &&
                  getgid() == identity.gid && getegid() == identity.gid;
  if (!switched) {
    throw std::system_error(EPERM, std::generic_category(),
                            "still not " + identity.user + " after setuid()");
  }
  if (identity.uid != 0 && setuid(0) != -1) {
    throw std::system_error(EPERM, std::generic_category(), "setuid(0) succeeded after dropping");
  }
}

bool DropConfiguredPrivileges(const Config& config) {
  try {
    std::optional<Identity> identity = ChildIdentity(config, geteuid());
    if (!identity) return true;
    DropPrivileges(*identity);
    Log(LogLevel::kDebug) << "running as user " << identity->user << " (uid " << identity->uid
                          << "), group " << identity->group << " (gid " << identity->gid << ")";
    return true;
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "cannot run as user \"" << config.user << "\": " << e.what();
    return false;
  }
}

bool GiveFileTo(const std::string& path, const Identity& identity, std::string* error) {
  if (path.empty()) return true;
  // O_NOFOLLOW and fchown: never give away what a symlink planted in a
  // writable directory points at.
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1) {
    *error = "cannot open " + path + " to give it to " + identity.user + ": " + ErrnoString(errno);
    return false;
  }
  struct stat st {};
  bool ok = fstat(fd, &st) == 0;
  // The group stays: logrotate's "create 0640 root adm" keeps adm readers.
  if (ok && S_ISREG(st.st_mode) && st.st_uid != identity.uid) {
    ok = fchown(fd, identity.uid, static_cast<gid_t>(-1)) == 0;
  }
  int err = errno;
  close(fd);
  if (!ok) *error = "cannot give " + path + " to " + identity.user + ": " + ErrnoString(err);
  return ok;
}

std::string FindAccessBlocker(const std::string& path, const Identity& identity, bool need_read) {
  std::vector<gid_t> groups = GroupsOf(identity);
  size_t start = 0;
  // "/", then each prefix of `path` ending before a slash, then `path`.
  while (start != std::string::npos) {
    size_t slash = path.find('/', start);
    std::string prefix = slash == 0 ? "/" : path.substr(0, slash);
    bool last = slash == std::string::npos || slash + 1 == path.size();
    start = last ? std::string::npos : slash + 1;
    struct stat st {};
    if (prefix.empty() || stat(prefix.c_str(), &st) == -1) continue;
    mode_t want = S_ISDIR(st.st_mode) ? S_IXUSR : 0;
    if (last && need_read) want |= S_IRUSR;
    if (!Permits(st, identity, groups, want)) return Describe(prefix, st);
  }
  return "";
}

}  // namespace valved
