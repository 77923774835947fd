// Bounded label values for mapigate's metrics: what a request's facts map to. Pure (no
// prometheus-cpp), so the mapping is table-tested and every label set is known in advance: the
// handles of one config snapshot are resolved once, never looked up per request.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace metrics {

/// vdir label: /mapi's two endpoints, then the other Exchange vdirs by their config key
/// (config::vdir_names), then "other" (no vdir: refused before one applied).
enum class vdir_label : std::size_t {
  emsmdb,
  nspi,
  autodiscover,
  ews,
  oab,
  rpc,
  activesync,
  owa,
  ecp,
  powershell,
  other
};
inline constexpr std::array<std::string_view, 11> vdir_names{
    "emsmdb",     "nspi", "autodiscover", "ews",        "oab",  "rpc",
    "activesync", "owa",  "ecp",          "powershell", "other"};

/// mapi_namespace label: "internal", "external", "none" (Host matched no namespace). Not
/// `namespace`: Kubernetes' target label of that name would rename it `exported_namespace`.
inline constexpr std::array<std::string_view, 3> namespace_names{"internal", "external", "none"};

/// code_class label: "2xx".."5xx"; "auth_challenge" for a 401 that is a step of logging on
/// (the request carried no credentials, or opened an NTLM handshake: Outlook meets two on every
/// new connection), kept out of "4xx" so that an error ratio does not count normal logons;
/// "none" when no final response was sent (client gone).
inline constexpr std::array<std::string_view, 6> code_class_names{
    "2xx", "3xx", "4xx", "5xx", "auth_challenge", "none"};
/// `auth_step`: the request was such a step (see above); only a 401 makes it auth_challenge.
std::size_t code_class(int http_status, bool auth_step = false) noexcept;

/// The request types a vdir knows ([MS-OXCMAPIHTTP] 2.2.5 and 2.2.6), "other" last. Every
/// vdir but emsmdb and nspi has the single type "none".
std::span<const std::string_view> request_types(vdir_label v) noexcept;

/// Index into request_types(v) for an X-RequestType value (ASCII case-insensitive); an unknown
/// or missing value maps to "other" ("none" on the other vdir).
std::size_t request_type_index(vdir_label v, std::string_view x_request_type) noexcept;

/// Position of (v, type index) in one flat list over all vdirs; total is request_type_slots().
std::size_t request_type_slot(vdir_label v, std::size_t type_index) noexcept;
std::size_t request_type_slots() noexcept;

/// mapi_code label of mapigate_mapi_responses_total: "0".."18", then "other" (index 19).
inline constexpr std::size_t mapi_code_labels = 20;
std::size_t mapi_code_index(int x_response_code) noexcept;
/// X-ResponseCode field value → code; nullopt unless 1-3 decimal digits.
std::optional<int> parse_mapi_code(std::string_view value) noexcept;

/// reason label of mapigate_proxy_protocol_refused_total: why a connection on a PROXY
/// protocol listener was closed before a byte was read as HTTP.
enum class proxy_refusal : std::size_t { untrusted, missing, malformed, count };
inline constexpr std::array<std::string_view, 3> proxy_refusal_names{"untrusted", "missing",
                                                                     "malformed"};

/// outcome label of mapigate_affinity_requests_total, in routing::affinity_outcome order with
/// "none" replaced by "miss" (a session request that carried no token).
inline constexpr std::array<std::string_view, 8> affinity_outcome_names{
    "miss",          "hit",     "malformed",     "unknown_key",
    "bad_signature", "expired", "wrong_mailbox", "unknown_backend"};

/// How a request ended: the outcome label of mapigate_request_outcomes_total, and the one
/// vocabulary the data path uses for it (proxy/request/outcome.hpp adds the HttpProxy
/// GenericErrors name and the stderr level of each). Every request ends with exactly one.
enum class request_outcome : std::size_t {
  completed,                    ///< the backend's response reached the client whole
  refused,                      ///< mapigate answered itself under its rules (routing, framing)
  health_check,                 ///< the load balancer's health check, answered by mapigate
  http11_required,              ///< HTTP/2 stream reset: connection-bound auth needs HTTP/1.1
  session_backend_down,         ///< X-ResponseCode 10 at once: the session's server is gone
  no_backend_reachable,         ///< 502: no backend in the order could be connected
  unframed_request_body,        ///< 400: the head writer refused a body it cannot frame
  backend_failed_mid_request,   ///< 502: the backend failed while the request was sent
  backend_timeout,              ///< 504: no response head in time
  backend_error,                ///< 502: the backend closed or sent an invalid head
  backend_failed_mid_response,  ///< the body broke off: the client learns it by close or reset
  client_disconnected,          ///< the client left before the response was complete
  client_timeout,               ///< the client sent its body, or took the response, too slowly
  count
};
inline constexpr std::array<std::string_view, std::size_t(request_outcome::count)>
    request_outcome_names{"completed",
                          "refused",
                          "health_check",
                          "http11_required",
                          "session_backend_down",
                          "no_backend_reachable",
                          "unframed_request_body",
                          "backend_failed_mid_request",
                          "backend_timeout",
                          "backend_error",
                          "backend_failed_mid_response",
                          "client_disconnected",
                          "client_timeout"};

/// TLS label values: result ("ok", "failed") and version ("TLSv1.2", "TLSv1.3", "unknown").
inline constexpr std::array<std::string_view, 3> tls_version_names{"TLSv1.2", "TLSv1.3", "unknown"};
std::size_t tls_version_index(std::string_view openssl_version) noexcept;

}  // namespace metrics
