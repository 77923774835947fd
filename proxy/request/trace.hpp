// What one request did, gathered while it runs, for its HttpProxy log record and its metrics.
// Asio-free. Executor affinity: the connection's worker; one trace per request.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "accesslog/record.hpp"
#include "metrics/labels.hpp"

namespace accesslog {
class writer;
}
namespace metrics {
class handles;
}

namespace proxy {

struct request_trace {
  using clock = std::chrono::steady_clock;

  clock::time_point start = clock::now();  ///< the request head was complete
  accesslog::record rec;                   ///< columns filled as they become known

  // Metrics labels.
  std::size_t ns = 2;  ///< metrics::namespace_names index
  metrics::vdir_label vdir = metrics::vdir_label::other;
  std::size_t request_type = 0;
  bool notification_wait = false;
  bool mapi = false;  ///< /mapi/emsmdb or /mapi/nspi: X-ResponseCode is counted

  std::optional<std::size_t> backend;  ///< the backend that answered
  std::optional<int> mapi_code;        ///< X-ResponseCode sent to the client
  bool responded = false;              ///< a response head went out (rec.http_status is set)
  /// The user the request's credentials name (or its connection authenticated as), logged as
  /// AuthenticatedUser only once a backend accepts them (accept_credentials).
  std::string claimed_user;
  bool claim_binds_connection = false;  ///< NTLM/Negotiate: accepted, it is the connection's user
  /// A step of logging on: no credentials (on a connection not authenticated yet) or an NTLM
  /// type 1. Its 401 is counted as auth_challenge, not as a 4xx.
  bool auth_step = false;
  bool opens_handshake = false;  ///< its Authorization is an NTLM type 1
  /// Final credentials (Basic, NTLM type 3, Negotiate) the smart lockout weighed: the backend's
  /// answer is counted for `lockout_user` (canonical; empty for Kerberos) from the client.
  bool lockout_counts = false;
  std::string lockout_user;
  /// How the request ended (set through end_request, proxy/request/outcome.hpp).
  metrics::request_outcome outcome = metrics::request_outcome::completed;

  /// Records a response mapigate wrote itself.
  void local_response(int status, std::optional<int> x_response_code, std::uint64_t bytes,
                      std::string_view error);
  /// Appends to GenericErrors ("a; b").
  void add_error(std::string_view e);
  void add_info(std::string key, std::string value);

  static std::optional<std::chrono::milliseconds> since(clock::time_point a, clock::time_point b);

  /// Completes the record (TotalRequestTime, defaults) and hands it to `log` (may be null) and
  /// its sample to `m`. Never blocks: a full log queue drops the record (counted there).
  void finish(const metrics::handles& m, accesslog::writer* log);
};

}  // namespace proxy
