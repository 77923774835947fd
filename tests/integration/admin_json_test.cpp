// The admin API's JSON (GET /backends): valid JSON whatever bytes a string holds, and the
// same field names, order, types and meanings on a running mapigate. Every document is read
// back with Boost.JSON's strict parser (UTF-8 checked, raw control characters refused).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "proxy/admin/admin.hpp"
#include "tests/support/admin.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/sims.hpp"

namespace testing_support {
namespace {

namespace json = boost::json;

/// The keys of GET /backends' objects, in the order mapigate writes them.
const std::vector<std::string> backend_keys = {"name",
                                               "address",
                                               "tls",
                                               "config_state",
                                               "cordoned",
                                               "health",
                                               "reachable",
                                               "ejected",
                                               "down",
                                               "usable",
                                               "upstream_connections",
                                               "requests_in_flight",
                                               "sessions",
                                               "vdirs"};

std::vector<std::string> keys_of(const json::object& o) {
  std::vector<std::string> keys;
  for (const auto& kv : o)
    keys.emplace_back(kv.key());
  return keys;
}

/// `body` parsed strictly: it must end with one newline, hold one object with "backends".
json::array backends_of(const std::string& body) {
  EXPECT_TRUE(body.ends_with("}\n")) << body;
  json::error_code ec;
  const auto doc = json::parse(body, ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << body;
  if (ec || !doc.is_object() || !doc.as_object().contains("backends")) return {};
  return doc.as_object().at("backends").as_array();
}

TEST(AdminJson, StringsWithAnyCharacterComeOutValidAndIntact) {
  const std::vector<std::string> names = {
      "quote\"d",
      "back\\slash",
      "/solidus/",
      "line\nfeed\r\ttab",
      std::string("nul\0byte", 8),
      "\x01\x1f\x7f",
      "bell\b\f",
      "\xc3\xa5lice \xf0\x9f\x98\x80 \xe2\x80\xa8",  // å, an emoji, U+2028
      "</script>",
      ""};
  std::vector<proxy::backend_status> list;
  for (const auto& n : names)
    list.push_back({.name = n, .address = n + ":443"});
  const auto body = proxy::backends_json(list);
  const auto backends = backends_of(body);
  ASSERT_EQ(backends.size(), names.size()) << body;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& o = backends[i].as_object();
    EXPECT_EQ(o.at("name").as_string(), names[i]) << i;
    EXPECT_EQ(o.at("address").as_string(), names[i] + ":443") << i;
  }
  // No raw control character anywhere but the final newline.
  for (std::size_t i = 0; i + 1 < body.size(); ++i)
    EXPECT_GE(static_cast<unsigned char>(body[i]), 0x20) << "at " << i << ": " << body;
}

TEST(AdminJson, FieldsKeepTheirNamesOrderAndTypes) {
  const proxy::backend_status s{.name = "mbx01",
                                .address = "10.0.0.1:443",
                                .tls = true,
                                .draining = true,
                                .cordoned = true,
                                .check_up = false,
                                .reachable = false,
                                .ejected = true,
                                .down = true,
                                .usable = false,
                                .upstream_connections = 7,
                                .requests_in_flight = 3,
                                .sessions = 12,
                                .vdirs = {{"ews", false, true, false}, {"rpc", true, false, true}}};
  EXPECT_EQ(
      proxy::backends_json({&s, 1}),
      R"({"backends":[{"name":"mbx01","address":"10.0.0.1:443","tls":true,)"
      R"("config_state":"draining","cordoned":true,"health":"down","reachable":false,)"
      R"("ejected":true,"down":true,"usable":false,"upstream_connections":7,)"
      R"("requests_in_flight":3,"sessions":12,"vdirs":{"ews":{"health":"down","cordoned":true,)"
      R"("ready":false},"rpc":{"health":"up","cordoned":false,"ready":true}}}]})"
      "\n");
  const proxy::backend_status fresh{.name = "mbx02", .address = "mbx02.corp.test:80"};
  const auto o = backends_of(proxy::backends_json({&fresh, 1})).at(0).as_object();
  EXPECT_EQ(keys_of(o), backend_keys);
  EXPECT_EQ(o.at("config_state"), "active");
  EXPECT_EQ(o.at("health"), "up");
  EXPECT_EQ(o.at("usable"), true);
  EXPECT_EQ(o.at("sessions").to_number<std::uint64_t>(), 0u);
  EXPECT_EQ(proxy::backends_json({}), "{\"backends\":[]}\n");
}

TEST(AdminJson, RunningGatewayServesTheSameDocument) {
  auto a = start_sim("mbx01");
  auto b = start_sim("mbx02");
  gateway gw({.backends = {{"mbx01", a->port()},
                           {.name = "mbx02", .port = b->port(), .state = "draining"}}});
  const auto admin = gw.admin_port();
  ASSERT_EQ(admin_call(admin, "POST", "/backends/mbx01/cordon").status, 200);
  const auto response = admin_call(admin, "GET", "/backends");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  const auto backends = backends_of(response.body);
  ASSERT_EQ(backends.size(), 2u) << response.body;
  for (const auto& v : backends) {
    const auto& o = v.as_object();
    EXPECT_EQ(keys_of(o), backend_keys);
    for (const char* key : {"tls", "cordoned", "reachable", "ejected", "down", "usable"})
      EXPECT_TRUE(o.at(key).is_bool()) << key;
    for (const char* key : {"upstream_connections", "requests_in_flight", "sessions"})
      EXPECT_TRUE(o.at(key).is_number()) << key;
  }
  const auto& first = backends[0].as_object();
  const auto& second = backends[1].as_object();
  EXPECT_EQ(first.at("name"), "mbx01");
  EXPECT_EQ(first.at("address").as_string(), "127.0.0.1:" + std::to_string(a->port()));
  EXPECT_EQ(first.at("tls"), false);
  EXPECT_EQ(first.at("config_state"), "active");
  EXPECT_EQ(first.at("cordoned"), true);
  EXPECT_EQ(second.at("name"), "mbx02");
  EXPECT_EQ(second.at("config_state"), "draining");
  EXPECT_EQ(second.at("cordoned"), false);
  // The tests' field reader still finds what it looks for.
  EXPECT_EQ(backend_field(admin, "mbx02", "config_state"), "\"draining\"");
  // The drain workflow in the metrics too: what the admin API did, what the config says.
  const auto m = metrics_text(admin);
  EXPECT_EQ(sample(m, R"(mapigate_backend_cordoned{backend="mbx01"})"), 1) << m;
  EXPECT_EQ(sample(m, R"(mapigate_backend_cordoned{backend="mbx02"})"), 0);
  EXPECT_EQ(sample(m, R"(mapigate_backend_draining{backend="mbx01"})"), 0);
  EXPECT_EQ(sample(m, R"(mapigate_backend_draining{backend="mbx02"})"), 1);
  EXPECT_EQ(sample(m, R"(mapigate_backend_sessions{backend="mbx01"})"), 0);
}

}  // namespace
}  // namespace testing_support
