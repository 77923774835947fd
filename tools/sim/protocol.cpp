// MAPI/HTTP wire vocabulary: request types, X-ResponseCode names, response heads, chunk framing.
#include "tools/sim/protocol.hpp"

#include <array>
#include <cstdio>

namespace sim::detail {

namespace {

constexpr std::array<std::string_view, 17> nspi_queries{
    "CompareMIds",     "DNToMId",          "GetMatches",        "GetPropList", "GetProps",
    "GetSpecialTable", "GetTemplateInfo",  "ModLinkAtt",        "ModProps",    "QueryColumns",
    "QueryRows",       "ResolveNames",     "ResortRestriction", "SeekEntries", "UpdateStat",
    "GetMailboxUrl",   "GetAddressBookUrl"};

}  // namespace

request_kind classify(endpoint_kind endpoint, std::string_view type) {
  type = trim(type);
  if (iequals(type, "PING")) return request_kind::ping;
  if (endpoint == endpoint_kind::emsmdb) {
    if (iequals(type, "Connect")) return request_kind::connect;
    if (iequals(type, "Execute")) return request_kind::execute;
    if (iequals(type, "Disconnect")) return request_kind::disconnect;
    if (iequals(type, "NotificationWait")) return request_kind::notification_wait;
    return request_kind::unknown;
  }
  if (iequals(type, "Bind")) return request_kind::bind;
  if (iequals(type, "Unbind")) return request_kind::unbind;
  for (std::string_view query : nspi_queries) {
    if (iequals(type, query)) return request_kind::nspi_query;
  }
  return request_kind::unknown;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string response_head::serialize() const {
  std::string out = "HTTP/1.1 " + std::to_string(status) + ' ';
  out += reason_phrase(status);
  out += "\r\n";
  for (const auto& [name, value] : fields) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string error_page(int code) {
  std::string name(response_code::name(code));
  return "<html><head><title>MAPI over HTTP error</title></head><body><h1>X-ResponseCode " +
         std::to_string(code) + ": " + name + "</h1></body></html>";
}

std::string done_meta(std::chrono::milliseconds elapsed,
                      std::chrono::system_clock::time_point start) {
  return "DONE\r\nX-ResponseCode: 0\r\nX-ElapsedTime: " + std::to_string(elapsed.count()) +
         "\r\nX-StartTime: " + http_date(start) + "\r\n\r\n";
}

std::string response_body(std::size_t bytes) {
  std::string body(bytes, '\0');
  for (std::size_t i = 4; i < bytes; ++i)
    body[i] = static_cast<char>((i * 131 + 17) & 0xff);
  return body;
}

std::string chunk(std::string_view payload) {
  char size[24];
  std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
  std::string out = size;
  out.append(payload);
  out += "\r\n";
  return out;
}

std::optional<std::string> find_cookie(const std::vector<std::string_view>& cookie_headers,
                                       std::string_view name) {
  for (std::string_view header : cookie_headers) {
    while (!header.empty()) {
      std::size_t end = header.find(';');
      std::string_view pair = trim(header.substr(0, end));
      header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
      std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (trim(pair.substr(0, eq)) == name) return std::string(trim(pair.substr(eq + 1)));
    }
  }
  return std::nullopt;
}

bool is_mapi_content_type(std::string_view value) {
  return iequals(trim(value.substr(0, value.find(';'))), "application/mapi-http");
}

}  // namespace sim::detail
