// Format tests: Exchange's 74 columns, exact header lines, column mapping, sanitisation.
#include "accesslog/format.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>

#include "test_support.hpp"

namespace accesslog {
namespace {

using accesslog_test::mapi_execute;
using accesslog_test::test_time;

// Typed from the #Fields line of a real Exchange 15.01.2375.007 HttpProxy\Mapi file.
constexpr std::string_view exchange_fields =
    "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,"
    "ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,"
    "IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,"
    "ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,"
    "TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,"
    "ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,"
    "AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,"
    "GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,"
    "ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,"
    "SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,"
    "ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,"
    "BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,"
    "BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,"
    "HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,"
    "ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,"
    "RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,"
    "DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus";

std::vector<std::string> split(std::string_view line) {
  return testing_support::csv_fields(line);
}

// The fields of a line produced by format_line, which must end in exactly one CRLF.
std::vector<std::string> fields_of(const std::string& line) {
  EXPECT_TRUE(line.ends_with("\r\n")) << line;
  const auto body = std::string_view(line).substr(0, line.size() - 2);
  EXPECT_EQ(body.find_first_of("\r\n"), std::string_view::npos) << line;
  return split(body);
}

TEST(Format, FieldNamesAreExchangesInOrder) {
  const auto& names = field_names();
  ASSERT_EQ(names.size(), 74u);
  std::string joined;
  for (const auto n : names)
    joined += (joined.empty() ? "" : ",") + std::string(n);
  EXPECT_EQ(joined, exchange_fields);
  EXPECT_EQ(field_index("DateTime"), 0u);
  EXPECT_EQ(field_index("TotalRequestTime"), 63u);
  EXPECT_EQ(field_index("RoutingStatus"), 73u);
  EXPECT_EQ(field_index("BackendStatus"), field_count);  // Exchange spells it BackEndStatus
}

TEST(Format, HeaderBlockIsTheBareHeaderThenFiveCrlfLines) {
  const std::string expected = std::string(exchange_fields) +
                               std::string(
                                   "\r\n"
                                   "#Software: mapigate\r\n"
                                   "#Version: 00.01.0000.000\r\n"
                                   "#Log-type: HttpProxy Logs\r\n"
                                   "#Date: 2026-03-01T14:25:07.123Z\r\n"
                                   "#Fields: ") +
                               std::string(exchange_fields) + "\r\n";
  EXPECT_EQ(header_block(test_time(), "00.01.0000.000"), expected);
}

TEST(Format, TimestampsAndVersion) {
  using namespace std::chrono;
  EXPECT_EQ(iso_utc(test_time()), "2026-03-01T14:25:07.123Z");
  EXPECT_EQ(iso_utc(test_time() + 999us), "2026-03-01T14:25:07.123Z");  // truncated
  EXPECT_EQ(iso_utc(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso_utc(sys_days{year{2024} / 2 / 29} + 23h + 59min + 59s + 999ms),
            "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(hour_stamp(test_time()), "2026030114");
  EXPECT_EQ(hour_stamp(sys_days{year{2025} / 12 / 31} + 23h + 59min), "2025123123");
  EXPECT_EQ(version_string({15, 1, 2375, 7}), "15.01.2375.007");
  EXPECT_EQ(version_string({0, 1, 0, 0}), "00.01.0000.000");
}

TEST(Format, MapiExecuteColumns) {
  const auto f = fields_of(format_line(mapi_execute(), {0, 1, 2, 3}));
  ASSERT_EQ(f.size(), 74u);
  const std::map<std::string_view, std::string> expected = {
      {"DateTime", "2026-03-01T14:25:07.123Z"},
      {"RequestId", "9b241890-db8d-44c5-a50e-ccdc753cab92"},
      {"MajorVersion", "0"},
      {"MinorVersion", "1"},
      {"BuildVersion", "2"},
      {"RevisionVersion", "3"},
      {"ClientRequestId",
       "R:{1b7dabb2-1111-2222-3333-444455556666}:2;RT:Execute;"
       "CI:{97c0f33d-aaaa-bbbb-cccc-ddddeeeeffff}:1"},
      {"Protocol", "Mapi"},
      {"UrlHost", "mail.contoso.test"},
      {"UrlStem", "/mapi/emsmdb/"},
      {"AuthenticationType", "Negotiate"},
      {"IsAuthenticated", "true"},
      {"AuthenticatedUser", "CONTOSO\\alice"},
      {"AnchorMailbox", "MailboxGuid~0b5c1e2a-0000-4000-8000-000000000001"},
      {"UserAgent", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"},
      {"ClientIpAddress", "192.0.2.10"},
      {"ServerHostName", "gw1"},
      {"HttpStatus", "200"},
      {"BackEndStatus", "200"},
      {"Method", "POST"},
      {"ProxyAction", "Proxy"},
      {"TargetServer", "mbx1.contoso.test"},
      {"RoutingHint", "MailboxGuidWithDomain"},
      {"BackEndCookie", "Database~fb7adba2~~2026-03-31T14:25:07"},
      {"RequestBytes", "273"},
      {"ResponseBytes", "295"},
      {"RoutingLatency", "2"},
      {"BackendReqInitLatency", "3"},
      {"BackendProcessingLatency", "9"},
      {"BackendRespStreamLatency", "1"},
      {"TotalRequestTime", "12"},
      {"UrlQuery", "?mailboxId=0b5c1e2a-0000-4000-8000-000000000001@contoso.test"},
      {"GenericInfo", "BackendConn=reused;Affinity=cookie;"},
  };
  for (std::size_t i = 0; i < f.size(); ++i) {
    const auto name = field_names()[i];
    const auto it = expected.find(name);
    SCOPED_TRACE(std::string(name));
    EXPECT_EQ(f[i], it == expected.end() ? "" : it->second);
  }
}

TEST(Format, UnknownValuesLeaveColumnsEmpty) {
  record r;
  r.x_request_type = "Connect";
  const auto f = fields_of(format_line(r, {}));
  ASSERT_EQ(f.size(), 74u);
  EXPECT_EQ(f[field_index("ClientRequestId")], "RT:Connect");
  EXPECT_EQ(f[field_index("IsAuthenticated")], "false");
  EXPECT_EQ(f[field_index("BackEndStatus")], "");
  EXPECT_EQ(f[field_index("HttpStatus")], "0");
  EXPECT_EQ(f[field_index("RoutingLatency")], "");
  EXPECT_EQ(f[field_index("BackendReqInitLatency")], "");
  EXPECT_EQ(f[field_index("TotalRequestTime")], "0");
  EXPECT_EQ(f[field_index("GenericInfo")], "");

  r.x_request_type.clear();
  r.x_client_info = "CI";
  r.x_request_id = "R";
  EXPECT_EQ(fields_of(format_line(r, {}))[field_index("ClientRequestId")], "R:R;CI:CI");
}

TEST(Format, HostileValuesCannotForgeColumnsOrLines) {
  auto r = mapi_execute();
  r.user_agent = "evil,\"x\"\r\n2026-01-01T00:00:00.000Z,forged";
  r.authenticated_user = "\"CONTOSO\\mallory";  // opens a quoted field unless quoted itself
  r.url_query = "?a=1,2\tb\x7f\x01";
  r.generic_errors = "e1,e2\ne3";
  r.x_client_info = "ci;RT:Execute";
  const auto line = format_line(r, {});
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\r'), 1);
  for (const char c : line.substr(0, line.size() - 2)) {
    EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << int(c);
  }
  // RFC 4180: commas and quotes kept, in quoted fields; line breaks and controls are spaces.
  const auto f = fields_of(line);
  ASSERT_EQ(f.size(), 74u);
  EXPECT_EQ(f[field_index("UserAgent")], "evil,\"x\"  2026-01-01T00:00:00.000Z,forged");
  EXPECT_EQ(f[field_index("AuthenticatedUser")], "\"CONTOSO\\mallory");
  EXPECT_EQ(f[field_index("UrlQuery")], "?a=1,2 b  ");
  EXPECT_EQ(f[field_index("GenericErrors")], "e1,e2 e3");
  EXPECT_EQ(f[field_index("ClientRequestId")],
            "R:{1b7dabb2-1111-2222-3333-444455556666}:2;RT:Execute;CI:ci RT:Execute");
  EXPECT_NE(line.find("\"\"\"CONTOSO\\mallory\""), std::string::npos) << line;

  // Two such lines read back as two rows of 74 fields, the way PowerShell 7 and Windows
  // PowerShell 5.1 read a file.
  const auto text = header_block(test_time(), "v") + line + line;
  const auto csv = accesslog_test::read_csv(text);
  ASSERT_EQ(csv.rows.size(), 2u);
  EXPECT_EQ(csv.widths, (std::vector<std::size_t>{74, 74}));
  EXPECT_EQ(csv.rows[1].at("AuthenticatedUser"), "\"CONTOSO\\mallory");
  const auto ps51 = testing_support::read_csv_as_windows_powershell(text);
  ASSERT_EQ(ps51.rows.size(), 2u + 5u);  // the five '#' lines are rows there
  EXPECT_EQ(ps51.columns.size(), 74u);
  EXPECT_EQ(ps51.rows.back().at("UserAgent"), "evil,\"x\"  2026-01-01T00:00:00.000Z,forged");
}

TEST(Format, GenericInfoKeysAndValuesSanitised) {
  record r;
  r.generic_info = {{"k;=,", "v=1;x,\r\n"}, {"Plain", "ok"}, {"", ""}};
  EXPECT_EQ(fields_of(format_line(r, {}))[field_index("GenericInfo")], "k  ,=v 1 x,  ;Plain=ok;=;");
}

TEST(Format, NewRequestIdIsRandomLowercaseGuid) {
  const std::regex guid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = new_request_id();
    EXPECT_TRUE(std::regex_match(id, guid)) << id;
    seen.insert(id);
  }
  std::string other;
  std::thread([&] { other = new_request_id(); }).join();
  seen.insert(other);
  EXPECT_EQ(seen.size(), 1001u);
}

}  // namespace
}  // namespace accesslog

namespace {

TEST(Format, ProtocolForPathNamesExchangesVdirs) {
  const std::pair<std::string_view, std::string_view> rows[] = {
      {"/mapi/emsmdb/", "Mapi"},
      {"/MAPI/nspi/", "Mapi"},
      {"/mapi/healthcheck.htm", "Mapi"},
      {"/mapi", "Mapi"},
      {"/mapi?x", "Mapi"},
      {"/Autodiscover/Autodiscover.xml", "Autodiscover"},
      {"/EWS/Exchange.asmx", "Ews"},
      {"/rpc/rpcproxy.dll", "RpcHttp"},
      {"/Microsoft-Server-ActiveSync", "Eas"},
      {"/mapix/", "Unknown"},
      {"/", "Unknown"},
      {"", "Unknown"},
      {"mapi/emsmdb", "Unknown"},
      {"http://evil/mapi", "Unknown"},
  };
  for (const auto& [path, protocol] : rows)
    EXPECT_EQ(accesslog::protocol_for_path(path), protocol) << path;
}

}  // namespace
