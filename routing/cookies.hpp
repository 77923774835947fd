// Cookie header handling: take mapigate's own cookie out, leave every other cookie untouched.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace routing {

/// Result of removing the cookies named `name` (and the ProxyLogon-era `X-BEResource`, which
/// only an attacker sends to a front end) from one Cookie header value.
struct cookie_split {
  std::optional<std::string> value;  ///< our cookie's value (the last one, if repeated)
  std::string rest;                  ///< the header without those cookies; "" when none remain
  bool changed = false;              ///< something was removed
  bool removed_be_resource = false;  ///< an X-BEResource cookie was removed
};

/// Splits `header` ("a=1; b=2") at ';'. Pairs that are not ours are copied byte for byte,
/// joined by "; ". Never fails: malformed pairs are simply not ours and pass through.
cookie_split split_cookie_header(std::string_view header, std::string_view name);

/// A Set-Cookie value for mapigate's cookie: `name=value; Path=/mapi; Secure; HttpOnly`.
std::string affinity_set_cookie(std::string_view name, std::string_view value);

}  // namespace routing
