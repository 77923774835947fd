// The `logs` and `admin` sections: defaults, values into the snapshot, errors at file:line:col.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using config_test::messages;

// Lines 1-13.
const std::string head = R"(version: 1
server_name: gw
listeners:
  - name: https
    address: 127.0.0.1:8443
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:443
routes:
  - default: true
    backend: mbx01
)";

TEST(observability_config, defaults_admin_on_loopback_no_logs) {
  const auto r = config::load_string(head, "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  EXPECT_FALSE(r.config->logs);
  ASSERT_TRUE(r.config->admin);
  EXPECT_EQ(r.config->admin->address.host, "127.0.0.1");
  EXPECT_EQ(r.config->admin->address.port, 9464);
}

TEST(observability_config, values_into_snapshot) {
  const auto r = config::load_string(head + R"(logs:
  directory: /var/log/mapigate
  max_file_size: 20MiB
  max_directory_size: 2GiB
  max_age: 168h
  queue_records: 1000
admin:
  address: "[::1]:9100"
)",
                                     "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  const auto& l = *r.config->logs;
  EXPECT_EQ(l.directory, "/var/log/mapigate");
  EXPECT_EQ(l.max_file_bytes, 20u << 20);
  EXPECT_EQ(l.max_directory_bytes, 2ull << 30);
  EXPECT_EQ(l.max_age, 168h);
  EXPECT_EQ(l.queue_records, 1000u);
  EXPECT_EQ(r.config->admin->address.host, "::1");
  EXPECT_EQ(r.config->admin->address.port, 9100);
}

TEST(observability_config, relative_directory_resolves_and_admin_can_be_off) {
  const auto r =
      config::load_string(head + "logs: {directory: logs}\nadmin: {enabled: false}\n", "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  EXPECT_TRUE(std::filesystem::path(r.config->logs->directory).is_absolute());
  EXPECT_EQ(std::filesystem::path(r.config->logs->directory).filename(), "logs");
  EXPECT_FALSE(r.config->admin);
}

TEST(observability_config, errors_with_positions) {
  const auto r = config::load_string(head + R"(logs:
  max_file_size: 1KiB
  max_age: 10m
  queue_records: 0
  rotate: daily
admin:
  address: "127.0.0.1"
)",
                                     "t.yaml");
  ASSERT_FALSE(r);
  const auto m = messages(r);
  const auto has = [&](const std::string& part) {
    for (const auto& x : m)
      if (x.find(part) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("t.yaml:15:3: logs: missing required key \"directory\""))
      << ::testing::PrintToString(m);
  EXPECT_TRUE(has("logs.max_file_size")) << ::testing::PrintToString(m);
  EXPECT_TRUE(has("max_age must be at least 1h")) << ::testing::PrintToString(m);
  EXPECT_TRUE(has("logs.queue_records")) << ::testing::PrintToString(m);
  EXPECT_TRUE(has("rotate")) << ::testing::PrintToString(m);
  EXPECT_TRUE(has("admin.address")) << ::testing::PrintToString(m);
}

}  // namespace
