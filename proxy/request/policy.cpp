// The request policy, for HTTP/1.1 and HTTP/2 alike.
#include "proxy/request/policy.hpp"

#include <algorithm>
#include <utility>

#include "metrics/labels.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/columns.hpp"
#include "proxy/request/facts.hpp"
#include "proxy/request/header_rewrite.hpp"
#include "proxy/request/local_reply.hpp"
#include "proxy/request/outcome.hpp"
#include "routing/auth_policy.hpp"
#include "routing/cidr.hpp"
#include "routing/cookies.hpp"
#include "routing/mapi_codes.hpp"
#include "routing/pox.hpp"
#include "routing/text.hpp"

namespace proxy {
namespace {

using response = http::response<http::string_body>;

bool on_mapi_vdir(const routing::decision& d) noexcept {
  return d.vdir == routing::vdir_kind::emsmdb || d.vdir == routing::vdir_kind::nspi;
}

/// The vdir the request is under (/mapi before one matched).
config::vdir_id workload(const request_ctx& rq) noexcept {
  return rq.decision.workload.value_or(config::vdir_id::mapi);
}

/// What a refusal says and how.
struct refusal_words {
  int status;
  int mapi_code;  ///< on /mapi/emsmdb and /mapi/nspi, non-zero: the MAPI form
  std::string_view reason;
};

/// A refusal as the vdir speaks it: on /mapi/emsmdb and /mapi/nspi with an X-ResponseCode the
/// MAPI form (HTTP 200), otherwise the status with a text body; a 401 offers the allowed
/// schemes. Logged, recorded in rq.trace, and the request's outcome is `refused`.
request_plan refuse(request_ctx& rq, const request_message& req, const request_facts& facts,
                    refusal_words w, bool close) {
  rq.trace.add_error(w.reason);
  end_request(rq, request_outcome::refused);
  log_client_caused(log_level::info, "c", rq.conn.id, " ", rq.conn.client_ip, " ",
                    req.method_string(), " ", req.target(), " -> ", w.status,
                    w.mapi_code ? " X-ResponseCode " : "",
                    w.mapi_code ? std::to_string(w.mapi_code) : "", " (", w.reason, ")");
  request_plan plan;
  plan.reply = std::make_unique<response>(
      on_mapi_vdir(rq.decision) && w.mapi_code
          ? make_mapi_error(w.mapi_code, facts.request_type, facts.request_id, w.reason, close)
          : make_error(w.status, w.reason, close));
  if (w.status == 401)
    for (const auto& c : routing::challenges_for(
             config::vdir_authentication(*rq.conn.rt->cfg, workload(rq)), facts.host_name))
      plan.reply->insert(http::field::www_authenticate, c);
  return plan;
}

/// The health check's answer, what a load balancer in front of mapigate sees: 200 while this
/// instance can serve MAPI (not draining, some backend can be reached), 503 otherwise, as
/// Exchange's own check. A backend whose own check fails still serves the sessions that live
/// there, and takes new ones when no other can. On 503 the reason ("Draining",
/// "NoBackendReachable") goes to GenericErrors.
request_plan health_reply(request_ctx& rq, bool head, bool close) {
  const auto& conn = rq.conn;
  const auto& cfg = *conn.rt->cfg;
  const auto v = rq.decision.workload.value_or(config::vdir_id::mapi);
  // /mapi: some backend can be reached (one whose check fails still holds sessions). Another
  // vdir (stateless for a balancer): some backend passes that workload's own check.
  const auto wanted = v == config::vdir_id::mapi ? routing::backend_health::draining
                                                 : routing::backend_health::ready;
  const live_health health(*conn.rt, steady_ms());
  bool serves = false;
  for (std::size_t b = 0; b < cfg.backends.size() && !serves; ++b)
    serves = health.of(b, v) <= wanted;
  const std::string_view problem = conn.worker.draining         ? "Draining"
                                   : serves                     ? ""
                                   : v == config::vdir_id::mapi ? "NoBackendReachable"
                                                                : "NoBackendHealthy";
  if (!problem.empty()) rq.trace.add_error(problem);
  end_request(rq, request_outcome::health_check);
  request_plan plan;
  plan.reply = std::make_unique<response>(
      problem.empty()
          ? make_reply(200, "text/html", "200 OK<br/>" + cfg.server_name, close)
          : make_reply(503, "text/html", "503 Service Unavailable<br/>" + cfg.server_name, close));
  if (head) plan.reply->body().clear();  // Content-Length stays
  return plan;
}

/// The session's backend is known to be down (health checks, connect failures): a request
/// other than Connect/Bind is told "context not found" (X-ResponseCode 10) now instead of after
/// a connect timeout, so Outlook reconnects at once.
request_plan session_backend_down(request_ctx& rq, const request_facts& facts, bool close) {
  const auto& name = rq.conn.rt->cfg->backends[*rq.decision.affinity_backend].name;
  end_request(rq, request_outcome::session_backend_down, name);
  request_plan plan;
  plan.reply = std::make_unique<response>(
      make_mapi_error(routing::mapi_code::context_not_found, facts.request_type, facts.request_id,
                      "the mailbox server holding the session is down", close));
  return plan;
}

/// An NTLM type 3 goes where the type 1 before it on this connection got its challenge: the
/// server that issued it goes first, whatever the request's own anchor says.
void answer_the_challenger(request_ctx& rq, const request_facts& facts, bool binds) {
  auto& conn = rq.conn;
  const auto challenger = std::exchange(conn.challenger, std::nullopt);
  if (!binds || !challenger || conn.challenger_rt != conn.rt.get() || !facts.authorization ||
      rq.trace.opens_handshake)
    return;
  auto& order = rq.decision.order;
  const auto it = std::find(order.begin(), order.end(), *challenger);
  if (it != order.end())
    std::rotate(order.begin(), it, it + 1);
  else
    order.insert(order.begin(), *challenger);
}

/// The smart lockout (auth_protection): final credentials of a user held for unfamiliar
/// addresses, or from an address held for spraying, get mapigate's own 401 and never reach a
/// backend (or Active Directory behind it). Others are marked to be counted once answered.
std::optional<refusal_words> hold_for_lockout(request_ctx& rq,
                                              std::optional<config::auth_scheme> scheme) {
  auto& conn = rq.conn;
  auto& t = rq.trace;
  if (!conn.rt->lockout || !scheme || t.opens_handshake || *scheme == config::auth_scheme::oauth)
    return std::nullopt;
  t.lockout_user = conn.rt->lockout->canonical_user(t.claimed_user);
  const auto verdict = conn.rt->lockout->check(t.lockout_user, t.rec.client_ip, unix_now());
  switch (verdict) {
    case routing::lockout_verdict::allow:
      t.lockout_counts = true;
      return std::nullopt;
    case routing::lockout_verdict::user_held:
      conn.rt->metrics->auth_refused(false);
      t.add_error("AuthProtectionUserHeld");
      return refusal_words{401, 0,
                           "logon held: too many failures for this user from unfamiliar addresses"};
    case routing::lockout_verdict::address_held:
      conn.rt->metrics->auth_refused(true);
      t.add_error("AuthProtectionAddressHeld");
      return refusal_words{401, 0, "logon held: too many failures from this address"};
  }
  return std::nullopt;
}

}  // namespace

request_plan plan_request(request_ctx& rq, request_message& req, const request_input& in) {
  auto& conn = rq.conn;
  const auto& cfg = *conn.rt->cfg;
  const auto facts = read_request_facts(req, conn.rt->cookie_name);
  describe_request(rq.trace, req, facts, conn);
  // Behind trusted L7 hops (trusted_proxies) the client is the right-most X-Forwarded-For
  // entry they did not add: for this request's log record, the lockout and hashing.
  if (const auto& hops = conn.rt->trusted_proxies[conn.listener]; !hops.empty())
    rq.trace.rec.client_ip =
        routing::right_most_untrusted(facts.forwarded_for, conn.client_ip, hops);
  auto& d = rq.decision;
  if (facts.hosts > 1) return refuse(rq, req, facts, {400, 0, "more than one Host header"}, true);
  if (facts.anchor_mailboxes > 1)
    return refuse(rq, req, facts, {400, 0, "more than one X-AnchorMailbox header"}, true);
  const auto scheme = facts.authorization ? routing::scheme_of(*facts.authorization) : std::nullopt;
  const bool binds = scheme && routing::binds_connection(*scheme);
  if (binds && in.multiplexed) {
    // As Windows' HTTP stack answers: the client retries on HTTP/1.1.
    end_request(rq, request_outcome::http11_required, "connection-bound authentication");
    request_plan plan;
    plan.next = request_plan::step::retry_on_http11;
    return plan;
  }

  std::optional<std::string_view> sni;
  if (!conn.sni.empty()) sni = conn.sni;
  d = conn.rt->routes.decide({.method = req.method_string(),
                              .target = req.target(),
                              .host = facts.host,
                              .sni = sni,
                              .request_type = facts.request_type,
                              .authorization = facts.authorization,
                              .affinity_token = facts.token,
                              .now_unix = unix_now(),
                              .anchor_mailbox = facts.anchor_mailbox,
                              .body_email = in.body_email,
                              .client = rq.trace.rec.client_ip},
                             live_health(*conn.rt, steady_ms()));
  describe_decision(rq.trace, d, facts.request_type, request_trace::clock::now());
  count_affinity(d, conn);
  const bool has_body = !in.body || in.body->k != body_framing::kind::none;
  switch (d.act) {
    case routing::decision::action::reject:
      return refuse(rq, req, facts, {d.status, d.mapi_code, d.reason}, !in.keep_alive);
    case routing::decision::action::healthcheck:
      return health_reply(rq, in.head_method, !in.keep_alive || has_body);
    case routing::decision::action::proxy:
      break;
  }
  answer_the_challenger(rq, facts, binds);
  if (auto held = hold_for_lockout(rq, scheme)) return refuse(rq, req, facts, *held, false);
  if (in.multiplexed && d.workload == config::vdir_id::rpc) {
    // Outlook Anywhere's RPC_IN_DATA/RPC_OUT_DATA are HTTP/1.1 methods with declared lengths
    // and connection-bound NTLM: as Windows answers, the client retries on HTTP/1.1.
    end_request(rq, request_outcome::http11_required, "Outlook Anywhere");
    request_plan plan;
    plan.next = request_plan::step::retry_on_http11;
    return plan;
  }

  // The body rule. A refused body's bytes are unread (or of unknown length): close after.
  if (!in.body)
    return refuse(rq, req, facts,
                  {400, routing::mapi_code::invalid_header, "invalid Content-Length"}, true);
  if (const auto r = refuse_framing(*in.body, config::vdir_body_limit(cfg, workload(rq))))
    return refuse(rq, req, facts, {r->status, r->mapi_code, r->reason}, true);
  bool send_continue = false;
  if (auto it = req.find(http::field::expect); it != req.end()) {
    if (!beast::iequals(it->value(), "100-continue"))
      return refuse(rq, req, facts,
                    {417, routing::mapi_code::invalid_header, "unsupported expectation"}, true);
    send_continue = has_body;
  }
  if (d.session_backend_down && !d.new_session)
    return session_backend_down(rq, facts, !in.keep_alive);
  if (d.affinity_backend)
    rq.trace.rec.backend_cookie =
        backend_cookie(cfg.backends[*d.affinity_backend].name, d.affinity_expires);

  // The head as it goes to the backend. `facts` views the fields: not used after this.
  if (facts.cookies_changed) rewrite_cookies(req, facts);
  // Autodiscover for a mailbox without MAPI over HTTP: the server then answers with Outlook
  // Anywhere's settings only, and Outlook uses /rpc (Set-CasMailbox -MapiHttpEnabled $false).
  if (d.strip_mapi_capability && req.find("X-MapiHttpCapability") != req.end()) {
    req.erase("X-MapiHttpCapability");
    rq.trace.add_info("MapiHttpCapability", "removed");
  }
  strip_hop_by_hop(req, true);
  append_forwarded_for(req, conn.client_ip);
  req.version(11);
  request_plan plan;
  plan.next = request_plan::step::forward;
  plan.body = *in.body;
  plan.send_continue = send_continue;
  plan.binds_connection = binds;
  plan.keep_alive = in.keep_alive;
  plan.head_request = in.head_method;
  return plan;
}

std::optional<std::uint64_t> body_first(const conn_ctx& conn, const request_message& req,
                                        const request_input& in) {
  const auto& cfg = *conn.rt->cfg;
  constexpr auto v = config::vdir_id::autodiscover;
  if (!cfg.vdirs[std::size_t(v)].enabled || req.method() != http::verb::post) return std::nullopt;
  if (!in.body || in.body->k != body_framing::kind::length || in.body->length == 0 ||
      in.body->length >
          std::min<std::uint64_t>(routing::pox_max_bytes, config::vdir_body_limit(cfg, v)))
    return std::nullopt;
  // With an anchor in the head, or a client waiting for 100 Continue before it sends the
  // body, routing goes by what the head says.
  if (req.find("X-AnchorMailbox") != req.end() || req.find(http::field::expect) != req.end())
    return std::nullopt;
  const std::string_view target = req.target();
  const auto path = target.substr(0, target.find('?'));
  if (!routing::iequals(path, "/autodiscover/autodiscover.xml")) return std::nullopt;
  return in.body->length;
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

bool prepare_response_head(http::response_header<relay_fields>& res, request_ctx& rq,
                           std::size_t b) {
  const auto& conn = rq.conn;
  const auto& cfg = *conn.rt->cfg;
  const auto& d = rq.decision;
  bool binds = false;
  const unsigned code = res.result_int();
  if (!cfg.server_name.empty()) res.set(front_end_field, cfg.server_name);
  if (code == 401 && rq.trace.opens_handshake) {
    rq.conn.challenger = b;  // the type 3 must come back here
    rq.conn.challenger_rt = conn.rt.get();
  }
  if (code == 401) {
    std::string name = "WWW-Authenticate";
    std::vector<std::string> kept;
    for (auto it = res.find(http::field::www_authenticate);
         it != res.end() && it->name() == http::field::www_authenticate; ++it) {
      name = std::string(it->name_string());
      const auto scheme = routing::scheme_of(it->value());
      if (scheme && routing::binds_connection(*scheme)) binds = true;
      if (scheme && routing::allows(config::vdir_authentication(cfg, workload(rq)), *scheme))
        kept.emplace_back(it->value());
    }
    res.erase(http::field::www_authenticate);
    for (const auto& v : kept)
      res.insert(name, v);
  }
  const auto* codec = conn.rt->routes.affinity();
  // Only /mapi has session contexts to keep (its tokens are bound to the MailboxId); the other
  // vdirs' anchors hash to the same server while it is healthy.
  if (codec && d.mailbox && workload(rq) == config::vdir_id::mapi && code == 200 &&
      (d.new_session || res.find(http::field::set_cookie) != res.end())) {
    const auto now = unix_now();
    res.insert(
        http::field::set_cookie,
        routing::affinity_set_cookie(conn.rt->cookie_name,
                                     codec->issue(cfg.backends[b].name, d.mailbox->value, now)));
    rq.trace.rec.backend_cookie = backend_cookie(cfg.backends[b].name, now + codec->max_age());
  }
  return binds;
}

void stamp_local_reply(const request_ctx& rq, http::response<http::string_body>& res) {
  const auto& name = rq.conn.rt->cfg->server_name;
  if (!name.empty()) res.set(front_end_field, name);
}

void record_local_reply(request_ctx& rq, const http::response<http::string_body>& res, bool sent) {
  std::optional<int> code;
  if (auto it = res.find("X-ResponseCode"); it != res.end())
    code = metrics::parse_mapi_code(it->value());
  // ResponseBytes: the body's bytes, on both protocols (not the head, nor any framing).
  rq.trace.local_response(res.result_int(), code, sent ? res.body().size() : 0, "");
  if (!sent) end_request(rq, request_outcome::client_disconnected);
}

}  // namespace proxy
