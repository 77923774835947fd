// MAPI/HTTP switches, authentication methods, per-mailbox policy, affinity keys, backend state.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using config_test::messages;

// Lines 1-11: listeners, backends and a default route; mapi and the sections under test follow.
const std::string head = R"(version: 1
server_name: gw
listeners:
  - name: http
    address: 127.0.0.1:8080
backends:
  - name: mbx01
    address: 10.0.0.11:443
routes:
  - default: true
    backend: mbx01
)";

// Line 12-13.
const std::string mapi = R"(mapi:
  internal_url: https://mail.corp.test/mapi
)";

const std::string key32 = "0123456789abcdef0123456789abcdef";

class policy_test : public ::testing::Test {
 protected:
  // Writes `yaml` as <dir>/mapigate.yaml and loads it.
  config::load_result load(const std::string& yaml) {
    file_ = dir_.write("mapigate.yaml", yaml);
    return config::load_file(file_);
  }

  // The diagnostics of loading `yaml`, with "<dir>/" in messages replaced by "DIR/".
  std::vector<std::string> errors(const std::string& yaml) {
    auto out = messages(load(yaml));
    const std::string dir = dir_.path().string() + "/";
    for (auto& m : out) {
      if (m.rfind(file_, 0) == 0) m = "F" + m.substr(file_.size());
      for (auto at = m.find(dir); at != std::string::npos; at = m.find(dir))
        m.replace(at, dir.size(), "DIR/");
    }
    return out;
  }

  config_test::temp_dir dir_;
  std::string file_;
};

TEST_F(policy_test, defaults_when_absent) {
  const auto r = load(head + mapi);
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  const config::snapshot& s = *r.config;
  EXPECT_TRUE(s.mapi.mapi_http_enabled);
  EXPECT_EQ(s.mapi.authentication,
            (std::vector<config::auth_scheme>{config::auth_scheme::ntlm, config::auth_scheme::oauth,
                                              config::auth_scheme::negotiate}));
  EXPECT_TRUE(s.mailboxes.empty());
  EXPECT_FALSE(s.affinity);
  EXPECT_EQ(s.backends[0].state, config::backend_state::active);
}

TEST_F(policy_test, affinity_defaults) {
  dir_.write("k", key32);
  const auto r = load(head + mapi + "affinity:\n  key_files: [k]\n");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  ASSERT_TRUE(r.config->affinity);
  const auto& a = *r.config->affinity;
  EXPECT_EQ(a.cookie_name, "MapigateAffinity");
  EXPECT_EQ(a.keys, std::vector<std::string>{key32});
  EXPECT_EQ(a.key_files, std::vector<std::string>{(dir_.path() / "k").string()});
  EXPECT_EQ(a.max_age, 12h);
}

TEST_F(policy_test, full_policy_into_snapshot) {
  // Trailing whitespace and newlines are trimmed; inner bytes (even spaces, NUL) are kept.
  dir_.write("keys/new.key", key32 + "\r\n \t\n");
  const std::string binary = std::string("\x00\x01 \xff", 4) + key32;
  dir_.write("keys/old.key", binary);
  const std::string absolute = dir_.write("elsewhere/third.key", std::string(40, 'z'));
  const auto r = load(R"(version: 1
server_name: gw
listeners: [{name: http, address: "127.0.0.1:8080"}]
mapi:
  internal_url: https://mail.corp.test/mapi
  mapi_http_enabled: false
  authentication: [Negotiate, NTLM, basic, OAuth]
backends:
  - name: mbx01
    address: 10.0.0.11:443
    state: draining
  - name: mbx02
    address: 10.0.0.12:443
    state: active
  - name: mbx03
    address: 10.0.0.13:443
routes: [{default: true, backend: mbx01}]
mailboxes:
  - mailbox: 416C6368-656D-794A-6F45-57615272456E@Corp.Test
    mapi_http_enabled: false
  - mailbox: CEO@corp.test
    mapi_http_enabled: true
affinity:
  cookie_name: "X-Affinity.v1!#$%&'*+^_`|~"
  key_files: [keys/new.key, ./keys/../keys/old.key, )" +
                      absolute + R"(]
  max_age: 30m
)");
  ASSERT_TRUE(r) << ::testing::PrintToString(messages(r));
  const config::snapshot& s = *r.config;
  EXPECT_FALSE(s.mapi.mapi_http_enabled);
  EXPECT_EQ(s.mapi.authentication, (std::vector<config::auth_scheme>{
                                       config::auth_scheme::negotiate, config::auth_scheme::ntlm,
                                       config::auth_scheme::basic, config::auth_scheme::oauth}));
  ASSERT_EQ(s.backends.size(), 3u);
  EXPECT_EQ(s.backends[0].state, config::backend_state::draining);
  EXPECT_EQ(s.backends[1].state, config::backend_state::active);
  EXPECT_EQ(s.backends[2].state, config::backend_state::active);
  ASSERT_EQ(s.mailboxes.size(), 2u);
  EXPECT_EQ(s.mailboxes[0].mailbox, "416c6368-656d-794a-6f45-57615272456e@corp.test");
  EXPECT_FALSE(s.mailboxes[0].mapi_http_enabled);
  EXPECT_EQ(s.mailboxes[1].mailbox, "ceo@corp.test");
  EXPECT_TRUE(s.mailboxes[1].mapi_http_enabled);
  ASSERT_TRUE(s.affinity);
  EXPECT_EQ(s.affinity->cookie_name, "X-Affinity.v1!#$%&'*+^_`|~");
  EXPECT_EQ(s.affinity->keys, (std::vector<std::string>{key32, binary, std::string(40, 'z')}));
  EXPECT_EQ(s.affinity->key_files,
            (std::vector<std::string>{(dir_.path() / "keys/new.key").string(),
                                      (dir_.path() / "keys/old.key").string(), absolute}));
  EXPECT_EQ(s.affinity->max_age, 30min);
}

TEST_F(policy_test, mapi_switch_and_authentication_errors) {
  EXPECT_EQ(
      errors(head + R"(mapi:
  internal_url: https://mail.corp.test/mapi
  mapi_http_enabled: yes
  authentication: [ntlm, Kerberos, NTLM, "", [basic]]
  authentcation: [ntlm]
)"),
      (std::vector<std::string>{
          "F:14:22: mapi.mapi_http_enabled: expected true or false, got \"yes\"",
          "F:15:26: mapi.authentication[1]: unknown authentication method \"Kerberos\" "
          "(expected ntlm, negotiate, basic or oauth)",
          "F:15:36: mapi.authentication[2]: duplicate authentication method \"ntlm\"",
          "F:15:42: mapi.authentication[3]: must not be empty",
          "F:15:46: mapi.authentication[4]: expected a string, got a sequence",
          "F:16:3: unknown key \"authentcation\" in mapi (did you mean \"authentication\"?)"}));
  EXPECT_EQ(errors(head + mapi + "  authentication: []\n"),
            std::vector<std::string>{"F:14:19: mapi.authentication: must not be empty"});
  EXPECT_EQ(
      errors(head + mapi + "  authentication: ntlm\n"),
      std::vector<std::string>{"F:14:19: mapi.authentication: expected a sequence, got \"ntlm\""});
}

TEST_F(policy_test, mailbox_policy_errors) {
  EXPECT_EQ(errors(head + mapi + R"(mailboxes:
  - mailbox: Alice@Corp.Test
    mapi_http_enabled: false
  - mailbox: alice@corp.test
    mapi_http_enabled: true
  - mailbox: alice
    mapi_http_enabled: off
  - mapi_http_enabled: true
  - mailbox: bob@corp.test
  - mailbox: carol@corp.test
    mapi_http_enable: false
  - dave@corp.test
)"),
            (std::vector<std::string>{
                "F:17:14: mailboxes[1].mailbox: duplicate mailbox \"alice@corp.test\" (first in "
                "mailboxes[0])",
                "F:19:14: mailboxes[2].mailbox: invalid mailbox \"alice\" (expected "
                "<local>@<domain>: a MailboxId GUID@domain or an SMTP address)",
                "F:20:24: mailboxes[2].mapi_http_enabled: expected true or false, got \"off\"",
                "F:21:5: mailboxes[3]: missing required key \"mailbox\"",
                "F:22:5: mailboxes[4]: missing required key \"mapi_http_enabled\"",
                "F:23:5: mailboxes[5]: missing required key \"mapi_http_enabled\"",
                "F:24:5: unknown key \"mapi_http_enable\" in mailboxes[5] (did you mean "
                "\"mapi_http_enabled\"?)",
                "F:25:5: mailboxes[6]: expected a map, got \"dave@corp.test\""}));
  EXPECT_EQ(errors(head + mapi + "mailbox: []\n"),
            std::vector<std::string>{
                "F:14:1: unknown key \"mailbox\" at the top level (did you mean \"mailboxes\"?)"});
  EXPECT_EQ(errors(head + mapi + "mailboxes: {a@b.c: false}\n"),
            std::vector<std::string>{"F:14:12: mailboxes: expected a sequence, got a map"});
}

TEST_F(policy_test, affinity_shape_and_cookie_name_errors) {
  EXPECT_EQ(errors(head + mapi + "affinity: true\n"),
            std::vector<std::string>{"F:14:11: affinity: expected a map, got \"true\""});
  EXPECT_EQ(errors(head + mapi + "affinity: {}\n"),
            std::vector<std::string>{"F:14:11: affinity: missing required key \"key_files\""});
  EXPECT_EQ(errors(head + mapi + "affinity:\n  key_files: []\n  max_ag: 1h\n"),
            (std::vector<std::string>{
                "F:15:14: affinity.key_files: must not be empty",
                "F:16:3: unknown key \"max_ag\" in affinity (did you mean \"max_age\"?)"}));
  dir_.write("k", key32);
  const std::string rule = " (use letters, digits and !#$%&'*+-.^_`|~, at most 64 characters)";
  for (const std::string bad :
       {"Mapigate Affinity", "a;b", "a=b", "\\\"q\\\"", "caf\\u00e9", "tab\\there"}) {
    const auto got =
        errors(head + mapi + "affinity:\n  cookie_name: \"" + bad + "\"\n  key_files: [k]\n");
    ASSERT_EQ(got.size(), 1u) << bad;
    EXPECT_EQ(got[0].substr(0, 48), "F:15:16: affinity.cookie_name: invalid cookie na") << bad;
    EXPECT_EQ(got[0].substr(got[0].size() - rule.size()), rule) << bad;
  }
  EXPECT_EQ(errors(head + mapi + "affinity:\n  cookie_name: " + std::string(65, 'c') +
                   "\n  key_files: [k]\n"),
            std::vector<std::string>{"F:15:16: affinity.cookie_name: invalid cookie name \"" +
                                     std::string(65, 'c') + "\"" + rule});
  EXPECT_EQ(errors(head + mapi + "affinity:\n  cookie_name: \"\"\n  key_files: [k]\n"),
            std::vector<std::string>{"F:15:16: affinity.cookie_name: must not be empty"});
  // 64 characters is the longest name.
  EXPECT_TRUE(load(head + mapi + "affinity:\n  cookie_name: " + std::string(64, 'c') +
                   "\n  key_files: [k]\n"));
}

TEST_F(policy_test, key_file_errors) {
  dir_.write("keys/short.key", "twelve bytes\n\n");
  dir_.write("keys/blank.key", " \n\t\r\n");
  dir_.write("keys/a.key", key32);
  dir_.write("keys/a-copy.key", key32 + "\n");
  dir_.write("keys/huge.key", std::string(4097, 'h'));
  std::filesystem::create_directories(dir_.path() / "keys/dir");
  EXPECT_EQ(errors(head + mapi + R"(affinity:
  key_files:
    - keys/a.key
    - keys/short.key
    - keys/blank.key
    - keys/missing.key
    - keys/dir
    - keys/a-copy.key
    - keys/a.key
    - keys/huge.key
    - ""
    - [keys/a.key]
)"),
            (std::vector<std::string>{
                "F:17:7: affinity.key_files[1]: key in \"DIR/keys/short.key\" is 12 bytes; at "
                "least 32 are needed",
                "F:18:7: affinity.key_files[2]: key in \"DIR/keys/blank.key\" is 0 bytes; at "
                "least 32 are needed",
                "F:19:7: affinity.key_files[3]: cannot read \"DIR/keys/missing.key\": No such "
                "file or directory",
                "F:20:7: affinity.key_files[4]: \"DIR/keys/dir\" is not a regular file",
                "F:21:7: affinity.key_files[5]: key in \"DIR/keys/a-copy.key\" is the same as in "
                "affinity.key_files[0] (every key must differ)",
                "F:22:7: affinity.key_files[6]: key in \"DIR/keys/a.key\" is the same as in "
                "affinity.key_files[0] (every key must differ)",
                "F:23:7: affinity.key_files[7]: key in \"DIR/keys/huge.key\" is larger than 4096 "
                "bytes",
                "F:24:7: affinity.key_files[8]: must not be empty",
                "F:25:7: affinity.key_files[9]: expected a string, got a sequence"}));
  // Exactly 4096 bytes is accepted.
  dir_.write("keys/big.key", std::string(4096, 'b'));
  EXPECT_TRUE(load(head + mapi + "affinity:\n  key_files: [keys/big.key]\n"));
}

TEST_F(policy_test, max_age_and_backend_state_errors) {
  dir_.write("k", key32);
  EXPECT_EQ(errors(head + mapi + "affinity:\n  key_files: [k]\n  max_age: 0s\n"),
            std::vector<std::string>{
                "F:16:12: affinity.max_age: duration must be greater than 0, got \"0s\""});
  EXPECT_EQ(errors(head + mapi + "affinity:\n  key_files: [k]\n  max_age: 12\n"),
            std::vector<std::string>{"F:16:12: affinity.max_age: invalid duration \"12\" "
                                     "(expected a number with unit ms, s, m, h or d)"});
  EXPECT_EQ(errors(R"(version: 1
server_name: gw
listeners: [{name: http, address: "127.0.0.1:8080"}]
mapi: {internal_url: "https://mail.corp.test/mapi"}
backends:
  - name: mbx01
    address: 10.0.0.11:443
    state: Draining
  - name: mbx02
    address: 10.0.0.12:443
    state: [active]
  - name: mbx03
    address: 10.0.0.13:443
    stat: active
routes: [{default: true, backend: mbx01}]
)"),
            (std::vector<std::string>{
                "F:8:12: backends[0].state: unknown state \"Draining\" (expected \"active\" or "
                "\"draining\")",
                "F:11:12: backends[1].state: expected a string, got a sequence",
                "F:14:5: unknown key \"stat\" in backends[2] (did you mean \"state\"?)"}));
}

}  // namespace
