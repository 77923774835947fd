// The HttpProxy columns a request fills as it goes (and the affinity counters), the same on
// both protocols.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "proxy/request/context.hpp"
#include "proxy/request/facts.hpp"

namespace proxy {

/// Counts the request's affinity outcome (and a miss: a session request without a token) and
/// logs an ignored token.
void count_affinity(const routing::decision& d, const conn_ctx& conn);

/// The log scheme name of an auth scheme: "NTLM", "Negotiate", "Basic", "Bearer".
std::string_view log_scheme_name(config::auth_scheme s);

/// The request's own columns: URL, client headers, who it authenticates as. NTLM and Negotiate
/// authenticate the connection, so their user stays with it (in `conn`) for later requests.
void describe_request(request_trace& t, const request_message& req, const request_facts& facts,
                      conn_ctx& conn);

/// AuthenticatedUser and IsAuthenticated, once the backend answered `backend_status`: the user
/// the request's credentials name (or the one its connection authenticated as) only when the
/// backend accepted them (anything but 401), so a wrong password or a made-up user name is never
/// logged as the user; IsAuthenticated only with such an identity (an anonymous request the
/// backend served is not authenticated). An accepted NTLM/Negotiate type 3 makes its user the
/// connection's. Local answers never call this: no backend accepted anything.
void accept_credentials(request_trace& t, int backend_status, conn_ctx& conn);

/// What routing decided, in the trace's columns and metric labels.
void describe_decision(request_trace& t, const routing::decision& d, std::string_view type,
                       request_trace::clock::time_point routed);

/// The columns of the backend `b` that took the request: ProxyAction, TargetServer,
/// RoutingHint (the anchor's source and form, -ServerCookie when the affinity token chose), the
/// explicit route in GenericInfo, and a FailedOver note when it was not the first choice.
void record_backend(request_ctx& rq, std::size_t b);

/// The BackEndCookie column: which backend an affinity token names and until when it holds.
std::string backend_cookie(std::string_view backend, std::int64_t expires_unix);

}  // namespace proxy
