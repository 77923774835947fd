// The simulator's other vdirs: Autodiscover (POX and JSON), EWS, OAB, ActiveSync, OWA, ECP,
// and enough of Outlook Anywhere (RPC over HTTP) to prove what a proxy must do with it: the
// two legs of a channel meet one server, and bytes stream both ways for as long as they last.
//
// Outlook Anywhere here: every RPC_IN_DATA and RPC_OUT_DATA body begins with a 16-byte virtual
// connection cookie (as the RTS CONN/A1 and CONN/B1 packets carry one). The OUT leg answers 200
// with a 1 GiB Content-Length and then writes, as they arrive, the bytes that the IN leg with
// the same cookie sends after its cookie; the IN leg's response comes when its declared length
// is used up. Legs that reach two different servers never meet: nothing is echoed.
#include <algorithm>
#include <cstdio>

#include "tools/sim/connection.hpp"

namespace sim::detail {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::size_t rpc_cookie_bytes = 16;
constexpr std::uint64_t rpc_out_length = 1ull << 30;  ///< what Windows declares: 1 GiB
constexpr auto rpc_poll = std::chrono::milliseconds(10);

/// Path segments of the vdirs with a healthcheck.htm of their own, lower-cased.
constexpr std::array<std::string_view, 8> checked_vdirs{
    "mapi", "autodiscover", "ews", "oab", "rpc", "microsoft-server-activesync", "owa", "ecp"};

std::string first_segment(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return routing::to_lower(path.substr(0, path.find('/')));
}

/// The text between <tag> and </tag> (the first), or "".
std::string element(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const auto a = xml.find(open);
  if (a == std::string_view::npos) return {};
  const auto b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return {};
  return std::string(xml.substr(a + open.size(), b - a - open.size()));
}

std::string host_of(const http::request<http::string_body>& req) {
  const auto h = std::string_view(req[http::field::host]);
  if (h.empty() || h.front() == '[') return std::string(h);  // none, or an IPv6 literal
  return std::string(h.substr(0, h.rfind(':')));
}

/// The POX response ([MS-OXDSCLI] 2.2.4): with the mapiHttp protocol section when the client
/// announced it can use it (X-MapiHttpCapability >= 1), otherwise Outlook Anywhere's EXCH and
/// EXPR sections (and never both).
std::string pox_response(std::string_view smtp, std::string_view host, bool mapi_http) {
  const std::string domain(smtp.substr(smtp.find('@') + 1));
  const std::string mailbox_id = mailbox_guid_for(smtp) + "@" + domain;
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
      "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/"
      "2006\"><Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/"
      "responseschema/2006a\"><User><DisplayName>" +
      std::string(smtp) + "</DisplayName><AutoDiscoverSMTPAddress>" + std::string(smtp) +
      "</AutoDiscoverSMTPAddress></User><Account><AccountType>email</AccountType>"
      "<Action>settings</Action>";
  const std::string base = "https://" + std::string(host);
  if (mapi_http) {
    xml += "<Protocol Type=\"mapiHttp\" Version=\"1\"><MailStore><InternalUrl>" + base +
           "/mapi/emsmdb/?MailboxId=" + mailbox_id + "</InternalUrl><ExternalUrl>" + base +
           "/mapi/emsmdb/?MailboxId=" + mailbox_id +
           "</ExternalUrl></MailStore><AddressBook><InternalUrl>" + base +
           "/mapi/nspi/?MailboxId=" + mailbox_id + "</InternalUrl><ExternalUrl>" + base +
           "/mapi/nspi/?MailboxId=" + mailbox_id + "</ExternalUrl></AddressBook></Protocol>";
  } else {
    xml += "<Protocol><Type>EXCH</Type><Server>" + mailbox_id +
           "</Server><AuthPackage>Ntlm</AuthPackage></Protocol><Protocol><Type>EXPR</Type>"
           "<Server>" +
           std::string(host) + "</Server><SSL>On</SSL><AuthPackage>Ntlm</AuthPackage></Protocol>";
  }
  xml += "<Protocol><Type>WEB</Type><External><OWAUrl AuthenticationMethod=\"Fba\">" + base +
         "/owa/</OWAUrl></External></Protocol></Account></Response></Autodiscover>\r\n";
  return xml;
}

}  // namespace

/// One Outlook Anywhere virtual connection: what its IN leg sent that its OUT leg has not yet
/// written. io thread only.
struct rpc_channel {
  std::string pending;
  bool out_attached = false;
};

bool connection::vdir_health_path(std::string_view path, bool& healthy) const {
  const auto segment = first_segment(path);
  const auto i = std::find(checked_vdirs.begin(), checked_vdirs.end(), segment);
  if (i == checked_vdirs.end()) return false;
  if (!iequals(path.substr(path.find('/', 1) == std::string_view::npos ? path.size()
                                                                       : path.find('/', 1)),
               "/healthcheck.htm"))
    return false;
  const auto bit = 1u << unsigned(i - checked_vdirs.begin());
  healthy = state_.healthy.load() && (state_.unhealthy_vdirs.load() & bit) == 0;
  return true;
}

void server_state::set_vdir_healthy(std::string_view vdir, bool on) {
  const auto segment = routing::to_lower(vdir);
  const auto i = std::find(checked_vdirs.begin(), checked_vdirs.end(), segment);
  if (i == checked_vdirs.end()) return;
  const auto bit = 1u << unsigned(i - checked_vdirs.begin());
  if (on)
    unhealthy_vdirs.fetch_and(~bit);
  else
    unhealthy_vdirs.fetch_or(bit);
}

net::awaitable<std::optional<bool>> connection::handle_front_door(request& req,
                                                                  request_record& record,
                                                                  bool keep_alive) {
  const std::string_view target = req.target();
  const auto path = target.substr(0, target.find('?'));
  const auto segment = first_segment(path);
  const bool forms = segment == "owa" || segment == "ecp";
  const bool known = forms || segment == "autodiscover" || segment == "ews" || segment == "oab" ||
                     segment == "microsoft-server-activesync" || segment == "powershell" ||
                     segment == "rpc";
  if (!known) co_return std::nullopt;
  // The same logon rules as /mapi (NTLM, Negotiate carrying NTLM, Basic); OWA and ECP log on
  // by their forms.
  if (!forms)
    if (auto answered = co_await require_logon(req, record, keep_alive)) co_return *answered;
  response_head head;
  std::string body;
  if (segment == "autodiscover" && iends_with(path, "/autodiscover.xml") &&
      req.method() == http::verb::post) {
    const auto smtp = element(req.body(), "EMailAddress");
    if (smtp.find('@') == std::string::npos)
      co_return co_await send_text(400, "EMailAddress missing\r\n", record, keep_alive);
    const auto cap = std::string_view(req["X-MapiHttpCapability"]);
    head.add("Content-Type", "text/xml; charset=utf-8");
    body = pox_response(smtp, host_of(req), !cap.empty() && cap != "0");
  } else if (segment == "autodiscover" && istarts_with(path, "/autodiscover/autodiscover.json")) {
    head.add("Content-Type", "application/json; charset=utf-8");
    body = "{\"Protocol\":\"EWS\",\"Url\":\"https://" + host_of(req) + "/EWS/Exchange.asmx\"}";
  } else if (segment == "ews") {
    head.add("Content-Type", "text/xml; charset=utf-8");
    body =
        "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/"
        "envelope/\"><s:Header><ServerVersionInfo MajorVersion=\"15\"/></s:Header><s:Body>"
        "<ServerName>" +
        state_.opts.name + "</ServerName></s:Body></s:Envelope>";
  } else if (segment == "oab") {
    head.add("Content-Type", "text/xml");
    body = "<?xml version=\"1.0\"?><OAB><OAL id=\"" + state_.opts.name + "\"/></OAB>";
  } else if (segment == "microsoft-server-activesync") {
    head.add("MS-ASProtocolVersions", "2.5,12.0,12.1,14.0,14.1,16.0,16.1");
    head.add("Content-Type", "application/vnd.ms-sync.wbxml");
    if (req.method() != http::verb::options) body = std::string("\x03\x01\x6a\x00", 4);
  } else if (forms && iends_with(path, "/auth.owa") && req.method() == http::verb::post) {
    head.status = 302;
    head.add("Location", "/owa/");
    head.add("Set-Cookie", "cadata=" + state_.opts.name + "; path=/; secure; HttpOnly");
  } else if (segment == "rpc") {
    // An RPC leg without a body: the NTLM legs are answered by authenticate() above; what is
    // left is a channel that declares nothing.
    co_return co_await send_text(400, "RPC channel without a body\r\n", record, keep_alive);
  } else {
    head.add("Content-Type", "text/html");
    body = "<html><body>" + segment + " on " + state_.opts.name + "</body></html>";
  }
  co_return co_await send(std::move(head), std::move(body), record, keep_alive);
}

net::awaitable<void> connection::handle_rpc(request_parser& parser) {
  auto& req = parser.get();
  request_record record = make_record(id_, req, false);
  if (co_await require_logon(req, record, false)) co_return;  // answered; the channel ends
  const bool in = req.method_string() == "RPC_IN_DATA";
  const std::uint64_t declared = parser.content_length().value_or(0);
  parser.body_limit(declared);
  // The cookie: the first 16 body bytes.
  while (req.body().size() < rpc_cookie_bytes && !parser.is_done())
    if (co_await io_.read_body_some(parser)) co_return;
  if (req.body().size() < rpc_cookie_bytes) {
    co_await send_text(400, "RPC channel shorter than its cookie\r\n", record, false);
    co_return;
  }
  const std::string cookie = req.body().substr(0, rpc_cookie_bytes);
  req.body().erase(0, rpc_cookie_bytes);
  auto& channel = state_.rpc_channels[cookie];
  if (!channel) channel = std::make_shared<rpc_channel>();
  const auto ch = channel;
  if (in) {
    state_.records.add_request(record);
    // Stream what the client sends to the channel until the declared length is used up.
    for (;;) {
      ch->pending += req.body();
      req.body().clear();
      if (parser.is_done()) break;
      if (co_await io_.read_body_some(parser)) co_return;
    }
    co_await send_text(200, "", record, false);
    co_return;
  }
  // OUT: the head now, then whatever the IN leg sends, as it comes.
  ch->out_attached = true;
  response_head head;
  head.add("Content-Type", "application/rpc");
  head.add("Content-Length", std::to_string(rpc_out_length));
  add_common(head, true);
  record.http_status = 200;
  state_.records.add_request(record);
  if (co_await io_.write(head.serialize())) co_return;
  std::uint64_t written = 0;
  while (written < rpc_out_length) {
    if (!ch->pending.empty()) {
      std::string out = std::move(ch->pending);
      ch->pending.clear();
      if (out.size() > rpc_out_length - written) out.resize(rpc_out_length - written);
      if (co_await io_.write(out)) break;
      written += out.size();
      continue;
    }
    if (co_await io_.wait_until(std::chrono::steady_clock::now() + rpc_poll) ==
        wait_outcome::peer_closed)
      break;
  }
  ch->out_attached = false;
  io_.close();
}

}  // namespace sim::detail

namespace sim {

std::string mailbox_guid_for(std::string_view smtp) {
  // Two FNV-1a passes over the lower-cased address: stable across runs and processes.
  const auto lower = routing::to_lower(smtp);
  std::uint64_t h[2] = {1469598103934665603ull, 7809847782465536322ull};
  for (auto& x : h)
    for (const char c : lower) {
      x ^= std::uint8_t(c);
      x *= 1099511628211ull;
    }
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(h[0] >> 32),
                unsigned((h[0] >> 16) & 0xffff), unsigned(h[0] & 0xffff), unsigned(h[1] >> 48),
                static_cast<unsigned long long>(h[1] & 0xffffffffffffull));
  return buf;
}

}  // namespace sim
