// Request → decision: Host/SNI → namespace, path → vdir, MailboxId → route → backends.
#include "routing/route_table.hpp"

#include "routing/auth_policy.hpp"
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

std::string_view to_string(affinity_outcome a) noexcept {
  switch (a) {
    case affinity_outcome::none:
      return "none";
    case affinity_outcome::hit:
      return "hit";
    case affinity_outcome::malformed:
      return "malformed";
    case affinity_outcome::unknown_key:
      return "unknown_key";
    case affinity_outcome::bad_signature:
      return "bad_signature";
    case affinity_outcome::expired:
      return "expired";
    case affinity_outcome::wrong_mailbox:
      return "wrong_mailbox";
    case affinity_outcome::unknown_backend:
      return "unknown_backend";
  }
  return "none";
}

route_table::route_table(const config::snapshot& cfg) : cfg_(cfg), namespaces_(cfg.mapi) {
  for (const auto& r : cfg.routes)
    (r.kind == config::route_kind::mailbox ? by_mailbox_ : by_domain_).emplace(r.key, r.to);
  for (const auto& m : cfg.mailboxes)
    mapi_enabled_.emplace(m.mailbox, m.mapi_http_enabled);
  for (std::size_t b = 0; b < cfg.backends.size(); ++b)
    backend_by_name_.emplace(cfg.backends[b].name, b);
  pool_members_.reserve(cfg.pools.size());
  pool_draining_.reserve(cfg.pools.size());
  for (const auto& p : cfg.pools) {
    auto& active = pool_members_.emplace_back();
    auto& draining = pool_draining_.emplace_back();
    for (std::size_t b : p.members) {
      const auto& be = cfg.backends[b];
      (be.state == config::backend_state::draining ? draining : active)
          .push_back({b, stable_hash(be.name), be.weight});
    }
  }
  if (cfg.affinity && !cfg.affinity->keys.empty())
    affinity_.emplace(cfg.affinity->keys,
                      std::chrono::duration_cast<std::chrono::seconds>(cfg.affinity->max_age));
}

std::vector<std::size_t> route_table::candidates_for(const config::target& t,
                                                     std::string_view key) const {
  if (t.kind == config::target_kind::backend) return {t.index};
  // New sessions avoid draining members; they stay as the last resort, after every active one.
  auto order = rank(pool_members_[t.index], key);
  for (auto b : rank(pool_draining_[t.index], key))
    order.push_back(b);
  return order;
}

bool route_table::mapi_enabled_for(const mailbox_id& m) const {
  // Set-CasMailbox -MapiHttpEnabled overrides Set-OrganizationConfig -MapiHttpEnabled.
  if (auto it = mapi_enabled_.find(m.value); it != mapi_enabled_.end()) return it->second;
  return cfg_.mapi.mapi_http_enabled;
}

void route_table::order_backends(decision& d, health_view health) const {
  // A backend the configuration drains (state: draining) weighs as draining while healthy.
  auto weigh = [&](std::size_t b) {
    auto h = b < health.size() ? health[b] : backend_health::ready;
    if (h == backend_health::ready && cfg_.backends[b].state == config::backend_state::draining)
      h = backend_health::draining;
    return h;
  };
  d.order.reserve(d.candidates.size() + 1);
  if (d.affinity_backend) {
    // The session context lives there: only its being down moves the session.
    if (weigh(*d.affinity_backend) != backend_health::down)
      d.order.push_back(*d.affinity_backend);
    else
      d.session_backend_down = true;
  }
  for (const auto level : {backend_health::ready, backend_health::draining, backend_health::down})
    for (const auto b : d.candidates)
      if (b != d.affinity_backend && weigh(b) == level) d.order.push_back(b);
}

void route_table::apply_affinity(const request_view& r, decision& d) const {
  if (!affinity_ || !r.affinity_token) return;
  std::string backend;
  std::int64_t issued = 0;
  switch (affinity_->verify(*r.affinity_token, d.mailbox->value, r.now_unix, backend, &issued)) {
    case token_verdict::valid:
      break;
    case token_verdict::malformed:
      d.affinity = affinity_outcome::malformed;
      return;
    case token_verdict::unknown_key:
      d.affinity = affinity_outcome::unknown_key;
      return;
    case token_verdict::bad_signature:
      d.affinity = affinity_outcome::bad_signature;
      return;
    case token_verdict::expired:
      d.affinity = affinity_outcome::expired;
      return;
    case token_verdict::wrong_mailbox:
      d.affinity = affinity_outcome::wrong_mailbox;
      return;
  }
  const auto it = backend_by_name_.find(backend);
  if (it == backend_by_name_.end()) {
    d.affinity = affinity_outcome::unknown_backend;
    return;
  }
  d.affinity = affinity_outcome::hit;
  d.affinity_backend = it->second;
  d.affinity_expires = issued + affinity_->max_age();
}

namespace {

decision reject(decision d, int status, std::string_view reason) {
  d.act = decision::action::reject;
  d.status = status;
  d.reason = reason;
  return d;
}

}  // namespace

decision route_table::decide(const request_view& r, health_view health) const {
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

  // [MS-OXCMAPIHTTP] 2.1: MAPI requests are POSTs. A GET (or HEAD) is how clients open
  // NTLM/Negotiate (the 401 challenge leg) and how admins check the vdir (Exchange answers it
  // with its "MAPI/HTTP Connectivity Endpoint" page): it goes to the backend too, routed like
  // the mailbox's requests; without a MailboxId (Exchange then uses the caller's own mailbox,
  // which only the backend knows) by the vdir's default route. Other methods are never valid.
  const bool get = r.method == "GET" || r.method == "HEAD";
  if (r.method != "POST" && !get) {
    d.mapi_code = mapi_code::invalid_verb;
    return reject(std::move(d), 405, "method not allowed");
  }
  switch (find_mailbox_id(query, d.mailbox)) {
    case mailbox_query::found:
      break;
    case mailbox_query::missing:  // as Exchange's front end: 400 MailboxGuidWithDomainNotFound
      if (get) break;
      return reject(std::move(d), 400, "no target mailbox specified (MailboxId)");
    case mailbox_query::malformed:
      return reject(std::move(d), 400, "malformed MailboxId");
  }
  d.new_session = !get && iequals(r.request_type, d.vdir == vdir_kind::emsmdb ? "Connect" : "Bind");

  if (r.authorization) {
    const auto scheme = scheme_of(*r.authorization);
    if (!scheme || !allows(cfg_.mapi.authentication, *scheme))
      return reject(std::move(d), 401,
                    "authentication scheme not allowed on this virtual directory");
  }
  if (d.mailbox && !mapi_enabled_for(*d.mailbox)) {
    d.mapi_code = mapi_code::endpoint_disabled;
    return reject(std::move(d), 200, "MAPI over HTTP is disabled for this mailbox");
  }
  if (!d.mailbox && !cfg_.mapi.mapi_http_enabled) {
    d.mapi_code = mapi_code::endpoint_disabled;
    return reject(std::move(d), 200, "MAPI over HTTP is disabled");
  }

  const config::target* to = nullptr;
  if (!d.mailbox) {
    if (cfg_.default_route) {
      to = &*cfg_.default_route;
      d.source = route_source::default_route;
    }
  } else if (auto it = by_mailbox_.find(d.mailbox->value); it != by_mailbox_.end()) {
    to = &it->second;
    d.source = route_source::mailbox;
  } else if (auto jt = by_domain_.find(d.mailbox->domain); jt != by_domain_.end()) {
    to = &jt->second;
    d.source = route_source::domain;
  } else if (cfg_.default_route) {
    to = &*cfg_.default_route;
    d.source = route_source::default_route;
  }
  if (!to) {
    d.mapi_code = mapi_code::unknown_failure;
    return reject(std::move(d), 404, "no route for this mailbox");
  }
  if (!d.mailbox) {
    // No anchor: every such request hashes alike, so an NTLM handshake's legs meet one server.
    d.candidates = candidates_for(*to, "");
    order_backends(d, health);
    d.act = decision::action::proxy;
    return d;
  }
  d.candidates = candidates_for(*to, d.mailbox->value);
  apply_affinity(r, d);
  order_backends(d, health);
  d.act = decision::action::proxy;
  return d;
}

}  // namespace routing
