// Autodiscover POX bodies: the EMailAddress anchor, and what is never read as one.
#include "routing/pox.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

std::string pox(const std::string& inner) {
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover "
         "xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">"
         "<Request>" +
         inner + "</Request></Autodiscover>";
}

TEST(Pox, EmailAddressOfTheRequest) {
  struct row {
    const char* name;
    std::string body;
    std::optional<std::string> email;
  };
  const std::vector<row> rows = {
      {"outlook",
       pox("<EMailAddress>alice@corp.test</EMailAddress><AcceptableResponseSchema>x"
           "</AcceptableResponseSchema>"),
       "alice@corp.test"},
      {"spaces", pox("<EMailAddress>\n  alice@corp.test \n</EMailAddress>"), "alice@corp.test"},
      {"prefixed namespace",
       "<a:Autodiscover xmlns:a=\"urn:x\"><a:Request><a:EMailAddress>bob@corp.test</a:EMailAddress>"
       "</a:Request></a:Autodiscover>",
       "bob@corp.test"},
      {"first of two",
       pox("<EMailAddress>a@x.test</EMailAddress><EMailAddress>b@x.test</EMailAddress>"),
       "a@x.test"},
      {"elsewhere", "<Autodiscover><EMailAddress>a@x.test</EMailAddress></Autodiscover>",
       std::nullopt},
      {"nested deeper", pox("<X><EMailAddress>a@x.test</EMailAddress></X>"), std::nullopt},
      {"empty", pox("<EMailAddress></EMailAddress>"), std::nullopt},
      {"absent", pox("<LegacyDN>/o=x</LegacyDN>"), std::nullopt},
      {"not xml", "EMailAddress=alice@corp.test", std::nullopt},
      {"unclosed", pox("<EMailAddress>alice@corp.test"), std::nullopt},
      {"doctype",
       "<!DOCTYPE a [<!ENTITY e \"alice@corp.test\">]>" + pox("<EMailAddress>&e;</EMailAddress>"),
       std::nullopt},
      {"external entity",
       "<!DOCTYPE a [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>" +
           pox("<EMailAddress>&e;</EMailAddress>"),
       std::nullopt},
      {"too long a value", pox("<EMailAddress>" + std::string(400, 'a') + "@x.test</EMailAddress>"),
       std::nullopt},
      {"too deep", std::string(20, '<'), std::nullopt},
      {"too large",
       pox("<EMailAddress>a@x.test</EMailAddress><P>" + std::string(70000, 'x') + "</P>"),
       std::nullopt},
  };
  for (const auto& r : rows)
    EXPECT_EQ(pox_email_address(r.body), r.email) << r.name;
  std::string deep;
  for (int i = 0; i < 20; ++i)
    deep += "<a>";
  EXPECT_FALSE(pox_email_address(deep));
}

}  // namespace
}  // namespace routing
