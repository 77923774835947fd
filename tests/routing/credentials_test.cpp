// Who a request says it is, and whether it opens an NTLM handshake: table tests.
#include "routing/credentials.hpp"

#include <gtest/gtest.h>

#include "routing/base64.hpp"
#include "routing/ntlm_client.hpp"

namespace routing {
namespace {

std::string type1() {
  return base64_encode(ntlm::build_negotiate());
}

std::string type3(std::string_view domain, std::string_view user) {
  ntlm::challenge_fields c;
  c.target_info = std::string("\0\0\0\0", 4);
  return base64_encode(
      *ntlm::build_authenticate_v2(c, {std::string(user), std::string(domain), "pw", "WS"}, {}, 0));
}

TEST(Credentials, UserAndHandshakeOfEachAuthorization) {
  struct row {
    std::string value;
    std::optional<std::string> user;
    bool opens;
  };
  const std::vector<row> rows = {
      {"Basic " + base64_encode("alice:secret"), "alice", false},
      {"basic " + base64_encode("CORP\\bob:x:y"), "CORP\\bob", false},
      {"Basic " + base64_encode(":nouser"), std::nullopt, false},
      {"Basic !!!", std::nullopt, false},
      {"NTLM " + type1(), std::nullopt, true},
      {"Negotiate " + type1(), std::nullopt, true},
      {"NTLM  " + type1() + " ", std::nullopt, true},
      {"NTLM " + type3("CORP", "alice"), "CORP\\alice", false},
      {"Negotiate " + type3("", "carol@corp.test"), "carol@corp.test", false},
      {"Negotiate YIIFakeKerberos", std::nullopt, false},
      {"Bearer eyJhbGciOi", std::nullopt, false},
      {"NTLM", std::nullopt, false},
      {"", std::nullopt, false},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(authenticated_user(r.value), r.user) << r.value;
    EXPECT_EQ(opens_handshake(r.value), r.opens) << r.value;
  }
}

}  // namespace
}  // namespace routing
