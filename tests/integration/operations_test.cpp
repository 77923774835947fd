// Operations on a running mapigate: active health checks, passive ejection, its own health
// check, the admin API (readiness, backends, drain, token), hot reload under traffic, and the
// graceful stop that ends idle connections cleanly.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "tests/support/admin.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/h2_client.hpp"
#include "tests/support/one_request.hpp"
#include "tests/support/shell.hpp"
#include "tests/support/sims.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

/// Fast health checks for tests: a state change within a few hundred milliseconds.
const std::string fast_health =
    "health:\n  interval: 50ms\n  timeout: 40ms\n  rise: 2\n  fall: 2\n";

/// Which simulator answered a Connect for `mailbox` on a fresh connection.
std::string connect_lands_on(gateway& gw, const std::string& mailbox) {
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Connect", "x"));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200) << mailbox;
  return r.header("X-BEServer");
}

TEST(Health, ActiveChecksTakeABackendOutAndBringItBack) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw({.backends = {{"mbx01", a->port()}, {"mbx02", b->port()}}, .extra_yaml = fast_health});
  const auto admin = gw.admin_port();
  EXPECT_TRUE(eventually([&] { return backend_field(admin, "mbx02", "health") == "\"up\""; }));

  b->set_healthy(false);
  ASSERT_TRUE(eventually([&] { return backend_field(admin, "mbx02", "health") == "\"down\""; }));
  EXPECT_EQ(backend_field(admin, "mbx02", "usable"), "false");
  // New sessions all go to the healthy server; mapigate itself stays healthy.
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(connect_lands_on(gw, "user" + std::to_string(i) + "@corp.test"), "mbx01") << i;
  auto c = gw.client();
  c.send("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: " + std::string(internal_host) + "\r\n\r\n");
  EXPECT_EQ(c.read_response().status, 200);

  b->set_healthy(true);
  ASSERT_TRUE(eventually([&] { return backend_field(admin, "mbx02", "health") == "\"up\""; }));
  std::set<std::string> seen;
  for (int i = 0; i < 12; ++i)
    seen.insert(connect_lands_on(gw, "user" + std::to_string(i) + "@corp.test"));
  EXPECT_EQ(seen.size(), 2u);
  const auto metrics = admin_call(admin, "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(mapigate_health_checks_total{backend="mbx02",result="fail"})"),
            std::string::npos);
}

TEST(Health, OwnHealthCheckAndReadinessFollowTheBackends) {
  auto a = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", a->port()}}, .extra_yaml = fast_health});
  const auto admin = gw.admin_port();
  auto check = [&] {
    auto c = gw.client();
    c.send("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: " + std::string(internal_host) +
           "\r\n\r\n");
    return c.read_response();
  };
  EXPECT_EQ(check().body, "200 OK<br/>fe01.corp.test");
  EXPECT_EQ(admin_call(admin, "GET", "/readyz").status, 200);
  EXPECT_EQ(admin_call(admin, "GET", "/healthz").status, 200);
  // A backend whose own check fails still serves its sessions (it drains): mapigate stays in
  // the balancer's rotation.
  a->set_healthy(false);
  ASSERT_TRUE(eventually([&] { return backend_field(admin, "mbx01", "health") == "\"down\""; }));
  EXPECT_EQ(check().status, 200);
  EXPECT_EQ(admin_call(admin, "GET", "/readyz").status, 200);
  // Only when no backend can be reached does it ask the balancer to move on.
  const auto port = a->port();
  a->stop();
  EXPECT_TRUE(eventually([&] { return check().status == 503; }));
  EXPECT_EQ(backend_field(admin, "mbx01", "reachable"), "false");
  EXPECT_EQ(admin_call(admin, "GET", "/readyz").status, 503);
  EXPECT_EQ(admin_call(admin, "GET", "/healthz").status, 200);  // alive, just not ready
  // Kubernetes' probe asks about this instance only: an Exchange outage keeps it in the Service.
  EXPECT_EQ(admin_call(admin, "GET", "/readyz?exclude=backends").status, 200);
  EXPECT_EQ(admin_call(admin, "GET", "/readyz?verbose&exclude=backends").status, 200);
  EXPECT_EQ(admin_call(admin, "GET", "/readyz?exclude=backendsX").status, 503);
  EXPECT_EQ(admin_call(admin, "GET", "/readyz?exclude=other").status, 503);
  sim::options o;
  o.port = port;
  auto back = start_sim("mbx01", o);
  EXPECT_TRUE(eventually([&] { return check().status == 200; }));
}

TEST(Health, RepeatedConnectFailuresEjectABackend) {
  auto live = start_sim("mbx01");
  std::uint16_t dead_port = 0;
  {
    auto gone = start_sim("mbx02");
    dead_port = gone->port();
  }
  gateway gw({.backends = {{"mbx01", live->port()}, {"mbx02", dead_port}},
              .extra_yaml = "health:\n  active: false\n  eject_after: 2\n  eject_for: 60s\n"});
  const auto admin = gw.admin_port();
  // Find mailboxes whose hash order starts at the dead server: they fail over to the live one.
  int failures = 0;
  for (int i = 0; i < 40 && failures < 2; ++i) {
    const auto before = admin_call(admin, "GET", "/metrics").body;
    EXPECT_EQ(connect_lands_on(gw, "m" + std::to_string(i) + "@corp.test"), "mbx01");
    const auto after = admin_call(admin, "GET", "/metrics").body;
    if (before != after &&
        after.find(R"(mapigate_upstream_connect_errors_total{backend="mbx02"} )" +
                   std::to_string(failures + 1)) != std::string::npos)
      ++failures;
  }
  ASSERT_EQ(failures, 2);
  EXPECT_EQ(backend_field(admin, "mbx02", "ejected"), "true");
  const auto metrics = admin_call(admin, "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(mapigate_backend_ejections_total{backend="mbx02"} 1)"),
            std::string::npos);
  // Ejected: no more connect attempts while other servers are usable.
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(connect_lands_on(gw, "n" + std::to_string(i) + "@corp.test"), "mbx01");
  EXPECT_NE(admin_call(admin, "GET", "/metrics")
                .body.find(R"(mapigate_upstream_connect_errors_total{backend="mbx02"} 2)"),
            std::string::npos);
}

TEST(Admin, CordonKeepsSessionsAndSendsNewOnesElsewhere) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw({.backends = {{"mbx01", a->port()}, {"mbx02", b->port()}},
              .affinity_key = test_affinity_key});
  const auto admin = gw.admin_port();
  // A session on mbx02.
  std::string mailbox;
  std::string cookies;
  for (int i = 0; i < 40 && mailbox.empty(); ++i) {
    auto c = gw.client();
    const auto m = "s" + std::to_string(i) + "@corp.test";
    c.send(mapi_request(internal_host, "emsmdb", m, "Connect", "x"));
    const auto r = c.read_response();
    if (r.header("X-BEServer") == "mbx02") {
      mailbox = m;
      cookies = cookies_from(r);
    }
  }
  ASSERT_FALSE(mailbox.empty());

  const auto cordoned = admin_call(admin, "POST", "/backends/mbx02/cordon");
  EXPECT_EQ(cordoned.status, 200);
  EXPECT_EQ(backend_field(admin, "mbx02", "cordoned"), "true");
  EXPECT_EQ(admin_call(admin, "GET", "/backends/mbx02/cordon").status, 405);
  EXPECT_EQ(admin_call(admin, "POST", "/backends/nope/cordon").status, 404);

  // The session stays where its context is...
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", mailbox, "Execute", "x",
                      "Cookie: " + cookies + "\r\n"));
  const auto r = c.read_response();
  EXPECT_EQ(r.header("X-BEServer"), "mbx02");
  EXPECT_EQ(r.header("X-ResponseCode"), "0");
  // ...new sessions go elsewhere.
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(connect_lands_on(gw, "new" + std::to_string(i) + "@corp.test"), "mbx01") << i;

  EXPECT_EQ(admin_call(admin, "POST", "/backends/mbx02/uncordon").status, 200);
  EXPECT_EQ(backend_field(admin, "mbx02", "cordoned"), "false");
}

TEST(Admin, BearerTokenGuardsAllButLivenessAndReadiness) {
  auto a = start_sim("mbx01");
  temp_dir dir;
  const auto token_file = dir.file("admin.token");
  write_file(token_file, "s3cr3t-admin-token-0123456789\n");
  gateway gw({.backends = {{"mbx01", a->port()}},
              .extra_yaml = "admin:\n  address: 127.0.0.1:0\n  token_file: " + token_file + "\n"});
  const auto admin = gw.admin_port();
  EXPECT_EQ(admin_call(admin, "GET", "/metrics").status, 401);
  EXPECT_EQ(admin_call(admin, "GET", "/backends", "Authorization: Bearer wrong\r\n").status, 401);
  EXPECT_EQ(admin_call(admin, "POST", "/backends/mbx01/cordon").status, 401);
  EXPECT_EQ(admin_call(admin, "GET", "/metrics",
                       "Authorization: Bearer s3cr3t-admin-token-0123456789\r\n")
                .status,
            200);
  EXPECT_EQ(admin_call(admin, "GET", "/healthz").status, 200);
  EXPECT_EQ(admin_call(admin, "GET", "/readyz").status, 200);
}

TEST(Reload, RepeatedReloadsUnderTrafficFailNoRequest) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway_options one{.backends = {{"mbx01", a->port()}}};
  gateway_options two{.backends = {{"mbx01", a->port()}, {"mbx02", b->port()}}};
  // The second config also swaps the certificate for one with an extra name.
  two.certificates = {
      test_pki::instance().issue("reloaded", {internal_host, external_host, "reloaded.corp.test"})};
  gateway gw(one);
  temp_dir dir;
  const auto file_one = dir.file("one.yaml");
  const auto file_two = dir.file("two.yaml");
  write_file(file_one, gateway_yaml(one, dir.path().string()));
  write_file(file_two, gateway_yaml(two, dir.path().string()));

  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      for (int i = 0; i < 400 && !done && std::chrono::steady_clock::now() < deadline; ++i) {
        try {
          // Alternate fresh and kept-alive connections.
          auto c = gw.client();
          for (int k = 0; k < 3; ++k) {
            c.send(mapi_request(internal_host, "emsmdb",
                                "u" + std::to_string(t) + "-" + std::to_string(i) + "@corp.test",
                                "Connect", "x"));
            const auto r = c.read_response();
            if (r.status == 200 && r.header("X-ResponseCode") == "0")
              ++ok;
            else
              ++failed;
          }
        } catch (const std::exception&) {
          ++failed;
        }
      }
    });
  int reloads = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(gw.server().reload(i % 2 ? file_one : file_two)) << i;
    ++reloads;
    std::this_thread::sleep_for(20ms);  // pacing between reloads, not a synchronisation
  }
  done = true;
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(ok, 0);
  EXPECT_EQ(reloads, 20);
  // The last reload (i = 19, odd) loaded `one`; load `two` and see its certificate.
  ASSERT_TRUE(gw.server().reload(file_two));
  const auto names = gw.client().peer_certificate_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "reloaded.corp.test"), names.end());
  const auto metrics = admin_call(gw.admin_port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(mapigate_config_reloads_total{result="success"} 22)"),
            std::string::npos);
}

TEST(Reload, BrokenConfigKeepsTheOldOneServing) {
  auto a = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", a->port()}}});
  temp_dir dir;
  const auto broken = dir.file("broken.yaml");
  write_file(broken, "version: 1\nserver_name: x\nlisteners: [\n");
  EXPECT_FALSE(gw.server().reload(broken));
  auto missing_cert = gateway_options{.backends = {{"mbx01", a->port()}}};
  missing_cert.certificates = {{dir.file("nope.pem"), dir.file("nope.key")}};
  const auto bad_cert = dir.file("bad_cert.yaml");
  write_file(bad_cert, gateway_yaml(missing_cert, dir.path().string()));
  EXPECT_FALSE(gw.server().reload(bad_cert));
  EXPECT_EQ(connect_lands_on(gw, "u@corp.test"), "mbx01");
  const auto metrics = admin_call(gw.admin_port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(mapigate_config_reloads_total{result="failure"} 2)"),
            std::string::npos);
}

TEST(Stop, IdleConnectionsEndCleanlyWhileTheRequestInFlightFinishes) {
  sim::options o;
  o.execute_delay = 600ms;
  o.pending_period = 100ms;
  auto a = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", a->port()}}});
  auto idle = gw.client();
  idle.send(mapi_request(internal_host, "emsmdb", "i@corp.test", "PING", ""));
  EXPECT_EQ(idle.read_response().status, 200);
  auto busy = gw.client();
  busy.send(mapi_request(internal_host, "emsmdb", "b@corp.test", "Connect", "x"));
  const auto connect = busy.read_response();
  busy.send(mapi_request(internal_host, "emsmdb", "b@corp.test", "Execute", "x",
                         "Cookie: " + cookies_from(connect) + "\r\n"));
  // In flight means at the backend (PING, Connect, Execute): mapigate's own count may still
  // include the Connect for a moment after its response was read.
  ASSERT_TRUE(a->wait_for_requests(3, 2s));

  std::jthread stopper([&] { gw.server().stop(5s); });  // joined however the test ends
  // The idle keep-alive connection is closed cleanly once the drain's idle window (1 s) is
  // over, not held for the whole drain; the Execute completes.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.wait_closed(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  const auto r = busy.read_response(5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("DONE\r\n"), std::string::npos);
  stopper.join();
}

// A drain as a balancer sees it: while the listeners still accept (accept_grace), the health
// check says the instance is going; a request an idle connection sends meanwhile is answered
// (HTTP/1.1: with Connection: close; HTTP/2: before the GOAWAY), not lost to a close racing it.
class DrainBoth : public ::testing::TestWithParam<bool> {};  // true: HTTP/2

TEST_P(DrainBoth, HealthChecksFailFirstAndAnIdleConnectionsNextRequestIsAnswered) {
  const bool h2 = GetParam();
  auto a = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", a->port()}}, .listener_alpn = "[h2, http/1.1]"});
  const auto ping = mapi_request(internal_host, "emsmdb", "i@corp.test", "PING", "");
  std::optional<test_client> idle;
  std::optional<h2_test_client> idle2;
  auto submit = [&] {
    return idle2->request("POST", "/mapi/emsmdb/?MailboxId=i@corp.test", internal_host,
                          {{"content-type", "application/mapi-http"}, {"x-requesttype", "PING"}},
                          "");
  };
  if (h2) {
    idle2.emplace(gw.port(), internal_host, test_pki::instance().ca_file());
    ASSERT_EQ(idle2->wait(submit()).status, 200);
  } else {
    idle.emplace(gw.client());
    idle->send(ping);
    ASSERT_EQ(idle->read_response().status, 200);
  }

  std::jthread stopper([&] { gw.server().stop(5s, 1500ms); });
  answer check;
  EXPECT_TRUE(eventually(
      [&] {
        check = send_one(h2, gw, "GET", "/mapi/healthcheck.htm", {});
        return check.status == 503;
      },
      1s));
  EXPECT_EQ(check.header("X-FEServer"), "fe01.corp.test");  // a local reply names the instance
  if (h2) {
    const auto& r = idle2->wait(submit());
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(idle2->run_until([&] { return idle2->goaway_received(); }, 3s));
  } else {
    idle->send(ping);
    const auto r = idle->read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.keep_alive);  // Connection: close
    EXPECT_TRUE(idle->wait_closed(2s));
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, DrainBoth, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Http2" : "Http11"; });

TEST(Signal, SighupReloadsAndASecondSigtermEndsTheDrain) {
  sim::options o;
  o.notification_wait = 60s;  // a long-poll that would outlast the drain
  o.pending_period = 200ms;
  auto a = start_sim("mbx01", o);
  auto b = start_sim("mbx02");
  temp_dir dir;
  const auto file = dir.file("mapigate.yaml");
  gateway_options opts{.backends = {{"mbx01", a->port()}}, .timeouts = {{"drain", "60s"}}};
  write_file(file, gateway_yaml(opts, dir.path().string()));
  child_process proc(file);
  // Logged in this order: the admin listener, then the data listeners.
  const auto am = proc.wait_for_line(std::regex("admin listener on 127\\.0\\.0\\.1:([0-9]+)"), 10s);
  ASSERT_FALSE(am.empty()) << "mapigate did not start";
  const auto admin = std::uint16_t(std::stoi(am[1]));
  const auto m = proc.wait_for_line(std::regex("listener front on 127\\.0\\.0\\.1:([0-9]+)"), 5s);
  ASSERT_FALSE(m.empty());
  const auto port = std::uint16_t(std::stoi(m[1]));
  ASSERT_FALSE(proc.wait_for_line(std::regex("ready \\(SIGHUP reloads"), 5s).empty());
  EXPECT_EQ(backend_field(admin, "mbx02", "health"), "");

  opts.backends.push_back({"mbx02", b->port()});
  write_file(file, gateway_yaml(opts, dir.path().string()));
  ASSERT_EQ(::kill(proc.pid(), SIGHUP), 0);
  ASSERT_FALSE(proc.wait_for_line(std::regex("is now in effect"), 5s).empty());
  EXPECT_EQ(backend_field(admin, "mbx02", "health"), "\"up\"");

  write_file(file, "not: [valid");
  ASSERT_EQ(::kill(proc.pid(), SIGHUP), 0);
  ASSERT_FALSE(proc.wait_for_line(std::regex("still serving the previous"), 5s).empty());
  EXPECT_EQ(backend_field(admin, "mbx02", "health"), "\"up\"");

  // A NotificationWait held on mbx01; SIGTERM drains (60 s), a second SIGTERM ends it now.
  auto c = test_client::tls(port, internal_host, test_pki::instance().ca_file());
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  const auto connect = c.read_response();
  ASSERT_EQ(connect.status, 200);
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "NotificationWait", "x",
                      "Cookie: " + cookies_from(connect) + "\r\n"));
  ASSERT_TRUE(eventually([&] { return a->requests().size() >= 2; }));
  ASSERT_EQ(::kill(proc.pid(), SIGTERM), 0);
  ASSERT_FALSE(proc.wait_for_line(std::regex("draining"), 5s).empty());
  ASSERT_EQ(::kill(proc.pid(), SIGTERM), 0);
  EXPECT_EQ(proc.wait_exit(5s), 0);
}

}  // namespace
}  // namespace testing_support

namespace testing_support {
namespace {

command_result run_command(const std::string& args) {
  return run_shell(std::string(MAPIGATE_BINARY) + " " + args);
}

TEST(Probe, NtlmLogonThroughMapigateAndFailuresExitNonZero) {
  temp_dir dir;
  sim::options o;
  o.require_auth = true;
  o.password = "Winter-2026";  // the mailbox server checks NTLMv2 and Basic against it
  auto a = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", a->port()}}, .extra_yaml = fast_health});
  const std::string args = "probe https://" + std::string(internal_host) + ":" +
                           std::to_string(gw.port()) + "/mapi --connect 127.0.0.1 --ca " +
                           test_pki::instance().ca_file() + " --timeout 5";
  const auto good = dir.file("good"), bad = dir.file("bad");
  write_file(good, "Winter-2026\n");
  write_file(bad, "Summer-2026\n");
  const auto ok = run_command(args + " --user 'CORP\\alice' --password-file " + good +
                              " --mailbox u@corp.test");
  EXPECT_EQ(ok.status, 0) << ok.output;
  for (const char* step : {"healthcheck", "anonymous", "connect", "ping", "disconnect"})
    EXPECT_TRUE(std::regex_search(
        ok.output, std::regex(std::string("\n") + step + " +\\S+ +\\S+ +[0-9]+ms +Success")))
        << step << "\n"
        << ok.output;
  EXPECT_NE(ok.output.find("offers NTLM,Basic"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("as CORP\\alice (NTLM)"), std::string::npos) << ok.output;
  // The backend saw the probe's user, through NTLM: one handshake, then PING and Disconnect
  // on the authenticated connection without credentials of their own.
  std::set<std::uint64_t> connections;
  for (const auto& r : a->requests())
    if (r.identity == "CORP\\alice") connections.insert(r.connection_id);
  EXPECT_EQ(connections.size(), 1u);

  // From the environment, and Basic when asked for.
  ::setenv("PROBE_PASSWORD", "Winter-2026", 1);
  const auto basic = run_command(args + " --user 'CORP\\alice' --password-env PROBE_PASSWORD" +
                                 " --auth basic --mailbox u@corp.test");
  ::unsetenv("PROBE_PASSWORD");
  EXPECT_EQ(basic.status, 0) << basic.output;
  EXPECT_NE(basic.output.find("as CORP\\alice (Basic)"), std::string::npos) << basic.output;

  // A wrong password: the mailbox server's 401 fails the connect step.
  const auto wrong =
      run_command(args + " --user 'CORP\\alice' --password-file " + bad + " --mailbox u@corp.test");
  EXPECT_EQ(wrong.status, 1) << wrong.output;
  EXPECT_TRUE(std::regex_search(wrong.output, std::regex("\nconnect .* Failure +HTTP 401")))
      << wrong.output;

  // No backend can be reached: mapigate's own health check says 503, and the probe fails.
  a->stop();
  ASSERT_TRUE(
      eventually([&] { return backend_field(gw.admin_port(), "mbx01", "reachable") == "false"; }));
  const auto down = run_command(args);
  EXPECT_EQ(down.status, 1) << down.output;
  EXPECT_TRUE(std::regex_search(down.output, std::regex("\nhealthcheck .* Failure +HTTP 503")))
      << down.output;

  EXPECT_EQ(run_command("probe").status, 2);
  EXPECT_EQ(run_command("probe ftp://x/mapi").status, 2);
  // A user and no way to read a password (stdin is not a terminal here): a usage error.
  EXPECT_EQ(run_command(args + " --user alice </dev/null").status, 2);
  EXPECT_EQ(run_command(args + " --user alice --password-env PROBE_UNSET_VARIABLE").status, 2);
}

TEST(Probe, SimulatorChecksNtlmV2AsCurlComputesIt) {
  // An independent NTLMv2 client (curl) through mapigate: the simulator's check, which the
  // probe's tests rely on, takes curl's right password and refuses a wrong one.
  sim::options o;
  o.require_auth = true;
  o.password = "Winter-2026";
  auto a = start_sim("mbx01", o);
  gateway gw({.backends = {{"mbx01", a->port()}}});
  auto curl = [&](const std::string& password) {
    return run_shell(
               "curl -s -o /dev/null -w '%{http_code}' --max-time 10 --ntlm -u 'CORP\\alice:" +
               password + "' --cacert " + test_pki::instance().ca_file() + " --resolve " +
               std::string(internal_host) + ":" + std::to_string(gw.port()) +
               ":127.0.0.1 -H 'X-RequestType: Connect' --data-binary x 'https://" +
               std::string(internal_host) + ":" + std::to_string(gw.port()) +
               "/mapi/emsmdb/?MailboxId=u@corp.test'")
        .output;
  };
  EXPECT_EQ(curl("Winter-2026"), "200");
  EXPECT_EQ(curl("Summer-2026"), "401");
}

TEST(Probe, TlsFailuresAreToldApart) {
  auto a = start_sim("mbx01");
  gateway gw({.backends = {{"mbx01", a->port()}}});
  const std::string base = "probe https://" + std::string(internal_host) + ":" +
                           std::to_string(gw.port()) + "/mapi --connect 127.0.0.1 --timeout 5";
  // No --ca: the test CA is not among the system's.
  const auto untrusted = run_command(base);
  EXPECT_EQ(untrusted.status, 1);
  EXPECT_NE(untrusted.output.find("TLS untrusted issuer: "), std::string::npos) << untrusted.output;
  // A name the certificate does not carry.
  const auto mismatch =
      run_command("probe https://wrong.corp.test:" + std::to_string(gw.port()) +
                  "/mapi --connect 127.0.0.1 --timeout 5 --ca " + test_pki::instance().ca_file());
  EXPECT_EQ(mismatch.status, 1);
  EXPECT_NE(mismatch.output.find("TLS name mismatch: the certificate does not name "
                                 "wrong.corp.test (its names: "),
            std::string::npos)
      << mismatch.output;
  // An expired certificate, and one not valid yet, with their dates.
  auto dated = [&](const leaf& cert) {
    gateway g({.backends = {{"mbx01", a->port()}}, .certificates = {cert}});
    return run_command("probe https://" + std::string(internal_host) + ":" +
                       std::to_string(g.port()) + "/mapi --connect 127.0.0.1 --timeout 5 --ca " +
                       test_pki::instance().ca_file());
  };
  const auto expired = dated(test_pki::instance().issue_dated(
      "probe-expired", {internal_host, external_host}, {"20200101000000Z", "20210101000000Z"}));
  EXPECT_EQ(expired.status, 1);
  EXPECT_NE(expired.output.find("TLS certificate expired on 2021-01-01T00:00:00"),
            std::string::npos)
      << expired.output;
  const auto early = dated(test_pki::instance().issue_dated(
      "probe-future", {internal_host, external_host}, {"20990101000000Z", "20991231000000Z"}));
  EXPECT_EQ(early.status, 1);
  EXPECT_NE(early.output.find("TLS certificate not valid before 2099-01-01T00:00:00"),
            std::string::npos)
      << early.output;
}

TEST(Cli, HelpVersionAndUsageErrors) {
  // Every command's options are in --help (on stdout, exit 0): the man page is made from it.
  const auto help = run_shell("{ " + std::string(MAPIGATE_BINARY) + " --help 2>/dev/null; }");
  EXPECT_EQ(help.status, 0);
  for (const char* option :
       {"--config", "--server-name", "--strict", "--backends", "--user", "--password-file",
        "--password-env", "--auth", "--mailbox", "--user-dn", "--ca", "--insecure", "--connect",
        "--timeout", "MAPIGATE_LOG"})
    EXPECT_NE(help.output.find(option), std::string::npos) << option;
  for (const char* command : {"run", "check", "probe"}) {
    const auto h =
        run_shell("{ " + std::string(MAPIGATE_BINARY) + " " + command + " -h 2>/dev/null; }");
    EXPECT_EQ(h.status, 0) << command;
    EXPECT_NE(h.output.find(std::string("Usage: mapigate ") + command), std::string::npos)
        << h.output;
  }
  const auto version = run_shell(std::string(MAPIGATE_BINARY) + " --version");
  EXPECT_EQ(version.status, 0);
  EXPECT_TRUE(std::regex_search(version.output, std::regex("^mapigate [0-9]+\\.[0-9]+\\.[0-9]+\n")))
      << version.output;
  for (const char* part : {"revision ", "built ", "Boost 1.81", "OpenSSL 3", "nghttp2 ",
                           "yaml-cpp ", "prometheus-cpp "})
    EXPECT_NE(version.output.find(part), std::string::npos) << part << "\n" << version.output;
  // Usage errors: stderr, exit 2, nothing on stdout.
  for (const char* bad : {"", "frobnicate", "run", "run -c", "check --nope -c x", "probe --bogus",
                          "run -c x --server-name 'a b'"}) {
    const auto r = run_shell("{ " + std::string(MAPIGATE_BINARY) + " " + bad + " 2>/dev/null; }");
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_EQ(r.output, "") << bad;
  }
  // The man page the install target ships, generated from the same text.
  const auto man = read_file(MAPIGATE_MAN_PAGE);
  EXPECT_NE(man.find(".TH MAPIGATE \"1\""), std::string::npos);
  EXPECT_NE(man.find("password\\-file"), std::string::npos);
}

}  // namespace
}  // namespace testing_support

namespace testing_support {
namespace {

/// A systemd-style notification socket: datagrams from sd_notify.
class notify_socket {
 public:
  explicit notify_socket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("bind " + path);
  }
  ~notify_socket() { ::close(fd_); }
  /// The next datagram within `timeout` ("" on the deadline).
  std::string next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, int(timeout.count())) <= 0) return {};
    char buf[512];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, std::size_t(n)) : std::string();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(Signal, SystemdNotificationsForReadyReloadAndStop) {
  auto a = start_sim("mbx01");
  temp_dir dir;
  const auto file = dir.file("mapigate.yaml");
  write_file(file, gateway_yaml({.backends = {{"mbx01", a->port()}}}, dir.path().string()));
  notify_socket notify(dir.file("notify"));
  ::setenv("NOTIFY_SOCKET", dir.file("notify").c_str(), 1);
  child_process proc(file);
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(notify.next(10s), "READY=1");
  ASSERT_EQ(::kill(proc.pid(), SIGHUP), 0);
  EXPECT_TRUE(notify.next(5s).starts_with("RELOADING=1\nMONOTONIC_USEC="));
  EXPECT_EQ(notify.next(5s), "READY=1");
  ASSERT_EQ(::kill(proc.pid(), SIGTERM), 0);
  EXPECT_EQ(notify.next(5s), "STOPPING=1");
  EXPECT_EQ(proc.wait_exit(5s), 0);
}

}  // namespace
}  // namespace testing_support
