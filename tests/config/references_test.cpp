// Exact diagnostics for pools, routes, duplicate names and several errors reported at once.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"
#include "test_support.hpp"

namespace {

// Lines 1-12: a valid head with two backends; the cases append pools and routes from line 13.
const std::string head = R"(version: 1
server_name: gw
listeners:
  - name: http
    address: 127.0.0.1:8080
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
  - name: mbx02
    address: 10.0.0.12:444
)";

const std::string mailbox_rule =
    " (expected <local>@<domain>: a MailboxId GUID@domain or an SMTP address)";

std::vector<std::string> load(const std::string& yaml) {
  return config_test::messages(config::load_string(yaml, "t.yaml"));
}

TEST(references_test, pool_members_and_names) {
  EXPECT_EQ(load(head + R"(pools:
  - name: dag1
    members: [mbx01, mbx09, mbx01]
  - name: dag1
    members: []
  - name: "dag 2"
  - name: dag3
    members: mbx01
routes:
  - default: true
    pool: dag1
)"),
            (std::vector<std::string>{
                "t.yaml:15:22: pools[0].members[1]: unknown backend \"mbx09\"",
                "t.yaml:15:29: pools[0].members[2]: duplicate member \"mbx01\"",
                "t.yaml:16:11: pools[1].name: duplicate pool name \"dag1\" (first in pools[0])",
                "t.yaml:17:14: pools[1].members: must not be empty",
                "t.yaml:18:5: pools[2]: missing required key \"members\"",
                "t.yaml:18:11: pools[2].name: invalid pool name \"dag 2\" (use letters, digits, "
                "\".\", \"_\" and \"-\", at most 64 characters)",
                "t.yaml:20:14: pools[3].members: expected a sequence, got \"mbx01\""}));
}

TEST(references_test, unknown_route_targets) {
  // Pools and backends have separate name spaces: "mbx01" is not a pool.
  EXPECT_EQ(load(head + R"(pools:
  - name: dag1
    members: [mbx01]
routes:
  - mailbox: a@corp.test
    backend: mbx09
  - domain: corp.test
    pool: dag9
  - default: true
    pool: mbx01
)"),
            (std::vector<std::string>{"t.yaml:18:14: routes[0].backend: unknown backend \"mbx09\"",
                                      "t.yaml:20:11: routes[1].pool: unknown pool \"dag9\"",
                                      "t.yaml:22:11: routes[2].pool: unknown pool \"mbx01\""}));
}

TEST(references_test, duplicate_names_addresses_and_routes) {
  EXPECT_EQ(load(R"(version: 1
server_name: gw
listeners:
  - name: http
    address: 127.0.0.1:8080
  - name: http
    address: 127.0.0.1:8080
  - name: test1
    address: 127.0.0.1:0
  - name: test2
    address: 127.0.0.1:0
mapi:
  internal_url: https://mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
  - name: mbx01
    address: 10.0.0.12:444
routes:
  - mailbox: Alice@Corp.Test
    backend: mbx01
  - mailbox: alice@corp.test
    backend: mbx01
  - domain: Corp.Test
    backend: mbx01
  - domain: corp.test
    backend: mbx01
  - default: true
    backend: mbx01
  - default: true
    backend: mbx01
)"),
            (std::vector<std::string>{
                "t.yaml:6:11: listeners[1].name: duplicate listener name \"http\" (first in "
                "listeners[0])",
                "t.yaml:7:14: listeners[1].address: duplicate address \"127.0.0.1:8080\" (first "
                "in listeners[0])",
                "t.yaml:17:11: backends[1].name: duplicate backend name \"mbx01\" (first in "
                "backends[0])",
                "t.yaml:22:14: routes[1].mailbox: duplicate mailbox route \"alice@corp.test\" "
                "(first in routes[0])",
                "t.yaml:26:13: routes[3].domain: duplicate domain route \"corp.test\" (first in "
                "routes[2])",
                "t.yaml:30:14: routes[5].default: duplicate default route (first in routes[4])"}));
}

TEST(references_test, route_shapes) {
  EXPECT_EQ(
      load(head + R"(routes:
  - mailbox: a@corp.test
    domain: corp.test
    backend: mbx01
  - domain: fabrikam.test
    pool: dag1
    backend: mbx01
  - backend: mbx01
  - default: true
  - default: false
    backend: mbx01
  - mailbox: not-an-address
    backend: mbx01
  - mailbox: "a b@corp.test"
    backend: mbx01
  - domain: "@corp.test"
    backend: mbx01
  - mailbox: a@b@corp.test
    backend: mbx02
  - default: [true]
    backend: mbx02
)"),
      (std::vector<std::string>{
          "t.yaml:15:5: routes[0]: both \"mailbox\" and \"domain\" given (a route has "
          "exactly one of \"mailbox\", \"domain\" or \"default\")",
          "t.yaml:19:5: routes[1]: both \"pool\" and \"backend\" given (a route has exactly "
          "one of them)",
          "t.yaml:20:5: routes[2]: missing \"mailbox\", \"domain\" or \"default\"",
          "t.yaml:21:5: routes[3]: missing \"pool\" or \"backend\"",
          "t.yaml:22:14: routes[4].default: must be true (omit the route instead)",
          "t.yaml:24:14: routes[5].mailbox: invalid mailbox \"not-an-address\"" + mailbox_rule,
          "t.yaml:26:14: routes[6].mailbox: invalid mailbox \"a b@corp.test\"" + mailbox_rule,
          "t.yaml:28:13: routes[7].domain: invalid domain \"@corp.test\" (expected a mail "
          "domain without \"@\")",
          "t.yaml:30:14: routes[8].mailbox: invalid mailbox \"a@b@corp.test\"" + mailbox_rule,
          "t.yaml:32:14: routes[9].default: expected true or false, got a sequence"}));
}

TEST(references_test, several_errors_at_once_in_file_order) {
  const auto r = config::load_string(R"(version: 1
server_name: gw
listeners:
  - name: https
    address: 127.0.0.1:99999
mapi:
  internal_url: mail.corp.test/mapi
backends:
  - name: mbx01
    address: 10.0.0.11:444
    wieght: 5
pools:
  - name: dag1
    members: [mbx01, mbx02]
routes:
  - default: true
    pool: dag2
timeouts:
  header_read: 30
limits:
  header_bytes: 16KB
)",
                                     "mapigate.yaml");
  EXPECT_FALSE(r);
  ASSERT_EQ(r.diagnostics.size(), 7u);
  EXPECT_EQ(config_test::messages(r),
            (std::vector<std::string>{
                "mapigate.yaml:5:14: listeners[0].address: invalid address \"127.0.0.1:99999\": "
                "port 99999 out of range 0..65535",
                "mapigate.yaml:7:17: mapi.internal_url: invalid URL \"mail.corp.test/mapi\": "
                "missing scheme (expected \"https://\" or \"http://\")",
                "mapigate.yaml:11:5: unknown key \"wieght\" in backends[0] (did you mean "
                "\"weight\"?)",
                "mapigate.yaml:14:22: pools[0].members[1]: unknown backend \"mbx02\"",
                "mapigate.yaml:17:11: routes[0].pool: unknown pool \"dag2\"",
                "mapigate.yaml:19:16: timeouts.header_read: invalid duration \"30\" (expected a "
                "number with unit ms, s, m, h or d)",
                "mapigate.yaml:21:17: limits.header_bytes: invalid size \"16KB\" (expected a byte "
                "count or a number with unit B, KiB, MiB or GiB)"}));
  EXPECT_EQ(r.diagnostics[0].file, "mapigate.yaml");
  EXPECT_EQ(r.diagnostics[0].line, 5);
  EXPECT_EQ(r.diagnostics[0].col, 14);
}

}  // namespace
