// One proxied request as the front end knows it: the typed input of one HttpProxy log line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace accesslog {

/// Everything mapigate knows about one request when it completes. A plain value: the data path
/// fills one per request and moves it into writer::submit. Strings are raw (unsanitised) bytes
/// as received or decided; format_line sanitises every value. Empty strings, nullopt latencies
/// and backend_status 0 leave their columns empty.
struct record {
  std::chrono::system_clock::time_point date_time{};  ///< DateTime: request start (UTC)
  std::string request_id;  ///< RequestId: new_request_id(); the writer fills it if empty

  // ClientRequestId parts: the client's X-RequestId, X-RequestType, X-ClientInfo headers.
  std::string x_request_id;
  std::string x_request_type;
  std::string x_client_info;

  std::string protocol;  ///< "Mapi", "Autodiscover", "Ews", "RpcHttp"; also the log folder
  std::string url_host;
  std::string url_stem;             ///< "/mapi/emsmdb/"
  std::string url_query;            ///< with the leading '?', or empty
  std::string authentication_type;  ///< "Negotiate", "NTLM", "Basic", "Bearer"
  bool is_authenticated = false;
  std::string authenticated_user;  ///< "DOMAIN\user"
  std::string anchor_mailbox;      ///< "MailboxGuid~<guid>", ...
  std::string user_agent;
  std::string client_ip;
  std::string server_host_name;  ///< this mapigate host
  int http_status = 0;           ///< status sent to the client
  int backend_status = 0;        ///< status the backend sent; 0 = no backend response
  std::string method;
  std::string proxy_action;  ///< "Proxy"
  std::string target_server;
  std::string routing_hint;
  std::string backend_cookie;
  std::uint64_t request_bytes = 0;
  std::uint64_t response_bytes = 0;

  // Latencies in whole milliseconds; nullopt = not measured (empty column).
  std::optional<std::chrono::milliseconds> routing_latency;     ///< RoutingLatency
  std::optional<std::chrono::milliseconds> backend_connect;     ///< BackendReqInitLatency
  std::optional<std::chrono::milliseconds> time_to_first_byte;  ///< BackendProcessingLatency
  std::optional<std::chrono::milliseconds> streaming;           ///< BackendRespStreamLatency
  std::chrono::milliseconds total_request_time{0};              ///< TotalRequestTime, always set

  std::vector<std::pair<std::string, std::string>> generic_info;  ///< GenericInfo key=value;
  std::string generic_errors;
};

/// Exchange writes its build as Major/Minor/Build/Revision columns and `#Version: 15.01.2375.007`;
/// mapigate writes its own version the same way.
struct version_numbers {
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  std::uint32_t build = 0;
  std::uint32_t revision = 0;
};

}  // namespace accesslog
