// Table tests for MailboxId parsing and lookup in query strings.
#include "routing/mailbox_id.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

struct parse_case {
  const char* text;
  bool ok;
  mailbox_id::form kind;
  const char* value;
};

TEST(MailboxId, ParsesGuidAndSmtpForms) {
  const parse_case cases[] = {
      {"416c6368-656d-794a-6f45-57615272456e@Contoso.com", true, mailbox_id::form::guid,
       "416c6368-656d-794a-6f45-57615272456e@contoso.com"},
      {"{416C6368-656D-794A-6F45-57615272456E}@contoso.com", true, mailbox_id::form::guid,
       "{416c6368-656d-794a-6f45-57615272456e}@contoso.com"},
      {"user1@example.test", true, mailbox_id::form::smtp, "user1@example.test"},
      {"First.Last+tag@Sub.Example.Test", true, mailbox_id::form::smtp,
       "first.last+tag@sub.example.test"},
      {"", false, {}, ""},
      {"@contoso.com", false, {}, ""},
      {"user@", false, {}, ""},
      {"no-at-sign", false, {}, ""},
      {"user@host:444", false, {}, ""},        // a port is not a domain
      {"user@evil.test/path", false, {}, ""},  // nor a path
      {"a..b@contoso.com", false, {}, ""},
      {"user@-bad.test", false, {}, ""},
      {"user@bad-.test", false, {}, ""},
      {"us er@contoso.com", false, {}, ""},
      {"user@[127.0.0.1]", false, {}, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto id = parse_mailbox_id(c.text);
    ASSERT_EQ(id.has_value(), c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(id->kind, c.kind);
    EXPECT_EQ(id->value, c.value);
  }
}

TEST(MailboxId, FindsParameterCaseInsensitively) {
  struct find_case {
    const char* query;
    mailbox_query result;
    const char* value;
  };
  const find_case cases[] = {
      {"MailboxId=user1@example.test", mailbox_query::found, "user1@example.test"},
      {"mailboxId=user1@example.test", mailbox_query::found, "user1@example.test"},
      {"MAILBOXID=user1%40example.test", mailbox_query::found, "user1@example.test"},
      {"a=b&MailboxId=x@y.test&c=d", mailbox_query::found, "x@y.test"},
      {"", mailbox_query::missing, ""},
      {"smtpAddress=x@y.test", mailbox_query::missing, ""},
      {"MailboxId", mailbox_query::malformed, ""},
      {"MailboxId=", mailbox_query::malformed, ""},
      {"MailboxId=%zz@y.test", mailbox_query::malformed, ""},
      {"MailboxId=x@y.test&mailboxid=z@w.test", mailbox_query::malformed, ""},
      {"MailboxId=x@evil.test:443", mailbox_query::malformed, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    std::optional<mailbox_id> id;
    EXPECT_EQ(find_mailbox_id(c.query, id), c.result);
    if (c.result == mailbox_query::found) {
      ASSERT_TRUE(id);
      EXPECT_EQ(id->value, c.value);
    } else {
      EXPECT_FALSE(id);
    }
  }
}

}  // namespace
}  // namespace routing
