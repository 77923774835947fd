// The mapigate executable on SIGTERM: stops accepting, lets the request in flight finish, exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/support/child_process.hpp"
#include "tests/support/gateway.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

TEST(Signal, SigtermDrainsTheRequestInFlightAndExitsZero) {
  sim::options o;
  o.name = "mbx01";
  o.pending_period = 100ms;
  o.execute_delay = 800ms;
  sim::server mbx(o);
  mbx.start();
  temp_dir dir;
  const auto file = dir.file("mapigate.yaml");
  write_file(file,
             gateway_yaml({.backends = {{"mbx01", mbx.port()}}, .timeouts = {{"drain", "10s"}}}));
  child_process proc(file);
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

}  // namespace
}  // namespace testing_support
