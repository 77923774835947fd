// Affinity tokens: round trip, every verdict, key rotation, input limits and the pinned format.
#include "routing/affinity.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace routing {
namespace {

using namespace std::chrono_literals;

const std::string key_a = "0123456789abcdef0123456789abcdef";
const std::string key_b = "fedcba9876543210fedcba9876543210";
const std::string key_c = "another-secret-another-secret-!!";
constexpr std::int64_t t0 = 1'700'000'000;
const std::string mbx = "u@corp.test";

// Verifies and returns the verdict; `backend` gets the carried name.
token_verdict check(const affinity_codec& c, const std::string& token, std::int64_t now,
                    std::string& backend, const std::string& mailbox = mbx) {
  return c.verify(token, mailbox, now, backend);
}

token_verdict check(const affinity_codec& c, const std::string& token, std::int64_t now,
                    const std::string& mailbox = mbx) {
  std::string backend;
  return check(c, token, now, backend, mailbox);
}

TEST(Affinity, KnownAnswerPinsTheWireFormat) {
  // Computed independently with Python's hmac/hashlib/base64 (key id 3eb1bd43 = first 8 hex
  // digits of SHA-256(key)). Two mapigate versions must accept each other's tokens.
  const std::string expected =
      "MQozZWIxYmQ0MwoxNzAwMDAwMDAwCm1ieDAxCnVAY29ycC50ZXN0."
      "S_Fy1J8FkemwEOJarBfVYxa41j1DA8YB3NGnux9eJWs";
  const affinity_codec c({key_a}, 12h);
  EXPECT_EQ(c.issue("mbx01", mbx, t0), expected);
  std::string backend;
  EXPECT_EQ(check(c, expected, t0 + 60, backend), token_verdict::valid);
  EXPECT_EQ(backend, "mbx01");
}

TEST(Affinity, RoundTripCarriesTheBackend) {
  const affinity_codec c({key_a, key_b}, 12h);
  for (const std::string& name :
       std::vector<std::string>{"mbx01", "a", "MBX-02.dag_1", std::string(64, 'x')}) {
    const auto token = c.issue(name, mbx, t0);
    std::string backend = "stale";
    EXPECT_EQ(check(c, token, t0, backend), token_verdict::valid) << token;
    EXPECT_EQ(backend, name);
  }
}

TEST(Affinity, OutputUsesOnlyCookieSafeCharacters) {
  const affinity_codec c({key_a}, 12h);
  // Lengths 0..2 mod 3 of payload exercise every base64 tail; odd bytes in the mailbox too.
  for (const std::string mailbox : {"u@corp.test", "ab@c.d", "abc@c.d", "\xff\xfe\x01@x.y"}) {
    const auto token = c.issue("mbx01", mailbox, t0);
    EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_."),
              std::string::npos)
        << token;
    EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 1) << token;
    EXPECT_EQ(check(c, token, t0, mailbox), token_verdict::valid);
  }
}

TEST(Affinity, FlippedMacByteIsABadSignature) {
  const affinity_codec c({key_a}, 12h);
  const auto token = c.issue("mbx01", mbx, t0);
  // Every character of the MAC part but the last (whose unused low bits must stay zero).
  const auto dot = token.find('.');
  for (std::size_t i = dot + 1; i + 1 < token.size(); ++i) {
    std::string forged = token;
    forged[i] = forged[i] == 'A' ? 'Q' : 'A';
    std::string backend = "stale";
    EXPECT_EQ(check(c, forged, t0, backend), token_verdict::bad_signature) << i;
    EXPECT_EQ(backend, "");
  }
}

TEST(Affinity, EditedPayloadWithTheOriginalMacIsABadSignature) {
  const affinity_codec c({key_a}, 12h);
  const auto token = c.issue("mbx01", mbx, t0);
  const auto mac = token.substr(token.find('.'));
  // Same key id, other backend / mailbox / time: the attacker's edit, the genuine MAC.
  const auto other = c.issue("mbx02", mbx, t0);
  EXPECT_EQ(check(c, other.substr(0, other.find('.')) + mac, t0), token_verdict::bad_signature);
  const auto later = c.issue("mbx01", mbx, t0 + 1);
  EXPECT_EQ(check(c, later.substr(0, later.find('.')) + mac, t0), token_verdict::bad_signature);
}

TEST(Affinity, TruncatedTokensAreRejected) {
  const affinity_codec c({key_a}, 12h);
  const auto token = c.issue("mbx01", mbx, t0);
  // Cut anywhere, the MAC is missing or shorter than 32 bytes: refused before any key is used.
  for (std::size_t n = 0; n < token.size(); ++n) {
    EXPECT_EQ(check(c, token.substr(0, n), t0), token_verdict::malformed) << n;
  }
  // A truncated payload under the genuine MAC does not verify.
  const auto cut = c.issue("mbx01", "u@corp.tes", t0);
  EXPECT_EQ(check(c, cut.substr(0, cut.find('.')) + token.substr(token.find('.')), t0),
            token_verdict::bad_signature);
}

TEST(Affinity, UnknownKeyAndRotation) {
  const affinity_codec old_only({key_a}, 12h);
  const affinity_codec rotated({key_b, key_a}, 12h);
  const affinity_codec foreign({key_c}, 12h);

  // Tokens of the old key still verify after the new key is added in front of it.
  std::string backend;
  EXPECT_EQ(check(rotated, old_only.issue("mbx01", mbx, t0), t0, backend), token_verdict::valid);
  EXPECT_EQ(backend, "mbx01");
  // The rotated codec signs with the new key: the old-only codec does not know it.
  const auto fresh = rotated.issue("mbx02", mbx, t0);
  EXPECT_EQ(fresh, affinity_codec({key_b}, 12h).issue("mbx02", mbx, t0));
  EXPECT_EQ(check(old_only, fresh, t0), token_verdict::unknown_key);
  EXPECT_EQ(check(rotated, fresh, t0), token_verdict::valid);
  // Another deployment's key.
  EXPECT_EQ(check(rotated, foreign.issue("mbx01", mbx, t0), t0), token_verdict::unknown_key);
}

TEST(Affinity, AgeAndFutureLimits) {
  const affinity_codec c({key_a}, 12h);
  const auto token = c.issue("mbx01", mbx, t0);
  constexpr std::int64_t max_age = 12 * 3600;
  EXPECT_EQ(check(c, token, t0 + max_age), token_verdict::valid);
  EXPECT_EQ(check(c, token, t0 + max_age + 1), token_verdict::expired);
  EXPECT_EQ(check(c, token, t0 - 300), token_verdict::valid);
  EXPECT_EQ(check(c, token, t0 - 301), token_verdict::expired);
  // Extreme clocks do not overflow the arithmetic.
  EXPECT_EQ(check(c, token, std::numeric_limits<std::int64_t>::max()), token_verdict::expired);
  EXPECT_EQ(check(c, token, std::numeric_limits<std::int64_t>::min()), token_verdict::expired);
  // A shorter max_age on the verifying side applies to tokens issued with a longer one.
  const affinity_codec strict({key_a}, 60s);
  EXPECT_EQ(check(strict, token, t0 + 60), token_verdict::valid);
  EXPECT_EQ(check(strict, token, t0 + 61), token_verdict::expired);
}

TEST(Affinity, WrongMailbox) {
  const affinity_codec c({key_a}, 12h);
  const auto token = c.issue("mbx01", mbx, t0);
  std::string backend = "stale";
  EXPECT_EQ(check(c, token, t0, backend, "v@corp.test"), token_verdict::wrong_mailbox);
  EXPECT_EQ(backend, "");
  // The caller lower-cases; the codec compares bytes.
  EXPECT_EQ(check(c, token, t0, backend, "U@corp.test"), token_verdict::wrong_mailbox);
  EXPECT_EQ(check(c, token, t0, backend, ""), token_verdict::wrong_mailbox);
}

TEST(Affinity, SignedButInvalidFieldsAreMalformed) {
  const affinity_codec c({key_a}, 12h);
  // Correctly signed, but the backend name or issued time is not acceptable.
  EXPECT_EQ(check(c, c.issue("", mbx, t0), t0), token_verdict::malformed);
  EXPECT_EQ(check(c, c.issue("mbx 01", mbx, t0), t0), token_verdict::malformed);
  EXPECT_EQ(check(c, c.issue("10.0.0.1:443", mbx, t0), t0), token_verdict::malformed);
  EXPECT_EQ(check(c, c.issue("mbx01", mbx, -5), -5), token_verdict::malformed);
  // An LF in a field shifts the field count.
  EXPECT_EQ(check(c, c.issue("mbx01\nx", mbx, t0), t0), token_verdict::malformed);
  EXPECT_EQ(check(c, c.issue("mbx01", "u@corp.test\n", t0), t0, "u@corp.test\n"),
            token_verdict::malformed);
}

TEST(Affinity, GarbageEmptyAndOversizeInputs) {
  const affinity_codec c({key_a}, 12h);
  const auto token = c.issue("mbx01", mbx, t0);
  const auto dot = token.find('.');
  for (const std::string& bad : std::vector<std::string>{
           std::string(), std::string("."), std::string(".."), std::string("abc"),
           token.substr(0, dot), token + ".", "." + token, token + "=",
           token.substr(0, dot) + "=" + token.substr(dot), token.substr(0, dot) + "." + "A",
           token.substr(0, dot) + "+" + token.substr(dot + 1), std::string("\0.\0", 3),
           std::string("MQ.") + token.substr(dot + 1)}) {
    std::string backend = "stale";
    EXPECT_EQ(check(c, bad, t0, backend), token_verdict::malformed) << bad;
    EXPECT_EQ(backend, "");
  }
  // A valid token padded out to 1025 bytes by a longer mailbox and backend is refused unread.
  const std::string long_mailbox(700, 'm');
  const auto big = c.issue(std::string(60, 'b'), long_mailbox, t0);
  ASSERT_GT(big.size(), 1024u);
  EXPECT_EQ(check(c, big, t0, long_mailbox), token_verdict::malformed);
  const std::string fits_mailbox(600, 'm');
  const auto fits = c.issue("mbx01", fits_mailbox, t0);
  ASSERT_LE(fits.size(), 1024u);
  EXPECT_EQ(check(c, fits, t0, fits_mailbox), token_verdict::valid);
}

TEST(Affinity, NonCanonicalBase64IsMalformed) {
  const affinity_codec c({key_a}, 12h);
  const auto token = c.issue("mbx01", mbx, t0);
  // 32 MAC bytes leave 2 unused low bits in the last of 43 characters; setting one of them
  // decodes to the same bytes, which strict decoding refuses.
  std::string odd = token;
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::size_t last = alphabet.find(odd.back());
  ASSERT_EQ(last % 4, 0u);
  odd.back() = alphabet[last | 1];
  EXPECT_EQ(check(c, odd, t0), token_verdict::malformed);
}

TEST(Affinity, VerdictNamesAndConstructorContract) {
  EXPECT_EQ(to_string(token_verdict::valid), "valid");
  EXPECT_EQ(to_string(token_verdict::malformed), "malformed");
  EXPECT_EQ(to_string(token_verdict::unknown_key), "unknown_key");
  EXPECT_EQ(to_string(token_verdict::bad_signature), "bad_signature");
  EXPECT_EQ(to_string(token_verdict::expired), "expired");
  EXPECT_EQ(to_string(token_verdict::wrong_mailbox), "wrong_mailbox");
  EXPECT_THROW(affinity_codec({}, 12h), std::invalid_argument);
  EXPECT_THROW(affinity_codec({key_a}, -1s), std::invalid_argument);
}

}  // namespace
}  // namespace routing
