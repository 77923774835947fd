// Exchange-style HttpProxy log formatting: column table, sanitiser, header and line builders.
#include "accesslog/format.hpp"

#include <cstdio>
#include <random>
#include <utility>

#include "routing/text.hpp"

namespace accesslog {
namespace {

constexpr std::array<std::string_view, field_count> names = {
    "DateTime",
    "RequestId",
    "MajorVersion",
    "MinorVersion",
    "BuildVersion",
    "RevisionVersion",
    "ClientRequestId",
    "Protocol",
    "UrlHost",
    "UrlStem",
    "ProtocolAction",
    "AuthenticationType",
    "IsAuthenticated",
    "AuthenticatedUser",
    "Organization",
    "AnchorMailbox",
    "UserAgent",
    "ClientIpAddress",
    "ServerHostName",
    "HttpStatus",
    "BackEndStatus",
    "ErrorCode",
    "Method",
    "ProxyAction",
    "TargetServer",
    "TargetServerVersion",
    "RoutingType",
    "RoutingHint",
    "BackEndCookie",
    "ServerLocatorHost",
    "ServerLocatorLatency",
    "RequestBytes",
    "ResponseBytes",
    "TargetOutstandingRequests",
    "AuthModulePerfContext",
    "HttpPipelineLatency",
    "CalculateTargetBackEndLatency",
    "GlsLatencyBreakup",
    "TotalGlsLatency",
    "AccountForestLatencyBreakup",
    "TotalAccountForestLatency",
    "ResourceForestLatencyBreakup",
    "TotalResourceForestLatency",
    "ADLatency",
    "SharedCacheLatencyBreakup",
    "TotalSharedCacheLatency",
    "ActivityContextLifeTime",
    "ModuleToHandlerSwitchingLatency",
    "ClientReqStreamLatency",
    "BackendReqInitLatency",
    "BackendReqStreamLatency",
    "BackendProcessingLatency",
    "BackendRespInitLatency",
    "BackendRespStreamLatency",
    "ClientRespStreamLatency",
    "KerberosAuthHeaderLatency",
    "HandlerCompletionLatency",
    "RequestHandlerLatency",
    "HandlerToModuleSwitchingLatency",
    "ProxyTime",
    "CoreLatency",
    "RoutingLatency",
    "HttpProxyOverhead",
    "TotalRequestTime",
    "RouteRefresherLatency",
    "UrlQuery",
    "BackEndGenericInfo",
    "GenericInfo",
    "GenericErrors",
    "EdgeTraceId",
    "DatabaseGuid",
    "UserADObjectGuid",
    "PartitionEndpointLookupLatency",
    "RoutingStatus",
};

// Compile-time column lookup: a misspelt name fails the build (throw in a constant expression).
consteval std::size_t col(std::string_view name) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return i;
  }
  throw "unknown HttpProxy column";
}

// Appends `v` with ',' and control characters as ' ', '"' as '\''; `extra` chars also as ' '.
void append_clean(std::string& out, std::string_view v, std::string_view extra = {}) {
  for (const char ch : v)
    out.push_back(routing::ascii_control(ch) || extra.find(ch) != std::string_view::npos ? ' '
                                                                                         : ch);
}

/// Appends `v` as one CSV field (RFC 4180): quoted, with '"' doubled, when it holds ',' or '"';
/// as it is otherwise. `v` holds no CR or LF (clean() turned them into spaces), so a field can
/// never end a line.
void append_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"") == std::string_view::npos) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (const char ch : v) {
    if (ch == '"') out.push_back('"');
    out.push_back(ch);
  }
  out.push_back('"');
}

std::string clean(std::string_view v, std::string_view extra = {}) {
  std::string out;
  out.reserve(v.size());
  append_clean(out, v, extra);
  return out;
}

std::string client_request_id(const record& r) {
  std::string out;
  const auto part = [&](std::string_view tag, std::string_view value) {
    if (value.empty()) return;
    if (!out.empty()) out.push_back(';');
    out.append(tag);
    append_clean(out, value, ";");
  };
  part("R:", r.x_request_id);
  part("RT:", r.x_request_type);
  part("CI:", r.x_client_info);
  return out;
}

std::string generic_info(const record& r) {
  std::string out;
  for (const auto& [key, value] : r.generic_info) {
    append_clean(out, key, ";=");
    out.push_back('=');
    append_clean(out, value, ";=");
    out.push_back(';');
  }
  return out;
}

std::string ms(const std::optional<std::chrono::milliseconds>& d) {
  return d ? std::to_string(d->count()) : std::string();
}

}  // namespace

const std::array<std::string_view, field_count>& field_names() {
  return names;
}

std::size_t field_index(std::string_view name) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return i;
  }
  return field_count;
}

std::string iso_utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<milliseconds>(t - day)};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                int(hms.subseconds().count()));
  return buf;
}

std::string hour_stamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const auto hour = floor<hours>(t - day).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u%02d", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()), int(hour));
  return buf;
}

std::string version_string(const version_numbers& v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02u.%02u.%04u.%03u", v.major, v.minor, v.build, v.revision);
  return buf;
}

std::string header_block(std::chrono::system_clock::time_point file_opened,
                         std::string_view version) {
  const auto append_names = [](std::string& out) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i != 0) out.push_back(',');
      out.append(names[i]);
    }
  };
  // The bare header line first, as Exchange writes it: Windows PowerShell 5.1's Import-Csv
  // takes the first line as the header and does not skip '#' lines.
  std::string out;
  append_names(out);
  out += "\r\n#Software: mapigate\r\n#Version: ";
  append_clean(out, version);
  out += "\r\n#Log-type: HttpProxy Logs\r\n#Date: ";
  out += iso_utc(file_opened);
  out += "\r\n#Fields: ";
  append_names(out);
  out += "\r\n";
  return out;
}

std::string dropped_line(std::uint64_t n) {
  return "#Dropped: " + std::to_string(n) + " records\r\n";
}

std::string format_line(const record& r, const version_numbers& v) {
  std::array<std::string, field_count> f;
  f[col("DateTime")] = iso_utc(r.date_time);
  f[col("RequestId")] = clean(r.request_id);
  f[col("MajorVersion")] = std::to_string(v.major);
  f[col("MinorVersion")] = std::to_string(v.minor);
  f[col("BuildVersion")] = std::to_string(v.build);
  f[col("RevisionVersion")] = std::to_string(v.revision);
  f[col("ClientRequestId")] = client_request_id(r);
  f[col("Protocol")] = clean(r.protocol);
  f[col("UrlHost")] = clean(r.url_host);
  f[col("UrlStem")] = clean(r.url_stem);
  f[col("AuthenticationType")] = clean(r.authentication_type);
  f[col("IsAuthenticated")] = r.is_authenticated ? "true" : "false";
  f[col("AuthenticatedUser")] = clean(r.authenticated_user);
  f[col("AnchorMailbox")] = clean(r.anchor_mailbox);
  f[col("UserAgent")] = clean(r.user_agent);
  f[col("ClientIpAddress")] = clean(r.client_ip);
  f[col("ServerHostName")] = clean(r.server_host_name);
  f[col("HttpStatus")] = std::to_string(r.http_status);
  if (r.backend_status != 0) f[col("BackEndStatus")] = std::to_string(r.backend_status);
  f[col("Method")] = clean(r.method);
  f[col("ProxyAction")] = clean(r.proxy_action);
  f[col("TargetServer")] = clean(r.target_server);
  f[col("RoutingHint")] = clean(r.routing_hint);
  f[col("BackEndCookie")] = clean(r.backend_cookie);
  f[col("RequestBytes")] = std::to_string(r.request_bytes);
  f[col("ResponseBytes")] = std::to_string(r.response_bytes);
  f[col("BackendReqInitLatency")] = ms(r.backend_connect);
  f[col("BackendProcessingLatency")] = ms(r.time_to_first_byte);
  f[col("BackendRespStreamLatency")] = ms(r.streaming);
  f[col("RoutingLatency")] = ms(r.routing_latency);
  f[col("TotalRequestTime")] = std::to_string(r.total_request_time.count());
  f[col("UrlQuery")] = clean(r.url_query);
  f[col("GenericInfo")] = generic_info(r);
  f[col("GenericErrors")] = clean(r.generic_errors);

  std::size_t size = field_count + 2;
  for (const auto& s : f)
    size += s.size() + 2;
  std::string out;
  out.reserve(size);
  for (std::size_t i = 0; i < field_count; ++i) {
    if (i != 0) out.push_back(',');
    append_field(out, f[i]);
  }
  out += "\r\n";
  return out;
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64{seq};
  }()};
  std::uint64_t hi = rng();
  std::uint64_t lo = rng();
  hi = (hi & ~std::uint64_t{0xf000}) | 0x4000;                           // version 4
  lo = (lo & ~(std::uint64_t{0xc} << 60)) | (std::uint64_t{0x8} << 60);  // RFC 4122 variant
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(hi >> 32),
                unsigned((hi >> 16) & 0xffff), unsigned(hi & 0xffff), unsigned(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::string_view protocol_for_path(std::string_view path) noexcept {
  static constexpr std::pair<std::string_view, std::string_view> vdirs[] = {
      {"mapi", "Mapi"},
      {"autodiscover", "Autodiscover"},
      {"ews", "Ews"},
      {"rpc", "RpcHttp"},
      {"owa", "Owa"},
      {"ecp", "Ecp"},
      {"oab", "Oab"},
      {"microsoft-server-activesync", "Eas"},
      {"powershell", "PowerShell"}};
  if (path.empty() || path.front() != '/') return "Unknown";
  path.remove_prefix(1);
  const auto segment = path.substr(0, path.find_first_of("/?"));
  for (const auto& [name, protocol] : vdirs) {
    if (routing::iequals(segment, name)) return protocol;
  }
  return "Unknown";
}

}  // namespace accesslog
