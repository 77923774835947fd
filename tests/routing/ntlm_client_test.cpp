// NTLMv2 client: [MS-NLMP] 4.2.4's test vector, the probe's messages and the simulator's check.
#include "routing/ntlm_client.hpp"

#include <gtest/gtest.h>

#include "routing/ntlm.hpp"

namespace routing::ntlm {
namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out += char(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

// [MS-NLMP] 4.2.4: User "User", domain "Domain", password "Password", server challenge
// 0123456789abcdef, client challenge aa..aa, time 0, target info: NbDomainName "Domain",
// NbComputerName "Server".
const std::string vector_info = unhex(
    "02000c0044006f006d00610069006e00"
    "01000c005300650072007600650072000000"
    "0000");

std::string challenge_message(std::string_view info, std::string_view server_challenge) {
  std::string m(48, '\0');
  m.replace(0, 8, signature);
  put_u32(m, 8, 2);
  put_u32(m, 20, negotiate_unicode | negotiate_ntlm | negotiate_target_info);
  m.replace(24, 8, server_challenge);
  append_buffer(m, 12, {});
  append_buffer(m, 40, info);
  return m;
}

TEST(NtlmV2, ResponseKeyMatchesTheSpecification) {
  const auto key = nt_owf_v2("User", "Domain", "Password");
  ASSERT_TRUE(key) << "MD4 unavailable: OpenSSL's legacy provider";
  EXPECT_EQ(hex({reinterpret_cast<const char*>(key->data()), key->size()}),
            "0c868a403bfd7a93a3001ef22ef02e3f");
}

TEST(NtlmV2, AuthenticateMessageCarriesTheSpecificationsProofAndVerifies) {
  const auto c = read_challenge(challenge_message(vector_info, unhex("0123456789abcdef")));
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->timestamp);
  bytes8 client{};
  client.fill(0xaa);
  const auto m = build_authenticate_v2(*c, {"User", "Domain", "Password", "WS"}, client, 0);
  ASSERT_TRUE(m);
  const auto nt = security_buffer(*m, 20);
  const auto lm = security_buffer(*m, 12);
  ASSERT_TRUE(nt && lm);
  EXPECT_EQ(hex(nt->substr(0, 16)), "68cd0ab851e51c96aabc927bebef6a1c");
  EXPECT_EQ(hex(*lm), "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
  const auto parsed = parse_authenticate(*m);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->domain, "Domain");
  EXPECT_EQ(parsed->user, "User");

  EXPECT_TRUE(verify_v2(*m, c->server_challenge, "Password"));
  EXPECT_FALSE(verify_v2(*m, c->server_challenge, "password"));
  bytes8 other = c->server_challenge;
  other[0] ^= 1;
  EXPECT_FALSE(verify_v2(*m, other, "Password"));  // replayed against another challenge
  // The user name is upper-cased into the key, the domain is not (as Windows does).
  auto renamed = *build_authenticate_v2(*c, {"user", "Domain", "Password", "WS"}, client, 0);
  EXPECT_EQ(hex(security_buffer(renamed, 20)->substr(0, 16)), "68cd0ab851e51c96aabc927bebef6a1c");
}

TEST(NtlmV2, ServerTimestampIsUsedAndTheLmResponseIsZero) {
  std::string info =
      unhex("07000800") + std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8) + unhex("00000000");
  const auto c = read_challenge(challenge_message(info, "12345678"));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->timestamp);
  EXPECT_EQ(*c->timestamp, 0x0807060504030201ull);
  const auto m = build_authenticate_v2(*c, {"alice", "CORP", "pw", "WS"}, {}, 42);
  ASSERT_TRUE(m);
  EXPECT_EQ(*security_buffer(*m, 12), std::string(24, '\0'));
  // The blob's time is the server's, not ours (42).
  EXPECT_EQ(security_buffer(*m, 20)->substr(16 + 8, 8), info.substr(4, 8));
  EXPECT_TRUE(verify_v2(*m, c->server_challenge, "pw"));
}

TEST(NtlmV2, MalformedChallengesAreRefused) {
  struct row {
    const char* what;
    std::string message;
  };
  const std::string sc = "12345678";
  std::string wrong_type = challenge_message(vector_info, sc);
  put_u32(wrong_type, 8, 3);
  std::string info_outside = challenge_message(vector_info, sc);
  put_u32(info_outside, 44, 4000);
  const std::vector<row> rows = {
      {"empty", ""},
      {"short", challenge_message(vector_info, sc).substr(0, 40)},
      {"not type 2", wrong_type},
      {"target info outside the message", info_outside},
      {"no MsvAvEOL", challenge_message(unhex("02000200aaaa"), sc)},
      {"pair longer than the info", challenge_message(unhex("0200ff00aaaa00000000"), sc)},
      {"half a pair header", challenge_message(unhex("0200"), sc)},
  };
  for (const auto& r : rows)
    EXPECT_FALSE(read_challenge(r.message)) << r.what;
  EXPECT_TRUE(read_challenge(challenge_message(vector_info, sc)));
}

TEST(NtlmV2, VerifyRefusesMessagesWithoutAnNtlmV2Response) {
  const bytes8 sc{};
  EXPECT_FALSE(verify_v2("", sc, "pw"));
  EXPECT_FALSE(verify_v2(build_negotiate(), sc, "pw"));
  // A type 3 whose NT response is NTLMv1-sized (24 bytes).
  std::string m(64, '\0');
  m.replace(0, 8, signature);
  put_u32(m, 8, 3);
  put_u32(m, 60, negotiate_unicode);
  append_buffer(m, 28, {});
  append_buffer(m, 36, utf8_to_utf16le("alice"));
  append_buffer(m, 44, {});
  append_buffer(m, 12, std::string(24, '\0'));
  append_buffer(m, 20, std::string(24, 'x'));
  append_buffer(m, 52, {});
  EXPECT_FALSE(verify_v2(m, sc, "pw"));
}

}  // namespace
}  // namespace routing::ntlm
