// Authentication scheme policy.
#include "routing/auth_policy.hpp"

#include <algorithm>

#include "routing/text.hpp"

namespace routing {

std::optional<config::auth_scheme> scheme_of(std::string_view v) {
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  const auto word = v.substr(0, v.find_first_of(" \t,"));
  if (iequals(word, "NTLM")) return config::auth_scheme::ntlm;
  if (iequals(word, "Negotiate")) return config::auth_scheme::negotiate;
  if (iequals(word, "Basic")) return config::auth_scheme::basic;
  if (iequals(word, "Bearer")) return config::auth_scheme::oauth;
  return std::nullopt;
}

bool binds_connection(config::auth_scheme s) noexcept {
  return s == config::auth_scheme::ntlm || s == config::auth_scheme::negotiate;
}

bool allows(std::span<const config::auth_scheme> allowed, config::auth_scheme s) noexcept {
  return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
}

std::vector<std::string> challenges_for(std::span<const config::auth_scheme> allowed,
                                        std::string_view realm) {
  std::vector<std::string> out;
  for (auto s : allowed) {
    switch (s) {
      case config::auth_scheme::ntlm:
        out.emplace_back("NTLM");
        break;
      case config::auth_scheme::negotiate:
        out.emplace_back("Negotiate");
        break;
      case config::auth_scheme::basic:
        out.emplace_back("Basic realm=\"" + std::string(realm) + "\"");
        break;
      case config::auth_scheme::oauth:
        out.emplace_back("Bearer");
        break;
      case config::auth_scheme::forms:
        break;  // the login form asks, not a challenge
    }
  }
  return out;
}

}  // namespace routing
