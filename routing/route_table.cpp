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
    (r.kind == config::route_kind::mailbox ? by_mailbox_ : by_domain_)
        .emplace(r.key, placement{r.to, r.hash_key});
  if (cfg.default_route) default_ = placement{*cfg.default_route, {}};
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

void route_table::order_backends(decision& d, const health_source& health) const {
  const auto vdir = d.workload.value_or(config::vdir_id::mapi);
  // A backend the configuration drains (state: draining) weighs as draining while healthy.
  auto weigh = [&](std::size_t b) {
    auto h = health.of(b, vdir);
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

namespace {

/// Per-backend health for every vdir alike (the span form of decide()).
class span_health final : public health_source {
 public:
  explicit span_health(health_view h) : h_(h) {}
  backend_health of(std::size_t b, config::vdir_id) const override {
    return b < h_.size() ? h_[b] : backend_health::ready;
  }

 private:
  health_view h_;
};

/// Paths a proxy must never pass on, whatever the vdir: dot segments, empty segments,
/// backslashes and percent-encoded separators or dots (a backend that decodes them would see
/// another path than the one routed, as ProxyShell's did).
bool plain_path(std::string_view path) {
  if (path.find("//") != std::string_view::npos || path.find('\\') != std::string_view::npos)
    return false;
  for (std::size_t at = 0; at < path.size();) {
    const auto next = path.find('/', at + 1);
    const auto seg = path.substr(at + 1, next == std::string_view::npos ? next : next - at - 1);
    if (seg == "." || seg == "..") return false;
    if (next == std::string_view::npos) break;
    at = next;
  }
  for (std::size_t p = path.find('%'); p != std::string_view::npos; p = path.find('%', p + 1)) {
    if (p + 2 >= path.size()) return false;
    const auto code = to_lower(path.substr(p + 1, 2));
    if (code == "2f" || code == "5c" || code == "2e" || code == "00" || hex_value(code[0]) < 0 ||
        hex_value(code[1]) < 0)
      return false;
  }
  return true;
}

/// ProxyShell (CVE-2021-34473) and ProxyNotShell (CVE-2022-41040) smuggled a second path into
/// Autodiscover's query (`?@x/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@x`), which
/// Exchange's front end then used as the backend path. No client needs "autodiscover.json" in
/// a query.
bool proxyshell_query(std::string_view query) {
  std::string decoded;
  if (!percent_decode(query, decoded)) return true;
  return to_lower(decoded).find("autodiscover.json") != std::string::npos;
}

bool is_rpc_method(std::string_view m) {
  return m == "RPC_IN_DATA" || m == "RPC_OUT_DATA";
}

}  // namespace

decision route_table::decide(const request_view& r, health_view health) const {
  return decide(r, span_health(health));
}

bool route_table::scheme_allowed(const request_view& r, config::vdir_id v) const {
  if (!r.authorization) return true;
  const auto scheme = scheme_of(*r.authorization);
  return scheme && allows(config::vdir_authentication(cfg_, v), *scheme);
}

std::optional<config::vdir_id> route_table::vdir_of(std::string_view path,
                                                    namespace_kind ns) const {
  auto under = [&](std::string_view base) {
    if (base.empty()) return false;
    return istarts_with(path, base) && (path.size() == base.size() || path[base.size()] == '/');
  };
  std::optional<config::vdir_id> v;
  if (under(namespaces_.vdir_path(ns))) {
    v = config::vdir_id::mapi;
  } else {
    for (std::size_t i = 1; i < config::vdir_count && !v; ++i)
      if (cfg_.vdirs[i].enabled && under(config::vdir_names[i].path)) v = config::vdir_id(i);
  }
  if (!v) return std::nullopt;
  const auto publish = cfg_.vdirs[std::size_t(*v)].publish;
  // A vdir published on one namespace only does not exist on the other (the same 404).
  if ((publish == config::publish_scope::internal && ns != namespace_kind::internal) ||
      (publish == config::publish_scope::external && ns != namespace_kind::external))
    return std::nullopt;
  return v;
}

const route_table::placement* route_table::route_of(const mailbox_id* m, decision& d) const {
  if (m) {
    if (auto it = by_mailbox_.find(m->value); it != by_mailbox_.end()) {
      d.source = route_source::mailbox;
      return &it->second;
    }
    if (!m->domain.empty())
      if (auto jt = by_domain_.find(m->domain); jt != by_domain_.end()) {
        d.source = route_source::domain;
        return &jt->second;
      }
  }
  d.source = route_source::default_route;
  return default_ ? &*default_ : nullptr;
}

decision route_table::decide(const request_view& r, const health_source& health) const {
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
  if (!plain_path(path)) return reject(std::move(d), 400, "path with dot segments or escapes");
  d.workload = vdir_of(path, *d.ns);
  if (!d.workload) return reject(std::move(d), 404, "not found");
  const auto base = *d.workload == config::vdir_id::mapi
                        ? std::string_view(namespaces_.vdir_path(*d.ns))
                        : config::vdir_names[std::size_t(*d.workload)].path;
  const auto rest = path.substr(base.size());
  if (*d.workload == config::vdir_id::mapi)
    return decide_mapi(r, std::move(d), rest, query, health);
  return decide_workload(r, std::move(d), rest, query, health);
}

decision route_table::decide_workload(const request_view& r, decision d, std::string_view rest,
                                      std::string_view query, const health_source& health) const {
  const auto v = *d.workload;
  if (iequals(rest, "/healthcheck.htm")) {
    if (r.method != "GET" && r.method != "HEAD")
      return reject(std::move(d), 405, "method not allowed");
    d.act = decision::action::healthcheck;
    return d;
  }
  if (v == config::vdir_id::rpc) {
    // Outlook Anywhere: RPC_IN_DATA and RPC_OUT_DATA only (the NTLM legs use them too).
    if (!is_rpc_method(r.method)) return reject(std::move(d), 405, "method not allowed");
  } else if (r.method != "GET" && r.method != "HEAD" && r.method != "POST" &&
             r.method != "OPTIONS") {
    return reject(std::move(d), 405, "method not allowed");
  }
  if (proxyshell_query(query))
    return reject(std::move(d), 400, "Autodiscover path in the query (ProxyShell pattern)");
  if (!scheme_allowed(r, *d.workload))
    return reject(std::move(d), 401, "authentication scheme not allowed on this virtual directory");

  // The anchor, as each protocol names its mailbox: the URL's own first, then the header,
  // then (Autodiscover) the request body.
  std::optional<anchor> a;
  if (v == config::vdir_id::rpc) {
    unsigned port = 0;
    a = anchor_from_rpc_query(query, port);
    if (!a && !query.empty())
      return reject(std::move(d), 400, "Outlook Anywhere query is not <server>:<port>");
  } else if (v == config::vdir_id::activesync) {
    a = anchor_from_activesync_query(query);
  }
  if (!a && r.anchor_mailbox) a = anchor_from_header(*r.anchor_mailbox);
  if (!a && r.body_email) {
    if (auto id = parse_mailbox_id(trim(*r.body_email)); id && id->kind == mailbox_id::form::smtp)
      a = anchor{std::move(*id), anchor_source::autodiscover_body};
  }
  if (!a && v == config::vdir_id::autodiscover && r.method == "POST" &&
      iends_with(rest, "/autodiscover.xml"))
    d.wants_body_anchor = true;
  if (a) {
    d.mailbox = std::move(a->id);
    d.anchor = a->source;
  }
  if (v == config::vdir_id::autodiscover)
    d.strip_mapi_capability =
        d.mailbox ? !mapi_enabled_for(*d.mailbox) : !cfg_.mapi.mapi_http_enabled;

  const auto* to = route_of(d.mailbox ? &*d.mailbox : nullptr, d);
  if (!to) return reject(std::move(d), 404, "no route for this mailbox");
  const std::string_view key = !to->hash_key.empty() ? std::string_view(to->hash_key)
                               : d.mailbox           ? std::string_view(d.mailbox->value)
                                                     : r.client;
  d.candidates = candidates_for(to->to, key);
  order_backends(d, health);
  d.act = decision::action::proxy;
  return d;
}

decision route_table::decide_mapi(const request_view& r, decision d, std::string_view rest,
                                  std::string_view query, const health_source& health) const {
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
      d.anchor = anchor_source::url;
      break;
    case mailbox_query::missing:  // as Exchange's front end: 400 MailboxGuidWithDomainNotFound
      if (get) break;
      return reject(std::move(d), 400, "no target mailbox specified (MailboxId)");
    case mailbox_query::malformed:
      return reject(std::move(d), 400, "malformed MailboxId");
  }
  d.new_session = !get && iequals(r.request_type, d.vdir == vdir_kind::emsmdb ? "Connect" : "Bind");
  if (!scheme_allowed(r, *d.workload))
    return reject(std::move(d), 401, "authentication scheme not allowed on this virtual directory");

  if (d.mailbox && !mapi_enabled_for(*d.mailbox)) {
    d.mapi_code = mapi_code::endpoint_disabled;
    return reject(std::move(d), 200, "MAPI over HTTP is disabled for this mailbox");
  }
  if (!d.mailbox && !cfg_.mapi.mapi_http_enabled) {
    d.mapi_code = mapi_code::endpoint_disabled;
    return reject(std::move(d), 200, "MAPI over HTTP is disabled");
  }

  const auto* to = route_of(d.mailbox ? &*d.mailbox : nullptr, d);
  if (!to) {
    d.mapi_code = mapi_code::unknown_failure;
    return reject(std::move(d), 404, "no route for this mailbox");
  }
  // No anchor: every such request hashes alike, so an NTLM handshake's legs meet one server.
  const std::string_view key = !d.mailbox              ? std::string_view()
                               : !to->hash_key.empty() ? std::string_view(to->hash_key)
                                                       : std::string_view(d.mailbox->value);
  d.candidates = candidates_for(to->to, key);
  if (d.mailbox) apply_affinity(r, d);
  order_backends(d, health);
  d.act = decision::action::proxy;
  return d;
}

}  // namespace routing
