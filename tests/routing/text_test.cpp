// The project's ASCII helpers (routing/text.hpp): case, classes, trimming, percent decoding;
// bytes above 0x7f are never letters, digits or controls and keep their value.
#include "routing/text.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

TEST(Text, CaseMappingIsAsciiOnly) {
  EXPECT_EQ(to_lower("MiXeD-09_Z@A"), "mixed-09_z@a");
  EXPECT_EQ(to_upper("MiXeD-09_z@a"), "MIXED-09_Z@A");
  EXPECT_EQ(to_lower("\xc3\x84"), "\xc3\x84");  // "Ä" in UTF-8 stays as it is
  EXPECT_EQ(to_upper("\xc3\xa4"), "\xc3\xa4");
  EXPECT_EQ(ascii_lower('['), '[');  // the byte after 'Z'
  EXPECT_EQ(ascii_upper('`'), '`');  // the byte before 'a'
}

TEST(Text, CaseInsensitiveComparison) {
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(iequals("abc", "abcd"));
  EXPECT_FALSE(iequals("[", "{"));  // 0x5b and 0x7b differ by 0x20 but are not letters
  EXPECT_TRUE(istarts_with("/MAPI/emsmdb", "/mapi"));
  EXPECT_FALSE(istarts_with("/ma", "/mapi"));
}

TEST(Text, CharacterClasses) {
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    const bool digit = i >= '0' && i <= '9';
    const bool letter = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z');
    EXPECT_EQ(ascii_digit(c), digit) << i;
    EXPECT_EQ(ascii_alnum(c), digit || letter) << i;
    EXPECT_EQ(ascii_control(c), i < 0x20 || i == 0x7f) << i;
  }
  EXPECT_EQ(hex_value('0'), 0);
  EXPECT_EQ(hex_value('9'), 9);
  EXPECT_EQ(hex_value('a'), 10);
  EXPECT_EQ(hex_value('F'), 15);
  EXPECT_EQ(hex_value('g'), -1);
  EXPECT_EQ(hex_value('\xc6'), -1);
}

TEST(Text, TrimTakesSpacesAndTabsOnly) {
  EXPECT_EQ(trim(" \t value \t"), "value");
  EXPECT_EQ(trim("\r\nvalue\n"), "\r\nvalue\n");
  EXPECT_EQ(trim("   "), "");
}

TEST(Text, PercentDecoding) {
  std::string out;
  EXPECT_TRUE(percent_decode("a%40b%2Ec+d", out));
  EXPECT_EQ(out, "a@b.c+d");
  EXPECT_FALSE(percent_decode("a%4", out));
  EXPECT_FALSE(percent_decode("a%zz", out));
}

}  // namespace
}  // namespace routing
