// Upstream sections of the config: backends, pools and routes, with names resolved to indexes.
#include <algorithm>
#include <limits>
#include <map>

#include "config/detail.hpp"

namespace config::detail {

namespace {

const char* const name_rule =
    "(use letters, digits, \".\", \"_\" and \"-\", at most 64 characters)";

// Reads a backend or pool name; registers it in `table` (reporting a duplicate) at `index`.
std::optional<std::string> read_name(reader& r, const value_ref& v, const char* what,
                                     const std::string& section, name_table& table,
                                     std::size_t index) {
  auto name = read_string(r, v, true);
  if (!name) return std::nullopt;
  if (!valid_name(*name)) {
    r.error(v.at, v.path,
            "invalid " + std::string(what) + " name " + quote(*name) + " " + name_rule);
    return std::nullopt;
  }
  if (auto [it, fresh] = table.index.emplace(*name, index); !fresh) {
    r.error(v.at, v.path,
            "duplicate " + std::string(what) + " name " + quote(*name) + " (first in " +
                index_path(section, it->second) + ")");
  }
  return name;
}

// Looks `v` up in `table`: the index, or nullopt after "unknown <what> ..." (when checkable).
std::optional<std::size_t> resolve(reader& r, const value_ref& v, const char* what,
                                   const name_table& table) {
  const auto name = read_string(r, v, true);
  if (!name || !table.usable) return std::nullopt;
  const auto it = table.index.find(*name);
  if (it == table.index.end()) {
    r.error(v.at, v.path, "unknown " + std::string(what) + " " + quote(*name));
    return std::nullopt;
  }
  return it->second;
}

/// A backend's fqdn: a DNS host name (what TargetServer shows), nothing a log reader could
/// mistake for another column.
std::string read_fqdn(reader& r, const value_ref& v) {
  const auto s = read_string(r, v, true);
  if (!s) return {};
  if (!valid_host_name(*s)) {
    r.error(v.at, v.path, "invalid host name " + quote(*s) + " (a DNS name, e.g. mbx01.corp.test)");
    return {};
  }
  return *s;
}

std::optional<backend_tls> load_backend_tls(reader& r, const value_ref& v) {
  fields f(r, v, {"ca", "sni", "verify"});
  if (!f.valid()) return std::nullopt;
  backend_tls tls;
  if (auto x = f.find("ca")) tls.ca_file = read_file_path(r, *x, true).value_or("");
  if (auto x = f.find("sni")) tls.sni = read_string(r, *x, false).value_or("");
  if (auto x = f.find("verify")) tls.verify = read_bool(r, *x).value_or(true);
  return tls;
}

health_check load_health_check(reader& r, const value_ref& v) {
  health_check check;
  fields f(r, v, {"enabled", "path", "status", "body"});
  if (!f.valid()) return check;
  if (auto x = f.find("enabled")) check.enabled = read_bool(r, *x).value_or(true);
  if (auto x = f.find("path")) {
    const auto p = read_string(r, *x, true);
    if (p && !valid_check_path(*p))
      r.error(x->at, x->path,
              "health check path " + quote(*p) +
                  " must start with '/' and hold only visible ASCII (no spaces, no '#')");
    else if (p)
      check.path = *p;
  }
  if (auto x = f.find("status"))
    check.status = unsigned(read_uint(r, *x, 100, 599).value_or(check.status));
  if (auto x = f.find("body")) check.body = read_string(r, *x, false).value_or("");
  return check;
}

// active | draining (exact spelling, like the other enumerations of the schema).
backend_state read_state(reader& r, const value_ref& v) {
  const auto text = read_string(r, v, false);
  if (!text) return backend_state::active;
  if (*text == "active") return backend_state::active;
  if (*text == "draining") return backend_state::draining;
  r.error(v.at, v.path, "unknown state " + quote(*text) + " (expected \"active\" or \"draining\")");
  return backend_state::active;
}

}  // namespace

/// A health check path is origin-form and plain: '/' then visible ASCII, no fragment; what
/// goes on the wire is exactly what the admin wrote.
bool valid_check_path(std::string_view p) {
  if (p.empty() || p.front() != '/' || p.size() > 1024) return false;
  for (const char c : p)
    if (c <= ' ' || c >= 0x7f || c == '#') return false;
  return true;
}

void load_backends(reader& r, const fields& root, snapshot& s, name_table& backends) {
  const auto list = root.require("backends");
  if (!list || !read_sequence(r, *list, true)) {
    backends.usable = false;
    return;
  }
  // Every entry keeps its position, valid or not, so indexes match "backends[i]".
  for (const auto& item : elements(*list)) {
    backend b;
    fields f(r, item, {"name", "fqdn", "address", "weight", "tls", "state", "health_check"});
    if (auto v = f.require("name")) {
      b.name = read_name(r, *v, "backend", list->path, backends, s.backends.size()).value_or("");
    }
    if (auto v = f.find("fqdn")) b.fqdn = read_fqdn(r, *v);
    if (auto v = f.require("address")) b.address = read_endpoint(r, *v, 1).value_or(endpoint{});
    if (auto v = f.find("weight")) {
      b.weight = static_cast<std::uint32_t>(read_uint(r, *v, 1, 10'000).value_or(100));
    }
    if (auto v = f.find("tls")) b.tls = load_backend_tls(r, *v);
    if (auto v = f.find("state")) b.state = read_state(r, *v);
    if (auto v = f.find("health_check")) b.check = load_health_check(r, *v);
    s.backends.push_back(std::move(b));
  }
}

void load_pools(reader& r, const fields& root, snapshot& s, const name_table& backends,
                name_table& pools) {
  const auto list = root.find("pools");
  if (!list) return;
  if (!read_sequence(r, *list, false)) {
    pools.usable = false;
    return;
  }
  for (const auto& item : elements(*list)) {
    pool p;
    fields f(r, item, {"name", "members"});
    if (auto v = f.require("name")) {
      p.name = read_name(r, *v, "pool", list->path, pools, s.pools.size()).value_or("");
    }
    if (auto members = f.require("members"); members && read_sequence(r, *members, true)) {
      for (const auto& m : elements(*members)) {
        const auto index = resolve(r, m, "backend", backends);
        if (!index) continue;
        if (std::find(p.members.begin(), p.members.end(), *index) != p.members.end()) {
          r.error(m.at, m.path, "duplicate member " + quote(m.node.Scalar()));
          continue;
        }
        p.members.push_back(*index);
      }
    }
    s.pools.push_back(std::move(p));
  }
}

void load_routes(reader& r, const fields& root, snapshot& s, const name_table& backends,
                 const name_table& pools) {
  const char* const no_route = "no route: add a `default: true` route or mailbox/domain routes";
  const auto list = root.find("routes");
  if (!list) {
    r.error(root.self().at, "", no_route);
    return;
  }
  if (!read_sequence(r, *list, false)) return;
  if (list->node.size() == 0) {
    r.error(list->at, "", no_route);
    return;
  }
  std::map<std::string, std::string, std::less<>> mailboxes;  // key → first route path
  std::map<std::string, std::string, std::less<>> domains;
  std::string first_default;
  for (const auto& item : elements(*list)) {
    fields f(r, item, {"mailbox", "domain", "default", "pool", "backend"});
    if (!f.valid()) continue;

    std::optional<target> to;
    const auto targets = f.present({"pool", "backend"});
    if (targets.empty()) {
      r.error(item.at, item.path, "missing \"pool\" or \"backend\"");
    } else if (targets.size() > 1) {
      r.error(targets[1].second, item.path,
              "both \"pool\" and \"backend\" given (a route has exactly one of them)");
    } else if (targets[0].first == "pool") {
      if (auto index = resolve(r, *f.find("pool"), "pool", pools)) {
        to = target{target_kind::pool, *index};
      }
    } else if (auto index = resolve(r, *f.find("backend"), "backend", backends)) {
      to = target{target_kind::backend, *index};
    }

    const auto kinds = f.present({"mailbox", "domain", "default"});
    if (kinds.empty()) {
      r.error(item.at, item.path, "missing \"mailbox\", \"domain\" or \"default\"");
      continue;
    }
    if (kinds.size() > 1) {
      r.error(kinds[1].second, item.path,
              "both " + quote(kinds[0].first) + " and " + quote(kinds[1].first) +
                  " given (a route has exactly one of \"mailbox\", \"domain\" or \"default\")");
      continue;
    }
    const auto v = *f.find(kinds[0].first);
    if (kinds[0].first == "default") {
      const auto flag = read_bool(r, v);
      if (flag && !*flag) r.error(v.at, v.path, "must be true (omit the route instead)");
      if (!flag || !*flag) continue;
      if (!first_default.empty()) {
        r.error(v.at, v.path, "duplicate default route (first in " + first_default + ")");
        continue;
      }
      first_default = item.path;
      if (to) s.default_route = *to;
      continue;
    }
    route rt;
    const bool mailbox = kinds[0].first == "mailbox";
    rt.kind = mailbox ? route_kind::mailbox : route_kind::domain;
    if (mailbox && v.node.IsSequence()) {
      // Several anchors of one mailbox (SMTP address, MailboxId GUID): one route each, all
      // hashing by the first so that every protocol meets the same pool member.
      if (!read_sequence(r, v, true)) continue;
      std::vector<std::string> keys;
      for (const auto& item_key : elements(v))
        if (auto key = read_mailbox(r, item_key)) keys.push_back(std::move(*key));
      if (keys.size() != v.node.size()) continue;
      bool fresh_all = true;
      for (const auto& k : keys)
        if (auto [it, fresh] = mailboxes.emplace(k, item.path); !fresh) {
          r.error(v.at, v.path,
                  "duplicate mailbox route " + quote(k) + " (first in " + it->second + ")");
          fresh_all = false;
        }
      if (!fresh_all || !to) continue;
      for (const auto& k : keys)
        s.routes.push_back({route_kind::mailbox, k, *to, keys.front()});
      continue;
    }
    if (mailbox) {
      auto key = read_mailbox(r, v);
      if (!key) continue;
      rt.key = std::move(*key);
    } else {
      const auto text = read_string(r, v, true);
      if (!text) continue;
      if (!parse_domain(*text, rt.key)) {
        r.error(v.at, v.path,
                "invalid domain " + quote(*text) + " (expected a mail domain without \"@\")");
        continue;
      }
    }
    auto& seen = mailbox ? mailboxes : domains;
    if (auto [it, fresh] = seen.emplace(rt.key, item.path); !fresh) {
      r.error(v.at, v.path,
              "duplicate " + std::string(mailbox ? "mailbox" : "domain") + " route " +
                  quote(rt.key) + " (first in " + it->second + ")");
      continue;
    }
    if (to) {
      rt.to = *to;
      s.routes.push_back(std::move(rt));
    }
  }
}

}  // namespace config::detail
