// The project's one base64 (routing/base64.hpp): RFC 4648's test vectors in both alphabets,
// and the strictness each decoder promises.
#include "routing/base64.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

// RFC 4648 §10.
TEST(Base64, StandardVectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64_encode(bytes), text);
    EXPECT_EQ(base64_decode(text), bytes) << text;
  }
}

TEST(Base64, StandardDecodingIsStrict) {
  EXPECT_EQ(base64_decode("Zm8"), "fo");  // padding is optional
  EXPECT_FALSE(base64_decode("Z"));       // a length of 1 mod 4
  EXPECT_FALSE(base64_decode("Zm9=="));   // more padding than needed
  EXPECT_FALSE(base64_decode("Zg==="));
  EXPECT_FALSE(base64_decode("Zm 9v"));
  EXPECT_FALSE(base64_decode("Zm9v\n"));
  EXPECT_FALSE(base64_decode("-_-_"));  // the URL-safe alphabet is not the standard one
  EXPECT_EQ(base64_decode("+/+/"), std::string("\xfb\xff\xbf", 3));
}

TEST(Base64, UrlSafeRoundTripsWithoutPadding) {
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 37)
    EXPECT_EQ(base64url_decode(base64url_encode(all.substr(0, n))), all.substr(0, n)) << n;
}

TEST(Base64, UrlSafeDecodingIsStrictAndCanonical) {
  EXPECT_FALSE(base64url_decode("Zg=="));  // no padding
  EXPECT_FALSE(base64url_decode("+/+/"));  // the standard alphabet is not the URL-safe one
  EXPECT_FALSE(base64url_decode("Z"));
  EXPECT_FALSE(base64url_decode("Zh"));   // "f" with a low bit set: not its one encoding
  EXPECT_FALSE(base64url_decode("Zm9"));  // "fo" likewise
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
}

}  // namespace
}  // namespace routing
