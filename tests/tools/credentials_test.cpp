// routing::authenticated_user against messages the simulator builds the way Windows does: the
// AuthenticatedUser column of the HttpProxy log. Table-driven; lives here because the message
// builders are the simulator's.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "routing/base64.hpp"
#include "routing/credentials.hpp"
#include "tools/sim/mapi_sim.hpp"
#include "tools/sim/ntlm.hpp"

namespace {

namespace ntlm = sim::detail::ntlm;
using routing::authenticated_user;
using routing::base64_encode;

struct row {
  std::string name;
  std::string authorization;
  std::optional<std::string> user;
};

TEST(Credentials, UserFromEachScheme) {
  const std::string spnego_prefix("\x60\x48\x06\x06\x2b\x06\x01\x05\x05\x02\xa1\x3e", 12);
  const std::vector<row> rows = {
      {"ntlm type 3", "NTLM " + sim::ntlm_type3_b64("CORP", "alice"), "CORP\\alice"},
      {"scheme case", "ntlm " + sim::ntlm_type3_b64("CORP", "alice"), "CORP\\alice"},
      {"no domain", "NTLM " + sim::ntlm_type3_b64("", "bob@corp.test"), "bob@corp.test"},
      {"unicode user", "NTLM " + sim::ntlm_type3_b64("CORP", "\xc3\xa5sa"), "CORP\\\xc3\xa5sa"},
      {"negotiate wrapping ntlm",
       "Negotiate " +
           base64_encode(spnego_prefix + ntlm::build_authenticate("CORP", "carol", "WS")),
       "CORP\\carol"},
      {"basic", "Basic " + base64_encode("corp\\dave:S3cret:with:colons"), "corp\\dave"},
      {"basic upn", "Basic " + base64_encode("eve@corp.test:pw"), "eve@corp.test"},
      {"ntlm type 1", "NTLM " + sim::ntlm_type1_b64(), std::nullopt},
      {"kerberos", "Negotiate " + base64_encode("\x60\x82 kerberos ticket"), std::nullopt},
      {"bearer", "Bearer eyJhbGciOiJub25lIn0.e30.", std::nullopt},
      {"basic without colon", "Basic " + base64_encode("nobody"), std::nullopt},
      {"basic empty user", "Basic " + base64_encode(":pw"), std::nullopt},
      {"bad base64", "NTLM !!!", std::nullopt},
      {"no token", "NTLM", std::nullopt},
      {"empty", "", std::nullopt},
  };
  for (const auto& r : rows)
    EXPECT_EQ(authenticated_user(r.authorization), r.user) << r.name;
}

TEST(Credentials, TruncatedType3NeverReadsOutOfBounds) {
  const std::string full = ntlm::build_authenticate("CORP", "alice", "WS");
  for (std::size_t n = 0; n < full.size(); ++n)
    EXPECT_EQ(authenticated_user("NTLM " + base64_encode(full.substr(0, n))), std::nullopt) << n;
}

TEST(Credentials, PasswordNeverReturned) {
  const auto user = authenticated_user("Basic " + base64_encode("alice:hunter2"));
  ASSERT_TRUE(user);
  EXPECT_EQ(user->find("hunter2"), std::string::npos);
}

}  // namespace
