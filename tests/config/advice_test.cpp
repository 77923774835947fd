// Table test of what `check` warns about: each valid-but-unsafe value alone gives exactly its
// warning; the safe defaults give none.
#include "config/advice.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace config {
namespace {

snapshot safe() {
  snapshot s;
  s.mapi.internal_url =
      vdir_url{"https://mail.corp.test/mapi", "https", "mail.corp.test", 443, "/mapi"};
  listener l{"front", {"0.0.0.0", 443}, listener_tls{}};
  l.tls->alpn = {"h2", "http/1.1"};
  s.listeners.push_back(l);
  backend b;
  b.name = "mbx01";
  b.address = {"10.0.0.11", 443};
  b.tls = backend_tls{};
  s.backends.push_back(b);
  s.admin = admin{};
  return s;
}

struct unsafe_case {
  const char* name;
  std::function<void(snapshot&)> change;
  const char* warning_starts;  ///< "" : no warning
};

class Advice : public ::testing::TestWithParam<unsafe_case> {};

TEST_P(Advice, EachUnsafeValueAloneGivesItsWarning) {
  auto s = safe();
  GetParam().change(s);
  const auto w = unsafe_values(s);
  if (std::string(GetParam().warning_starts).empty()) {
    EXPECT_TRUE(w.empty()) << w.front();
    return;
  }
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(w[0].starts_with(GetParam().warning_starts)) << w[0];
}

const unsafe_case cases[] = {
    {"Defaults", [](snapshot&) {}, ""},
    {"UpstreamIdleBelowPending", [](snapshot& s) { s.timeouts.upstream_idle = duration{20'000}; },
     "timeouts.upstream_idle: 20s is shorter"},
    {"UpstreamIdleInMilliseconds", [](snapshot& s) { s.timeouts.upstream_idle = duration{1'500}; },
     "timeouts.upstream_idle: 1500ms is shorter"},
    {"UpstreamIdleAtPending", [](snapshot& s) { s.timeouts.upstream_idle = duration{30'000}; }, ""},
    {"DrainBeyondSystemd", [](snapshot& s) { s.timeouts.drain = duration{60'000}; },
     "timeouts.drain + timeouts.accept_grace: 60s is longer"},
    {"AcceptGraceAndDrainBeyondSystemd",
     [](snapshot& s) {
       s.timeouts.drain = duration{40'000};
       s.timeouts.accept_grace = duration{10'000};
     },
     "timeouts.drain + timeouts.accept_grace: 50s is longer"},
    {"AdminOpenWithoutToken", [](snapshot& s) { s.admin->address.host = "0.0.0.0"; },
     "admin.address: 0.0.0.0 is not loopback"},
    {"AdminOpenWithToken",
     [](snapshot& s) {
       s.admin->address.host = "10.0.0.2";
       s.admin->token = "t0ken";
     },
     ""},
    {"AdminOnIpv6Loopback", [](snapshot& s) { s.admin->address.host = "::1"; }, ""},
    {"BackendVerifyOff", [](snapshot& s) { s.backends[0].tls->verify = false; },
     "backends[mbx01].tls.verify: false"},
    {"BackendPort444", [](snapshot& s) { s.backends[0].address.port = 444; },
     "backends[mbx01].address: port 444"},
    {"Http2Only", [](snapshot& s) { s.listeners[0].tls->alpn = {"h2"}; },
     "listeners[front].tls.alpn: no http/1.1"},
    {"PlainListenerWithHttpsUrls", [](snapshot& s) { s.listeners[0].tls.reset(); },
     "listeners[front]: plain HTTP while"},
    {"BalancerWithoutSharedTicketKeys",
     [](snapshot& s) {
       s.listeners[0].proxy_protocol = proxy_protocol::v2;
       s.listeners[0].trusted_sources = {"10.0.0.0/8"};
     },
     "listeners[front].tls.ticket_key_files: none behind a balancer"},
    {"BalancerWithSharedTicketKeys",
     [](snapshot& s) {
       s.listeners[0].proxy_protocol = proxy_protocol::v2;
       s.listeners[0].trusted_sources = {"10.0.0.0/8"};
       s.listeners[0].tls->ticket_key_files = {"/etc/mapigate/ticket.key"};
     },
     ""},
    {"PlainListenerWithHttpUrls",
     [](snapshot& s) {
       s.listeners[0].tls.reset();
       s.mapi.internal_url->scheme = "http";
     },
     ""},
};

INSTANTIATE_TEST_SUITE_P(Values, Advice, ::testing::ValuesIn(cases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace config
