// URL and host:port rules, table-driven: accepted forms with their parsed parts, and the exact
// diagnostic for each rejected form.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "test_support.hpp"

namespace {

// The URL lands on line 7, column 17 (its opening quote); the listener address on line 5,
// column 14; the backend address on line 10, column 14.
std::string config_with(const std::string& listener_address, const std::string& url,
                        const std::string& backend_address) {
  return R"(version: 1
server_name: gw
listeners:
  - name: l
    address: ")" +
         listener_address + R"("
mapi:
  internal_url: ")" +
         url + R"("
backends:
  - name: b
    address: ")" +
         backend_address + R"("
routes:
  - default: true
    backend: b
)";
}

const char* const good_url = "https://mail.corp.test/mapi";
const char* const good_address = "127.0.0.1:8080";

struct bad_case {
  std::string text;
  std::string reason;
};

class bad_url_test : public ::testing::TestWithParam<bad_case> {};

TEST_P(bad_url_test, reports_the_rule) {
  const auto& c = GetParam();
  const auto r = config::load_string(config_with(good_address, c.text, good_address), "t.yaml");
  EXPECT_EQ(config_test::messages(r),
            std::vector<std::string>{"t.yaml:7:17: mapi.internal_url: invalid URL \"" + c.text +
                                     "\": " + c.reason});
}

INSTANTIATE_TEST_SUITE_P(
    config, bad_url_test,
    ::testing::Values(
        bad_case{"mail.corp.test/mapi", "missing scheme (expected \"https://\" or \"http://\")"},
        bad_case{"://mail.corp.test/mapi", "missing scheme (expected \"https://\" or \"http://\")"},
        bad_case{"ftp://mail.corp.test/mapi",
                 "unsupported scheme \"ftp\" (expected http or https)"},
        bad_case{"https:///mapi", "missing host"}, bad_case{"https://:443/mapi", "missing host"},
        bad_case{"https://mail.corp.test", "missing path (e.g. \"/mapi\")"},
        bad_case{"https://mail.corp.test/", "missing path (e.g. \"/mapi\")"},
        bad_case{"https://mail.corp.test/mapi?x=1", "must not have a query or fragment"},
        bad_case{"https://mail.corp.test/mapi#top", "must not have a query or fragment"},
        bad_case{"https://mail.corp.test:99999/mapi", "port 99999 out of range 1..65535"},
        bad_case{"https://mail.corp.test:0/mapi", "port 0 out of range 1..65535"},
        bad_case{"https://mail.corp.test:abc/mapi", "port \"abc\" is not a number"},
        bad_case{"https://mail.corp.test:/mapi", "missing port after \":\""},
        bad_case{"https://user@mail.corp.test/mapi", "must not contain user information"},
        bad_case{"https://fe80::1/mapi", "IPv6 addresses must be in brackets, e.g. \"[::1]:8443\""},
        bad_case{"https://[zz::1]/mapi", "invalid IPv6 address \"zz::1\""},
        bad_case{"https://[::1/mapi", "missing \"]\" after the IPv6 address"},
        bad_case{"https://mail_corp.test/mapi", "invalid host \"mail_corp.test\""},
        bad_case{"https://mail..corp.test/mapi", "invalid host \"mail..corp.test\""},
        bad_case{"https://mail.corp.test/ma pi", "must not contain spaces or control characters"}));

class bad_address_test : public ::testing::TestWithParam<bad_case> {};

TEST_P(bad_address_test, reports_the_rule_for_listeners) {
  const auto& c = GetParam();
  const auto r = config::load_string(config_with(c.text, good_url, good_address), "t.yaml");
  EXPECT_EQ(config_test::messages(r),
            std::vector<std::string>{"t.yaml:5:14: listeners[0].address: invalid address \"" +
                                     c.text + "\": " + c.reason});
}

INSTANTIATE_TEST_SUITE_P(
    config, bad_address_test,
    ::testing::Values(bad_case{"127.0.0.1", "missing \":port\""}, bad_case{":8443", "missing host"},
                      bad_case{"::1:8443",
                               "IPv6 addresses must be in brackets, e.g. \"[::1]:8443\""},
                      bad_case{"[::1:8443", "missing \"]\" after the IPv6 address"},
                      bad_case{"[::1]", "missing \":port\""},
                      bad_case{"[::1]8443", "missing \":port\""},
                      bad_case{"[zz::1]:8443", "invalid IPv6 address \"zz::1\""},
                      bad_case{"127.0.0.1:http", "port \"http\" is not a number"},
                      bad_case{"127.0.0.1:-1", "port \"-1\" is not a number"},
                      bad_case{"127.0.0.1:", "missing port after \":\""},
                      bad_case{"127.0.0.1:65536", "port 65536 out of range 0..65535"},
                      bad_case{"127.0.0.1:123456", "port 123456 out of range 0..65535"},
                      bad_case{"bad_host:80", "invalid host \"bad_host\""},
                      bad_case{"300.1.1.1:80", "invalid host \"300.1.1.1\""},
                      bad_case{"-mail.corp.test:80", "invalid host \"-mail.corp.test\""}));

TEST(bad_address_test, backend_port_zero_and_empty_address) {
  EXPECT_EQ(config_test::messages(
                config::load_string(config_with(good_address, good_url, "10.0.0.1:0"), "t.yaml")),
            std::vector<std::string>{"t.yaml:10:14: backends[0].address: invalid address "
                                     "\"10.0.0.1:0\": port 0 out of range 1..65535"});
  EXPECT_EQ(
      config_test::messages(config::load_string(config_with("", good_url, good_address), "t.yaml")),
      std::vector<std::string>{"t.yaml:5:14: listeners[0].address: must not be empty"});
}

struct good_url_case {
  std::string text;
  std::string scheme;
  std::string host;
  std::uint16_t port;
  std::string path;
};

class good_url_test : public ::testing::TestWithParam<good_url_case> {};

TEST_P(good_url_test, parses_parts) {
  const auto& c = GetParam();
  const auto r = config::load_string(config_with(good_address, c.text, good_address), "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(config_test::messages(r));
  ASSERT_TRUE(r.config->mapi.internal_url);
  const auto& u = *r.config->mapi.internal_url;
  EXPECT_EQ(u.url, c.text);
  EXPECT_EQ(u.scheme, c.scheme);
  EXPECT_EQ(u.host, c.host);
  EXPECT_EQ(u.port, c.port);
  EXPECT_EQ(u.path, c.path);
}

INSTANTIATE_TEST_SUITE_P(
    config, good_url_test,
    ::testing::Values(
        good_url_case{"https://mail.corp.test/mapi", "https", "mail.corp.test", 443, "/mapi"},
        good_url_case{"HTTPS://Mail.Corp.Test:8443/mapi/", "https", "mail.corp.test", 8443,
                      "/mapi"},
        good_url_case{"http://mail.corp.test/mapi", "http", "mail.corp.test", 80, "/mapi"},
        good_url_case{"http://[::1]/mapi", "http", "::1", 80, "/mapi"},
        good_url_case{"https://[2001:DB8::5]:444/owa/mapi//", "https", "2001:db8::5", 444,
                      "/owa/mapi"},
        good_url_case{"https://10.0.0.5/mapi", "https", "10.0.0.5", 443, "/mapi"}));

struct good_address_case {
  std::string text;
  std::string host;
  std::uint16_t port;
};

class good_address_test : public ::testing::TestWithParam<good_address_case> {};

TEST_P(good_address_test, parses_host_and_port) {
  const auto& c = GetParam();
  const auto r = config::load_string(config_with(c.text, good_url, c.text), "t.yaml");
  ASSERT_TRUE(r) << ::testing::PrintToString(config_test::messages(r));
  EXPECT_EQ(r.config->listeners.at(0).address.host, c.host);
  EXPECT_EQ(r.config->listeners.at(0).address.port, c.port);
  EXPECT_EQ(r.config->backends.at(0).address.host, c.host);
  EXPECT_EQ(r.config->backends.at(0).address.port, c.port);
}

INSTANTIATE_TEST_SUITE_P(
    config, good_address_test,
    ::testing::Values(good_address_case{"[::1]:8443", "::1", 8443},
                      good_address_case{"[2001:db8::5]:443", "2001:db8::5", 443},
                      good_address_case{"0.0.0.0:65535", "0.0.0.0", 65535},
                      good_address_case{"mbx01.corp.test:444", "mbx01.corp.test", 444},
                      good_address_case{"localhost:1", "localhost", 1}));

}  // namespace
