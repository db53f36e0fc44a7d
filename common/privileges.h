// Who the workers and the R children run as (settings user, group and
// allow_root). A root master keeps root, because it binds the port and owns
// the runtime directory, but everything it starts that reads client bytes or
// runs the API's R code switches to `user` first: a worker at start-up, an R
// child through `valved run-as` (master/run_as.h).
//
// Typical use:
//   std::optional<Identity> run_as = ChildIdentity(config, geteuid());  // ConfigError -> 78
//   ... in the process that must give up root:
//   if (run_as) DropPrivileges(*run_as);                                 // std::system_error
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/config.h"

namespace valved {

/// A user and group looked up in the system's databases.
struct Identity {
  std::string user;   ///< the user's name, as initgroups() needs it
  uid_t uid = 0;      ///< the user's id
  std::string group;  ///< the group's name, or its number when it has no name
  gid_t gid = 0;      ///< the group's id
  std::string home;   ///< the user's home directory ("" if unknown), for $HOME
};

/// Looks up `user` and `group`, each a name or a number; an empty `group`
/// means the user's primary group. Throws ConfigError naming the setting:
/// `user: no such user "valvd"`, `group: no such group "wheell"`.
Identity ResolveIdentity(const std::string& user, const std::string& group);

/// What the workers and R children of a master running with effective uid
/// `euid` run as; nullopt means "as the master". The rules:
///   - not root: nullopt; only root can switch users (user and group are
///     still resolved, so that a typo is reported wherever valved runs);
///   - root with `user` set: that identity; if it is root itself,
///     allow_root must be true;
///   - root without `user`: nullopt if allow_root is true.
/// Throws ConfigError for bad names and for children that would run as root
/// without allow_root (the message says what to set).
std::optional<Identity> ChildIdentity(const Config& config, uid_t euid);

/// Becomes `identity` for good: initgroups, setgid, setuid, in that order
/// (once setuid has run, the groups can no longer be changed), then checks
/// the real and effective ids and that root cannot be regained. Needs root.
/// Throws std::system_error naming the call that failed, with its errno.
void DropPrivileges(const Identity& identity);

/// For a worker at start-up: DropPrivileges(ChildIdentity(config, geteuid()))
/// when there is an identity to switch to. On failure logs the reason at
/// level error and returns false (the worker then exits 78: do not respawn).
bool DropConfiguredPrivileges(const Config& config);

/// Makes `identity`'s user the owner of the regular file `path`, keeping
/// its group (nginx does this for its log files): the workers reopen the log
/// file on SIGUSR1 as that user, so a file the master (root) has just
/// created must be theirs. Does nothing for "" or a non-regular file, and
/// never follows a symlink. Returns false and sets *error on failure.
bool GiveFileTo(const std::string& path, const Identity& identity, std::string* error);

/// "" when `identity` may search (x) every directory from "/" down to the
/// absolute `path`, and, with `need_read`, also read `path` (and search it,
/// if it is a directory); otherwise the first one in the way, with its
/// owner and mode: "/root (owner 0, mode 0700)". Judged by the owner, group
/// (supplementary groups included) and other bits; ACLs are not consulted,
/// and a path that does not exist is not in the way.
std::string FindAccessBlocker(const std::string& path, const Identity& identity, bool need_read);

}  // namespace valved
