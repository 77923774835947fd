// Bounded label mapping: table tests.
#include <gtest/gtest.h>

#include "metrics/labels.hpp"

namespace {

using metrics::vdir_label;

TEST(Labels, CodeClass) {
  const std::pair<int, std::string_view> rows[] = {
      {200, "2xx"}, {204, "2xx"}, {302, "3xx"},  {401, "4xx"},  {499, "4xx"}, {502, "5xx"},
      {599, "5xx"}, {0, "none"},  {100, "none"}, {600, "none"}, {-1, "none"}};
  for (const auto& [status, name] : rows)
    EXPECT_EQ(metrics::code_class_names[metrics::code_class(status)], name) << status;
  // A logon step: only its 401 is set apart; what else it gets keeps its class.
  const std::pair<int, std::string_view> steps[] = {
      {401, "auth_challenge"}, {200, "2xx"}, {403, "4xx"}, {502, "5xx"}, {0, "none"}};
  for (const auto& [status, name] : steps)
    EXPECT_EQ(metrics::code_class_names[metrics::code_class(status, true)], name) << status;
}

TEST(Labels, RequestTypesAreBoundedPerVdir) {
  struct row {
    vdir_label v;
    std::string_view header, label;
  };
  const row rows[] = {
      {vdir_label::emsmdb, "Execute", "Execute"},
      {vdir_label::emsmdb, "execute", "Execute"},
      {vdir_label::emsmdb, "NotificationWait", "NotificationWait"},
      {vdir_label::emsmdb, "PING", "PING"},
      {vdir_label::emsmdb, "Bind", "other"},  // an NSPI type on emsmdb
      {vdir_label::emsmdb, "", "other"},
      {vdir_label::emsmdb, "x\" evil=\"1", "other"},
      {vdir_label::nspi, "GetMatches", "GetMatches"},
      {vdir_label::nspi, "Unbind", "Unbind"},
      {vdir_label::nspi, "Connect", "other"},
      {vdir_label::other, "Execute", "none"},
      {vdir_label::ews, "Execute", "none"},
      {vdir_label::rpc, "", "none"},
  };
  for (const auto& r : rows) {
    const auto types = metrics::request_types(r.v);
    EXPECT_EQ(types[metrics::request_type_index(r.v, r.header)], r.label) << r.header;
  }
}

TEST(Labels, SlotsCoverEveryTypeOnce) {
  std::vector<bool> seen(metrics::request_type_slots(), false);
  for (std::size_t vi = 0; vi < metrics::vdir_names.size(); ++vi) {
    const auto v = vdir_label(vi);
    for (std::size_t i = 0; i < metrics::request_types(v).size(); ++i) {
      const auto slot = metrics::request_type_slot(v, i);
      ASSERT_LT(slot, seen.size());
      EXPECT_FALSE(seen[slot]);
      seen[slot] = true;
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), false), 0);
}

TEST(Labels, MapiCodes) {
  EXPECT_EQ(metrics::parse_mapi_code("0"), 0);
  EXPECT_EQ(metrics::parse_mapi_code(" 10 "), 10);
  EXPECT_EQ(metrics::parse_mapi_code(""), std::nullopt);
  EXPECT_EQ(metrics::parse_mapi_code("1a"), std::nullopt);
  EXPECT_EQ(metrics::parse_mapi_code("1000"), std::nullopt);
  EXPECT_EQ(metrics::parse_mapi_code("-1"), std::nullopt);
  EXPECT_EQ(metrics::mapi_code_index(18), 18u);
  EXPECT_EQ(metrics::mapi_code_index(19), metrics::mapi_code_labels - 1);
  EXPECT_EQ(metrics::mapi_code_index(-3), metrics::mapi_code_labels - 1);
}

TEST(Labels, TlsVersions) {
  EXPECT_EQ(metrics::tls_version_index("TLSv1.3"), 1u);
  EXPECT_EQ(metrics::tls_version_index("TLSv1.2"), 0u);
  EXPECT_EQ(metrics::tls_version_index("SSLv3"), 2u);
}

}  // namespace
