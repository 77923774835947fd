// Smart lockout accounting: table tests with a fake clock.
#include "routing/lockout.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

lockout_settings small(unsigned user = 3, unsigned address = 5) {
  lockout_settings s;
  s.user_threshold = user;
  s.address_threshold = address;
  s.window = std::chrono::seconds(60);
  s.familiar_for = std::chrono::seconds(3600);
  s.table_size = 64;
  s.domains = {{"corp", "corp.test"}};
  return s;
}

TEST(Lockout, Networks) {
  struct row {
    const char* net;
    const char* ip;
    bool in;
  };
  const row rows[] = {
      {"10.0.0.0/8", "10.1.2.3", true},        {"10.0.0.0/8", "11.0.0.1", false},
      {"192.0.2.7", "192.0.2.7", true},        {"192.0.2.7/32", "192.0.2.8", false},
      {"0.0.0.0/0", "203.0.113.9", true},      {"2001:db8::/32", "2001:db8:1::5", true},
      {"2001:db8::/32", "2001:db9::5", false}, {"10.0.0.0/8", "::ffff:10.0.0.1", false},
      {"10.0.0.0/8", "not an address", false},
  };
  for (const auto& r : rows) {
    const auto n = parse_cidr(r.net);
    ASSERT_TRUE(n) << r.net;
    EXPECT_EQ(contains(*n, r.ip), r.in) << r.net << " " << r.ip;
  }
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "2001:db8::/129", "x/8", "10.0.0.0/8x"})
    EXPECT_FALSE(parse_cidr(bad)) << bad;
}

TEST(Lockout, TheClientBehindTrustedHops) {
  const std::vector<cidr> hops = {*parse_cidr("10.0.0.0/8"), *parse_cidr("2001:db8::/32")};
  struct row {
    const char* name;
    std::vector<std::string_view> xff;
    const char* peer;
    const char* client;
  };
  const std::vector<row> rows = {
      {"untrusted peer: its word is not taken", {"198.51.100.1"}, "203.0.113.5", "203.0.113.5"},
      {"one hop", {"198.51.100.1"}, "10.0.0.2", "198.51.100.1"},
      {"spoofed left part ignored", {"1.2.3.4, 198.51.100.1"}, "10.0.0.2", "198.51.100.1"},
      {"two trusted hops", {"198.51.100.1, 10.9.9.9"}, "10.0.0.2", "198.51.100.1"},
      {"several fields", {"1.2.3.4", "198.51.100.1,10.9.9.9"}, "10.0.0.2", "198.51.100.1"},
      {"ipv6", {"2001:db9::1, 2001:db8::7"}, "10.0.0.2", "2001:db9::1"},
      {"garbage stops at its reporter", {"evil, 10.9.9.9"}, "10.0.0.2", "10.9.9.9"},
      {"garbage right away", {"<script>"}, "10.0.0.2", "10.0.0.2"},
      {"no field", {}, "10.0.0.2", "10.0.0.2"},
      {"all trusted: the leftmost", {"10.1.1.1, 10.2.2.2"}, "10.0.0.2", "10.1.1.1"},
  };
  for (const auto& r : rows)
    EXPECT_EQ(right_most_untrusted(r.xff, r.peer, hops), r.client) << r.name;
}

TEST(Lockout, UserNamesAreTiedAcrossForms) {
  lockout l(small());
  EXPECT_EQ(l.canonical_user("CORP\\Alice"), "alice@corp.test");
  EXPECT_EQ(l.canonical_user("Alice@Corp.Test"), "alice@corp.test");
  EXPECT_EQ(l.canonical_user("OTHER\\bob"), "other\\bob");
  EXPECT_EQ(l.canonical_user("bob"), "bob");
}

TEST(Lockout, BruteForceHoldsTheUserForUnfamiliarAddressesOnly) {
  lockout l(small());
  const std::string alice = "alice@corp.test";
  l.succeeded(alice, "192.0.2.1", 100);  // her laptop at home
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(l.check(alice, "203.0.113." + std::to_string(i), 110), lockout_verdict::allow);
    l.failed(alice, "203.0.113." + std::to_string(i), 110);
  }
  EXPECT_EQ(l.check(alice, "203.0.113.50", 111), lockout_verdict::user_held);
  EXPECT_EQ(l.check(alice, "192.0.2.1", 111), lockout_verdict::allow);  // familiar
  EXPECT_EQ(l.check("bob@corp.test", "203.0.113.50", 111), lockout_verdict::allow);
  ASSERT_EQ(l.held_users(111).size(), 1u);
  EXPECT_EQ(l.held_users(111)[0].key, alice);
  // Held until the window has passed since the failure that crossed the line.
  EXPECT_EQ(l.check(alice, "203.0.113.50", 169), lockout_verdict::user_held);
  EXPECT_EQ(l.check(alice, "203.0.113.50", 171), lockout_verdict::allow);
  // Released by the admin.
  for (int i = 0; i < 3; ++i)
    l.failed(alice, "203.0.113.9", 200);
  EXPECT_EQ(l.check(alice, "203.0.113.50", 201), lockout_verdict::user_held);
  EXPECT_TRUE(l.release_user(alice));
  EXPECT_EQ(l.check(alice, "203.0.113.50", 201), lockout_verdict::allow);
}

TEST(Lockout, FailuresFromAFamiliarAddressCountNeitherWay) {
  lockout l(small());
  l.succeeded("alice@corp.test", "192.0.2.1", 100);
  for (int i = 0; i < 10; ++i)
    l.failed("alice@corp.test", "192.0.2.1", 101);
  EXPECT_EQ(l.check("alice@corp.test", "203.0.113.1", 102), lockout_verdict::allow);
  EXPECT_EQ(l.check("bob@corp.test", "192.0.2.1", 102), lockout_verdict::allow);
}

TEST(Lockout, SprayHoldsTheAddressButNotItsFamiliarUsers) {
  lockout l(small(3, 5));
  l.succeeded("carol@corp.test", "198.51.100.7", 10);  // a user behind the same NAT address
  for (int i = 0; i < 5; ++i)
    l.failed("user" + std::to_string(i) + "@corp.test", "198.51.100.7", 20);
  EXPECT_EQ(l.check("user99@corp.test", "198.51.100.7", 21), lockout_verdict::address_held);
  EXPECT_EQ(l.check("carol@corp.test", "198.51.100.7", 21), lockout_verdict::allow);
  EXPECT_EQ(l.check("user99@corp.test", "198.51.100.8", 21), lockout_verdict::allow);
  EXPECT_EQ(l.held_addresses(21).size(), 1u);
  EXPECT_TRUE(l.release_address("198.51.100.7"));
  EXPECT_EQ(l.check("user99@corp.test", "198.51.100.7", 21), lockout_verdict::allow);
}

TEST(Lockout, ASuccessResetsAndOldFailuresAge) {
  lockout l(small());
  l.failed("dave@corp.test", "203.0.113.1", 10);
  l.failed("dave@corp.test", "203.0.113.2", 10);
  l.succeeded("dave@corp.test", "192.0.2.9", 11);
  l.failed("dave@corp.test", "203.0.113.3", 12);
  EXPECT_EQ(l.check("dave@corp.test", "203.0.113.4", 13), lockout_verdict::allow);
  // Two failures, then the window passes: the next one starts a new count.
  l.failed("erin@corp.test", "203.0.113.1", 100);
  l.failed("erin@corp.test", "203.0.113.1", 101);
  l.failed("erin@corp.test", "203.0.113.1", 200);
  EXPECT_EQ(l.check("erin@corp.test", "203.0.113.5", 201), lockout_verdict::allow);
}

TEST(Lockout, ExemptAddressesAreNeverHeld) {
  auto s = small(1, 1);
  s.exempt = {*parse_cidr("10.9.0.0/16")};
  lockout l(s);
  for (int i = 0; i < 10; ++i)
    l.failed("health@corp.test", "10.9.1.1", 5);
  EXPECT_EQ(l.check("health@corp.test", "10.9.1.1", 6), lockout_verdict::allow);
  EXPECT_EQ(l.check("health@corp.test", "10.8.1.1", 6), lockout_verdict::allow);
}

TEST(Lockout, TablesStayWithinTheirBound) {
  auto s = small(3, 0);  // no address threshold: only the user table grows
  s.table_size = 1000;
  lockout l(s);
  // A held user, then 100,000 made-up names: memory stays bounded and the held user, which
  // eviction spares while others hold nothing, is still held.
  for (int i = 0; i < 3; ++i)
    l.failed("target@corp.test", "203.0.113.1", 1);
  for (int i = 0; i < 100000; ++i)
    l.failed("u" + std::to_string(i) + "@corp.test", "203.0.113.2", 2);
  EXPECT_LE(l.users_tracked(), 1000u);
  EXPECT_LE(l.addresses_tracked(), 1000u);
  EXPECT_EQ(l.check("target@corp.test", "203.0.113.3", 3), lockout_verdict::user_held);
}

}  // namespace
}  // namespace routing
