#include "master/status_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <sys/socket.h>

#include <cstdio>
#include <ostream>
#include <stdexcept>

#include "common/listen_address.h"

namespace valved::master {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr int kTimeoutMs = 5000;

/// The body of GET /status, or throws naming what went wrong.
std::string FetchStatus(const ListenAddress& address) {
  UniqueFd fd = ConnectTo(address, kTimeoutMs);
  std::string request = "GET /status HTTP/1.0\r\nHost: valved\r\n\r\n";
  if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    throw std::runtime_error("cannot send the request to " + address.ToString());
  std::string answer;
  char buf[16384];
  ssize_t n;
  while ((n = recv(fd.get(), buf, sizeof buf, 0)) > 0) answer.append(buf, static_cast<size_t>(n));
  if (n == -1) throw std::runtime_error("no complete answer from " + address.ToString());
  size_t body = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.", 0) != 0 || body == std::string::npos)
    throw std::runtime_error(address.ToString() + " did not answer HTTP");
  if (answer.compare(9, 3, "200") != 0)
    throw std::runtime_error(address.ToString() + " answered " + answer.substr(9, 3) +
                             " to /status");
  return answer.substr(body + 4);
}

std::string Printf(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

std::string Duration(double seconds) {
  auto s = static_cast<long>(seconds);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h " + std::to_string(s / 60 % 60) + "m";
}

double MiB(const Object::Ptr& o, const char* key) {
  double bytes = o->getValue<double>(key);
  return bytes < 0 ? 0 : bytes / (1 << 20);
}

std::string Summary(const Object::Ptr& s) {
  Object::Ptr totals = s->getObject("totals");
  Object::Ptr classes = totals->getObject("by_class");
  Object::Ptr queue = s->getObject("queue");
  std::string config = s->getValue<std::string>("config_file");
  std::string reload = s->getValue<std::string>("last_reload");
  double reload_age = s->optValue<double>("last_reload_age_seconds", -1);
  if (reload.empty()) reload = "none";
  if (reload_age >= 0) reload += " (" + Duration(reload_age) + " ago)";
  std::string text = "valved " + s->getValue<std::string>("version") + ", master pid " +
                     std::to_string(s->getValue<long>("master_pid")) + ", up " +
                     Duration(s->getValue<double>("uptime_seconds")) + ", generation " +
                     std::to_string(s->getValue<long>("generation")) + "\n" +
                     (s->getValue<bool>("stopping") ? "STOPPING; " : "") +
                     s->getValue<std::string>("readiness") + "\n" + "config " +
                     (config.empty() ? "(none)" : config) + ", API " +
                     s->getValue<std::string>("api") + ", listening on " +
                     s->getValue<std::string>("listen") + "\n";
  text += Printf(
      "queue: %ld waiting, oldest %.1fs; requests: %ld (2xx %ld, 4xx %ld, 5xx %ld), %ld refused by "
      "valved\n",
      queue->getValue<long>("length"), queue->getValue<double>("oldest_wait_seconds"),
      totals->getValue<long>("requests"), classes->getValue<long>("2xx"),
      classes->getValue<long>("4xx"), classes->getValue<long>("5xx"),
      totals->getValue<long>("rejected"));
  text += "children spawned " + std::to_string(totals->getValue<long>("spawns")) + ", crashed " +
          std::to_string(totals->getValue<long>("crashes")) + ", failed to start " +
          std::to_string(totals->getValue<long>("boot_failures")) + "; last reload: " + reload +
          "\n";
  return text;
}

std::string Workers(const Array::Ptr& workers) {
  std::string text = "\nWorkers:\n";
  text +=
      Printf("  %-4s %-8s %-9s %6s %9s %8s\n", "#", "pid", "state", "conns", "requests", "RSS MiB");
  for (size_t i = 0; i < workers->size(); ++i) {
    Object::Ptr w = workers->getObject(static_cast<unsigned>(i));
    text += Printf("  %-4ld %-8ld %-9s %6ld %9ld %8.1f\n", w->getValue<long>("id"),
                   w->getValue<long>("pid"), w->getValue<std::string>("state").c_str(),
                   w->getValue<long>("connections"), w->getValue<long>("requests"),
                   MiB(w, "rss_bytes"));
  }
  return text;
}

std::string Children(const Array::Ptr& children, long n_max) {
  long busy = 0;
  for (size_t i = 0; i < children->size(); ++i) {
    std::string state =
        children->getObject(static_cast<unsigned>(i))->getValue<std::string>("state");
    busy += state == "Busy" || state == "Draining";
  }
  std::string text = Printf("\nR children (%ld of n_max %ld busy):\n", busy, n_max);
  text += Printf("  %-4s %-8s %-9s %8s %4s %8s %9s %8s %8s  %s\n", "#", "pid", "state", "for(s)",
                 "gen", "age", "requests", "busy(s)", "RSS MiB", "note");
  for (size_t i = 0; i < children->size(); ++i) {
    Object::Ptr c = children->getObject(static_cast<unsigned>(i));
    std::string note = c->getValue<std::string>("retiring");
    long leases = c->optValue<long>("leases", 0);
    if (note.empty() && leases > 1) {
      note = std::to_string(leases) + " requests";
    } else if (note.empty() && c->getValue<long>("lease_worker") > 0) {
      note = "worker#" + std::to_string(c->getValue<long>("lease_worker"));
    }
    text +=
        Printf("  %-4ld %-8ld %-9s %8.1f %4ld %8s %9ld %8.1f %8.1f  %s\n", c->getValue<long>("id"),
               c->getValue<long>("pid"), c->getValue<std::string>("state").c_str(),
               c->getValue<double>("state_seconds"), c->getValue<long>("generation"),
               Duration(c->getValue<double>("age_seconds")).c_str(), c->getValue<long>("requests"),
               c->getValue<double>("busy_seconds"), MiB(c, "rss_bytes"), note.c_str());
  }
  return text;
}

}  // namespace

std::string FormatStatus(const std::string& json) {
  Poco::JSON::Parser parser;
  Object::Ptr s = parser.parse(json).extract<Object::Ptr>();
  return Summary(s) + Workers(s->getArray("workers")) +
         Children(s->getArray("children"), s->getValue<long>("n_max"));
}

int PrintStatusCommand(const Config& config, std::ostream& out, std::ostream& err) {
  if (config.status_listen.empty()) {
    err << "valved: status_listen is not set, so there is no status to read (set it in the "
           "configuration file named with -c, or give --status-listen)\n";
    return 1;
  }
  std::string error;
  std::optional<ListenAddress> address = ParseListenAddress(config.status_listen, &error);
  if (!address) {
    err << "valved: status_listen: " << error << "\n";
    return 1;
  }
  try {
    out << FormatStatus(FetchStatus(*address));
    return 0;
  } catch (const std::exception& e) {
    err << "valved: cannot read the status: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace valved::master
