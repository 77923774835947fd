// What HTTP/1.1 and HTTP/2 requests share between the parsed head and the backend: log
// columns, backend order, passive health, response head rewriting.
#include "proxy/request/pipeline.hpp"

#include "accesslog/format.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/facts.hpp"
#include "proxy/request/local_reply.hpp"
#include "routing/auth_policy.hpp"
#include "routing/cookies.hpp"
#include "routing/credentials.hpp"
#include "routing/mapi_codes.hpp"

namespace proxy {

void start_trace(request_trace& t, const conn_ctx& cx) {
  t.rec.date_time = std::chrono::system_clock::now();
  t.rec.client_ip = cx.client_ip;
  t.rec.server_host_name = cx.rt->cfg->server_name;
  t.rec.protocol = "Unknown";
}

http::response<http::string_body> health_reply(const conn_ctx& cx, request_trace& t, bool head,
                                               bool close) {
  const auto& cfg = *cx.rt->cfg;
  // Healthy while some backend can be reached: a backend whose own check fails still serves
  // the sessions that live there, and takes new ones when no other can.
  bool reachable = false;
  const auto now = steady_ms();
  for (std::size_t b = 0; b < cfg.backends.size() && !reachable; ++b)
    reachable = !cx.rt->live[b].down(now);
  const std::string_view problem = cx.ws.draining ? "Draining"
                                   : reachable    ? ""
                                                  : "NoBackendReachable";
  if (!problem.empty()) t.add_error(problem);
  auto res = problem.empty() ? make_reply(200, "text/html", "200 OK<br/>" + cfg.server_name, close)
                             : make_reply(503, "text/html",
                                          "503 Service Unavailable<br/>" + cfg.server_name, close);
  if (head) res.body().clear();  // Content-Length stays
  return res;
}

std::optional<framing_refusal> refuse_framing(body_framing body, std::uint64_t limit) noexcept {
  switch (body.k) {
    case body_framing::kind::none:
      return std::nullopt;
    case body_framing::kind::unknown:
      return framing_refusal{411, routing::mapi_code::invalid_header,
                             "request body without Content-Length"};
    case body_framing::kind::length:
      break;
  }
  if (body.length > limit)
    return framing_refusal{413, routing::mapi_code::too_large,
                           "request body larger than the limit"};
  return std::nullopt;
}

void on_coroutine_exit::operator()(std::exception_ptr e) const noexcept {
  if (!e) return;
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  log(log_level::error, stream ? "c" : "w", id, stream ? " HTTP/2 stream" : " connection",
      " ended by an exception: ", what);
  if (rt) rt->metrics->session_exception(stream);
}

void count_affinity(const routing::decision& d, const conn_ctx& cx) {
  if (d.act == routing::decision::action::proxy && d.affinity == routing::affinity_outcome::none &&
      !d.new_session && cx.rt->routes.affinity()) {
    // A miss: a session request without a token, routed by hash alone (slot "none").
    cx.ws.affinity_outcomes[0].fetch_add(1, std::memory_order_relaxed);
  }
  if (d.affinity != routing::affinity_outcome::none) {
    cx.ws.affinity_outcomes[std::size_t(d.affinity)].fetch_add(1, std::memory_order_relaxed);
    if (d.affinity != routing::affinity_outcome::hit)
      log(log_level::info, "c", cx.id, " ", cx.client_ip, " affinity token ignored (",
          routing::to_string(d.affinity), ")");
  }
}

http::response<http::string_body> refusal(const conn_ctx& cx, request_trace& t,
                                          const http::request_header<relay_fields>& req,
                                          const request_facts& facts, bool mapi, int status,
                                          int code, std::string_view reason, bool close) {
  t.add_error(reason);
  log(log_level::info, "c", cx.id, " ", cx.client_ip, " ", req.method_string(), " ", req.target(),
      " -> ", status, code ? " X-ResponseCode " : "", code ? std::to_string(code) : "", " (",
      reason, ")");
  auto res = mapi && code
                 ? make_mapi_error(code, facts.request_type, facts.request_id, reason, close)
                 : make_error(status, reason, close);
  if (status == 401)
    for (const auto& c : routing::challenges_for(cx.rt->cfg->mapi.authentication, facts.host_name))
      res.insert(http::field::www_authenticate, c);
  return res;
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
      break;
  }
  return "Bearer";
}

/// The request's own columns: URL, client headers, who it authenticates as. NTLM and Negotiate
/// authenticate the connection, so their user stays with it for the requests that follow.
void describe_request(request_trace& t, const http::request<http::buffer_body, relay_fields>& req,
                      const request_facts& facts, conn_ctx& cx) {
  auto& r = t.rec;
  r.method = std::string(req.method_string());
  const std::string_view target = req.target();
  const auto q = target.find('?');
  r.url_stem = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.url_query = std::string(target.substr(q));
  r.url_host = facts.host_name;
  r.protocol = std::string(accesslog::protocol_for_path(r.url_stem));
  r.user_agent = std::string(req[http::field::user_agent]);
  r.x_request_id = std::string(facts.request_id);
  r.x_request_type = std::string(facts.request_type);
  r.x_client_info = std::string(req["X-ClientInfo"]);
  if (facts.be_resource) {
    // ProxyLogon's cookie (CVE-2021-26855): taken out before routing, on both protocols, and
    // said in the record itself, where Test-ProxyLogon-style searches look.
    log(log_level::warn, "c", cx.id, " ", cx.client_ip, " X-BEResource cookie removed");
    t.add_error("XBEResourceCookieRemoved");
  }
  if (facts.authorization) {
    const auto scheme = routing::scheme_of(*facts.authorization);
    std::string type = scheme ? std::string(log_scheme_name(*scheme)) : std::string();
    auto user = routing::authenticated_user(*facts.authorization);
    if (scheme && routing::binds_connection(*scheme)) {
      cx.auth_type = type;
      // A type 1 message starts a new handshake: nobody is authenticated until the type 3.
      cx.user = user.value_or(std::string());
    }
    r.authentication_type = std::move(type);
    r.authenticated_user = user.value_or(cx.auth_type == r.authentication_type ? cx.user : "");
  } else if (cx.auth_bound) {
    r.authentication_type = cx.auth_type;
    r.authenticated_user = cx.user;
  }
}

/// What routing decided, in the trace's columns and labels.
void describe_decision(request_trace& t, const routing::decision& d, std::string_view type,
                       request_trace::clock::time_point routed) {
  if (d.ns) t.ns = std::size_t(*d.ns);
  t.vdir = !d.ns || !d.vdir                        ? metrics::vdir_label::other
           : *d.vdir == routing::vdir_kind::emsmdb ? metrics::vdir_label::emsmdb
           : *d.vdir == routing::vdir_kind::nspi   ? metrics::vdir_label::nspi
                                                   : metrics::vdir_label::other;
  t.mapi = t.vdir != metrics::vdir_label::other;
  t.request_type = metrics::request_type_index(t.vdir, type);
  t.notification_wait = t.vdir == metrics::vdir_label::emsmdb &&
                        metrics::request_types(t.vdir)[t.request_type] == "NotificationWait";
  if (d.mailbox) {
    t.rec.anchor_mailbox = d.mailbox->kind == routing::mailbox_id::form::guid
                               ? "MailboxGuid~" + std::string(d.mailbox->local())
                               : "Smtp~" + d.mailbox->value;
  }
  t.rec.routing_latency = request_trace::since(t.start, routed);
  if (d.affinity != routing::affinity_outcome::none)
    t.add_info("Affinity", std::string(routing::to_string(d.affinity)));
}

boost::container::small_vector<routing::backend_health, 16> health_now(const conn_ctx& cx) {
  const std::size_t n = cx.rt->cfg->backends.size();
  boost::container::small_vector<routing::backend_health, 16> out(n);
  const auto now = steady_ms();
  for (std::size_t b = 0; b < n; ++b) {
    const auto& l = cx.rt->live[b];
    out[b] = l.down(now)                          ? routing::backend_health::down
             : !l.usable(now) || l.drained.load() ? routing::backend_health::draining
                                                  : routing::backend_health::ready;
  }
  return out;
}

void record_backend(request_trace& t, const routing::decision& d, std::size_t b,
                    const conn_ctx& cx) {
  const auto& backends = cx.rt->cfg->backends;
  t.backend = b;
  t.rec.proxy_action = "Proxy";
  t.rec.target_server = backends[b].name;
  t.rec.routing_hint = b == d.affinity_backend                            ? "token"
                       : d.source == routing::route_source::default_route ? "hash"
                                                                          : "explicit";
  if (!d.order.empty() && b != d.order.front())
    t.add_info("FailedOver", backends[d.order.front()].name);
}

void note_failure(const conn_ctx& cx, std::size_t b, bool connect) {
  const auto& cfg = *cx.rt->cfg;
  if (cx.rt->live[b].record_failure(steady_ms(), cfg.health, connect)) {
    log(log_level::warn, "backend ", cfg.backends[b].name, " ejected for ",
        cfg.health.eject_for.count(), " ms after ", cfg.health.eject_after, " failures in a row");
    cx.rt->metrics->backend_ejected(b);
  }
}

/// The BackEndCookie column: which backend an affinity token names and until when it holds.
std::string backend_cookie(std::string_view backend, std::int64_t expires_unix) {
  return "Server~" + std::string(backend) + "~~" +
         accesslog::iso_utc(std::chrono::system_clock::from_time_t(std::time_t(expires_unix)));
}

/// Backend response head → client response head, beyond hop-by-hop rules: a 401's challenges
/// are cut to the schemes the vdir allows; a response that starts or refreshes a session gets
/// mapigate's affinity cookie naming the backend that answered. Returns whether the backend
/// offered a connection-bound scheme (NTLM/Negotiate).
bool prepare_response_head(http::response_header<relay_fields>& res, const routing::decision& d,
                           std::size_t backend, const conn_ctx& cx, request_trace* trace) {
  const auto& cfg = *cx.rt->cfg;
  bool binds = false;
  const unsigned code = res.result_int();
  if (code == 401) {
    std::string name = "WWW-Authenticate";
    std::vector<std::string> kept;
    for (auto it = res.find(http::field::www_authenticate);
         it != res.end() && it->name() == http::field::www_authenticate; ++it) {
      name = std::string(it->name_string());
      const auto scheme = routing::scheme_of(it->value());
      if (scheme && routing::binds_connection(*scheme)) binds = true;
      if (scheme && routing::allows(cfg.mapi.authentication, *scheme))
        kept.emplace_back(it->value());
    }
    res.erase(http::field::www_authenticate);
    for (const auto& v : kept)
      res.insert(name, v);
  }
  const auto* codec = cx.rt->routes.affinity();
  if (codec && d.mailbox && code == 200 &&
      (d.new_session || res.find(http::field::set_cookie) != res.end())) {
    const auto now = unix_now();
    res.insert(
        http::field::set_cookie,
        routing::affinity_set_cookie(
            cx.rt->cookie_name, codec->issue(cfg.backends[backend].name, d.mailbox->value, now)));
    if (trace)
      trace->rec.backend_cookie =
          backend_cookie(cfg.backends[backend].name, now + codec->max_age());
  }
  return binds;
}

}  // namespace proxy
