// Table tests for SNI → certificate selection and name matching.
#include "tls/cert_selector.hpp"

#include <gtest/gtest.h>

namespace tls {
namespace {

TEST(CertSelector, PicksExactThenWildcardThenDefault) {
  cert_selector s({{"mail.corp.test"},
                   {"outlook.example.test", "autodiscover.example.test"},
                   {"*.example.test"},
                   {"Mail.Corp.Test"}});
  struct pick_case {
    const char* sni;
    std::size_t index;
    bool covered;
  };
  const pick_case cases[] = {
      {"mail.corp.test", 0, true},
      {"MAIL.CORP.TEST", 0, true},        // case-insensitive; earlier certificate wins
      {"mail.corp.test.", 0, true},       // trailing dot
      {"outlook.example.test", 1, true},  // exact beats wildcard
      {"autodiscover.example.test", 1, true},
      {"owa.example.test", 2, true},   // wildcard
      {"a.b.example.test", 0, false},  // wildcard covers one label only
      {"example.test", 0, false},
      {"unknown.test", 0, false},
      {"", 0, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.sni);
    EXPECT_EQ(s.select(c.sni), c.index);
    EXPECT_EQ(s.covers(c.sni), c.covered);
  }
}

TEST(CertSelector, NameMatchesFollowsRfc6125) {
  EXPECT_TRUE(name_matches("mail.corp.test", "mail.corp.test"));
  EXPECT_TRUE(name_matches("*.corp.test", "mail.corp.test"));
  EXPECT_FALSE(name_matches("*.corp.test", "corp.test"));
  EXPECT_FALSE(name_matches("*.corp.test", "a.mail.corp.test"));
  EXPECT_FALSE(name_matches("*", "corp"));
  EXPECT_FALSE(name_matches("mail.corp.test", "mail.corp.test.evil"));
}

}  // namespace
}  // namespace tls
