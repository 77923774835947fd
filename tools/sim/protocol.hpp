// MAPI/HTTP wire vocabulary: request types, X-ResponseCode names, response heads, chunk framing.
#pragma once

#include "routing/mapi_codes.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/sim/sessions.hpp"

namespace sim::detail {

inline constexpr std::string_view server_application = "Exchange/15.02.1544.004";

enum class request_kind {
  connect,
  execute,
  disconnect,
  notification_wait,
  ping,
  bind,
  unbind,
  nspi_query,  ///< every NSPI type except Bind, Unbind and PING
  unknown
};

/// X-RequestType value → kind for that endpoint, compared case-insensitively.
request_kind classify(endpoint_kind endpoint, std::string_view request_type);

/// X-ResponseCode numbers and names: the table the proxy uses too.
namespace response_code = routing::mapi_code;

std::string_view reason_phrase(int status);

/// Status line plus fields in insertion order; serialize() ends with the empty line.
struct response_head {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> fields;

  void add(std::string name, std::string value) {
    fields.emplace_back(std::move(name), std::move(value));
  }
  std::string serialize() const;
};

/// Small HTML page naming a protocol error (body of a non-zero X-ResponseCode response).
std::string error_page(int code);

/// Final inner-stream part: "DONE\r\nX-ResponseCode: 0\r\nX-ElapsedTime: <ms>\r\nX-StartTime:
/// <date>\r\n\r\n".
std::string done_meta(std::chrono::milliseconds elapsed,
                      std::chrono::system_clock::time_point start);

/// `bytes` bytes: little-endian uint32 0 (StatusCode) first, then a deterministic filler.
std::string response_body(std::size_t bytes);

/// HTTP/1.1 chunk framing of `payload`; an empty payload gives the last chunk "0\r\n\r\n".
std::string chunk(std::string_view payload);

/// Value of cookie `name` in any of the Cookie header values ("a=b; c=d"), first match wins.
std::optional<std::string> find_cookie(const std::vector<std::string_view>& cookie_headers,
                                       std::string_view name);

/// "Content-Type: application/mapi-http" check, ignoring case and parameters.
bool is_mapi_content_type(std::string_view value);

}  // namespace sim::detail
