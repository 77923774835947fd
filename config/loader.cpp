// YAML text → validated config::snapshot: document root, listeners, mapi, timeouts, limits.
#include "config/loader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <iterator>
#include <limits>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include "config/detail.hpp"
#include "routing/cidr.hpp"
#include "routing/text.hpp"

namespace config {

namespace {

using detail::fields;
using detail::quote;
using detail::reader;
using detail::value_ref;

constexpr auto any_count = std::numeric_limits<std::uint64_t>::max();

// ciphers, ciphersuites, curves: OpenSSL's own syntax and names, checked against libssl.
void load_tls_policy(reader& r, const fields& f, listener_tls& tls) {
  if (auto v = f.find("ciphers")) {
    if (auto text = detail::read_string(r, *v, true)) {
      const auto problems = detail::check_cipher_list(*text);
      for (const auto& p : problems)
        r.error(v->at, v->path, p);
      if (problems.empty()) tls.ciphers = std::move(*text);
    }
  }
  if (auto v = f.find("ciphersuites")) {
    if (auto text = detail::read_string(r, *v, true)) {
      const auto problems = detail::check_ciphersuites(*text);
      for (const auto& p : problems)
        r.error(v->at, v->path, p);
      if (problems.empty()) tls.ciphersuites = std::move(*text);
    }
  }
  if (auto v = f.find("curves"); v && detail::read_sequence(r, *v, true)) {
    std::vector<std::string> groups;
    bool ok = true;
    for (const auto& item : detail::elements(*v)) {
      const auto name = detail::read_string(r, item, true);
      if (!name) {
        ok = false;
      } else if (std::find(groups.begin(), groups.end(), *name) != groups.end()) {
        r.error(item.at, item.path, "duplicate group " + quote(*name));
        ok = false;
      } else if (auto why = detail::check_group(*name); !why.empty()) {
        r.error(item.at, item.path, why);
        ok = false;
      } else {
        groups.push_back(*name);
      }
    }
    if (ok) {
      if (auto why = detail::check_groups(groups); !why.empty()) {
        r.error(v->at, v->path, why);
      } else {
        tls.curves = std::move(groups);
      }
    }
  }
}

std::optional<listener_tls> load_listener_tls(reader& r, const value_ref& v) {
  fields f(r, v,
           {"certificates", "min_version", "alpn", "ciphers", "ciphersuites", "curves",
            "ticket_key_files", "session_lifetime"});
  if (!f.valid()) return std::nullopt;
  listener_tls tls;
  if (auto certs = f.require("certificates"); certs && detail::read_sequence(r, *certs, true)) {
    for (const auto& item : detail::elements(*certs)) {
      fields c(r, item, {"cert", "key"});
      certificate cert;
      if (auto p = c.require("cert")) {
        cert.cert_file = detail::read_file_path(r, *p, false).value_or("");
        if (p->at.line >= 0) {
          cert.line = p->at.line + 1;
          cert.col = p->at.column + 1;
        }
      }
      if (auto p = c.require("key")) {
        cert.key_file = detail::read_file_path(r, *p, false).value_or("");
      }
      tls.certificates.push_back(std::move(cert));
    }
  }
  if (auto mv = f.find("min_version")) {
    // Compare the scalar text, so both "1.2" and an unquoted YAML float 1.2 are accepted.
    if (const auto text = detail::read_string(r, *mv, false)) {
      if (*text == "1.2") {
        tls.min_version = tls_version::tls1_2;
      } else if (*text == "1.3") {
        tls.min_version = tls_version::tls1_3;
      } else {
        r.error(mv->at, mv->path,
                "unsupported TLS version " + quote(*text) + " (expected \"1.2\" or \"1.3\")");
      }
    }
  }
  if (auto alpn = f.find("alpn"); alpn && detail::read_sequence(r, *alpn, true)) {
    tls.alpn.clear();
    for (const auto& item : detail::elements(*alpn)) {
      const auto id = detail::read_string(r, item, true);
      if (!id) continue;
      if (std::find(tls.alpn.begin(), tls.alpn.end(), *id) != tls.alpn.end()) {
        r.error(item.at, item.path, "duplicate ALPN protocol " + quote(*id));
      } else if (*id == "http/1.1" || *id == "h2") {
        tls.alpn.push_back(*id);
      } else {
        r.error(item.at, item.path, "unknown ALPN protocol " + quote(*id));
      }
    }
  }
  load_tls_policy(r, f, tls);
  if (auto x = f.find("ticket_key_files"); x && detail::read_sequence(r, *x, false)) {
    for (const auto& item : detail::elements(*x)) {
      const auto path = detail::read_file_path(r, item, false);
      if (!path) continue;
      std::string bytes;
      detail::read_file_bytes(*path, 81, bytes);
      if (bytes.size() != 48 && bytes.size() != 80)
        r.error(item.at, item.path,
                "ticket key file " + quote(*path) + " holds " + std::to_string(bytes.size()) +
                    " bytes; expected 80 (or 48): openssl rand 80 > FILE");
      else
        tls.ticket_key_files.push_back(*path);
    }
  }
  if (auto x = f.find("session_lifetime")) {
    // TLS 1.3 caps a ticket's life at 7 days (RFC 8446 4.6.1).
    if (auto d = detail::read_duration(r, *x, config::duration{7ll * 24 * 3600 * 1000}))
      tls.session_lifetime = *d;
  }
  return tls;
}

/// `proxy_protocol: v1|v2|any` with `trusted_sources: [CIDR, ...]` (required with it).
void load_proxy_protocol(reader& r, const fields& f, const value_ref& item, listener& l) {
  if (auto v = f.find("proxy_protocol")) {
    if (const auto text = detail::read_string(r, *v, true)) {
      const auto t = routing::to_lower(*text);
      if (t == "v1")
        l.proxy_protocol = proxy_protocol::v1;
      else if (t == "v2")
        l.proxy_protocol = proxy_protocol::v2;
      else if (t == "any")
        l.proxy_protocol = proxy_protocol::any;
      else if (t != "off")
        r.error(v->at, v->path, "expected v1, v2, any or off, not " + quote(*text));
    }
  }
  auto networks = [&](const char* key, std::vector<std::string>& into) {
    if (auto v = f.find(key); v && detail::read_sequence(r, *v, false)) {
      for (const auto& n : detail::elements(*v)) {
        const auto text = detail::read_string(r, n, true);
        if (!text) continue;
        if (!routing::parse_cidr(*text))
          r.error(n.at, n.path,
                  "invalid network " + quote(*text) + " (an address or CIDR: 10.0.0.0/8)");
        else
          into.push_back(*text);
      }
    }
  };
  networks("trusted_sources", l.trusted_sources);
  networks("trusted_proxies", l.trusted_proxies);
  if (l.proxy_protocol != proxy_protocol::off && l.trusted_sources.empty())
    r.error(item.at, item.path,
            "proxy_protocol needs trusted_sources: the balancers' addresses (anyone else could "
            "claim any client address)");
}

void load_listeners(reader& r, const fields& root, snapshot& s) {
  const auto list = root.require("listeners");
  if (!list || !detail::read_sequence(r, *list, true)) return;
  std::map<std::string, std::string, std::less<>> names;      // name → first listener path
  std::map<std::string, std::string, std::less<>> addresses;  // host:port → first listener path
  for (const auto& item : detail::elements(*list)) {
    fields f(r, item,
             {"name", "address", "tls", "proxy_protocol", "trusted_sources", "trusted_proxies"});
    if (!f.valid()) continue;
    listener l;
    if (auto v = f.require("name")) {
      if (auto name = detail::read_string(r, *v, true)) {
        if (auto [it, fresh] = names.emplace(*name, item.path); !fresh) {
          r.error(v->at, v->path,
                  "duplicate listener name " + quote(*name) + " (first in " + it->second + ")");
        }
        l.name = std::move(*name);
      }
    }
    if (auto v = f.require("address")) {
      if (auto ep = detail::read_endpoint(r, *v, 0)) {
        // Port 0 asks the kernel for an ephemeral port, so any number of those can coexist.
        const std::string key = routing::to_lower(ep->host) + "|" + std::to_string(ep->port);
        if (ep->port != 0) {
          if (auto [it, fresh] = addresses.emplace(key, item.path); !fresh) {
            r.error(
                v->at, v->path,
                "duplicate address " + quote(v->node.Scalar()) + " (first in " + it->second + ")");
          }
        }
        l.address = std::move(*ep);
      }
    }
    if (auto v = f.find("tls")) l.tls = load_listener_tls(r, *v);
    load_proxy_protocol(r, f, item, l);
    s.listeners.push_back(std::move(l));
  }
}

void load_mapi(reader& r, const fields& root, snapshot& s) {
  const auto v = root.require("mapi");
  if (!v) return;
  fields f(r, *v, {"internal_url", "external_url", "mapi_http_enabled", "authentication"});
  if (!f.valid()) return;
  const auto read_url = [&r](const value_ref& u) -> std::optional<vdir_url> {
    const auto text = detail::read_string(r, u, true);
    if (!text) return std::nullopt;
    vdir_url url;
    if (auto why = detail::parse_url(*text, url); !why.empty()) {
      r.error(u.at, u.path, "invalid URL " + quote(*text) + ": " + why);
      return std::nullopt;
    }
    return url;
  };
  const auto internal = f.find("internal_url");
  const auto external = f.find("external_url");
  if (!internal && !external) {
    r.error(f.self().at, f.self().path,
            "at least one of \"internal_url\" or \"external_url\" is required");
  }
  if (internal) s.mapi.internal_url = read_url(*internal);
  if (external) s.mapi.external_url = read_url(*external);
  if (auto x = f.find("mapi_http_enabled")) {
    s.mapi.mapi_http_enabled = detail::read_bool(r, *x).value_or(true);
  }
  if (auto x = f.find("authentication")) {
    if (auto schemes = detail::read_auth_schemes(r, *x, false))
      s.mapi.authentication = std::move(*schemes);
  }
}

void load_timeouts(reader& r, const fields& root, snapshot& s) {
  const auto v = root.find("timeouts");
  if (!v) return;
  struct slot {
    std::string_view key;
    duration timeouts::*member;
    bool zero_allowed = false;
  };
  static constexpr slot slots[] = {
      {"handshake", &timeouts::handshake},
      {"header_read", &timeouts::header_read},
      {"keepalive_idle", &timeouts::keepalive_idle},
      {"body_idle", &timeouts::body_idle},
      {"client_write", &timeouts::client_write},
      {"upstream_connect", &timeouts::upstream_connect},
      {"upstream_idle", &timeouts::upstream_idle},
      {"upstream_keepalive", &timeouts::upstream_keepalive},
      {"drain", &timeouts::drain},
      {"accept_grace", &timeouts::accept_grace, true},  // 0: close the listeners at once
  };
  fields f(r, *v,
           {"handshake", "header_read", "keepalive_idle", "body_idle", "client_write",
            "upstream_connect", "upstream_idle", "upstream_keepalive", "drain", "accept_grace"});
  for (const auto& sl : slots) {
    if (auto d = f.find(sl.key)) {
      if (auto value = detail::read_duration(r, *d, day, sl.zero_allowed))
        s.timeouts.*sl.member = *value;
    }
  }
}

void load_limits(reader& r, const fields& root, snapshot& s) {
  const auto v = root.find("limits");
  if (!v) return;
  constexpr std::size_t kib = 1024;
  fields f(r, *v,
           {"header_bytes", "mapi_body_bytes", "max_requests_per_connection",
            "upstream_idle_per_backend", "max_client_connections", "h2_max_concurrent_streams"});
  if (auto x = f.find("header_bytes")) {
    if (auto n = detail::read_size(r, *x, kib, kib * kib)) s.limits.header_bytes = *n;
  }
  if (auto x = f.find("mapi_body_bytes")) {
    if (auto n = detail::read_size(r, *x, 1, kib * kib * kib)) s.limits.mapi_body_bytes = *n;
  }
  if (auto x = f.find("max_requests_per_connection")) {
    if (auto n = detail::read_uint(r, *x, 1, any_count)) s.limits.max_requests_per_connection = *n;
  }
  if (auto x = f.find("upstream_idle_per_backend")) {
    if (auto n = detail::read_uint(r, *x, 0, 100'000)) s.limits.upstream_idle_per_backend = *n;
  }
  if (auto x = f.find("max_client_connections")) {
    if (auto n = detail::read_uint(r, *x, 1, any_count)) s.limits.max_client_connections = *n;
  }
  if (auto x = f.find("h2_max_concurrent_streams")) {
    if (auto n = detail::read_uint(r, *x, 1, 1000))
      s.limits.h2_max_concurrent_streams = static_cast<std::uint32_t>(*n);
  }
}

void load_logs(reader& r, const fields& root, snapshot& s) {
  const auto v = root.find("logs");
  if (!v) return;
  fields f(r, *v, {"directory", "max_file_size", "max_directory_size", "max_age", "queue_records"});
  if (!f.valid()) return;
  request_log l;
  constexpr std::size_t mib = 1024 * 1024;
  if (auto x = f.require("directory")) {
    if (auto dir = detail::read_string(r, *x, true)) {
      std::filesystem::path p(*dir);
      if (p.is_relative()) p = r.base_dir() / p;
      l.directory = p.lexically_normal().string();
    }
  }
  if (auto x = f.find("max_file_size")) {
    if (auto n = detail::read_size(r, *x, 64 * 1024, 64ull * 1024 * mib)) l.max_file_bytes = *n;
  }
  if (auto x = f.find("max_directory_size")) {
    if (auto n = detail::read_size(r, *x, mib, std::numeric_limits<std::size_t>::max()))
      l.max_directory_bytes = *n;
  }
  if (l.max_directory_bytes < l.max_file_bytes) {
    r.error(v->at, v->path, "max_directory_size must be at least max_file_size");
  }
  if (auto x = f.find("max_age")) {
    if (auto d = detail::read_duration(r, *x, 3650 * day)) {
      if (*d < std::chrono::hours(1)) {
        r.error(x->at, x->path, "max_age must be at least 1h (files are hourly)");
      } else {
        l.max_age = *d;
      }
    }
  }
  if (auto x = f.find("queue_records")) {
    if (auto n = detail::read_uint(r, *x, 1, 10'000'000)) l.queue_records = *n;
  }
  s.logs = std::move(l);
}

// Absent: the default admin listener (loopback). `enabled: false` turns it off.
void load_admin(reader& r, const fields& root, snapshot& s) {
  s.admin.emplace();
  const auto v = root.find("admin");
  if (!v) return;
  fields f(r, *v, {"enabled", "address", "token_file"});
  if (!f.valid()) return;
  if (auto x = f.find("enabled")) {
    if (detail::read_bool(r, *x) == false) {
      s.admin.reset();
      return;
    }
  }
  if (auto x = f.find("address")) {
    if (auto ep = detail::read_endpoint(r, *x, 0)) s.admin->address = std::move(*ep);
  }
  if (auto x = f.find("token_file")) {
    if (auto path = detail::read_file_path(r, *x, false)) {
      std::string token;
      const int error = detail::read_file_bytes(*path, 4096, token);
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
      if (error != 0) {
        r.error(x->at, x->path, "cannot read " + quote(*path));
      } else if (token.size() < 16 || token.size() > 1024) {
        r.error(x->at, x->path, "token in " + quote(*path) + " must be 16..1024 bytes");
      } else if (token.find_first_of(" \t\r\n") != std::string::npos) {
        r.error(x->at, x->path, "token in " + quote(*path) + " must not contain whitespace");
      } else {
        s.admin->token = std::move(token);
        s.admin->token_file = *path;
      }
    }
  }
}

void load_health(reader& r, const fields& root, snapshot& s) {
  const auto v = root.find("health");
  if (!v) return;
  fields f(r, *v, {"active", "interval", "timeout", "rise", "fall", "eject_after", "eject_for"});
  if (!f.valid()) return;
  auto& h = s.health;
  if (auto x = f.find("active")) h.active = detail::read_bool(r, *x).value_or(h.active);
  if (auto x = f.find("interval")) h.interval = detail::read_duration(r, *x).value_or(h.interval);
  if (auto x = f.find("timeout")) h.timeout = detail::read_duration(r, *x).value_or(h.timeout);
  if (auto x = f.find("rise")) h.rise = unsigned(detail::read_uint(r, *x, 1, 100).value_or(h.rise));
  if (auto x = f.find("fall")) h.fall = unsigned(detail::read_uint(r, *x, 1, 100).value_or(h.fall));
  if (auto x = f.find("eject_after"))
    h.eject_after = unsigned(detail::read_uint(r, *x, 0, 1000).value_or(h.eject_after));
  if (auto x = f.find("eject_for"))
    h.eject_for = detail::read_duration(r, *x).value_or(h.eject_for);
  if (h.timeout >= h.interval) {
    r.error(v->at, v->path, "timeout must be shorter than interval");
  }
}

void load_document(reader& r, const YAML::Node& doc, snapshot& s) {
  if (doc.IsNull()) {
    r.error(doc.Mark(), "", "the configuration is empty");
    return;
  }
  const fields root(r, value_ref{doc, doc.Mark(), ""},
                    {"version", "server_name", "workers", "listeners", "mapi", "backends", "pools",
                     "routes", "mailboxes", "affinity", "timeouts", "limits", "logs", "admin",
                     "health", "vdirs", "namespaces", "auth_protection"});
  if (!root.valid()) return;
  if (auto v = root.require("version")) {
    if (auto text = detail::read_string(r, *v, false); text && *text != "1") {
      r.error(v->at, v->path,
              "unsupported version " + quote(*text) + " (this build reads version 1)");
    }
  }
  if (auto v = root.require("server_name")) {
    s.server_name = detail::read_string(r, *v, true).value_or("");
  }
  if (auto v = root.find("workers")) {
    s.workers = static_cast<unsigned>(detail::read_uint(r, *v, 0, 256).value_or(0));
  }
  load_listeners(r, root, s);
  load_mapi(r, root, s);
  detail::name_table backends;
  detail::name_table pools;
  detail::load_backends(r, root, s, backends);
  detail::load_pools(r, root, s, backends, pools);
  detail::load_routes(r, root, s, backends, pools);
  detail::load_mailboxes(r, root, s);
  detail::load_affinity(r, root, s);
  load_timeouts(r, root, s);
  load_limits(r, root, s);
  detail::load_vdirs(r, root, s);
  detail::load_namespaces(r, root, s);
  load_logs(r, root, s);
  load_admin(r, root, s);
  load_health(r, root, s);
  detail::load_auth_protection(r, root, s);
}

load_result load_text(std::string_view yaml, const std::string& source_name,
                      std::filesystem::path base_dir) {
  reader r(source_name, std::move(base_dir));
  auto s = std::make_shared<snapshot>();
  s->source = source_name;
  try {
    const YAML::Node doc = YAML::Load(std::string(yaml));
    load_document(r, doc, *s);
  } catch (const YAML::Exception& e) {
    // Parser errors (and yaml-cpp's recursion guard) carry the position of the problem.
    r.error(e.mark, "", "invalid YAML: " + e.msg);
  }
  if (r.failed()) return load_result{nullptr, r.take()};
  return load_result{std::move(s), {}};
}

}  // namespace

namespace detail {

int read_file_bytes(const std::string& path, std::size_t limit, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = 0;
  char buf[16 * 1024];
  while (out.size() <= limit) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      error = errno;
      break;
    }
  }
  ::close(fd);
  return error;
}

}  // namespace detail

bool valid_server_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (const char c : name)
    if (!routing::ascii_alnum(c) && c != '.' && c != '-' && c != '_') return false;
  return true;
}

load_result load_file(const std::string& path, const overrides& over) {
  std::string text;
  const int error = detail::read_file_bytes(path, SIZE_MAX, text);
  if (error != 0) {
    diagnostic d;
    d.file = path;
    d.message = "cannot read file: " + std::generic_category().message(error);
    return load_result{nullptr, {std::move(d)}};
  }
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  if (ec) absolute = path;
  auto r = load_text(text, path, absolute.lexically_normal().parent_path());
  if (r && !over.server_name.empty()) {
    auto changed = std::make_shared<snapshot>(*r.config);
    changed->server_name = over.server_name;
    r.config = std::move(changed);
  }
  return r;
}

load_result load_string(std::string_view yaml, const std::string& source_name) {
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  if (ec) cwd.clear();
  return load_text(yaml, source_name, cwd);
}

}  // namespace config
