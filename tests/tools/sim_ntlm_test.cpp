// Simulator tests, NTLM/base64 helpers: round trips, OEM strings, SPNEGO wrapping, bounds.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tools/sim/mapi_sim.hpp"
#include "tools/sim/ntlm.hpp"
#include "tools/sim/util.hpp"

namespace {

namespace ntlm = sim::detail::ntlm;
using sim::detail::base64_decode;
using sim::detail::base64_encode;

TEST(SimNtlm, Base64RoundTripAndStrictness) {
  for (const std::string& text :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto decoded = base64_decode(base64_encode(text));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_EQ(base64_encode("user1@example.test:Passw0rd"),
            "dXNlcjFAZXhhbXBsZS50ZXN0OlBhc3N3MHJk");  // as in the ruler capture
  EXPECT_FALSE(base64_decode("a"));
  EXPECT_FALSE(base64_decode("ab$d"));
  EXPECT_FALSE(base64_decode("abc=="));
}

TEST(SimNtlm, PublicHelpersProduceParsableMessages) {
  auto type1 = base64_decode(sim::ntlm_type1_b64());
  ASSERT_TRUE(type1);
  auto negotiate = ntlm::parse_negotiate(*type1);
  ASSERT_TRUE(negotiate);
  EXPECT_TRUE(negotiate->flags & ntlm::negotiate_unicode);

  auto type3 = base64_decode(sim::ntlm_type3_b64("CORP", "\xc3\xa5lice \xf0\x9f\x98\x80"));
  ASSERT_TRUE(type3);
  auto authenticate = ntlm::parse_authenticate(*type3);
  ASSERT_TRUE(authenticate);
  EXPECT_EQ(authenticate->domain, "CORP");
  EXPECT_EQ(authenticate->user, "\xc3\xa5lice \xf0\x9f\x98\x80");
  EXPECT_EQ(authenticate->workstation, "SIMCLIENT");
}

TEST(SimNtlm, OemStringsWhenUnicodeIsNotNegotiated) {
  // Hand-built type 3 with OEM strings: header 64 bytes, then "DOM", "bob".
  std::string raw(64, '\0');
  raw.replace(0, 8, std::string("NTLMSSP\0", 8));
  raw[8] = 3;
  auto put_buffer = [&](std::size_t at, std::string_view payload) {
    raw[at] = static_cast<char>(payload.size());
    raw[at + 2] = static_cast<char>(payload.size());
    raw[at + 4] = static_cast<char>(raw.size());
    raw.append(payload);
  };
  put_buffer(28, "DOM");
  put_buffer(36, "bob");
  put_buffer(12, "");
  put_buffer(20, "");
  put_buffer(44, "");
  raw[60] = static_cast<char>(ntlm::negotiate_oem);
  auto authenticate = ntlm::parse_authenticate(raw);
  ASSERT_TRUE(authenticate);
  EXPECT_EQ(authenticate->domain, "DOM");
  EXPECT_EQ(authenticate->user, "bob");
}

TEST(SimNtlm, SpnegoWrappedTokenIsFound) {
  std::string wrapped =
      std::string("\x60\x48\x06\x06\x2b\x06\x01\x05\x05\x02\xa0\x3e", 12) + ntlm::build_negotiate();
  auto message = ntlm::find_message(wrapped);
  ASSERT_TRUE(message);
  EXPECT_TRUE(ntlm::parse_negotiate(*message));
  EXPECT_FALSE(ntlm::find_message("\x60\x82 kerberos only"));
}

TEST(SimNtlm, ChallengeMatchesClientCharset) {
  std::array<std::uint8_t, 8> nonce{1, 2, 3, 4, 5, 6, 7, 8};
  auto unicode =
      ntlm::parse_challenge(ntlm::build_challenge({ntlm::negotiate_unicode}, nonce, "mbx01"));
  ASSERT_TRUE(unicode);
  EXPECT_TRUE(unicode->flags & ntlm::negotiate_unicode);
  EXPECT_EQ(unicode->challenge, nonce);
  EXPECT_EQ(unicode->target_name, "MAPISIM");
  auto oem = ntlm::parse_challenge(ntlm::build_challenge({ntlm::negotiate_oem}, nonce, "mbx01"));
  ASSERT_TRUE(oem);
  EXPECT_FALSE(oem->flags & ntlm::negotiate_unicode);
  EXPECT_EQ(oem->target_name, "MAPISIM");
}

TEST(SimNtlm, MalformedMessagesAreRejectedNeverOverread) {
  const std::string valid = ntlm::build_authenticate("CORP", "alice", "WS");
  for (std::size_t n = 0; n < 64; ++n) {
    EXPECT_FALSE(ntlm::parse_authenticate(valid.substr(0, n))) << n;
  }
  // Cut inside the payload: a security buffer now points past the end.
  EXPECT_FALSE(ntlm::parse_authenticate(valid.substr(0, valid.size() - 1)));
  std::string odd = valid;
  odd[36] = 3;  // user length odd → not UTF-16
  EXPECT_FALSE(ntlm::parse_authenticate(odd));
  std::string lone_surrogate = ntlm::build_authenticate("CORP", "x", "WS");
  // Replace the user's UTF-16 unit with an unpaired high surrogate.
  std::size_t user_offset = std::uint8_t(lone_surrogate[40]);
  lone_surrogate[user_offset] = '\x00';
  lone_surrogate[user_offset + 1] = '\xd8';
  EXPECT_FALSE(ntlm::parse_authenticate(lone_surrogate));

  // Random mutations: must never crash or read out of bounds (run under ASan/UBSan).
  std::mt19937 random(12345);
  for (int i = 0; i < 20000; ++i) {
    std::string mutated = valid;
    int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      mutated[random() % mutated.size()] = static_cast<char>(random());
    }
    if (random() % 3 == 0) mutated.resize(random() % mutated.size());
    (void)ntlm::parse_authenticate(mutated);
    (void)ntlm::parse_negotiate(mutated);
    (void)ntlm::parse_challenge(mutated);
    (void)ntlm::find_message(mutated);
  }
}

}  // namespace
