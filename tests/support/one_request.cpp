// One request over either protocol.
#include "tests/support/one_request.hpp"

#include <algorithm>
#include <cctype>

#include "tests/support/h2_client.hpp"

namespace testing_support {

std::string answer::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  return {};
}

std::string answer::cookies() const {
  std::string out;
  for (const auto& [n, v] : headers)
    if (n == "Set-Cookie" || n == "set-cookie")
      out += (out.empty() ? "" : "; ") + v.substr(0, v.find(';'));
  return out;
}

header_list lower_names(const header_list& fields) {
  header_list out;
  for (const auto& [n, v] : fields) {
    std::string name = n;
    for (auto& ch : name)
      ch = char(std::tolower(static_cast<unsigned char>(ch)));
    out.emplace_back(std::move(name), v);
  }
  return out;
}

answer send_one(bool h2, const gateway& gw, const std::string& method, const std::string& target,
                const header_list& fields, const std::string& body, const std::string& host) {
  answer a;
  if (h2) {
    h2_test_client c(gw.port(), host, test_pki::instance().ca_file());
    const auto lower = lower_names(fields);
    const auto& r = c.wait(c.request(method, target, host, lower, body));
    a.status = r.status;
    a.headers = r.headers;
    a.body = r.body;
    a.reset = r.error_code;
    return a;
  }
  auto c = gw.client(host);
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (const auto& [n, v] : fields)
    raw += n + ": " + v + "\r\n";
  if (!body.empty() || method == "POST")
    raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  c.send(raw + "\r\n" + body);
  const auto r = c.read_response();
  a.status = r.status;
  a.headers = r.headers;
  a.body = r.body;
  return a;
}

}  // namespace testing_support
