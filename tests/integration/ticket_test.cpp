// TLS session resumption that survives a switch of instance: two mapigates with the same
// ticket_key_files resume each other's sessions; without them, not; after a rotation on both
// (new key first, old kept), old tickets still resume and new ones are under the new key.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/gateway.hpp"
#include "tests/support/sims.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

std::string random_key(const temp_dir& dir, const std::string& name) {
  const auto file = dir.file(name);
  run_command("openssl rand -out " + file + " 80");
  return file;
}

gateway_options with_keys(const sim::server& mbx, const std::vector<std::string>& files) {
  std::string list;
  for (const auto& f : files)
    list += (list.empty() ? "" : ", ") + f;
  return {.backends = {{"mbx01", mbx.port()}},
          .listener_tls_yaml = files.empty() ? "" : "      ticket_key_files: [" + list + "]\n"};
}

struct pinged {
  bool resumed = false;
  std::shared_ptr<SSL_SESSION> session;  ///< resumable: the connection ended with close_notify
};

/// A PING on a new connection to `gw`, offering `resume`; `session_ids_only`: TLS 1.2
/// without tickets.
pinged ping(gateway& gw, SSL_SESSION* resume = nullptr, bool session_ids_only = false) {
  auto c = test_client::tls(gw.port(), internal_host, test_pki::instance().ca_file(), {}, {},
                            resume, session_ids_only);
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "PING", ""));
  EXPECT_EQ(c.read_response().status, 200);
  pinged p{c.resumed(), c.session()};
  c.close_gracefully();
  return p;
}

TEST(SessionTickets, ResumeOnAnotherInstanceAndAcrossARotation) {
  auto mbx = start_sim("mbx01");
  temp_dir keys;
  const auto old_key = random_key(keys, "old.key");
  const auto new_key = random_key(keys, "new.key");
  gateway a(with_keys(*mbx, {old_key}));
  gateway b(with_keys(*mbx, {old_key}));
  gateway alone(with_keys(*mbx, {}));

  const auto first = ping(a);
  EXPECT_FALSE(first.resumed);
  ASSERT_TRUE(first.session);
  EXPECT_TRUE(ping(b, first.session.get()).resumed);       // another instance, the same keys
  EXPECT_FALSE(ping(alone, first.session.get()).resumed);  // per-process keys: a full handshake
  const auto before = ping(a).session;                     // a ticket under the old key

  // Rotation on both, by reload: the new key first, the old one kept for tickets in the wild.
  for (auto* gw : {&a, &b}) {
    std::ofstream(gw->config_file())
        << gateway_yaml(with_keys(*mbx, {new_key, old_key}), keys.path().string());
    ASSERT_TRUE(gw->server().reload(gw->config_file()));
  }
  // New tickets are under the new key once the workers took the new configuration: an instance
  // holding only the new key resumes them, one holding only the old key cannot.
  gateway old_only(with_keys(*mbx, {old_key}));
  gateway new_only(with_keys(*mbx, {new_key}));
  std::shared_ptr<SSL_SESSION> fresh;
  EXPECT_TRUE(eventually([&] {
    fresh = ping(a).session;
    return ping(new_only, fresh.get()).resumed;
  }));
  EXPECT_FALSE(ping(old_only, fresh.get()).resumed);
  EXPECT_TRUE(eventually([&] { return ping(new_only, ping(b).session.get()).resumed; }));
  // A ticket under the old key still resumes on both.
  EXPECT_TRUE(ping(a, before.get()).resumed);
  EXPECT_TRUE(ping(b, before.get()).resumed);
}

// TLS 1.2 clients without tickets (SChannel's habit) resume from the server's session cache by
// session ID: within one process (every worker shares the listener's cache), not on another
// instance, whatever ticket keys they share.
TEST(SessionIds, Tls12SessionIdsResumeWithinTheProcess) {
  auto mbx = start_sim("mbx01");
  temp_dir keys;
  const auto key = random_key(keys, "shared.key");
  gateway a(with_keys(*mbx, {key}));
  gateway b(with_keys(*mbx, {key}));
  const auto first = ping(a, nullptr, true);
  EXPECT_FALSE(first.resumed);
  ASSERT_TRUE(first.session);
  EXPECT_EQ(SSL_SESSION_has_ticket(first.session.get()), 0);  // an ID, not a ticket
  EXPECT_EQ(SSL_SESSION_get_protocol_version(first.session.get()), TLS1_2_VERSION);
  // Several times: the gateway's two workers take connections in turn (SO_REUSEPORT).
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(ping(a, first.session.get(), true).resumed) << i;
  EXPECT_FALSE(ping(b, first.session.get(), true).resumed);
}

}  // namespace
}  // namespace testing_support
