// Request → decision: Host/SNI → namespace, path → vdir, MailboxId → route → backends.
#include "routing/route_table.hpp"

#include "routing/text.hpp"

namespace routing {

std::string_view to_string(vdir_kind v) noexcept {
  switch (v) {
    case vdir_kind::emsmdb:
      return "emsmdb";
    case vdir_kind::nspi:
      return "nspi";
    case vdir_kind::healthcheck:
      return "healthcheck";
  }
  return "other";
}

std::string_view to_string(route_source s) noexcept {
  switch (s) {
    case route_source::mailbox:
      return "mailbox";
    case route_source::domain:
      return "domain";
    case route_source::default_route:
      return "default";
  }
  return "default";
}

route_table::route_table(const config::snapshot& cfg) : cfg_(cfg), namespaces_(cfg.mapi) {
  for (const auto& r : cfg.routes)
    (r.kind == config::route_kind::mailbox ? by_mailbox_ : by_domain_).emplace(r.key, r.to);
  pool_members_.reserve(cfg.pools.size());
  for (const auto& p : cfg.pools) {
    auto& members = pool_members_.emplace_back();
    for (std::size_t b : p.members)
      members.push_back({b, stable_hash(cfg.backends[b].name), cfg.backends[b].weight});
  }
}

std::vector<std::size_t> route_table::candidates_for(const config::target& t,
                                                     std::string_view key) const {
  if (t.kind == config::target_kind::backend) return {t.index};
  return rank(pool_members_[t.index], key);
}

namespace {

decision reject(decision d, int status, std::string_view reason) {
  d.act = decision::action::reject;
  d.status = status;
  d.reason = reason;
  return d;
}

}  // namespace

decision route_table::decide(const request_view& r) const {
  decision d;
  // Only origin-form targets: an absolute-form target could otherwise name a host of the
  // client's choosing, and "*" or authority-form (CONNECT) have no meaning for a vdir.
  if (r.target.empty() || r.target.front() != '/')
    return reject(std::move(d), 400, "request target must be a path (origin-form)");
  if (!r.host) return reject(std::move(d), 400, "missing Host header");
  const auto host = normalize_host(*r.host);
  if (!host) return reject(std::move(d), 400, "malformed Host header");
  d.ns = namespaces_.match(*host);
  if (!d.ns) return reject(std::move(d), 421, "host is not a configured namespace");
  if (r.sni) {
    // A TLS session opened for one namespace must not carry requests for the other: the
    // certificate the client checked named a different host (RFC 9110 §15.5.20).
    const auto sni_host = normalize_host(*r.sni);
    if (!sni_host || namespaces_.match(*sni_host) != d.ns)
      return reject(std::move(d), 421, "TLS server name does not match the Host header");
  }

  const auto qmark = r.target.find('?');
  const auto path = r.target.substr(0, qmark);
  const auto query =
      qmark == std::string_view::npos ? std::string_view{} : r.target.substr(qmark + 1);
  const std::string& base = namespaces_.vdir_path(*d.ns);
  if (!istarts_with(path, base)) return reject(std::move(d), 404, "not found");
  const auto rest = path.substr(base.size());
  if (iequals(rest, "/emsmdb") || iequals(rest, "/emsmdb/")) {
    d.vdir = vdir_kind::emsmdb;
  } else if (iequals(rest, "/nspi") || iequals(rest, "/nspi/")) {
    d.vdir = vdir_kind::nspi;
  } else if (iequals(rest, "/healthcheck.htm")) {
    d.vdir = vdir_kind::healthcheck;
    if (r.method != "GET" && r.method != "HEAD")
      return reject(std::move(d), 405, "method not allowed");
    d.act = decision::action::healthcheck;
    return d;
  } else {
    return reject(std::move(d), 404, "not found");
  }

  // [MS-OXCMAPIHTTP] 2.1: all requests MUST use the POST method.
  if (r.method != "POST") return reject(std::move(d), 405, "method not allowed");
  switch (find_mailbox_id(query, d.mailbox)) {
    case mailbox_query::found:
      break;
    case mailbox_query::missing:
      return reject(std::move(d), 400, "no target mailbox specified (MailboxId)");
    case mailbox_query::malformed:
      return reject(std::move(d), 400, "malformed MailboxId");
  }

  const config::target* to = nullptr;
  if (auto it = by_mailbox_.find(d.mailbox->value); it != by_mailbox_.end()) {
    to = &it->second;
    d.source = route_source::mailbox;
  } else if (auto jt = by_domain_.find(d.mailbox->domain); jt != by_domain_.end()) {
    to = &jt->second;
    d.source = route_source::domain;
  } else if (cfg_.default_route) {
    to = &*cfg_.default_route;
    d.source = route_source::default_route;
  } else {
    return reject(std::move(d), 404, "no route for this mailbox");
  }
  d.candidates = candidates_for(*to, d.mailbox->value);
  d.act = decision::action::proxy;
  return d;
}

}  // namespace routing
