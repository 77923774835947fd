// Admin gzip: Accept-Encoding negotiation (table) and a round trip through zlib's inflate.
#include "proxy/admin/gzip.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

namespace {

TEST(Gzip, AcceptEncodingNegotiation) {
  const std::pair<const char*, bool> rows[] = {
      {"gzip", true},
      {"GZIP", true},
      {"x-gzip", true},
      {"deflate, gzip;q=1.0, *;q=0.5", true},  // what Prometheus sends
      {"gzip;q=0.5", true},
      {"gzip ; q=0.001", true},
      {"br, gzip", true},
      {"*", true},
      {"", false},
      {"identity", false},
      {"br, deflate", false},
      {"gzip;q=0", false},
      {"gzip;q=0.000", false},
      {"*;q=0", false},
      {"gzip;q=0, *", false},  // gzip itself refused wins over *
      {"gzip;q=nonsense", false},
      {"gzipx", false},
      {",,, ,", false},
  };
  for (const auto& [value, expected] : rows)
    EXPECT_EQ(proxy::accepts_gzip(value), expected) << value;
}

TEST(Gzip, RoundTrip) {
  std::string body;
  for (int i = 0; i < 2000; ++i)
    body += "mapigate_requests_total{vdir=\"emsmdb\"} " + std::to_string(i) + "\n";
  const auto packed = proxy::gzip(body);
  ASSERT_TRUE(packed);
  ASSERT_GE(packed->size(), 18u);
  EXPECT_EQ(std::uint8_t((*packed)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(std::uint8_t((*packed)[1]), 0x8b);
  EXPECT_LT(packed->size() * 5, body.size());
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(body.size() + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed->data()));
  z.avail_in = uInt(packed->size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  EXPECT_EQ(out, body);
  EXPECT_TRUE(proxy::gzip(""));
}

}  // namespace
