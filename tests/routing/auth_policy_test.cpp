// Table tests for authentication scheme policy.
#include "routing/auth_policy.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

using config::auth_scheme;

TEST(AuthPolicy, RecognisesSchemes) {
  EXPECT_EQ(scheme_of("NTLM TlRMTVNTUAABAAAA"), auth_scheme::ntlm);
  EXPECT_EQ(scheme_of("ntlm"), auth_scheme::ntlm);
  EXPECT_EQ(scheme_of("Negotiate YIIG"), auth_scheme::negotiate);
  EXPECT_EQ(scheme_of("Basic dXNlcjpwdw=="), auth_scheme::basic);
  EXPECT_EQ(scheme_of("Basic realm=\"mail\""), auth_scheme::basic);
  EXPECT_EQ(scheme_of("Bearer eyJ0"), auth_scheme::oauth);
  EXPECT_EQ(scheme_of("Digest x"), std::nullopt);
  EXPECT_EQ(scheme_of("NTLMX"), std::nullopt);
  EXPECT_EQ(scheme_of(""), std::nullopt);
}

TEST(AuthPolicy, OnlyNtlmAndNegotiateBindTheConnection) {
  EXPECT_TRUE(binds_connection(auth_scheme::ntlm));
  EXPECT_TRUE(binds_connection(auth_scheme::negotiate));
  EXPECT_FALSE(binds_connection(auth_scheme::basic));
  EXPECT_FALSE(binds_connection(auth_scheme::oauth));
}

TEST(AuthPolicy, ChallengesFollowConfiguredOrder) {
  const std::vector<auth_scheme> allowed{auth_scheme::negotiate, auth_scheme::basic,
                                         auth_scheme::oauth};
  EXPECT_EQ(challenges_for(allowed, "mail.corp.test"),
            (std::vector<std::string>{"Negotiate", "Basic realm=\"mail.corp.test\"", "Bearer"}));
  EXPECT_TRUE(allows(allowed, auth_scheme::basic));
  EXPECT_FALSE(allows(allowed, auth_scheme::ntlm));
}

}  // namespace
}  // namespace routing
