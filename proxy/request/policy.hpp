// The request policy: after a request head is parsed, on either protocol, one function decides
// what happens to it (a local answer or a forward plan), and one rewrites the backend's response
// head on its way back. Every refusal, limit, cookie and header rule is written here once; the
// codecs (h1/, h2/) only carry out the plan in their own framing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "proxy/io/net.hpp"
#include "proxy/request/body_framing.hpp"
#include "proxy/request/context.hpp"

namespace proxy {

/// What the codec knows of a request beyond its head.
struct request_input {
  /// The request arrived on a multiplexed connection (HTTP/2): connection-bound authentication
  /// cannot work on it.
  bool multiplexed = false;
  /// The connection may carry another request after this one (HTTP/1.1: the client did not
  /// ask to close, the per-connection limit is not reached, the worker is not draining).
  bool keep_alive = true;
  /// The body the head declares; none when its Content-Length cannot be read (HTTP/2, whose
  /// head nghttp2 checked only for consistency with the DATA frames).
  std::optional<body_framing> body;
  bool head_method = false;  ///< HEAD: a local answer keeps its Content-Length but no body
  /// Autodiscover's EMailAddress, when the codec read the body first because the decision
  /// asked for it (decision.wants_body_anchor); it views the body held by the codec.
  std::optional<std::string_view> body_email;
};

/// Autodiscover's POX request names its mailbox only in its body (EMailAddress) when it
/// carries no X-AnchorMailbox: for such a request (a POST to /Autodiscover/Autodiscover.xml on a
/// published Autodiscover, with a Content-Length of at most routing::pox_max_bytes and the
/// vdir's body limit) the codec reads the whole body before plan_request and passes what
/// pox_email_address() found as request_input::body_email. Returns that length, else nullopt.
std::optional<std::uint64_t> body_first(const conn_ctx& conn, const request_message& req,
                                        const request_input& in);

/// The policy's decision for one request.
struct request_plan {
  enum class step {
    reply,            ///< answer with `reply`; nothing goes to a backend
    forward,          ///< send to rq.decision.order's backends; `body` frames the request body
    retry_on_http11,  ///< HTTP/2: reset the stream with HTTP_1_1_REQUIRED (RFC 9113 §8.2.2)
  };
  step next = step::reply;
  /// step::reply: the answer, on the heap so that the plan stays small in the frame of a
  /// coroutine that goes on to hold a long-poll. It says whether the connection may go on
  /// (keep_alive()): a codec may close where it said keep-alive, never the other way.
  std::unique_ptr<http::response<http::string_body>> reply;
  body_framing body = body_framing::no_body();  ///< step::forward
  /// step::forward: the client waits for an interim 100 (Continue) before it sends the body.
  bool send_continue = false;
  /// step::forward: the request carries NTLM/Negotiate credentials, which authenticate the
  /// connection they travel on: its backend connection must be this client's alone.
  bool binds_connection = false;
  bool keep_alive = true;     ///< step::forward: the client connection may carry another request
  bool head_request = false;  ///< step::forward: HEAD, whose response has no body
};

/// Decides what happens to request `req` (its head parsed; its body, if any, not yet read) and
/// prepares it: facts and log columns into rq.trace, routing into rq.decision, the refusals
/// (more than one Host, routing's rejects, the body rule, expectations, the session's backend
/// down), and for a forward the head as it goes to the backend (mapigate's and X-BEResource
/// cookies out, hop-by-hop fields out, X-Forwarded-For appended, HTTP/1.1). Pure but for the
/// clock, the live backend state it reads and its log lines. Every refusal is logged, counted
/// and recorded in rq.trace.
request_plan plan_request(request_ctx& rq, request_message& req, const request_input& in);

/// Why a request body cannot be relayed, in both forms a refusal takes.
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

/// Backend response head → client response head, beyond hop-by-hop rules: it names this
/// instance (X-FEServer: server_name, as Exchange's front end does, so that an admin reading
/// a client trace behind a balancer knows which instance answered); a 401's challenges
/// are cut to the schemes the vdir allows; a response that starts or refreshes a session gets
/// mapigate's affinity cookie naming backend `b`, which answered (BackEndCookie column).
/// Returns whether the backend offered a connection-bound scheme (NTLM/Negotiate).
bool prepare_response_head(http::response_header<relay_fields>& res, request_ctx& rq,
                           std::size_t b);

/// The header that names this instance on every response, relayed or local.
inline constexpr std::string_view front_end_field = "X-FEServer";

/// A response mapigate made itself, before it goes out: named like a relayed one (X-FEServer).
void stamp_local_reply(const request_ctx& rq, http::response<http::string_body>& res);

/// A response mapigate made itself, as it goes out: recorded in rq.trace (status,
/// X-ResponseCode, the body's bytes when they were sent; ClientDisconnected when not).
void record_local_reply(request_ctx& rq, const http::response<http::string_body>& res, bool sent);

}  // namespace proxy
