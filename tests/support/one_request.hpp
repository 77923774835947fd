// One request on a fresh connection of either protocol (HTTP/1.1 or HTTP/2), for behaviour
// tests that run over both (TEST_P): the answer as either protocol delivered it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/gateway.hpp"

namespace testing_support {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// A response as either protocol delivered it.
struct answer {
  int status = 0;
  header_list headers;  ///< names as received (HTTP/2: lower-case)
  std::string body;
  std::uint32_t reset = 0;  ///< HTTP/2 RST_STREAM code
  /// The first field named `name` (ASCII case-insensitive), or "".
  std::string header(std::string_view name) const;
  /// "name=value; …" of every Set-Cookie.
  std::string cookies() const;
};

/// The same fields with lower-case names, as HTTP/2 sends them.
header_list lower_names(const header_list& fields);

/// One request on a new connection to `gw`: HTTP/2 when `h2` (the listener must offer h2),
/// else HTTP/1.1 with a Content-Length for a body or a POST. SNI: `host`.
answer send_one(bool h2, const gateway& gw, const std::string& method, const std::string& target,
                const header_list& fields, const std::string& body = {},
                const std::string& host = internal_host);

}  // namespace testing_support
