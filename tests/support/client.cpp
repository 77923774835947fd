// Test HTTP/1.1 client: async Asio operations driven with run_for deadlines.
#include "tests/support/client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <optional>

#include "proxy/io/net.hpp"

namespace testing_support {

using namespace proxy;  // the project's Asio/Beast aliases (net, beast, http, ssl, tcp)

std::string http_response::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (beast::iequals(n, name)) return v;
  return {};
}

std::vector<std::string> http_response::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers)
    if (beast::iequals(n, name)) out.push_back(v);
  return out;
}

struct test_client::impl {
  net::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<ssl::stream<tcp::socket>> tls;
  std::optional<tcp::socket> plain;
  beast::flat_buffer buf;

  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }

  /// Runs the io_context until `done` or the deadline; on the deadline cancels and throws.
  void run_until(bool& done, std::chrono::milliseconds timeout, const char* what) {
    ioc.restart();
    ioc.run_for(timeout);
    if (!done) {
      error_code ignored;
      socket().cancel(ignored);
      ioc.restart();
      ioc.run();
      throw client_error(std::string("deadline passed: ") + what);
    }
  }

  template <class Op>
  std::size_t run(Op op, std::chrono::milliseconds timeout, const char* what, error_code& ec) {
    bool done = false;
    std::size_t n = 0;
    op([&](error_code e, std::size_t bytes) {
      ec = e;
      n = bytes;
      done = true;
    });
    run_until(done, timeout, what);
    return n;
  }
};

test_client::test_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
test_client::test_client(test_client&&) noexcept = default;
test_client& test_client::operator=(test_client&&) noexcept = default;
test_client::~test_client() = default;

test_client test_client::tls(std::uint16_t port, const std::string& sni, const std::string& ca,
                             const std::string& source, const std::string& preamble,
                             SSL_SESSION* resume, bool session_ids_only) {
  auto p = std::make_unique<impl>();
  p->ctx.load_verify_file(ca);
  p->ctx.set_verify_mode(ssl::verify_peer);
  p->tls.emplace(p->ioc, p->ctx);
  if (session_ids_only) {
    SSL_set_max_proto_version(p->tls->native_handle(), TLS1_2_VERSION);
    SSL_set_options(p->tls->native_handle(), SSL_OP_NO_TICKET);
  }
  if (!sni.empty()) SSL_set_tlsext_host_name(p->tls->native_handle(), sni.c_str());
  if (resume != nullptr) SSL_set_session(p->tls->native_handle(), resume);
  if (!source.empty()) {
    // Another client address on the loopback network (127.0.0.0/8 all reaches lo).
    auto& socket = p->tls->next_layer();
    socket.open(tcp::v4());
    socket.bind(tcp::endpoint(net::ip::make_address(source), 0));
  }
  p->tls->next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  p->tls->next_layer().set_option(tcp::no_delay(true));
  if (!preamble.empty()) net::write(p->tls->next_layer(), net::buffer(preamble));
  bool done = false;
  error_code ec;
  p->tls->async_handshake(ssl::stream_base::client, [&](error_code e) {
    ec = e;
    done = true;
  });
  p->run_until(done, 5s, "TLS handshake");
  if (ec) throw client_error("TLS handshake: " + ec.message());
  return test_client(std::move(p));
}

test_client test_client::plain(std::uint16_t port) {
  auto p = std::make_unique<impl>();
  p->plain.emplace(p->ioc);
  p->plain->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  p->plain->set_option(tcp::no_delay(true));
  return test_client(std::move(p));
}

std::shared_ptr<SSL_SESSION> test_client::session() const {
  if (!impl_->tls) return nullptr;
  return {SSL_get1_session(impl_->tls->native_handle()), SSL_SESSION_free};
}

bool test_client::resumed() const {
  return impl_->tls && SSL_session_reused(impl_->tls->native_handle()) == 1;
}

void test_client::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  error_code ec;
  auto& p = *impl_;
  p.run(
      [&](auto h) {
        if (p.tls)
          net::async_write(*p.tls, net::buffer(bytes), h);
        else
          net::async_write(*p.plain, net::buffer(bytes), h);
      },
      timeout, "send", ec);
  if (ec) throw client_error("send: " + ec.message());
}

void test_client::send_corked(const std::vector<std::string>& pieces) {
  const int fd = impl_->socket().native_handle();
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  for (const auto& piece : pieces)
    send(piece);
  on = 0;
  ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);  // uncorking sends them, together
}

http_response test_client::read_response(std::chrono::milliseconds timeout) {
  return read(timeout, false);
}

http_response test_client::read_response_to_head(std::chrono::milliseconds timeout) {
  return read(timeout, true);
}

namespace {

template <class Impl>
void read_more(Impl& p, std::chrono::milliseconds left) {
  if (left.count() <= 0) throw client_error("deadline passed: raw read");
  error_code ec;
  const auto n = p.run(
      [&](auto h) {
        if (p.tls)
          p.tls->async_read_some(p.buf.prepare(16 * 1024), h);
        else
          p.plain->async_read_some(p.buf.prepare(16 * 1024), h);
      },
      left, "raw read", ec);
  if (ec) throw client_error("raw read: " + ec.message());
  p.buf.commit(n);
}

}  // namespace

std::string test_client::read_until(std::string_view delimiter, std::chrono::milliseconds timeout) {
  auto& p = *impl_;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string_view have(static_cast<const char*>(p.buf.data().data()), p.buf.size());
    if (const auto at = have.find(delimiter); at != std::string_view::npos) {
      std::string out(have.substr(0, at + delimiter.size()));
      p.buf.consume(out.size());
      return out;
    }
    read_more(p, std::chrono::duration_cast<std::chrono::milliseconds>(
                     until - std::chrono::steady_clock::now()));
  }
}

std::string test_client::read_exactly(std::size_t n, std::chrono::milliseconds timeout) {
  auto& p = *impl_;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (p.buf.size() < n)
    read_more(p, std::chrono::duration_cast<std::chrono::milliseconds>(
                     until - std::chrono::steady_clock::now()));
  std::string out(static_cast<const char*>(p.buf.data().data()), n);
  p.buf.consume(n);
  return out;
}

http_response test_client::read(std::chrono::milliseconds timeout, bool head_request) {
  auto& p = *impl_;
  http_response out;
  http::response_parser<http::string_body> parser;
  parser.skip(head_request);
  parser.body_limit(64 * 1024 * 1024);
  bool chunk_open = false;
  auto on_body = [&](std::uint64_t remain, std::string_view body, error_code&) -> std::size_t {
    if (!chunk_open) out.chunks.push_back({std::chrono::steady_clock::now(), {}});
    out.chunks.back().data.append(body);
    out.body.append(body);
    chunk_open = remain > body.size();
    return body.size();
  };
  parser.on_chunk_body(on_body);
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!parser.is_done()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw client_error("deadline passed: response");
    error_code ec;
    p.run(
        [&](auto h) {
          if (p.tls)
            http::async_read_some(*p.tls, p.buf, parser, h);
          else
            http::async_read_some(*p.plain, p.buf, parser, h);
        },
        left, "response", ec);
    if (ec) throw client_error("read response: " + ec.message());
  }
  const auto& res = parser.get();
  out.status = res.result_int();
  for (const auto& f : res)
    out.headers.emplace_back(f.name_string(), f.value());
  if (out.chunks.empty()) out.body = res.body();
  out.keep_alive = res.keep_alive();
  return out;
}

bool test_client::wait_closed(std::chrono::milliseconds timeout) {
  auto& p = *impl_;
  const auto until = std::chrono::steady_clock::now() + timeout;
  char scratch[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    error_code ec;
    try {
      p.run(
          [&](auto h) {
            if (p.tls)
              p.tls->async_read_some(net::buffer(scratch), h);
            else
              p.plain->async_read_some(net::buffer(scratch), h);
          },
          left, "close", ec);
    } catch (const client_error&) {
      return false;
    }
    if (ec) return true;  // EOF, reset or TLS truncation: closed
  }
}

void test_client::abort() {
  error_code ignored;
  auto& s = impl_->socket();
  ::linger lg{1, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);  // RST: gone at once
  s.close(ignored);
}

void test_client::shutdown_send() {
  error_code ignored;
  impl_->socket().shutdown(tcp::socket::shutdown_send, ignored);
}

std::size_t test_client::unread_bytes() {
  net::socket_base::bytes_readable n;
  error_code ignored;
  impl_->socket().io_control(n, ignored);
  return n.get();
}

void test_client::close_gracefully() {
  auto& p = *impl_;
  if (p.tls) {
    bool done = false;
    p.tls->async_shutdown([&](error_code) { done = true; });
    try {
      p.run_until(done, 1s, "TLS shutdown");
    } catch (const client_error&) {
    }
  }
  error_code ignored;
  p.socket().close(ignored);
}

std::vector<std::string> test_client::peer_certificate_names() const {
  std::vector<std::string> names;
  if (!impl_->tls) return names;
  X509* cert = SSL_get1_peer_certificate(impl_->tls->native_handle());
  if (!cert) return names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_DNS)
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                         ASN1_STRING_length(gn->d.dNSName));
  }
  GENERAL_NAMES_free(sans);
  X509_free(cert);
  return names;
}

std::string mapi_request(std::string_view host, std::string_view vdir, std::string_view mailbox,
                         std::string_view request_type, std::string_view body,
                         std::string_view extra, std::string_view request_id) {
  std::string r = "POST /mapi/";
  r += vdir;
  r += "/?MailboxId=";
  r += mailbox;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\nContent-Type: application/mapi-http\r\nX-RequestType: ";
  r += request_type;
  r += "\r\nX-RequestId: ";
  r += request_id;
  r += "\r\nX-ClientInfo: {2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1\r\n"
       "X-ClientApplication: Outlook/16.0.17928.20114\r\nUser-Agent: mapigate-test\r\n";
  r += extra;
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

std::string cookies_from(const http_response& r) {
  std::string out;
  for (const auto& v : r.all("Set-Cookie")) {
    if (!out.empty()) out += "; ";
    out += v.substr(0, v.find(';'));
  }
  return out;
}

}  // namespace testing_support
