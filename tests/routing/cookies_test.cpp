// Table tests: mapigate's cookie and X-BEResource come out of Cookie headers, nothing else does.
#include "routing/cookies.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

TEST(Cookies, SplitsOursAndKeepsTheRest) {
  struct cookie_case {
    const char* header;
    std::optional<std::string> value;
    const char* rest;
    bool changed, be_resource;
  };
  const cookie_case cases[] = {
      {"MapiContext=abc; MapiSequence=def", std::nullopt, "MapiContext=abc; MapiSequence=def",
       false, false},
      {"MapigateAffinity=tok", "tok", "", true, false},
      {"sid=1; MapigateAffinity=tok; sequence=2", "tok", "sid=1; sequence=2", true, false},
      {"MapigateAffinity=old;MapigateAffinity=new", "new", "", true, false},
      {"mapigateaffinity=x; a=b", std::nullopt, "mapigateaffinity=x; a=b", false,
       false},  // names are case-sensitive
      {"X-BEResource=10.0.0.1:444/ecp; a=b", std::nullopt, "a=b", true, true},
      {"x-beresource=h; MapigateAffinity=t", "t", "", true, true},
      {"  a=b  ;;  c=d ", std::nullopt, "a=b; c=d", false, false},
      {"flag; a=b", std::nullopt, "flag; a=b", false, false},
      {"", std::nullopt, "", false, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.header);
    const auto s = split_cookie_header(c.header, "MapigateAffinity");
    EXPECT_EQ(s.value, c.value);
    EXPECT_EQ(s.rest, c.rest);
    EXPECT_EQ(s.changed, c.changed);
    EXPECT_EQ(s.removed_be_resource, c.be_resource);
  }
}

TEST(Cookies, SetCookieCarriesTheSecurityAttributes) {
  EXPECT_EQ(affinity_set_cookie("MapigateAffinity", "v"),
            "MapigateAffinity=v; Path=/mapi; Secure; HttpOnly");
}

}  // namespace
}  // namespace routing
