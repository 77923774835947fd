// Hop-by-hop fields between client and backend: which go, which stay, and in what order.
#include "proxy/request/header_rewrite.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace proxy {
namespace {

using field_list = std::vector<std::pair<std::string, std::string>>;

relay_fields make(const field_list& in) {
  relay_fields f;
  for (const auto& [name, value] : in)
    f.insert(name, value);
  return f;
}

field_list wire_order(const relay_fields& f) {
  field_list out;
  for (const auto& e : f)
    out.emplace_back(std::string(e.name_string()), std::string(e.value()));
  return out;
}

struct hop_case {
  const char* what;
  bool is_request;
  field_list in;
  field_list kept;
};

TEST(StripHopByHop, RemovesConnectionSpecificFieldsAndKeepsTheRestAsReceived) {
  const std::vector<hop_case> cases = {
      {"every listed field of a request, wherever it stands",
       true,
       {{"Host", "mail.corp.test"},
        {"Connection", "keep-alive"},
        {"Keep-Alive", "timeout=5"},
        {"content-type", "application/mapi-http"},
        {"Proxy-Connection", "keep-alive"},
        {"TE", "trailers"},
        {"Trailer", "X-Checksum"},
        {"Upgrade", "h2c"},
        {"Transfer-Encoding", "chunked"},
        {"Proxy-Authorization", "Basic dTpw"},
        {"Expect", "100-continue"},
        {"X-RequestType", "Execute"}},
       {{"Host", "mail.corp.test"},
        {"content-type", "application/mapi-http"},
        {"X-RequestType", "Execute"}}},
      {"a response keeps Proxy-Authorization and Expect (they are request-only rules)",
       false,
       {{"Proxy-Authorization", "x"}, {"Expect", "y"}, {"TE", "trailers"}, {"keep-alive", "1"}},
       {{"Proxy-Authorization", "x"}, {"Expect", "y"}}},
      {"fields named by Connection go, in any case, from every Connection field",
       true,
       {{"Connection", "X-Secret, close"},
        {"x-secret", "1"},
        {"X-Other", "2"},
        {"connection", "x-other"},
        {"X-Kept", "3"},
        {"X-SECRET", "4"}},
       {{"X-Kept", "3"}}},
      {"more named fields than are held inline",
       false,
       {{"Connection", "X-A, X-B, X-C, X-D, X-E, X-F"},
        {"X-A", "1"},
        {"X-Kept", "2"},
        {"X-F", "3"},
        {"X-E", "4"}},
       {{"X-Kept", "2"}}},
      {"Connection cannot strip the framing or the routing fields",
       true,
       {{"Host", "mail.corp.test"},
        {"Content-Length", "5"},
        {"Connection", "Host, content-length, X-Gone"},
        {"X-Gone", "1"}},
       {{"Host", "mail.corp.test"}, {"Content-Length", "5"}}},
      {"nothing to strip: everything stays, in order and case",
       false,
       {{"Set-Cookie", "a=1"}, {"X-ResponseCode", "0"}, {"x-beserver", "mbx01"}},
       {{"Set-Cookie", "a=1"}, {"X-ResponseCode", "0"}, {"x-beserver", "mbx01"}}},
  };
  for (const auto& c : cases) {
    auto f = make(c.in);
    strip_hop_by_hop(f, c.is_request);
    EXPECT_EQ(wire_order(f), c.kept) << c.what;
  }
}

}  // namespace
}  // namespace proxy
