// Table tests for the routing decision: namespaces, vdirs, methods, MailboxId, routes.
#include "routing/route_table.hpp"

#include <gtest/gtest.h>

namespace routing {
namespace {

config::snapshot make_config() {
  config::snapshot c;
  c.server_name = "fe01.corp.test";
  c.mapi.internal_url =
      config::vdir_url{"https://mail.corp.test/mapi", "https", "mail.corp.test", 443, "/mapi"};
  c.mapi.external_url = config::vdir_url{"https://outlook.example.test/mapi", "https",
                                         "outlook.example.test", 443, "/mapi"};
  for (const char* n : {"mbx01", "mbx02", "mbx03"}) {
    config::backend b;
    b.name = n;
    b.address = {"127.0.0.1", 9000};
    c.backends.push_back(b);
  }
  c.pools.push_back({"dag1", {0, 1}});
  c.pools.push_back({"dag2", {2}});
  c.routes.push_back(
      {config::route_kind::mailbox, "vip@corp.test", {config::target_kind::backend, 2}});
  c.routes.push_back({config::route_kind::domain, "fabrikam.test", {config::target_kind::pool, 1}});
  c.default_route = config::target{config::target_kind::pool, 0};
  return c;
}

struct decide_case {
  const char* name;
  const char* method;
  const char* target;
  std::optional<std::string_view> host;
  std::optional<std::string_view> sni;
  decision::action act;
  int status;
};

TEST(RouteTable, Decides) {
  const auto cfg = make_config();
  route_table t(cfg);
  using A = decision::action;
  const std::string_view in = "mail.corp.test", ex = "outlook.example.test";
  const decide_case cases[] = {
      {"emsmdb", "POST", "/mapi/emsmdb/?MailboxId=u@corp.test", in, in, A::proxy, 0},
      {"nspi external", "POST", "/mapi/nspi/?MailboxId=u@corp.test", ex, ex, A::proxy, 0},
      {"case-insensitive path", "POST", "/MAPI/EMSMDB/?mailboxid=u@corp.test", in, {}, A::proxy, 0},
      {"no trailing slash", "POST", "/mapi/emsmdb?MailboxId=u@corp.test", in, {}, A::proxy, 0},
      {"host with port",
       "POST",
       "/mapi/emsmdb/?MailboxId=u@corp.test",
       "mail.corp.test:8443",
       {},
       A::proxy,
       0},
      {"healthcheck", "GET", "/mapi/healthcheck.htm", in, {}, A::healthcheck, 0},
      {"healthcheck POST", "POST", "/mapi/healthcheck.htm", in, {}, A::reject, 405},
      {"unknown host",
       "POST",
       "/mapi/emsmdb/?MailboxId=u@corp.test",
       "evil.test",
       {},
       A::reject,
       421},
      {"ip host", "POST", "/mapi/emsmdb/?MailboxId=u@corp.test", "127.0.0.1", {}, A::reject, 421},
      {"sni other namespace", "POST", "/mapi/emsmdb/?MailboxId=u@corp.test", in, ex, A::reject,
       421},
      {"missing host", "POST", "/mapi/emsmdb/?MailboxId=u@corp.test", {}, {}, A::reject, 400},
      {"absolute-form",
       "POST",
       "http://10.0.0.5:444/mapi/emsmdb/?MailboxId=u@corp.test",
       in,
       {},
       A::reject,
       400},
      {"authority-form", "CONNECT", "10.0.0.5:444", in, {}, A::reject, 400},
      {"asterisk", "OPTIONS", "*", in, {}, A::reject, 400},
      {"other vdir", "POST", "/owa/", in, {}, A::reject, 404},
      {"traversal",
       "POST",
       "/mapi/emsmdb/../../ecp/?MailboxId=u@corp.test",
       in,
       {},
       A::reject,
       400},
      {"encoded", "POST", "/mapi/%65msmdb/?MailboxId=u@corp.test", in, {}, A::reject, 404},
      // GETs open NTLM/Negotiate and check the vdir: they reach the mailbox's server.
      {"GET emsmdb", "GET", "/mapi/emsmdb/?MailboxId=u@corp.test", in, {}, A::proxy, 0},
      {"HEAD nspi", "HEAD", "/mapi/nspi/?MailboxId=u@corp.test", in, {}, A::proxy, 0},
      {"GET without mailbox", "GET", "/mapi/emsmdb/", in, {}, A::proxy, 0},
      {"GET bad mailbox", "GET", "/mapi/emsmdb/?MailboxId=host:444", in, {}, A::reject, 400},
      {"PUT emsmdb", "PUT", "/mapi/emsmdb/?MailboxId=u@corp.test", in, {}, A::reject, 405},
      {"DELETE nspi", "DELETE", "/mapi/nspi/?MailboxId=u@corp.test", in, {}, A::reject, 405},
      {"OPTIONS emsmdb", "OPTIONS", "/mapi/emsmdb/", in, {}, A::reject, 405},
      {"no mailbox", "POST", "/mapi/emsmdb/", in, {}, A::reject, 400},
      {"bad mailbox", "POST", "/mapi/emsmdb/?MailboxId=host:444", in, {}, A::reject, 400},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto d = t.decide({c.method, c.target, c.host, c.sni});
    EXPECT_EQ(d.act, c.act);
    EXPECT_EQ(d.status, c.status);
    if (d.act == A::proxy) {
      EXPECT_FALSE(d.candidates.empty());
    }
  }
}

TEST(RouteTable, ExplicitThenDomainThenDefault) {
  const auto cfg = make_config();
  route_table t(cfg);
  auto d = t.decide({"POST", "/mapi/emsmdb/?MailboxId=VIP@corp.test", "mail.corp.test", {}});
  EXPECT_EQ(d.source, route_source::mailbox);
  EXPECT_EQ(d.candidates, std::vector<std::size_t>{2});
  d = t.decide({"POST", "/mapi/emsmdb/?MailboxId=x@fabrikam.test", "mail.corp.test", {}});
  EXPECT_EQ(d.source, route_source::domain);
  EXPECT_EQ(d.candidates, std::vector<std::size_t>{2});
  d = t.decide({"POST", "/mapi/emsmdb/?MailboxId=x@corp.test", "mail.corp.test", {}});
  EXPECT_EQ(d.source, route_source::default_route);
  ASSERT_EQ(d.candidates.size(), 2u);
  EXPECT_NE(d.candidates[0], d.candidates[1]);
  EXPECT_LT(d.candidates[0], 2u);
}

TEST(RouteTable, GetsAreRoutedLikeTheMailboxsRequests) {
  const auto cfg = make_config();
  route_table t(cfg);
  // With a MailboxId: the same server as its POSTs, never a new session.
  const auto post =
      t.decide({"POST", "/mapi/emsmdb/?MailboxId=x@corp.test", "mail.corp.test", {}, "Connect"});
  const auto get =
      t.decide({"GET", "/mapi/emsmdb/?MailboxId=x@corp.test", "mail.corp.test", {}, "Connect"});
  EXPECT_TRUE(post.new_session);
  EXPECT_FALSE(get.new_session);
  EXPECT_EQ(get.candidates, post.candidates);
  EXPECT_EQ(
      t.decide({"GET", "/mapi/emsmdb/?MailboxId=VIP@corp.test", "mail.corp.test", {}}).candidates,
      std::vector<std::size_t>{2});
  // Without: the default route, the same order every time (an NTLM handshake's legs meet).
  const auto a = t.decide({"GET", "/mapi/nspi/", "mail.corp.test", {}});
  const auto b = t.decide({"GET", "/mapi/emsmdb/", "mail.corp.test", {}});
  EXPECT_EQ(a.source, route_source::default_route);
  EXPECT_FALSE(a.mailbox);
  EXPECT_EQ(a.candidates, b.candidates);
  auto off = make_config();
  off.mapi.mapi_http_enabled = false;
  route_table disabled(off);
  const auto d = disabled.decide({"GET", "/mapi/emsmdb/", "mail.corp.test", {}});
  EXPECT_EQ(d.act, decision::action::reject);
  EXPECT_EQ(d.mapi_code, 16);
}

TEST(RouteTable, NoDefaultMeansNoRoute) {
  auto cfg = make_config();
  cfg.default_route.reset();
  route_table t(cfg);
  const auto d = t.decide({"POST", "/mapi/emsmdb/?MailboxId=x@corp.test", "mail.corp.test", {}});
  EXPECT_EQ(d.act, decision::action::reject);
  EXPECT_EQ(d.status, 404);
}

TEST(RouteTable, SameMailboxSameBackendAcrossTables) {
  // Two instances (two tables from equal configs) choose the same owner for every mailbox.
  const auto a = make_config();
  const auto b = make_config();
  route_table ta(a), tb(b);
  for (int i = 0; i < 100; ++i) {
    const std::string target = "/mapi/emsmdb/?MailboxId=user" + std::to_string(i) + "@corp.test";
    EXPECT_EQ(ta.decide({"POST", target, "mail.corp.test", {}}).candidates,
              tb.decide({"POST", target, "mail.corp.test", {}}).candidates);
  }
}

TEST(RouteTable, PolicyAndAuthentication) {
  auto cfg = make_config();
  cfg.mapi.authentication = {config::auth_scheme::ntlm, config::auth_scheme::negotiate};
  cfg.mailboxes.push_back({"off@corp.test", false});
  route_table t(cfg);
  const std::string_view host = "mail.corp.test";
  auto d = t.decide({"POST", "/mapi/emsmdb/?MailboxId=off@corp.test", host, {}, "Connect"});
  EXPECT_EQ(d.act, decision::action::reject);
  EXPECT_EQ(d.mapi_code, mapi_code::endpoint_disabled);
  d = t.decide({"POST",
                "/mapi/emsmdb/?MailboxId=u@corp.test",
                host,
                {},
                "Connect",
                std::string_view("Basic dXNlcjpwdw==")});
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.mapi_code, 0);
  d = t.decide({"POST",
                "/mapi/emsmdb/?MailboxId=u@corp.test",
                host,
                {},
                "Connect",
                std::string_view("NTLM TlRMTVNTUAABAAAA")});
  EXPECT_EQ(d.act, decision::action::proxy);
  EXPECT_TRUE(d.new_session);
  d = t.decide({"POST", "/mapi/nspi/?MailboxId=u@corp.test", host, {}, "bind"});
  EXPECT_TRUE(d.new_session);
  d = t.decide({"POST", "/mapi/nspi/?MailboxId=u@corp.test", host, {}, "Connect"});
  EXPECT_FALSE(d.new_session);  // Connect is an emsmdb request type

  cfg.mapi.mapi_http_enabled = false;
  cfg.mailboxes.push_back({"on@corp.test", true});
  route_table off(cfg);
  EXPECT_EQ(
      off.decide({"POST", "/mapi/emsmdb/?MailboxId=u@corp.test", host, {}, "Connect"}).mapi_code,
      mapi_code::endpoint_disabled);
  EXPECT_EQ(off.decide({"POST", "/mapi/emsmdb/?MailboxId=on@corp.test", host, {}, "Connect"}).act,
            decision::action::proxy);
}

TEST(RouteTable, AffinityTokens) {
  auto cfg = make_config();
  cfg.affinity = config::affinity{};
  cfg.affinity->keys = {"0123456789abcdef0123456789abcdef"};
  route_table t(cfg);
  ASSERT_NE(t.affinity(), nullptr);
  const std::int64_t now = 1'800'000'000;
  const std::string target = "/mapi/emsmdb/?MailboxId=u@corp.test";
  auto decide_with = [&](const std::string& token) {
    return t.decide(
        {"POST", target, "mail.corp.test", {}, "Execute", {}, std::string_view(token), now});
  };
  struct token_case {
    const char* name;
    std::string token;
    affinity_outcome outcome;
  };
  const token_case cases[] = {
      {"hit", t.affinity()->issue("mbx03", "u@corp.test", now), affinity_outcome::hit},
      {"unknown backend", t.affinity()->issue("mbx09", "u@corp.test", now),
       affinity_outcome::unknown_backend},
      {"other mailbox", t.affinity()->issue("mbx03", "v@corp.test", now),
       affinity_outcome::wrong_mailbox},
      {"expired", t.affinity()->issue("mbx03", "u@corp.test", now - 13 * 3600),
       affinity_outcome::expired},
      {"garbage", "zzz", affinity_outcome::malformed},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto d = decide_with(c.token);
    EXPECT_EQ(d.act, decision::action::proxy);
    EXPECT_EQ(d.affinity, c.outcome);
    EXPECT_EQ(d.affinity_backend.has_value(), c.outcome == affinity_outcome::hit);
    if (d.affinity_backend) {
      EXPECT_EQ(*d.affinity_backend, 2u);  // honoured even though mbx03 is not in the pool
    }
  }
}

TEST(RouteTable, DrainingMembersGoLast) {
  auto cfg = make_config();
  cfg.backends[0].state = config::backend_state::draining;
  route_table t(cfg);
  for (int i = 0; i < 50; ++i) {
    const auto target = "/mapi/emsmdb/?MailboxId=user" + std::to_string(i) + "@corp.test";
    const auto d = t.decide({"POST", target, "mail.corp.test", {}});
    ASSERT_EQ(d.candidates.size(), 2u);
    EXPECT_EQ(d.candidates[0], 1u);
    EXPECT_EQ(d.candidates[1], 0u);
  }
}

}  // namespace
}  // namespace routing

namespace routing {
namespace {

// The whole backend order is routing's: the session's backend unless it is down, then ready,
// draining and down backends, each in hash order.
TEST(RouteTable, OrdersBackendsByHealth) {
  auto cfg = make_config();
  cfg.affinity = config::affinity{};
  cfg.affinity->keys = {"0123456789abcdef0123456789abcdef"};
  cfg.pools[0].members = {0, 1, 2};  // dag1: all three
  route_table t(cfg);
  const std::int64_t now = 1'800'000'000;
  const std::string target = "/mapi/emsmdb/?MailboxId=u@corp.test";
  const auto hashed = t.decide({"POST", target, "mail.corp.test", {}, "Connect"}).candidates;
  ASSERT_EQ(hashed.size(), 3u);
  const std::size_t owner = hashed[0], second = hashed[1], third = hashed[2];
  const auto token = t.affinity()->issue(cfg.backends[third].name, "u@corp.test", now);
  using H = backend_health;
  auto health = [&](H owner_h, H second_h, H third_h) {
    std::vector<H> v(3);
    v[owner] = owner_h;
    v[second] = second_h;
    v[third] = third_h;
    return v;
  };
  struct order_case {
    const char* name;
    std::vector<H> health;
    bool with_token;
    std::vector<std::size_t> order;
    bool session_down;
  };
  const order_case cases[] = {
      {"all ready: hash order", {}, false, {owner, second, third}, false},
      {"owner draining: after the ready ones",
       health(H::draining, H::ready, H::ready),
       false,
       {second, third, owner},
       false},
      {"owner down: last",
       health(H::down, H::ready, H::draining),
       false,
       {second, third, owner},
       false},
      {"every one draining: hash order",
       health(H::draining, H::draining, H::draining),
       false,
       {owner, second, third},
       false},
      {"token: its backend first", {}, true, {third, owner, second}, false},
      {"token's backend draining: the session stays",
       health(H::ready, H::ready, H::draining),
       true,
       {third, owner, second},
       false},
      {"token's backend down: not tried, the session is lost",
       health(H::ready, H::ready, H::down),
       true,
       {owner, second},
       true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const request_view r{"POST",
                         target,
                         "mail.corp.test",
                         {},
                         "Execute",
                         {},
                         c.with_token ? std::optional<std::string_view>(token) : std::nullopt,
                         now};
    const auto d = t.decide(r, c.health);
    EXPECT_EQ(d.order, c.order);
    EXPECT_EQ(d.session_backend_down, c.session_down);
  }
  // A backend the configuration drains weighs as draining while healthy.
  cfg.backends[owner].state = config::backend_state::draining;
  route_table drained(cfg);
  const auto d = drained.decide({"POST", target, "mail.corp.test", {}, "Connect"});
  EXPECT_EQ(d.order.back(), owner);
}

}  // namespace
}  // namespace routing
