// What HTTP/1.1 and HTTP/2 requests share between the parsed head and the backend: log
// columns, backend order, passive health, response head rewriting. Executor affinity: the
// connection's worker.
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/io/net.hpp"
#include "proxy/request/body_framing.hpp"
#include "proxy/request/context.hpp"
#include "proxy/request/facts.hpp"

namespace proxy {

/// Fills the columns every request has from the start (time, client, this server).
void start_trace(request_trace& t, const conn_ctx& cx);

/// Counts the request's affinity outcome (and a miss: a session request without a token) and
/// logs an ignored token.
void count_affinity(const routing::decision& d, const conn_ctx& cx);

/// A refusal as the vdir speaks it: on /mapi/emsmdb and /mapi/nspi with an X-ResponseCode
/// (`code` != 0) the MAPI form (HTTP 200), otherwise `status` with a text body; a 401 offers
/// the allowed schemes. Logged, and recorded in `t`.
http::response<http::string_body> refusal(const conn_ctx& cx, request_trace& t,
                                          const http::request_header<relay_fields>& req,
                                          const request_facts& facts, bool mapi, int status,
                                          int code, std::string_view reason, bool close);

/// The health check's answer, what a load balancer in front of mapigate sees: 200 while this
/// instance can serve MAPI (not draining, some backend can be reached), 503 otherwise, as
/// Exchange's own check. `head`: a HEAD request (no body; Content-Length stays). On 503 the
/// reason ("Draining", "NoBackendReachable") goes to `t`'s GenericErrors.
http::response<http::string_body> health_reply(const conn_ctx& cx, request_trace& t, bool head,
                                               bool close);

/// Why a request body cannot be relayed, in both forms a refusal takes (see refusal()).
struct framing_refusal {
  int status;
  int mapi_code;
  std::string_view reason;
};

/// The one body rule for a request about to be relayed, for HTTP/1.1 and HTTP/2 alike: a body
/// must declare its length (MAPI/HTTP requests always carry Content-Length, [MS-OXCMAPIHTTP]
/// 2.2.2.1; a body of unknown length could only be checked after parts of it were relayed),
/// and that length must be within `limit`. None when the request may go.
std::optional<framing_refusal> refuse_framing(body_framing body, std::uint64_t limit) noexcept;

/// The completion handler of a coroutine spawned to serve a peer (a connection, an HTTP/2
/// stream): an exception that escapes it is a bug, never a network outcome (those are
/// error_codes). It is logged with what it said and counted
/// (mapigate_session_exceptions_total); the worker carries on. Any exception, not only
/// std::exception: one left uncaught would end the process.
struct on_coroutine_exit {
  runtime_ptr rt;    ///< kept for the counter: the coroutine may outlive a reload
  bool stream;       ///< an HTTP/2 stream's coroutine, else a connection's
  std::uint64_t id;  ///< the connection's (stream), else the worker's
  void operator()(std::exception_ptr e) const noexcept;
};

/// Adds one to a gauge for as long as it lives (null: nothing).
struct gauge_guard {
  std::atomic<std::size_t>* n;
  explicit gauge_guard(std::atomic<std::size_t>* g) : n(g) {
    if (n) ++*n;
  }
  ~gauge_guard() {
    if (n) --*n;
  }
  gauge_guard(const gauge_guard&) = delete;
  gauge_guard& operator=(const gauge_guard&) = delete;
};

/// The log scheme name of an auth scheme: "NTLM", "Negotiate", "Basic", "Bearer".
std::string_view log_scheme_name(config::auth_scheme s);

/// The request's own columns: URL, client headers, who it authenticates as. NTLM and Negotiate
/// authenticate the connection, so their user stays with it (in `cx`) for later requests.
void describe_request(request_trace& t, const http::request<http::buffer_body, relay_fields>& req,
                      const request_facts& facts, conn_ctx& cx);

/// What routing decided, in the trace's columns and metric labels.
void describe_decision(request_trace& t, const routing::decision& d, std::string_view type,
                       request_trace::clock::time_point routed);

/// Every backend's health as routing weighs it (routing::backend_health), read off the live
/// state now: down when it cannot be reached; draining when its check fails, passive ejection
/// took it out, or the admin drained it; ready otherwise. Routing orders the backends with it.
boost::container::small_vector<routing::backend_health, 16> health_now(const conn_ctx& cx);

/// The columns of the backend that took the request: ProxyAction, TargetServer, RoutingHint
/// (token, explicit or hash) and a FailedOver note when it was not the first choice.
void record_backend(request_trace& t, const routing::decision& d, std::size_t b,
                    const conn_ctx& cx);

/// Passive health: a failure of backend `b`'s own: a connect failure (`connect`; after
/// health.eject_after of them in a row it is down), a 5xx, or a failure before the response
/// head. Ejects the backend (no new sessions) after health.eject_after in a row, logged and
/// counted once, by whoever crossed the line.
void note_failure(const conn_ctx& cx, std::size_t b, bool connect = false);

/// The BackEndCookie column: which backend an affinity token names and until when it holds.
std::string backend_cookie(std::string_view backend, std::int64_t expires_unix);

/// Backend response head → client response head, beyond hop-by-hop rules: a 401's challenges
/// are cut to the schemes the vdir allows; a response that starts or refreshes a session gets
/// mapigate's affinity cookie naming the backend that answered (recorded in `trace`, if any).
/// Returns whether the backend offered a connection-bound scheme (NTLM/Negotiate).
bool prepare_response_head(http::response_header<relay_fields>& res, const routing::decision& d,
                           std::size_t backend, const conn_ctx& cx, request_trace* trace);

}  // namespace proxy
