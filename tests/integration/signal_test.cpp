// The mapigate executable on SIGTERM: stops accepting, lets the request in flight finish, exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>

#include "tests/support/child_process.hpp"
#include "tests/support/gateway.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

/// What a mapigate child process needs: a simulated mailbox server mbx01 (started) and a
/// configuration file naming it. `edit`: a last change to the YAML text before it is written.
struct child_setup {
  sim::server mbx;
  temp_dir dir;
  std::string file = dir.file("mapigate.yaml");

  explicit child_setup(sim::options o = {}, gateway_options g = {},
                       const std::function<void(std::string&)>& edit = {})
      : mbx(named_mbx01(std::move(o))) {
    mbx.start();
    g.backends = {{"mbx01", mbx.port()}};
    auto yaml = gateway_yaml(g);
    if (edit) edit(yaml);
    write_file(file, yaml);
  }

 private:
  static sim::options named_mbx01(sim::options o) {
    o.name = "mbx01";
    return o;
  }
};

/// Waits for the line saying signals are handled from now on (a SIGTERM before it would end
/// the process at once, without a drain).
bool wait_ready(child_process& p) {
  return !p.wait_for_line(std::regex("ready \\(SIGHUP reloads"), 10s).empty();
}

TEST(Signal, SigtermDrainsTheRequestInFlightAndExitsZero) {
  sim::options o;
  o.pending_period = 100ms;
  o.execute_delay = 800ms;
  child_setup setup(o, {.timeouts = {{"drain", "10s"}}});
  auto& mbx = setup.mbx;
  child_process proc(setup.file);
  const auto m = proc.wait_for_line(std::regex("listener front on 127\\.0\\.0\\.1:([0-9]+)"), 10s);
  ASSERT_FALSE(m.empty()) << "mapigate did not start";
  const auto port = std::uint16_t(std::stoi(m[1]));

  auto c = test_client::tls(port, internal_host, test_pki::instance().ca_file());
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  const auto connect = c.read_response();
  ASSERT_EQ(connect.status, 200);
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", "x",
                      "Cookie: " + cookies_from(connect) + "\r\n"));
  ASSERT_TRUE(mbx.wait_for_requests(2, 2s));

  ASSERT_EQ(::kill(proc.pid(), SIGTERM), 0);
  ASSERT_FALSE(proc.wait_for_line(std::regex("draining"), 5s).empty());
  // No new connections once draining has begun.
  EXPECT_THROW(test_client::tls(port, internal_host, test_pki::instance().ca_file()),
               std::exception);
  // The Execute in flight still completes, PENDINGs and all.
  const auto r = c.read_response(5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("DONE\r\n"), std::string::npos);
  EXPECT_EQ(proc.wait_exit(5s), 0);
}

// Under systemd with stderr to the journal ($JOURNAL_STREAM names stderr), every line starts
// with its sd-daemon priority and carries no timestamp of its own (journald stamps it).
TEST(Journal, LinesCarryTheirPriorityAndNoSecondTimestamp) {
  child_setup setup;
  child_process proc(setup.file, true);
  const auto m = proc.wait_for_line(std::regex("listener front on"), 10s);
  ASSERT_FALSE(m.empty()) << "mapigate did not start";
  EXPECT_EQ(m.prefix().str(), "<6>");
  ASSERT_TRUE(wait_ready(proc));
  ASSERT_EQ(::kill(proc.pid(), SIGTERM), 0);
  const auto draining = proc.wait_for_line(std::regex("draining"), 5s);
  ASSERT_FALSE(draining.empty());
  EXPECT_TRUE(draining.prefix().str().starts_with("<")) << draining.prefix().str();
  EXPECT_EQ(draining.prefix().str().find("Z "), std::string::npos) << draining.prefix().str();
  EXPECT_EQ(proc.wait_exit(10s), 0);
}

// A scanner's refusals cannot flood the log: 20 lines at once, then 5 a second; the next line
// that goes says how many were not shown (every refusal is still counted and in the HttpProxy
// log).
TEST(Journal, RefusalLinesAreBudgeted) {
  child_setup setup;
  child_process proc(setup.file);
  const auto port = start_mapigate(proc);
  ASSERT_NE(port, 0);
  auto c = test_client::tls(port, internal_host, test_pki::instance().ca_file());
  const std::string scan = "GET /owa/ HTTP/1.1\r\nHost: " + std::string(internal_host) + "\r\n\r\n";
  for (int i = 0; i < 60; ++i) {
    c.send(scan);
    ASSERT_EQ(c.read_response().status, 404);
  }
  std::size_t shown = 0;
  while (!proc.wait_for_line(std::regex("GET /owa/ -> 404"), 200ms).empty())
    ++shown;
  EXPECT_GE(shown, 20u);
  EXPECT_LT(shown, 40u);  // 60 refusals: the budget refills only 5 a second
  // Later refusals, once the budget has refilled, say how many lines were not shown: every
  // refusal is either a line or counted in that notice.
  std::smatch notice;
  std::size_t later = 0;
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (notice.empty() && std::chrono::steady_clock::now() < until) {
    c.send(scan);
    ASSERT_EQ(c.read_response().status, 404);
    ++later;
    notice = proc.wait_for_line(std::regex("\\(([0-9]+) similar lines not shown\\)"), 300ms);
  }
  ASSERT_FALSE(notice.empty());
  EXPECT_EQ(std::stoul(notice[1]) + shown + 1, 60u + later);
}

// SO_REUSEPORT lets mapigate's workers share a listening address; it must not let a second
// mapigate started on the same address take a share of the connections unnoticed.
TEST(Listen, ASecondInstanceOnATakenAddressFailsToStart) {
  std::uint16_t port = 0;
  {  // a free port, named in the config (port 0 would give each instance its own)
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(
        ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  child_setup setup({}, {}, [&](std::string& yaml) {
    const std::string any = "address: 127.0.0.1:0\n";
    yaml.replace(yaml.find(any), any.size(), "address: 127.0.0.1:" + std::to_string(port) + "\n");
  });
  child_process first(setup.file);
  ASSERT_FALSE(first
                   .wait_for_line(
                       std::regex("listener front on 127\\.0\\.0\\.1:" + std::to_string(port)), 10s)
                   .empty());
  ASSERT_TRUE(wait_ready(first));
  child_process second(setup.file);
  EXPECT_FALSE(second.wait_for_line(std::regex("address already in use"), 10s).empty());
  EXPECT_EQ(second.wait_exit(5s), 1);
  // The first still takes every connection.
  for (int i = 0; i < 4; ++i) {
    auto c = test_client::tls(port, internal_host, test_pki::instance().ca_file());
    c.send("GET /mapi/healthcheck.htm HTTP/1.1\r\nHost: " + std::string(internal_host) +
           "\r\n\r\n");
    EXPECT_EQ(c.read_response().status, 200);
  }
  ASSERT_EQ(::kill(first.pid(), SIGTERM), 0);
  EXPECT_EQ(first.wait_exit(10s), 0);
}

}  // namespace
}  // namespace testing_support
