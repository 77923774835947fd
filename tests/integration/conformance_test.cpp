// What outside conformance tools check, through real sockets: an HTTP/2 connection error ends
// the connection at once (GOAWAY, then close), framing errors on paths mapigate answers itself
// are HTTP's 400 and close, cookie crumbs reach HTTP/1.1 as one field, mapigate's own answers
// carry Date, and an HTTP/0.9 request line is answered at once.
#include <gtest/gtest.h>

#include <ctime>
#include <iomanip>
#include <regex>
#include <sstream>
#include <string>

#include "tests/support/admin.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/h2_client.hpp"
#include "tests/support/recording_backend.hpp"
#include "tests/support/sims.hpp"

namespace testing_support {
namespace {

/// A gateway whose idle limits are long, so that only the behaviour under test closes.
std::unique_ptr<gateway> conformance_gateway(std::uint16_t backend) {
  return std::make_unique<gateway>(
      gateway_options{.backends = {{"mbx01", backend}},
                      .timeouts = {{"keepalive_idle", "120s"}, {"header_read", "30s"}},
                      .listener_alpn = "[h2, http/1.1]"});
}

h2_test_client h2_connect(gateway& gw) {
  return h2_test_client(gw.port(), internal_host, test_pki::instance().ca_file());
}

std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  const std::string& payload) {
  std::string f;
  const auto n = payload.size();
  f += char(n >> 16);
  f += char(n >> 8);
  f += char(n);
  f += char(type);
  f += char(flags);
  f += char(stream >> 24);
  f += char(stream >> 16);
  f += char(stream >> 8);
  f += char(stream);
  return f + payload;
}

// ---- HTTP/2 connection errors: GOAWAY, then the connection closes at once ----

struct connection_error {
  const char* name;
  std::string frame;
  std::uint32_t goaway_code;
};

/// gtest prints the case by its name.
void PrintTo(const connection_error& c, std::ostream* os) {
  *os << c.name;
}

class H2ConnectionError : public ::testing::TestWithParam<connection_error> {};

TEST_P(H2ConnectionError, IsAnsweredWithGoawayAndTheConnectionClosesAtOnce) {
  const auto& p = GetParam();
  recording_backend be;
  auto gw = conformance_gateway(be.port());
  auto c = h2_connect(*gw);
  // As h2spec does: the SETTINGS exchange is over and the server waits for the next frame.
  ASSERT_TRUE(c.ping());
  c.send_raw(p.frame);
  // keepalive_idle is 120 s and the client stays silent: only the error may close it.
  EXPECT_TRUE(c.run_until([&] { return c.connection_closed(); }, 3s));
  EXPECT_TRUE(c.goaway_received());
  EXPECT_EQ(c.goaway_code(), p.goaway_code);
  const std::string code = p.goaway_code == 6 ? "frame_size_error" : "protocol_error";
  EXPECT_TRUE(eventually([&] {
    return metrics_text(gw->admin_port())
               .find("mapigate_http2_connection_errors_total{code=\"" + code + "\"} 1") !=
           std::string::npos;
  }));
}

INSTANTIATE_TEST_SUITE_P(
    Frames, H2ConnectionError,
    ::testing::Values(
        connection_error{"PingOnStream3", frame(6, 0, 3, std::string(8, 'p')), 1},
        connection_error{"PingOfLength6", frame(6, 0, 0, std::string(6, 'p')), 6},
        connection_error{"WindowUpdateOfZero", frame(8, 0, 0, std::string(4, '\0')), 1},
        connection_error{"SettingsOnStream1", frame(4, 0, 1, ""), 1},
        connection_error{"DataOnStream0", frame(0, 1, 0, "x"), 1},
        // :method GET, :path /, :scheme https from HPACK's static table; END_HEADERS|END_STREAM.
        connection_error{"HeadersOnAnEvenStream", frame(1, 5, 2, "\x82\x84\x87"), 1}),
    [](const auto& tp) { return std::string(tp.param.name); });

// ---- A graceful GOAWAY in two steps ----

/// An HPACK field "literal without indexing": a static-table name index (0: a new name).
std::string literal(int name_index, const std::string& name, const std::string& value) {
  std::string f(1, char(name_index));
  if (name_index == 0) f += char(name.size()) + name;
  return f + char(value.size()) + value;
}

TEST(H2Goaway, ARequestSentBeforeTheClientSawTheNoticeIsStillServed) {
  auto mbx = start_sim("mbx01");
  auto gw = conformance_gateway(mbx->port());
  auto c = h2_connect(*gw);
  EXPECT_EQ(c.wait(c.request("GET", "/mapi/healthcheck.htm", internal_host)).status, 200);
  ASSERT_TRUE(gw->server().reload(gw->config_file()));
  ASSERT_TRUE(c.run_until([&] { return c.goaway_received(); }, 3s));
  ASSERT_FALSE(c.goaway_last_streams().empty());
  EXPECT_EQ(c.goaway_last_streams().front(), 0x7fffffff);  // a notice: nothing refused yet
  // A request that was on its way: a new stream the client opened before the notice arrived
  // (hand-made: nghttp2's client opens none after a GOAWAY). POST, https, path, authority.
  const std::string block = std::string("\x83\x87") +
                            literal(4, "", "/mapi/emsmdb/?MailboxId=late@corp.test") +
                            literal(1, "", internal_host) + literal(0, "x-requesttype", "PING") +
                            literal(0, "x-requestid", "{C715155F-2BE8-44E0-BD34-2960065754C8}:9");
  c.send_raw(frame(1, 5, 101, block));
  EXPECT_TRUE(mbx->wait_for_requests(1, 3s));  // served, not refused
  const auto seen = mbx->requests();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().target, "/mapi/emsmdb/?MailboxId=late@corp.test");
  // Then the final GOAWAY, and the connection ends.
  EXPECT_TRUE(c.run_until([&] { return c.connection_closed(); }, 5s));
}

// ---- An answer before the request body: the client is told to stop sending, without error ----

TEST(H2EarlyAnswer, ARefusalBeforeTheBodyEndsTheStreamWithNoError) {
  recording_backend be;
  auto gw = conformance_gateway(be.port());
  auto c = h2_connect(*gw);
  // content-length announced, the body held back: mapigate refuses on the head (421).
  const auto id = c.request("POST", "/mapi/emsmdb/?MailboxId=u@corp.test", "evil.test",
                            h2_test_client::mapi_headers("Execute"), std::string(4096, 'x'), true);
  const auto& r = c.wait(id);
  EXPECT_EQ(r.status, 421);
  EXPECT_TRUE(r.reset_received);  // RST_STREAM after the complete answer (RFC 9113 §8.1)
  EXPECT_EQ(r.error_code, 0u);    // NO_ERROR: the client keeps the answer
  EXPECT_TRUE(be.connections().empty());
}

// ---- HTTP/1.1 framing errors on every path, local answers included ----

class H1FramingOnEveryPath : public ::testing::TestWithParam<const char*> {};

TEST_P(H1FramingOnEveryPath, ATransferEncodingNotEndingInChunkedIs400AndClose) {
  recording_backend be;
  auto gw = conformance_gateway(be.port());
  // Beast alone would read this body as the next request: two answers on one connection.
  const std::string next = "GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: mail.corp.test\r\n\r\n";
  for (const char* te : {"gzip", "chunked, identity"}) {
    SCOPED_TRACE(te);
    auto c = gw->client();
    c.send(std::string(GetParam()) + "Transfer-Encoding: " + te + "\r\n\r\n" + next);
    EXPECT_EQ(c.read_response().status, 400);
    EXPECT_TRUE(c.wait_closed(2s));  // and no second answer before the close
  }
  auto c = gw->client();
  c.send(std::string(GetParam()) + "Content-Length: 0, 0\r\n\r\n" + next);
  EXPECT_EQ(c.read_response().status, 400);
  EXPECT_TRUE(c.wait_closed(2s));
  EXPECT_TRUE(be.connections().empty());
}

std::string path_name(const ::testing::TestParamInfo<const char*>& tp) {
  static constexpr std::string_view names[] = {"HealthCheck", "NotFound", "Misdirected", "Mapi"};
  return std::string(names[tp.index]);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, H1FramingOnEveryPath,
    ::testing::Values(
        "POST /mapi/healthcheck.htm HTTP/1.1\r\nHost: mail.corp.test\r\n",           // health check
        "POST /owa/ HTTP/1.1\r\nHost: mail.corp.test\r\n",                           // 404
        "POST /mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: evil.test\r\n",  // 421
        "POST /mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: mail.corp.test\r\n"
        "X-RequestType: Execute\r\n"),  // MAPI: HTTP's answer, not X-ResponseCode
    path_name);

TEST(H1RequestLine, Http09IsAnsweredAtOnceAndOneEmptyLineBeforeARequestIsIgnored) {
  recording_backend be;
  auto gw = conformance_gateway(be.port());
  {
    auto c = gw->client();
    c.send("GET /\r\n");
    // header_read is 30 s: the answer must not wait for it.
    EXPECT_EQ(c.read_response(2s).status, 400);
    EXPECT_TRUE(c.wait_closed(2s));
  }
  {
    auto c = gw->client();
    c.send("\r\nGET /mapi/healthcheck.htm HTTP/1.1\r\nHost: mail.corp.test\r\n\r\n");
    EXPECT_EQ(c.read_response().status, 200);
    // The connection goes on; a second empty line is not ignored.
    c.send("\r\n\r\nGET /mapi/healthcheck.htm HTTP/1.1\r\nHost: mail.corp.test\r\n\r\n");
    EXPECT_EQ(c.read_response().status, 400);
  }
}

// ---- HTTP/2 cookie crumbs become one Cookie field for the HTTP/1.1 backend ----

TEST(H2Cookies, CrumbsAreJoinedIntoOneFieldForTheBackend) {
  recording_backend be;
  auto gw = conformance_gateway(be.port());
  auto c = h2_connect(*gw);
  auto headers = h2_test_client::mapi_headers("Execute");
  headers.emplace_back("cookie", "MapiContext=a");
  headers.emplace_back("cookie", "MapiSequence=b");
  headers.emplace_back("cookie", "X-BEResource=evil.test/ecp/x.js?~1");
  headers.emplace_back("cookie", "sid=c");
  const auto& r =
      c.wait(c.request("POST", "/mapi/emsmdb/?MailboxId=u@corp.test", internal_host, headers, "x"));
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(be.wait_answered(1, 5s));
  const auto s = parse_requests(be.connections().at(0).bytes);
  ASSERT_EQ(s.requests.size(), 1u);
  int cookies = 0;
  for (const auto& [name, value] : s.requests[0].headers)
    if (name == "Cookie" || name == "cookie") ++cookies;
  EXPECT_EQ(cookies, 1);
  // Joined with "; " (RFC 9113 §8.2.3), ProxyLogon's cookie taken out as on HTTP/1.1.
  EXPECT_EQ(s.requests[0].header("Cookie"), "MapiContext=a; MapiSequence=b; sid=c");
}

// ---- mapigate's own answers carry Date, on both protocols ----

/// Seconds between an IMF-fixdate and now; a large number when it is not one.
long date_skew(const std::string& date) {
  static const std::regex imf(
      R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)");
  if (!std::regex_match(date, imf)) return 1L << 30;
  std::tm tm{};
  std::istringstream in(date);
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
  if (in.fail()) return 1L << 30;
  return std::labs(long(timegm(&tm) - std::time(nullptr)));
}

class LocalAnswers : public ::testing::TestWithParam<bool> {};  // true: HTTP/2

TEST_P(LocalAnswers, CarryDate) {
  recording_backend be;
  auto gw = conformance_gateway(be.port());
  struct target {
    std::string path, host;
    int status;
  };
  const target targets[] = {{"/mapi/healthcheck.htm", internal_host, 200},
                            {"/owa/", internal_host, 404},
                            {"/mapi/healthcheck.htm", "evil.test", 421}};
  for (const auto& t : targets) {
    SCOPED_TRACE(t.path + " " + t.host);
    std::string date;
    if (GetParam()) {
      auto c = h2_connect(*gw);
      const auto& r = c.wait(c.request("GET", t.path, t.host));
      EXPECT_EQ(r.status, t.status);
      date = r.header("date");
    } else {
      auto c = gw->client();
      c.send("GET " + t.path + " HTTP/1.1\r\nHost: " + t.host + "\r\n\r\n");
      const auto r = c.read_response();
      EXPECT_EQ(r.status, t.status);
      date = r.header("Date");
    }
    EXPECT_LE(date_skew(date), 5) << date;
  }
  EXPECT_TRUE(be.connections().empty());
}

INSTANTIATE_TEST_SUITE_P(Protocols, LocalAnswers, ::testing::Bool(),
                         [](const auto& tp) { return tp.param ? "Http2" : "Http11"; });

}  // namespace
}  // namespace testing_support
