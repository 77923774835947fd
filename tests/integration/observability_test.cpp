// HttpProxy logs and Prometheus metrics, through real sockets: what an Exchange admin's tooling
// (CSS-Exchange log scripts, promtool) reads from a running mapigate.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "tests/support/admin.hpp"
#include "tests/support/csv.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/shell.hpp"
#include "tests/support/sims.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The session cookies a MAPI client keeps: every response may rotate some of them.
struct cookie_jar {
  std::map<std::string, std::string> values;
  void take(const http_response& r) {
    std::istringstream in(cookies_from(r));
    for (std::string pair; std::getline(in, pair, ';');) {
      const auto start = pair.find_first_not_of(' ');
      const auto eq = pair.find('=');
      if (start == std::string::npos || eq == std::string::npos) continue;
      values[pair.substr(start, eq - start)] = pair.substr(eq + 1);
    }
  }
  std::string header() const {
    std::string h = "Cookie: ";
    for (const auto& [k, v] : values)
      h += k + "=" + v + "; ";
    h.resize(h.size() - 2);
    return h + "\r\n";
  }
};

/// NTLM handshake on `c` as Outlook does it, ending with a Connect for `mailbox`. Returns the
/// session's cookies.
cookie_jar ntlm_connect(test_client& c, const std::string& mailbox, const std::string& user) {
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "PING", "",
                      "Authorization: NTLM " + sim::ntlm_type1_b64() + "\r\n"));
  EXPECT_EQ(c.read_response().status, 401);
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Connect", "connect",
                      "Authorization: NTLM " + sim::ntlm_type3_b64("CORP", user) + "\r\n"));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-ResponseCode"), "0");
  cookie_jar jar;
  jar.take(r);
  return jar;
}

void execute(test_client& c, const std::string& mailbox, cookie_jar& jar,
             const std::string& extra = {}) {
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Execute", "rops", jar.header() + extra));
  const auto r = c.read_response(10s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-ResponseCode"), "0");
  jar.take(r);
}

TEST(HttpProxyLog, FindFrontEndActivityFilterFindsExactlyTheSlowExecutesOfOneUser) {
  sim::options slow_o;
  slow_o.require_auth = true;
  slow_o.execute_delay = 400ms;
  sim::options fast_o;
  fast_o.require_auth = true;
  auto slow = start_sim("slow", slow_o);
  auto fast = start_sim("fast", fast_o);
  temp_dir logs;
  std::size_t requests = 0;
  {
    gateway gw({.backends = {{"slow", slow->port()}, {"fast", fast->port()}},
                .routes_yaml = "routes:\n  - mailbox: s@corp.test\n    backend: slow\n"
                               "  - mailbox: f@corp.test\n    backend: fast\n"
                               "  - default: true\n    pool: dag1\n",
                .logs_yaml = "  directory: " + logs.path().string() + "\n"});
    auto alice_slow = gw.client();
    auto as = ntlm_connect(alice_slow, "s@corp.test", "alice");
    execute(alice_slow, "s@corp.test", as);
    execute(alice_slow, "s@corp.test", as);
    auto alice_fast = gw.client();
    auto af = ntlm_connect(alice_fast, "f@corp.test", "alice");
    execute(alice_fast, "f@corp.test", af);
    execute(alice_fast, "f@corp.test", af);
    auto bob = gw.client();
    auto bs = ntlm_connect(bob, "s@corp.test", "bob");
    // A hostile User-Agent: commas, a quote and a line break must not forge a column or a row.
    execute(bob, "s@corp.test", bs, "User-Agent: \"evil\", RT:Execute,CORP\\alice,9999\r\n");
    execute(bob, "s@corp.test", bs);
    requests = 3 * 4;
    // The graceful stop flushes every queued record.
  }

  const auto folder = logs.path() / "HttpProxy" / "Mapi";
  std::vector<std::map<std::string, std::string>> rows, rows_ps51;
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    ++files;
    const auto name = entry.path().filename().string();
    EXPECT_TRUE(std::regex_match(name, std::regex(R"(HttpProxy_\d{10}-\d+\.LOG)"))) << name;
    const auto text = read_text(entry.path());
    const auto lines = crlf_lines(text);
    ASSERT_GE(lines.size(), 6u);
    // The bare header first, as Exchange writes it; then the '#' lines.
    EXPECT_TRUE(lines[0].starts_with("DateTime,RequestId,MajorVersion,")) << lines[0];
    EXPECT_TRUE(lines[1].starts_with("#Software: ")) << lines[1];
    EXPECT_TRUE(lines[2].starts_with("#Version: ")) << lines[2];
    EXPECT_EQ(lines[3], "#Log-type: HttpProxy Logs");
    EXPECT_TRUE(
        std::regex_match(lines[4], std::regex(R"(#Date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << lines[4];
    EXPECT_EQ(lines[5], "#Fields: " + lines[0]);
    const auto csv = read_csv(text);
    EXPECT_EQ(csv.columns.size(), 74u);
    for (const auto w : csv.widths)
      EXPECT_EQ(w, 74u);
    rows.insert(rows.end(), csv.rows.begin(), csv.rows.end());
    // Windows PowerShell 5.1 (first line the header, '#' lines kept as rows) sees the same
    // columns; its '#' rows are filtered out by any filter on the columns below.
    const auto ps51 = read_csv_as_windows_powershell(text);
    EXPECT_EQ(ps51.columns, csv.columns);
    rows_ps51.insert(rows_ps51.end(), ps51.rows.begin(), ps51.rows.end());
  }
  EXPECT_GE(files, 1u);
  ASSERT_EQ(rows.size(), requests);

  // FindFrontEndActivity's filter: ClientRequestId contains RT:Execute, the user ends in
  // \alice, TotalRequestTime above a threshold.
  const auto find_front_end_activity = [](const auto& all) {
    std::vector<std::map<std::string, std::string>> hits;
    for (const auto& r : all) {
      const auto& user = r.at("AuthenticatedUser");
      if (r.at("ClientRequestId").find("RT:Execute") != std::string::npos &&
          user.ends_with("\\alice") && std::atoi(r.at("TotalRequestTime").c_str()) > 250)
        hits.push_back(r);
    }
    return hits;
  };
  const auto hits = find_front_end_activity(rows);
  ASSERT_EQ(hits.size(), 2u);
  // The same filter, on the rows as Windows PowerShell 5.1 reads the files, finds the same.
  EXPECT_EQ(find_front_end_activity(rows_ps51), hits);
  for (const auto& h : hits) {
    EXPECT_EQ(h.at("TargetServer"), "slow");
    EXPECT_EQ(h.at("Protocol"), "Mapi");
    EXPECT_EQ(h.at("Method"), "POST");
    EXPECT_EQ(h.at("HttpStatus"), "200");
    EXPECT_EQ(h.at("BackEndStatus"), "200");
    EXPECT_EQ(h.at("AuthenticationType"), "NTLM");
    EXPECT_EQ(h.at("IsAuthenticated"), "true");
    EXPECT_EQ(h.at("AuthenticatedUser"), "CORP\\alice");
    EXPECT_EQ(h.at("AnchorMailbox"), "Smtp~s@corp.test");
    EXPECT_EQ(h.at("UrlHost"), internal_host);
    EXPECT_EQ(h.at("UrlStem"), "/mapi/emsmdb/");
    EXPECT_TRUE(h.at("UrlQuery").starts_with("?")) << h.at("UrlQuery");
    EXPECT_EQ(h.at("ClientRequestId").substr(0, 2), "R:");
    EXPECT_EQ(h.at("ProxyAction"), "Proxy");
    // As Exchange says where its anchor came from: the URL's MailboxId, an SMTP address; the
    // explicit route is in GenericInfo.
    EXPECT_EQ(h.at("RoutingHint"), "Url-SMTP");
    EXPECT_NE(h.at("GenericInfo").find("Route=mailbox"), std::string::npos) << h.at("GenericInfo");
    EXPECT_EQ(h.at("ServerHostName"), "fe01.corp.test");
    EXPECT_EQ(h.at("ClientIpAddress"), "127.0.0.1");
    EXPECT_GT(std::stoi(h.at("RequestBytes")), 0);
    EXPECT_GT(std::stoi(h.at("ResponseBytes")), 0);
    EXPECT_GE(std::stoi(h.at("BackendProcessingLatency")), 0);
    EXPECT_NE(h.at("GenericInfo").find("X-ResponseCode=0"), std::string::npos)
        << h.at("GenericInfo");
    EXPECT_NE(h.at("GenericInfo").find("Pinned=true"), std::string::npos) << h.at("GenericInfo");
    EXPECT_TRUE(std::regex_match(h.at("RequestId"), std::regex("[0-9a-f-]{36}")));
  }
  // The challenge legs are logged too, as not authenticated.
  std::size_t challenges = 0;
  for (const auto& r : rows)
    if (r.at("HttpStatus") == "401") {
      ++challenges;
      EXPECT_EQ(r.at("IsAuthenticated"), "false");
    }
  EXPECT_EQ(challenges, 3u);
}

std::string scrape(std::uint16_t admin_port) {
  auto c = test_client::plain(admin_port);
  c.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.header("Content-Type").starts_with("text/plain; version=0.0.4"));
  return r.body;
}

TEST(Metrics, ScrapePassesPromtoolAndCountersMoveByExactlyTheRequestsSent) {
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}});
  ASSERT_NE(gw.admin_port(), 0);
  const std::string execute_ok =
      R"(mapigate_requests_total{code_class="2xx",mapi_namespace="internal",request_type="Execute",vdir="emsmdb"})";
  const std::string backend_ok =
      R"(mapigate_backend_requests_total{backend="mbx01",code_class="2xx",vdir="emsmdb"})";
  const std::string code_0 = R"(mapigate_mapi_responses_total{mapi_code="0"})";
  const std::string execute_time =
      R"(mapigate_request_duration_seconds_count{request_type="Execute",vdir="emsmdb"})";
  const std::string not_found =
      R"(mapigate_requests_total{code_class="4xx",mapi_namespace="internal",request_type="none",vdir="other"})";

  const auto before = scrape(gw.admin_port());
  EXPECT_EQ(sample(before, execute_ok), 0);
  EXPECT_EQ(sample(before, R"(mapigate_backend_up{backend="mbx01"})"), 1);

  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  cookie_jar cookie;
  cookie.take(c.read_response());
  constexpr int executes = 5;
  for (int i = 0; i < executes; ++i)
    execute(c, "u@corp.test", cookie);
  c.send("GET /owa/ HTTP/1.1\r\nHost: " + std::string(internal_host) + "\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 404);
  ASSERT_TRUE(eventually([&] { return gw.server().active_requests() == 0; }));

  // A request's metrics are recorded just after its response is written: the 404, sent last on
  // this connection, being counted means every request before it is too.
  std::string after;
  ASSERT_TRUE(eventually([&] {
    after = scrape(gw.admin_port());
    return sample(after, not_found) == 1;
  }));
  EXPECT_EQ(sample(after, execute_ok), executes);
  EXPECT_EQ(sample(after, backend_ok), executes + 1);  // and the Connect
  EXPECT_EQ(sample(after, code_0), executes + 1);
  EXPECT_EQ(sample(after, execute_time), executes);
  EXPECT_EQ(sample(after, not_found), 1);
  EXPECT_EQ(sample(after, R"(mapigate_tls_handshakes_total{result="ok",version="TLSv1.3"})"), 1);
  EXPECT_EQ(sample(after, R"(mapigate_upstream_connect_duration_seconds_count{backend="mbx01"})"),
            1);  // one backend connection, kept alive for all six
  EXPECT_EQ(sample(after, "mapigate_client_connections"), 1);
  EXPECT_EQ(sample(after, R"(mapigate_upstream_connections{backend="mbx01"})"), 1);
  EXPECT_EQ(sample(after, R"(mapigate_config_reloads_total{result="success"})"), 1);
  EXPECT_NE(after.find("mapigate_build_info{"), std::string::npos);

  // promtool, Prometheus' own linter, accepts the exposition.
  temp_dir dir;
  const auto file = dir.file("scrape.prom");
  std::ofstream(file, std::ios::binary) << after;
  const auto lint = run_shell("promtool check metrics < " + file);
  EXPECT_EQ(lint.status, 0) << lint.output;

  // Only /metrics on the admin listener, and never /metrics on a data listener.
  auto admin = test_client::plain(gw.admin_port());
  admin.send("GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(admin.read_response().status, 404);
  admin.send("POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(admin.read_response().status, 405);
  c.send("GET /metrics HTTP/1.1\r\nHost: " + std::string(internal_host) + "\r\n\r\n");
  const auto data = c.read_response();
  EXPECT_EQ(data.status, 404);
  EXPECT_EQ(data.body.find("mapigate_"), std::string::npos);
}

// Prometheus asks for gzip; the page is the same once inflated. Process metrics are there.
TEST(Metrics, ScrapeIsGzippedWhenAskedAndCarriesProcessMetrics) {
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}});
  temp_dir dir;
  const auto url = "http://127.0.0.1:" + std::to_string(gw.admin_port()) + "/metrics";
  const auto headers = dir.file("headers");
  const auto packed =
      run_shell("curl -s --max-time 10 -D " + headers + " -H 'Accept-Encoding: gzip' -o " +
                dir.file("page.gz") + " " + url + " && gzip -dc " + dir.file("page.gz"));
  ASSERT_EQ(packed.status, 0) << packed.output;
  EXPECT_NE(read_file(headers).find("Content-Encoding: gzip"), std::string::npos);
  EXPECT_NE(read_file(headers).find("Vary: Accept-Encoding"), std::string::npos);
  EXPECT_NE(packed.output.find("# TYPE mapigate_requests_total counter"), std::string::npos);
  for (const char* name : {"process_cpu_seconds_total ", "process_open_fds ", "process_max_fds ",
                           "process_resident_memory_bytes ", "process_virtual_memory_bytes ",
                           "process_start_time_seconds "})
    EXPECT_NE(packed.output.find(std::string("\n") + name), std::string::npos) << name;
  EXPECT_GT(sample(packed.output, "process_open_fds"), 3);
  // Without Accept-Encoding: plain text.
  const auto plain = run_shell("curl -s --max-time 10 -D " + headers + " " + url);
  EXPECT_EQ(read_file(headers).find("Content-Encoding"), std::string::npos);
  EXPECT_NE(plain.output.find("# TYPE mapigate_requests_total counter"), std::string::npos);
}

// Each listener certificate's notAfter is a gauge (the alert MapigateCertificateExpiresSoon
// reads it): here the test certificate, issued for 90 days.
TEST(Metrics, ListenerCertificateExpiryIsExported) {
  auto mbx = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", mbx->port()}}});
  const auto text = metrics_text(gw.admin_port());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      text, m,
      std::regex(R"re(mapigate_certificate_expiry_timestamp_seconds\{certificate="([^"]+)",)re"
                 R"re(listener="front"\} ([0-9.e+]+))re")))
      << text;
  const double expires = std::stod(m[2]);
  const double now = double(std::time(nullptr));
  EXPECT_GT(expires, now + 85 * 86400.0);
  EXPECT_LT(expires, now + 95 * 86400.0);
}

TEST(Metrics, ConnectFailureEjectsTheBackendAndIsCounted) {
  auto up = start_sim("mbx01");
  std::uint16_t dead_port = 0;
  {
    auto gone = start_sim("mbx02");
    dead_port = gone->port();
  }
  gateway gw({.backends = {{"mbx01", up->port()}, {"mbx02", dead_port}},
              .routes_yaml = "routes:\n  - mailbox: d@corp.test\n    backend: mbx02\n"
                             "  - default: true\n    pool: dag1\n",
              .extra_yaml = "health:\n  active: false\n  eject_after: 1\n"});
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "d@corp.test", "Connect", "x"));
  EXPECT_EQ(c.read_response().status, 502);
  const std::string refused =
      R"(mapigate_backend_requests_total{backend="none",code_class="5xx",vdir="emsmdb"})";
  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = scrape(gw.admin_port());
    return sample(text, refused) == 1;  // recorded just after the response was written
  }));
  EXPECT_EQ(sample(text, R"(mapigate_backend_up{backend="mbx02"})"), 0);
  EXPECT_EQ(sample(text, R"(mapigate_backend_up{backend="mbx01"})"), 1);
  EXPECT_EQ(sample(text, R"(mapigate_upstream_connect_errors_total{backend="mbx02"})"), 1);
}

}  // namespace
}  // namespace testing_support
