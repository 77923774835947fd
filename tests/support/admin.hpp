// The admin listener as tests read it: one call, a backend's field in GET /backends, a sample
// of GET /metrics. Plain HTTP on loopback through test_client.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

#include "tests/support/client.hpp"

namespace testing_support {

inline http_response admin_call(std::uint16_t port, const std::string& method,
                                const std::string& path, const std::string& extra = {}) {
  auto c = test_client::plain(port);
  c.send(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n" + extra +
         "\r\n");
  return c.read_response();
}

/// The value of `"key":value` inside the JSON object of backend `name` in GET /backends ("" when
/// absent); strings keep their quotes.
inline std::string backend_field(std::uint16_t admin, const std::string& name,
                                 const std::string& key) {
  const auto body = admin_call(admin, "GET", "/backends").body;
  const auto at = body.find("{\"name\":\"" + name + "\"");
  if (at == std::string::npos) return "";
  const auto end = body.find('}', at);
  const auto k = body.find("\"" + key + "\":", at);
  if (k == std::string::npos || k > end) return "";
  const auto v = k + key.size() + 3;
  return body.substr(v, body.find_first_of(",}", v) - v);
}

/// The value of the sample `series` (`name{labels}`, labels exactly as prometheus-cpp writes
/// them: sorted by name) in a text exposition; -1 when absent.
inline double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

/// GET /metrics on the admin listener: the exposition text.
inline std::string metrics_text(std::uint16_t admin) {
  return admin_call(admin, "GET", "/metrics").body;
}

}  // namespace testing_support
