// The smart lockout through real sockets: a spray from one address is held after the
// per-address threshold, a brute force on one user from many addresses is held for those
// addresses while the user's familiar address still logs on, holds end with the window or by
// the admin API, NTLM's challenge leg is never a failure, and every refusal is logged and
// counted.
#include <gtest/gtest.h>

#include <thread>

#include "routing/base64.hpp"
#include "tests/support/admin.hpp"
#include "tests/support/csv.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/h2_client.hpp"
#include "tests/support/sims.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

const std::string password = "Winter-2026";

std::string basic(const std::string& user, const std::string& pw) {
  return "Authorization: Basic " + routing::base64_encode(user + ":" + pw) + "\r\n";
}

/// A MAPI PING with Basic credentials, on `c`; the status.
int logon(test_client& c, const std::string& user, const std::string& pw) {
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", "", basic(user, pw)));
  return c.read_response().status;
}

gateway_options protected_gateway(const sim::server& mbx, const std::string& settings,
                                  const std::string& logs_dir = {}) {
  return {.backends = {{"mbx01", mbx.port()}},
          .extra_yaml = "auth_protection:\n" + settings,
          .logs_yaml = logs_dir.empty() ? "" : "  directory: " + logs_dir + "\n"};
}

std::size_t basic_attempts(const sim::server& s) {
  std::size_t n = 0;
  for (const auto& r : s.requests())
    for (const auto& h : r.headers)
      if (h.name == "Authorization" && h.value.starts_with("Basic ")) ++n;
  return n;
}

// 500 user names x 3 passwords from one address: held after the per-address threshold; the
// mailbox server (and Active Directory behind it) sees no more than that many.
TEST(AuthProtection, ASprayFromOneAddressIsHeldAfterTheAddressThreshold) {
  sim::options so;
  so.require_auth = true;
  so.password = password;
  auto mbx = start_sim("mbx01", so);
  temp_dir logs;
  {
    gateway gw(protected_gateway(*mbx, "  user_threshold: 3\n  address_threshold: 20\n",
                                 logs.path().string()));
    auto c =
        test_client::tls(gw.port(), internal_host, test_pki::instance().ca_file(), "127.0.0.11");
    std::size_t refused_locally = 0;
    for (int pw = 0; pw < 3; ++pw)
      for (int u = 0; u < 500; ++u) {
        const int status =
            logon(c, "user" + std::to_string(u) + "@corp.test", "Spring-" + std::to_string(pw));
        EXPECT_EQ(status, 401);
        (void)refused_locally;
      }
    EXPECT_EQ(basic_attempts(*mbx), 20u);
    // Another address is not held; the held one is listed by the admin API and counted.
    auto other =
        test_client::tls(gw.port(), internal_host, test_pki::instance().ca_file(), "127.0.0.12");
    EXPECT_EQ(logon(other, "alice@corp.test", password), 200);
    const auto held = admin_call(gw.admin_port(), "GET", "/auth-protection");
    EXPECT_EQ(held.status, 200);
    EXPECT_NE(held.body.find("\"address\":\"127.0.0.11\""), std::string::npos) << held.body;
    const auto m = metrics_text(gw.admin_port());
    EXPECT_EQ(sample(m, R"(mapigate_auth_protection_refusals_total{rule="address"})"), 1480);
    EXPECT_EQ(sample(m, "mapigate_auth_protection_failures_total"), 20);
    EXPECT_EQ(sample(m, R"(mapigate_auth_protection_held{kind="address"})"), 1);
  }
  // The refusals are in the HttpProxy log, naming the rule.
  std::size_t logged = 0;
  for (const auto& r : http_proxy_rows(logs.path(), "Mapi"))
    logged += r.at("GenericErrors").find("AuthProtectionAddressHeld") != std::string::npos;
  EXPECT_EQ(logged, 1480u);
}

// A brute force on one user from 20 addresses: held for unfamiliar addresses after the user
// threshold; the user's familiar address still logs on. Released by the admin, and by time.
TEST(AuthProtection, ABruteForceOnOneUserSparesItsFamiliarAddress) {
  sim::options so;
  so.require_auth = true;
  so.password = password;
  auto mbx = start_sim("mbx01", so);
  gateway gw(protected_gateway(*mbx,
                               "  user_threshold: 5\n  address_threshold: 50\n  window: 2s\n"
                               "  domains:\n    CORP: corp.test\n"));
  const auto ca = test_pki::instance().ca_file();
  auto home = test_client::tls(gw.port(), internal_host, ca, "127.0.0.2");
  EXPECT_EQ(logon(home, "CORP\\alice", password), 200);  // her familiar address
  const auto before = basic_attempts(*mbx);
  for (int i = 0; i < 20; ++i) {
    auto c = test_client::tls(gw.port(), internal_host, ca, "127.0.1." + std::to_string(i + 1));
    for (int attempt = 0; attempt < 3; ++attempt)
      EXPECT_EQ(logon(c, "alice@corp.test", "guess"), 401);
  }
  EXPECT_EQ(basic_attempts(*mbx) - before, 5u);  // the rest never reached the server
  // The real user, at home, still logs on: under either name form.
  EXPECT_EQ(logon(home, "alice@corp.test", password), 200);
  EXPECT_EQ(logon(home, "CORP\\Alice", password), 200);
  // Even the right password from an unfamiliar address waits for the window...
  auto cafe = test_client::tls(gw.port(), internal_host, ca, "127.0.2.1");
  EXPECT_EQ(logon(cafe, "alice@corp.test", password), 401);
  // ...or for the admin.
  EXPECT_EQ(
      admin_call(gw.admin_port(), "POST", "/auth-protection/release?user=CORP%5Calice").status,
      200);
  EXPECT_EQ(logon(cafe, "alice@corp.test", password), 200);
  // Held again, then the window passes.
  for (int i = 0; i < 5; ++i) {
    auto c = test_client::tls(gw.port(), internal_host, ca, "127.0.3." + std::to_string(i + 1));
    logon(c, "alice@corp.test", "guess");
  }
  auto later = test_client::tls(gw.port(), internal_host, ca, "127.0.4.1");
  EXPECT_EQ(logon(later, "alice@corp.test", password), 401);
  EXPECT_TRUE(eventually(
      [&] {
        auto c = test_client::tls(gw.port(), internal_host, ca, "127.0.4.2");
        return logon(c, "alice@corp.test", password) == 200;
      },
      std::chrono::seconds(5)));
}

/// One logon (a MAPI PING with Basic credentials) from `source` over HTTP/2 or HTTP/1.1.
int logon_over(bool h2, const gateway& gw, const std::string& source, const std::string& user,
               const std::string& pw) {
  const auto auth = "Basic " + routing::base64_encode(user + ":" + pw);
  if (h2) {
    h2_test_client c(gw.port(), internal_host, test_pki::instance().ca_file(),
                     std::chrono::seconds(5), source);
    const auto& r = c.wait(c.request("POST", "/mapi/emsmdb/?MailboxId=u@corp.test", internal_host,
                                     {{"content-type", "application/mapi-http"},
                                      {"x-requesttype", "PING"},
                                      {"authorization", auth}},
                                     ""));
    return r.status;
  }
  auto c = test_client::tls(gw.port(), internal_host, test_pki::instance().ca_file(), source);
  return logon(c, user, pw);
}

class AuthProtectionBoth : public ::testing::TestWithParam<bool> {};  // true: HTTP/2

// The one policy holds on either protocol: a user held after failures over one protocol is
// held over both, for unfamiliar addresses only.
TEST_P(AuthProtectionBoth, AHeldUserIsHeldOnEitherProtocol) {
  sim::options so;
  so.require_auth = true;
  so.password = password;
  auto mbx = start_sim("mbx01", so);
  gateway_options o = protected_gateway(*mbx, "  user_threshold: 3\n  address_threshold: 50\n");
  o.listener_alpn = "[h2, http/1.1]";
  gateway gw(o);
  const bool h2 = GetParam();
  EXPECT_EQ(logon_over(h2, gw, "127.0.0.2", "bob@corp.test", password), 200);  // familiar
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(logon_over(h2, gw, "127.0.5." + std::to_string(i + 1), "bob@corp.test", "x"), 401);
  const auto reached = basic_attempts(*mbx);
  EXPECT_EQ(logon_over(!h2, gw, "127.0.6.1", "bob@corp.test", password), 401);
  EXPECT_EQ(logon_over(h2, gw, "127.0.6.2", "bob@corp.test", password), 401);
  EXPECT_EQ(basic_attempts(*mbx), reached);  // held: not one more reached the server
  EXPECT_EQ(logon_over(h2, gw, "127.0.0.2", "bob@corp.test", password), 200);
  EXPECT_EQ(logon_over(!h2, gw, "127.0.0.2", "bob@corp.test", password), 200);
}

INSTANTIATE_TEST_SUITE_P(Protocols, AuthProtectionBoth, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Http2" : "Http11"; });

// NTLM's normal 401 leg (type 1 -> challenge) is never a failure, however many there are.
TEST(AuthProtection, NtlmChallengeLegsAreNotFailures) {
  sim::options so;
  so.require_auth = true;
  auto mbx = start_sim("mbx01", so);
  gateway gw(protected_gateway(*mbx, "  user_threshold: 1\n  address_threshold: 1\n"));
  for (int i = 0; i < 10; ++i) {
    auto c = gw.client();
    c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "",
                        "Authorization: NTLM " + sim::ntlm_type1_b64() + "\r\n"));
    EXPECT_EQ(c.read_response().status, 401);
  }
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "",
                      "Authorization: NTLM " + sim::ntlm_type1_b64() + "\r\n"));
  EXPECT_EQ(c.read_response().status, 401);
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x",
                      "Authorization: NTLM " + sim::ntlm_type3_b64("CORP", "bob") + "\r\n"));
  EXPECT_EQ(c.read_response().status, 200);
  EXPECT_EQ(sample(metrics_text(gw.admin_port()), "mapigate_auth_protection_failures_total"), 0);
}

}  // namespace
}  // namespace testing_support
