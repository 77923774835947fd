// Real client traffic (sensepost/ruler, captured against grommunio/gromox) replayed through
// mapigate: the simulator must receive the same body bytes and header-name spelling.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/gateway.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

struct parsed {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

parsed split(const std::string& raw) {
  parsed p;
  const auto end = raw.find("\r\n\r\n");
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < end) {
    const auto eol = raw.find("\r\n", pos);
    const auto line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    p.headers.emplace_back(line.substr(0, colon),
                           line.substr(line.find_first_not_of(' ', colon + 1)));
    pos = eol + 2;
  }
  p.body = raw.substr(end + 4);
  return p;
}

TEST(Replay, CapturedRequestsReachTheBackendByteIdentical) {
  sim::options o;
  o.name = "mbx01";
  sim::server mbx(o);
  mbx.start();
  gateway gw({.backends = {{"mbx01", mbx.port()}}});

  std::size_t replayed = 0;
  for (const char* run : {"ruler-check-basic", "ruler-abk-list-basic"}) {
    const std::filesystem::path dir = std::filesystem::path(MAPIGATE_TESTDATA) / "captures" / run;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".c2s") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string raw = read_file(f.string());
      if (raw.rfind("POST /mapi/", 0) != 0) continue;  // autodiscover is not mapigate's
      SCOPED_TRACE(f.string());
      // The capture was made against 127.0.0.1:<port>; aim it at our namespace instead.
      const auto host = raw.find("\r\nHost: ") + 8;
      raw.replace(host, raw.find("\r\n", host) - host, internal_host);
      const auto original = split(raw);

      mbx.clear_records();
      auto c = gw.client();
      c.send(raw);
      const auto r = c.read_response();
      EXPECT_EQ(r.status, 200);
      ASSERT_TRUE(mbx.wait_for_requests(1, 2s));
      const auto got = mbx.requests().front();
      EXPECT_EQ(got.body, original.body);

      // Every header the client sent arrives with the same spelling, value and order, except
      // the hop-by-hop Connection; mapigate adds only X-Forwarded-For.
      std::vector<std::pair<std::string, std::string>> expected;
      for (const auto& h : original.headers)
        if (h.first != "Connection") expected.push_back(h);
      std::vector<std::pair<std::string, std::string>> seen;
      for (const auto& h : got.headers)
        if (h.name != "X-Forwarded-For") seen.emplace_back(h.name, h.value);
      EXPECT_EQ(seen, expected);
      ++replayed;
    }
  }
  EXPECT_EQ(replayed, 11u);
}

}  // namespace
}  // namespace testing_support
