// Table tests for Host/SNI normalisation and namespace matching.
#include "routing/namespaces.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

TEST(Namespaces, NormalizesHostHeaders) {
  struct host_case {
    const char* in;
    const char* out;  // nullptr: refused
  };
  const host_case cases[] = {
      {"Mail.Corp.Test", "mail.corp.test"},
      {"mail.corp.test:8443", "mail.corp.test"},
      {"mail.corp.test.", "mail.corp.test"},
      {"[::1]:443", "::1"},
      {"[::1]", "::1"},
      {"MAIL.Corp.Test.:443", "mail.corp.test"},
      {"[FE80::1A]:8443", "fe80::1a"},
      {"Mbx_01-B.corp.test", "mbx_01-b.corp.test"},
      {"", nullptr},
      {":443", nullptr},
      {"mail.corp.test:", nullptr},
      {"mail.corp.test:44x", nullptr},
      {"mail.corp.test:123456", nullptr},
      {"user@mail.corp.test", nullptr},
      {"mail.corp.test/evil", nullptr},
      {"mail corp", nullptr},
      {"[::1", nullptr},
      {"[::1]x", nullptr},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto h = normalize_host(c.in);
    if (!c.out) {
      EXPECT_FALSE(h);
    } else {
      ASSERT_TRUE(h);
      EXPECT_EQ(*h, c.out);
    }
  }
}

TEST(Namespaces, MatchesInternalAndExternalHosts) {
  config::mapi_vdir v;
  v.internal_url =
      config::vdir_url{"https://mail.corp.test/mapi", "https", "mail.corp.test", 443, "/mapi"};
  v.external_url = config::vdir_url{"https://outlook.example.test/mapi", "https",
                                    "outlook.example.test", 443, "/mapi"};
  namespace_map m(v);
  EXPECT_EQ(m.match("mail.corp.test"), namespace_kind::internal);
  EXPECT_EQ(m.match("outlook.example.test"), namespace_kind::external);
  EXPECT_EQ(m.match("other.example.test"), std::nullopt);
  EXPECT_EQ(m.vdir_path(namespace_kind::external), "/mapi");
}

}  // namespace
}  // namespace routing
