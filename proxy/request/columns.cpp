// The HttpProxy columns a request fills as it goes, the same on both protocols.
#include "proxy/request/columns.hpp"

#include "accesslog/format.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/facts.hpp"
#include "routing/anchor.hpp"
#include "routing/auth_policy.hpp"
#include "routing/credentials.hpp"

namespace proxy {

void count_affinity(const routing::decision& d, const conn_ctx& conn) {
  if (d.act == routing::decision::action::proxy && d.affinity == routing::affinity_outcome::none &&
      !d.new_session && conn.rt->routes.affinity()) {
    // A miss: a session request without a token, routed by hash alone (slot "none").
    conn.worker.affinity_outcomes[0].fetch_add(1, std::memory_order_relaxed);
  }
  if (d.affinity != routing::affinity_outcome::none) {
    conn.worker.affinity_outcomes[std::size_t(d.affinity)].fetch_add(1, std::memory_order_relaxed);
    if (d.affinity != routing::affinity_outcome::hit)
      log_client_caused(log_level::info, "c", conn.id, " ", conn.client_ip,
                        " affinity token ignored (", routing::to_string(d.affinity), ")");
  }
}

std::string_view log_scheme_name(config::auth_scheme s) {
  switch (s) {
    case config::auth_scheme::ntlm:
      return "NTLM";
    case config::auth_scheme::negotiate:
      return "Negotiate";
    case config::auth_scheme::basic:
      return "Basic";
    case config::auth_scheme::oauth:
    case config::auth_scheme::forms:  // never an Authorization scheme
      break;
  }
  return "Bearer";
}

/// The request's own columns: URL, client headers, who it authenticates as. NTLM and Negotiate
/// authenticate the connection, so their user stays with it for the requests that follow.
void describe_request(request_trace& t, const http::request<http::buffer_body, relay_fields>& req,
                      const request_facts& facts, conn_ctx& conn) {
  auto& r = t.rec;
  r.method = std::string(req.method_string());
  const std::string_view target = req.target();
  const auto q = target.find('?');
  r.url_stem = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.url_query = std::string(target.substr(q));
  r.url_host = facts.host_name;
  r.protocol = std::string(accesslog::protocol_for_path(r.url_stem));
  r.user_agent = std::string(facts.user_agent.value_or(""));
  r.x_request_id = std::string(facts.request_id);
  r.x_request_type = std::string(facts.request_type);
  r.x_client_info = std::string(facts.client_info.value_or(""));
  if (facts.be_resource) {
    // ProxyLogon's cookie (CVE-2021-26855): taken out before routing, on both protocols, and
    // said in the record itself, where Test-ProxyLogon-style searches look.
    log_client_caused(log_level::warn, "c", conn.id, " ", conn.client_ip,
                      " X-BEResource cookie removed");
    t.add_error("XBEResourceCookieRemoved");
  }
  if (facts.authorization) {
    const auto scheme = routing::scheme_of(*facts.authorization);
    std::string type = scheme ? std::string(log_scheme_name(*scheme)) : std::string();
    auto user = routing::authenticated_user(*facts.authorization);
    if (scheme && routing::binds_connection(*scheme)) {
      // A new handshake on this connection: nobody is authenticated on it until a backend
      // accepts its type 3 (accept_credentials).
      conn.auth_type = type;
      conn.user.clear();
      t.claim_binds_connection = true;
    }
    r.authentication_type = std::move(type);
    t.claimed_user = user.value_or(std::string());
    t.opens_handshake = routing::opens_handshake(*facts.authorization);
    t.auth_step = t.opens_handshake;
  } else if (conn.auth_bound) {
    r.authentication_type = conn.auth_type;
    t.claimed_user = conn.user;  // accepted on this connection before
  } else {
    t.auth_step = true;  // anonymous: the 401 asks for credentials
  }
}

void accept_credentials(request_trace& t, int backend_status, conn_ctx& conn) {
  const bool accepted = backend_status != 401;
  if (t.lockout_counts && conn.rt->lockout) {
    // The smart lockout learns how the logon went: a 401 to final credentials is a failure,
    // any answer but a 5xx a success (a 5xx says nothing about the password).
    if (!accepted) {
      conn.rt->lockout->failed(t.lockout_user, t.rec.client_ip, unix_now());
      conn.rt->metrics->auth_failure();
    } else if (backend_status < 500) {
      conn.rt->lockout->succeeded(t.lockout_user, t.rec.client_ip, unix_now());
    }
  }
  if (accepted) {
    t.rec.authenticated_user = t.claimed_user;
    if (t.claim_binds_connection) conn.user = t.claimed_user;
  }
  t.rec.is_authenticated = accepted && !t.claimed_user.empty();
}

/// What routing decided, in the trace's columns and labels.
void describe_decision(request_trace& t, const routing::decision& d, std::string_view type,
                       request_trace::clock::time_point routed) {
  if (d.ns) t.ns = std::size_t(*d.ns);
  if (d.workload && *d.workload != config::vdir_id::mapi)
    t.vdir = metrics::vdir_label(std::size_t(*d.workload) + 1);  // the same order after nspi
  else
    t.vdir = !d.ns || !d.vdir                        ? metrics::vdir_label::other
             : *d.vdir == routing::vdir_kind::emsmdb ? metrics::vdir_label::emsmdb
             : *d.vdir == routing::vdir_kind::nspi   ? metrics::vdir_label::nspi
                                                     : metrics::vdir_label::other;
  t.mapi = t.vdir == metrics::vdir_label::emsmdb || t.vdir == metrics::vdir_label::nspi;
  t.request_type = metrics::request_type_index(t.vdir, type);
  t.notification_wait = t.vdir == metrics::vdir_label::emsmdb &&
                        metrics::request_types(t.vdir)[t.request_type] == "NotificationWait";
  if (d.mailbox) t.rec.anchor_mailbox = routing::anchor_column(*d.mailbox);
  t.rec.routing_latency = request_trace::since(t.start, routed);
  if (d.affinity != routing::affinity_outcome::none)
    t.add_info("Affinity", std::string(routing::to_string(d.affinity)));
}

void record_backend(request_ctx& rq, std::size_t b) {
  auto& t = rq.trace;
  const auto& d = rq.decision;
  const auto& backends = rq.conn.rt->cfg->backends;
  t.backend = b;
  t.rec.proxy_action = "Proxy";
  t.rec.target_server = backends[b].fqdn.empty() ? backends[b].name : backends[b].fqdn;
  t.rec.routing_hint =
      routing::routing_hint(d.anchor, d.mailbox ? &*d.mailbox : nullptr, b == d.affinity_backend);
  if (d.source != routing::route_source::default_route)
    t.add_info("Route", std::string(routing::to_string(d.source)));
  if (!d.order.empty() && b != d.order.front())
    t.add_info("FailedOver", backends[d.order.front()].name);
}

/// The BackEndCookie column: which backend an affinity token names and until when it holds.
std::string backend_cookie(std::string_view backend, std::int64_t expires_unix) {
  return "Server~" + std::string(backend) + "~~" + accesslog::iso_utc_unix(expires_unix);
}

}  // namespace proxy
