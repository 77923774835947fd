// Table tests for the vdirs besides /mapi: which paths are published where, methods, schemes,
// anchors (X-AnchorMailbox, Outlook Anywhere's server, ActiveSync's User=, Autodiscover's body),
// the ProxyShell shapes, per-vdir health and the MAPI switch on Autodiscover.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "routing/anchor.hpp"
#include "routing/route_table.hpp"

namespace routing {
namespace {

using config::vdir_id;
using A = decision::action;

config::snapshot front_door() {
  config::snapshot c;
  c.server_name = "fe01.corp.test";
  c.mapi.internal_url =
      config::vdir_url{"https://mail.corp.test/mapi", "https", "mail.corp.test", 443, "/mapi"};
  c.mapi.external_url = config::vdir_url{"https://outlook.example.test/mapi", "https",
                                         "outlook.example.test", 443, "/mapi"};
  c.mapi.external_aliases = {"autodiscover.example.test"};
  for (const char* n : {"mbx01", "mbx02", "mbx03"}) {
    config::backend b;
    b.name = n;
    c.backends.push_back(b);
  }
  c.pools.push_back({"dag1", {0, 1, 2}});
  c.routes.push_back(
      {config::route_kind::mailbox, "alice@corp.test", {config::target_kind::backend, 1}, ""});
  c.routes.push_back({config::route_kind::mailbox,
                      "6a3c6e2e-1d2b-4c5a-9b8e-1f2a3b4c5d6e@corp.test",
                      {config::target_kind::backend, 1},
                      "alice@corp.test"});
  c.default_route = config::target{config::target_kind::pool, 0};
  using a = config::auth_scheme;
  auto publish = [&](vdir_id v, std::vector<a> auth,
                     config::publish_scope scope = config::publish_scope::both) {
    auto& s = c.vdirs[std::size_t(v)];
    s.enabled = true;
    s.authentication = std::move(auth);
    s.publish = scope;
    s.health_path = std::string(config::vdir_names[std::size_t(v)].path) + "/healthcheck.htm";
  };
  c.vdirs[0].enabled = true;
  publish(vdir_id::autodiscover, {a::basic, a::ntlm, a::negotiate});
  publish(vdir_id::ews, {a::ntlm, a::negotiate});
  publish(vdir_id::oab, {a::ntlm, a::negotiate});
  publish(vdir_id::rpc, {a::basic, a::ntlm, a::negotiate});
  publish(vdir_id::activesync, {a::basic});
  publish(vdir_id::owa, {a::forms});
  publish(vdir_id::ecp, {a::forms}, config::publish_scope::internal);
  return c;
}

struct row {
  const char* name;
  const char* method;
  const char* target;
  const char* host;
  A act;
  int status;
  std::optional<vdir_id> vdir;
};

TEST(VdirRouting, PathsMethodsAndNamespaces) {
  const auto cfg = front_door();
  route_table t(cfg);
  const char* in = "mail.corp.test";
  const char* ex = "outlook.example.test";
  const row rows[] = {
      {"autodiscover xml", "POST", "/autodiscover/autodiscover.xml", in, A::proxy, 0,
       vdir_id::autodiscover},
      {"autodiscover any case", "POST", "/AutoDiscover/AutoDiscover.xml", ex, A::proxy, 0,
       vdir_id::autodiscover},
      {"autodiscover alias host", "POST", "/Autodiscover/Autodiscover.xml",
       "autodiscover.example.test", A::proxy, 0, vdir_id::autodiscover},
      {"autodiscover json", "GET",
       "/autodiscover/autodiscover.json/v1.0/alice@corp.test?Protocol=EWS", ex, A::proxy, 0,
       vdir_id::autodiscover},
      {"ews", "POST", "/EWS/Exchange.asmx", in, A::proxy, 0, vdir_id::ews},
      {"oab", "GET", "/OAB/1c4d2a8e-0000-4000-8000-000000000001/oab.xml", ex, A::proxy, 0,
       vdir_id::oab},
      {"rpc in", "RPC_IN_DATA",
       "/rpc/rpcproxy.dll?6a3c6e2e-1d2b-4c5a-9b8e-1f2a3b4c5d6e@corp.test:6001", ex, A::proxy, 0,
       vdir_id::rpc},
      {"rpc out", "RPC_OUT_DATA", "/rpc/rpcproxy.dll?mbx01.corp.test:6004", ex, A::proxy, 0,
       vdir_id::rpc},
      {"rpc GET", "GET", "/rpc/rpcproxy.dll?x@corp.test:6001", ex, A::reject, 405, vdir_id::rpc},
      {"rpc method elsewhere", "RPC_IN_DATA", "/EWS/Exchange.asmx", ex, A::reject, 405,
       vdir_id::ews},
      {"rpc bad query", "RPC_IN_DATA", "/rpc/rpcproxy.dll?evil.test:99999", ex, A::reject, 400,
       vdir_id::rpc},
      {"activesync options", "OPTIONS", "/Microsoft-Server-ActiveSync", ex, A::proxy, 0,
       vdir_id::activesync},
      {"owa", "GET", "/owa/", ex, A::proxy, 0, vdir_id::owa},
      {"owa login", "POST", "/owa/auth.owa", ex, A::proxy, 0, vdir_id::owa},
      {"ecp internal", "GET", "/ecp/", in, A::proxy, 0, vdir_id::ecp},
      {"ecp external is 404", "GET", "/ecp/", ex, A::reject, 404, std::nullopt},
      {"powershell unpublished", "POST", "/powershell", in, A::reject, 404, std::nullopt},
      {"prefix is not a vdir", "GET", "/owazzz/", ex, A::reject, 404, std::nullopt},
      {"ews PUT", "PUT", "/EWS/Exchange.asmx", ex, A::reject, 405, vdir_id::ews},
      {"vdir health", "GET", "/EWS/healthcheck.htm", ex, A::healthcheck, 0, vdir_id::ews},
      {"vdir health POST", "POST", "/owa/healthcheck.htm", ex, A::reject, 405, vdir_id::owa},
      // Paths a backend might read differently than routing did.
      {"dot segment", "GET", "/owa/../ecp/", ex, A::reject, 400, std::nullopt},
      {"dot", "GET", "/owa/./x", ex, A::reject, 400, std::nullopt},
      {"encoded slash", "GET", "/owa%2f..%2fecp/", ex, A::reject, 400, std::nullopt},
      {"encoded dot", "GET", "/owa/%2e%2e/ecp/", ex, A::reject, 400, std::nullopt},
      {"encoded backslash", "GET", "/owa/%5cecp", ex, A::reject, 400, std::nullopt},
      {"backslash", "GET", "/owa\\..\\ecp", ex, A::reject, 400, std::nullopt},
      {"empty segment", "GET", "//owa/", ex, A::reject, 400, std::nullopt},
      {"bad escape", "GET", "/owa/%zz", ex, A::reject, 400, std::nullopt},
      // ProxyShell and ProxyNotShell: a second path in Autodiscover's query.
      {"proxyshell", "GET",
       "/autodiscover/autodiscover.json?@evil.test/mapi/nspi/"
       "?&Email=autodiscover/autodiscover.json%3F@evil.test",
       ex, A::reject, 400, vdir_id::autodiscover},
      {"proxynotshell", "POST",
       "/autodiscover/autodiscover.json?@evil.test/owa/"
       "&Email=autodiscover/autodiscover.json%3f@evil.test&Protocol=XYZ&FooProtocol=Powershell",
       ex, A::reject, 400, vdir_id::autodiscover},
      {"encoded proxyshell", "GET",
       "/autodiscover/autodiscover.json?a=%61utodiscover%2Fautodiscover%2Ejson", ex, A::reject, 400,
       vdir_id::autodiscover},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const auto d =
        t.decide({.method = r.method, .target = r.target, .host = r.host, .client = "192.0.2.7"});
    EXPECT_EQ(d.act, r.act);
    if (r.act == A::reject) {
      EXPECT_EQ(d.status, r.status) << d.reason;
    }
    EXPECT_EQ(d.workload, r.vdir);
  }
}

TEST(VdirRouting, SchemesArePerVdir) {
  const auto cfg = front_door();
  route_table t(cfg);
  auto with = [&](const char* target, const char* auth) {
    return t.decide({.method = "POST",
                     .target = target,
                     .host = "outlook.example.test",
                     .authorization = std::string_view(auth),
                     .client = "192.0.2.7"});
  };
  EXPECT_EQ(with("/EWS/Exchange.asmx", "NTLM TlRMTVNTUAABAAAA").act, A::proxy);
  EXPECT_EQ(with("/EWS/Exchange.asmx", "Basic dTpw").status, 401);  // not on EWS here
  EXPECT_EQ(with("/Microsoft-Server-ActiveSync?Cmd=Ping", "Basic dTpw").act, A::proxy);
  EXPECT_EQ(with("/Microsoft-Server-ActiveSync?Cmd=Ping", "NTLM TlRM").status, 401);
  // Forms: no Authorization scheme at all is let through on OWA.
  EXPECT_EQ(with("/owa/auth.owa", "Basic dTpw").status, 401);
  // The health check is mapigate's own answer: credentials do not matter there.
  EXPECT_EQ(t.decide({.method = "GET",
                      .target = "/EWS/healthcheck.htm",
                      .host = "outlook.example.test",
                      .authorization = std::string_view("Basic dTpw")})
                .act,
            A::healthcheck);
}

TEST(VdirRouting, AnchorsAndTheirColumns) {
  const auto cfg = front_door();
  route_table t(cfg);
  struct anchor_row {
    const char* name;
    const char* method;
    const char* target;
    std::optional<std::string_view> header;
    std::optional<std::string_view> body;
    anchor_source source;
    const char* key;
    const char* column;
    const char* hint;
  };
  const anchor_row rows[] = {
      {"ews header",
       "POST",
       "/EWS/Exchange.asmx",
       "Alice@Corp.Test",
       {},
       anchor_source::anchor_header,
       "alice@corp.test",
       "Smtp~alice@corp.test",
       "AnchorMailboxHeader-SMTP"},
      {"smtp prefix",
       "POST",
       "/EWS/Exchange.asmx",
       "SMTP:alice@corp.test",
       {},
       anchor_source::anchor_header,
       "alice@corp.test",
       "Smtp~alice@corp.test",
       "AnchorMailboxHeader-SMTP"},
      {"rpc guid",
       "RPC_IN_DATA",
       "/rpc/rpcproxy.dll?6A3C6E2E-1D2B-4C5A-9B8E-1F2A3B4C5D6E@corp.test:6001",
       "bob@corp.test",
       {},
       anchor_source::rpc_server,
       "6a3c6e2e-1d2b-4c5a-9b8e-1f2a3b4c5d6e@corp.test",
       "MailboxGuid~6a3c6e2e-1d2b-4c5a-9b8e-1f2a3b4c5d6e",
       "RpcServer-MailboxGuidWithDomain"},
      {"rpc server name",
       "RPC_OUT_DATA",
       "/rpc/rpcproxy.dll?MBX01.corp.test:6004",
       {},
       {},
       anchor_source::rpc_server,
       "mbx01.corp.test",
       "ServerInfo~mbx01.corp.test",
       "RpcServer-ServerName"},
      {"activesync user",
       "POST",
       "/Microsoft-Server-ActiveSync?Cmd=Sync&User=CORP%5CAlice&DeviceId=X&DeviceType=iPhone",
       {},
       {},
       anchor_source::activesync_user,
       "corp\\alice",
       "User~corp\\alice",
       "ActiveSyncUser-User"},
      {"activesync upn",
       "POST",
       "/Microsoft-Server-ActiveSync?User=alice%40corp.test&Cmd=Ping",
       {},
       {},
       anchor_source::activesync_user,
       "alice@corp.test",
       "Smtp~alice@corp.test",
       "ActiveSyncUser-SMTP"},
      {"autodiscover body",
       "POST",
       "/autodiscover/autodiscover.xml",
       {},
       "alice@corp.test",
       anchor_source::autodiscover_body,
       "alice@corp.test",
       "Smtp~alice@corp.test",
       "AutodiscoverRequest-SMTP"},
      {"header beats body", "POST", "/autodiscover/autodiscover.xml", "bob@corp.test",
       "alice@corp.test", anchor_source::anchor_header, "bob@corp.test", "Smtp~bob@corp.test",
       "AnchorMailboxHeader-SMTP"},
      {"bad header ignored",
       "POST",
       "/EWS/Exchange.asmx",
       "mbx01.corp.test:444/ews",
       {},
       anchor_source::none,
       "",
       "",
       "DefaultRoute"},
      {"activesync odd user ignored",
       "POST",
       "/Microsoft-Server-ActiveSync?User=a%2Fb",
       {},
       {},
       anchor_source::none,
       "",
       "",
       "DefaultRoute"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const auto d = t.decide({.method = r.method,
                             .target = r.target,
                             .host = "outlook.example.test",
                             .anchor_mailbox = r.header,
                             .body_email = r.body,
                             .client = "192.0.2.7"});
    ASSERT_EQ(d.act, A::proxy) << d.reason;
    EXPECT_EQ(d.anchor, r.source);
    EXPECT_EQ(d.mailbox ? d.mailbox->value : "", r.key);
    EXPECT_EQ(d.mailbox ? anchor_column(*d.mailbox) : "", r.column);
    EXPECT_EQ(routing_hint(d.anchor, d.mailbox ? &*d.mailbox : nullptr, false), r.hint);
  }
}

TEST(VdirRouting, EveryAnchorOfOneMailboxMeetsOneServer) {
  auto cfg = front_door();
  // A pool route for the mailbox: its anchors hash by the first, so every protocol agrees.
  cfg.routes[0].to = cfg.routes[1].to = config::target{config::target_kind::pool, 0};
  route_table t(cfg);
  const std::string guid = "6a3c6e2e-1d2b-4c5a-9b8e-1f2a3b4c5d6e@corp.test";
  const auto mapi = t.decide(
      {.method = "POST", .target = "/mapi/emsmdb/?MailboxId=" + guid, .host = "mail.corp.test"});
  const auto rpc = t.decide({.method = "RPC_IN_DATA",
                             .target = "/rpc/rpcproxy.dll?" + guid + ":6001",
                             .host = "outlook.example.test"});
  const auto ews = t.decide({.method = "POST",
                             .target = "/EWS/Exchange.asmx",
                             .host = "outlook.example.test",
                             .anchor_mailbox = std::string_view("alice@corp.test")});
  ASSERT_FALSE(mapi.order.empty());
  EXPECT_EQ(mapi.order, rpc.order);
  EXPECT_EQ(mapi.order, ews.order);
  // Both legs of an Outlook Anywhere channel meet one server.
  const auto out = t.decide({.method = "RPC_OUT_DATA",
                             .target = "/rpc/rpcproxy.dll?" + guid + ":6001",
                             .host = "outlook.example.test",
                             .client = "198.51.100.9"});
  EXPECT_EQ(out.order, rpc.order);
}

TEST(VdirRouting, WithoutAnAnchorOneClientMeetsOneServer) {
  const auto cfg = front_door();
  route_table t(cfg);
  auto owa = [&](const char* client) {
    return t
        .decide(
            {.method = "GET", .target = "/owa/", .host = "outlook.example.test", .client = client})
        .order;
  };
  EXPECT_EQ(owa("192.0.2.7"), owa("192.0.2.7"));
  std::set<std::size_t> firsts;
  for (int i = 0; i < 64; ++i)
    firsts.insert(owa(("192.0.2." + std::to_string(i)).c_str()).front());
  EXPECT_EQ(firsts.size(), 3u);  // spread over the pool, not all on one server
}

TEST(VdirRouting, AutodiscoverKnowsTheMapiSwitch) {
  auto cfg = front_door();
  cfg.mailboxes.push_back({"alice@corp.test", false});
  route_table t(cfg);
  auto ad = [&](std::optional<std::string_view> anchor, std::optional<std::string_view> body) {
    return t.decide({.method = "POST",
                     .target = "/autodiscover/autodiscover.xml",
                     .host = "outlook.example.test",
                     .anchor_mailbox = anchor,
                     .body_email = body});
  };
  EXPECT_TRUE(ad("alice@corp.test", {}).strip_mapi_capability);
  EXPECT_TRUE(ad({}, "alice@corp.test").strip_mapi_capability);
  EXPECT_FALSE(ad("bob@corp.test", {}).strip_mapi_capability);
  // Nothing in the head: the proxy may read the body for EMailAddress.
  EXPECT_TRUE(ad({}, {}).wants_body_anchor);
  EXPECT_FALSE(ad("bob@corp.test", {}).wants_body_anchor);
  cfg.mapi.mapi_http_enabled = false;
  cfg.mailboxes.push_back({"carol@corp.test", true});
  route_table off(cfg);
  EXPECT_TRUE(off.decide({.method = "POST",
                          .target = "/autodiscover/autodiscover.xml",
                          .host = "outlook.example.test",
                          .anchor_mailbox = std::string_view("bob@corp.test")})
                  .strip_mapi_capability);
  EXPECT_FALSE(off.decide({.method = "POST",
                           .target = "/autodiscover/autodiscover.xml",
                           .host = "outlook.example.test",
                           .anchor_mailbox = std::string_view("carol@corp.test")})
                   .strip_mapi_capability);
}

/// Health per (backend, vdir) from a table.
class table_health final : public health_source {
 public:
  std::map<std::pair<std::size_t, vdir_id>, backend_health> cells;
  backend_health of(std::size_t b, vdir_id v) const override {
    const auto it = cells.find({b, v});
    return it == cells.end() ? backend_health::ready : it->second;
  }
};

TEST(VdirRouting, OneVdirsHealthMovesOnlyThatWorkload) {
  const auto cfg = front_door();
  route_table t(cfg);
  const request_view ews{.method = "POST",
                         .target = "/EWS/Exchange.asmx",
                         .host = "outlook.example.test",
                         .anchor_mailbox = std::string_view("dave@corp.test")};
  const request_view mapi{.method = "POST",
                          .target = "/mapi/emsmdb/?MailboxId=dave@corp.test",
                          .host = "outlook.example.test"};
  const auto owner = t.decide(ews).order.front();
  ASSERT_EQ(t.decide(mapi).order.front(), owner);
  table_health h;
  h.cells[{owner, vdir_id::ews}] = backend_health::draining;
  EXPECT_NE(t.decide(ews, h).order.front(), owner);   // EWS moves
  EXPECT_EQ(t.decide(ews, h).order.back(), owner);    // kept as the last resort
  EXPECT_EQ(t.decide(mapi, h).order.front(), owner);  // MAPI stays
}

}  // namespace
}  // namespace routing
