// HTTP/2 test client: Asio TLS socket + nghttp2 client session, pumped by run_until().
#include "tests/support/h2_client.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "proxy/io/net.hpp"

namespace testing_support {

using namespace proxy;  // net, ssl, tcp aliases

struct h2_test_client::impl {
  net::io_context ioc;
  // Keeps run_one_for() working between operations (an io_context without work stops).
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);
  ssl::context ctx{ssl::context::tls_client};
  std::unique_ptr<ssl::stream<tcp::socket>> sock;
  nghttp2_session* s = nullptr;
  std::map<std::int32_t, response> responses;
  std::map<std::int32_t, std::pair<std::string, std::size_t>> bodies;  ///< to send, offset
  std::array<std::uint8_t, 16384> rbuf{};
  std::string wbuf;
  std::deque<std::string> pieces;  ///< wbuf cut as `cut` says, written one after another
  split cut = split::whole;
  std::size_t data_frame_size = 16384;
  bool reading = false, writing = false, closed = false, goaway = false;
  std::size_t ping_acks = 0;
  std::vector<std::int32_t> goaway_last_streams;
  std::uint32_t goaway_code = 0;

  static impl& self(void* p) { return *static_cast<impl*>(p); }

  /// wbuf into pieces: whole, per frame (9-byte header + its length; the connection preface,
  /// which is not a frame, stays with what follows), or per byte.
  void cut_pieces() {
    pieces.clear();
    std::string_view rest = wbuf;
    switch (cut) {
      case split::whole:
        pieces.emplace_back(rest);
        break;
      case split::per_byte:
        for (char c : rest)
          pieces.emplace_back(1, c);
        break;
      case split::per_frame:
        while (rest.size() >= 9) {
          const std::size_t len = (std::size_t(std::uint8_t(rest[0])) << 16) |
                                  (std::size_t(std::uint8_t(rest[1])) << 8) | std::uint8_t(rest[2]);
          const std::size_t n = std::min(rest.size(), 9 + len);
          pieces.emplace_back(rest.substr(0, n));
          rest.remove_prefix(n);
        }
        if (!rest.empty()) pieces.emplace_back(rest);
        break;
    }
  }

  void write_next() {
    if (pieces.empty()) return;
    writing = true;
    net::async_write(*sock, net::buffer(pieces.front()), [this](error_code ec, std::size_t) {
      pieces.pop_front();
      writing = false;
      if (ec) {
        closed = true;
        pieces.clear();
        return;
      }
      if (!pieces.empty())
        write_next();
      else
        pump();
    });
  }

  void pump() {
    if (closed) return;
    if (!writing && nghttp2_session_want_write(s)) {
      wbuf.clear();
      for (;;) {
        const std::uint8_t* d = nullptr;
        const auto n = nghttp2_session_mem_send(s, &d);
        if (n <= 0) break;
        wbuf.append(reinterpret_cast<const char*>(d), std::size_t(n));
      }
      if (!wbuf.empty()) {
        cut_pieces();
        write_next();
      }
    }
    if (!reading) {
      reading = true;
      sock->async_read_some(net::buffer(rbuf), [this](error_code ec, std::size_t n) {
        reading = false;
        if (ec) {
          closed = true;
          return;
        }
        if (nghttp2_session_mem_recv(s, rbuf.data(), n) < 0) closed = true;
        pump();
      });
    }
  }
};

std::string h2_test_client::response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return {};
}

h2_test_client::h2_test_client(std::uint16_t port, const std::string& sni,
                               const std::string& ca_file, std::chrono::milliseconds timeout,
                               const std::string& source, const std::string& preamble)
    : impl_(std::make_unique<impl>()) {
  auto& m = *impl_;
  m.ctx.load_verify_file(ca_file);
  m.ctx.set_verify_mode(ssl::verify_peer);
  static const unsigned char alpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(m.ctx.native_handle(), alpn, sizeof alpn);
  m.sock = std::make_unique<ssl::stream<tcp::socket>>(m.ioc, m.ctx);
  SSL_set_tlsext_host_name(m.sock->native_handle(), sni.c_str());
  if (!source.empty()) {
    m.sock->lowest_layer().open(tcp::v4());
    m.sock->lowest_layer().bind(tcp::endpoint(net::ip::make_address(source), 0));
  }
  bool connected = false, failed = false;
  std::string why;
  m.sock->lowest_layer().async_connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [&](error_code ec) {
        if (ec) {
          failed = true;
          why = ec.message();
          return;
        }
        if (!preamble.empty()) {
          error_code wec;
          net::write(m.sock->next_layer(), net::buffer(preamble), wec);
        }
        m.sock->async_handshake(ssl::stream_base::client, [&](error_code hec) {
          if (hec) {
            failed = true;
            why = hec.message();
          } else {
            connected = true;
          }
        });
      });
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!connected && !failed && std::chrono::steady_clock::now() < until)
    m.ioc.run_one_for(std::chrono::milliseconds(10));
  if (!connected) throw client_error("h2 connect: " + (failed ? why : "timeout"));
  const unsigned char* sel = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(m.sock->native_handle(), &sel, &len);
  if (len != 2 || std::memcmp(sel, "h2", 2) != 0) throw client_error("server did not select h2");

  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(
      cbs,
      [](nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n, std::size_t nl,
         const std::uint8_t* v, std::size_t vl, std::uint8_t, void* p) -> int {
        auto& r = impl::self(p).responses[f->hd.stream_id];
        std::string name(reinterpret_cast<const char*>(n), nl),
            value(reinterpret_cast<const char*>(v), vl);
        if (name == ":status") {
          const int status = std::atoi(value.c_str());
          if (status >= 100 && status < 200)
            r.interim.push_back(status);
          else
            r.status = status;
        } else
          r.headers.emplace_back(std::move(name), std::move(value));
        return 0;
      });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cbs,
      [](nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d, std::size_t n,
         void* p) -> int {
        auto& r = impl::self(p).responses[id];
        r.body.append(reinterpret_cast<const char*>(d), n);
        r.chunks.push_back(
            {std::chrono::steady_clock::now(), std::string(reinterpret_cast<const char*>(d), n)});
        return 0;
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(
      cbs, [](nghttp2_session*, std::int32_t id, std::uint32_t code, void* p) -> int {
        auto& r = impl::self(p).responses[id];
        r.done = true;
        r.error_code = code;
        return 0;
      });
  nghttp2_session_callbacks_set_on_frame_recv_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame* f, void* p) -> int {
        if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK))
          ++impl::self(p).ping_acks;
        if (f->hd.type == NGHTTP2_RST_STREAM)
          impl::self(p).responses[f->hd.stream_id].reset_received = true;
        if (f->hd.type == NGHTTP2_GOAWAY)
          impl::self(p).goaway_last_streams.push_back(f->goaway.last_stream_id);
        if (f->hd.type == NGHTTP2_GOAWAY) {
          impl::self(p).goaway = true;
          impl::self(p).goaway_code = f->goaway.error_code;
        }
        return 0;
      });
  nghttp2_session_client_new(&m.s, cbs, &m);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(m.s, NGHTTP2_FLAG_NONE, nullptr, 0);
  m.pump();
}

h2_test_client::~h2_test_client() {
  if (!impl_) return;
  error_code ignored;
  impl_->sock->lowest_layer().close(ignored);
  impl_->ioc.run_for(std::chrono::milliseconds(10));  // completes the aborted operations
  nghttp2_session_del(impl_->s);
}

std::int32_t h2_test_client::request(
    const std::string& method, const std::string& path, const std::string& authority,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
    bool hold_body) {
  std::optional<std::string> length;
  if (!body.empty()) length = std::to_string(body.size());
  return request_framed(method, path, authority, headers,
                        body.empty() ? std::nullopt : std::optional<std::string>(body), length,
                        hold_body);
}

std::int32_t h2_test_client::request_framed(
    const std::string& method, const std::string& path, const std::string& authority,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::optional<std::string> body, std::optional<std::string> content_length) {
  return request_framed(method, path, authority, headers, std::move(body),
                        std::move(content_length), false);
}

std::int32_t h2_test_client::request_framed(
    const std::string& method, const std::string& path, const std::string& authority,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::optional<std::string> body, std::optional<std::string> content_length, bool hold_body) {
  auto& m = *impl_;
  std::vector<std::pair<std::string, std::string>> all = {
      {":method", method}, {":scheme", "https"}, {":path", path}, {":authority", authority}};
  for (const auto& h : headers)
    all.push_back(h);
  if (content_length) all.emplace_back("content-length", *content_length);
  std::vector<nghttp2_nv> nva;
  for (auto& [n, v] : all)
    nva.push_back({reinterpret_cast<std::uint8_t*>(n.data()),
                   reinterpret_cast<std::uint8_t*>(v.data()), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  nghttp2_data_provider provider{};
  provider.read_callback = [](nghttp2_session*, std::int32_t id, std::uint8_t* buf, std::size_t len,
                              std::uint32_t* flags, nghttp2_data_source*, void* p) -> ssize_t {
    auto& [data, off] = impl::self(p).bodies[id];
    if (off == std::string::npos) return NGHTTP2_ERR_DEFERRED;  // held back for good
    const std::size_t n = std::min({len, data.size() - off, impl::self(p).data_frame_size});
    std::memcpy(buf, data.data() + off, n);
    off += n;
    if (off == data.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  };
  const auto id = nghttp2_submit_request(m.s, nullptr, nva.data(), nva.size(),
                                         body ? &provider : nullptr, nullptr);
  if (id < 0) throw client_error("nghttp2_submit_request failed");
  if (body) m.bodies[id] = {*body, hold_body ? std::string::npos : 0};
  m.responses[id];
  m.pump();
  return id;
}

void h2_test_client::release_body(std::int32_t stream) {
  impl_->bodies[stream].second = 0;
  nghttp2_session_resume_data(impl_->s, stream);
  impl_->pump();
}

void h2_test_client::set_split(split s) {
  impl_->cut = s;
}

void h2_test_client::set_data_frame_size(std::size_t n) {
  impl_->data_frame_size = n;
}

void h2_test_client::set_receive_window(std::int32_t bytes) {
  const nghttp2_settings_entry window{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                      static_cast<std::uint32_t>(bytes)};
  nghttp2_submit_settings(impl_->s, NGHTTP2_FLAG_NONE, &window, 1);
  nghttp2_session_set_local_window_size(impl_->s, NGHTTP2_FLAG_NONE, 0, bytes);
  impl_->pump();
}

void h2_test_client::reset(std::int32_t stream, std::uint32_t code) {
  nghttp2_submit_rst_stream(impl_->s, NGHTTP2_FLAG_NONE, stream, code);
  impl_->pump();
}

bool h2_test_client::run_until(const std::function<bool()>& pred,
                               std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until) return pred();
    impl_->pump();
    impl_->ioc.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
}

void h2_test_client::send_raw(const std::string& bytes) {
  flush();
  auto& m = *impl_;
  m.writing = true;
  auto data = std::make_shared<std::string>(bytes);
  net::async_write(*m.sock, net::buffer(*data), [&m, data](error_code ec, std::size_t) {
    m.writing = false;
    if (ec) m.closed = true;
  });
  run_until([&] { return !m.writing; });
}

bool h2_test_client::ping(std::chrono::milliseconds timeout) {
  const std::size_t before = impl_->ping_acks;
  nghttp2_submit_ping(impl_->s, NGHTTP2_FLAG_NONE, nullptr);
  impl_->pump();
  return run_until([&] { return impl_->ping_acks > before || impl_->closed; }, timeout) &&
         impl_->ping_acks > before;
}

bool h2_test_client::flush(std::chrono::milliseconds timeout) {
  return run_until(
      [&] { return impl_->closed || (!impl_->writing && !nghttp2_session_want_write(impl_->s)); },
      timeout);
}

const h2_test_client::response& h2_test_client::wait(std::int32_t stream,
                                                     std::chrono::milliseconds timeout) {
  if (!run_until([&] { return impl_->responses[stream].done || impl_->closed; }, timeout))
    throw client_error("h2 stream " + std::to_string(stream) + ": deadline");
  return impl_->responses[stream];
}

const h2_test_client::response& h2_test_client::get(std::int32_t stream) const {
  return impl_->responses.at(stream);
}

bool h2_test_client::goaway_received() const noexcept {
  return impl_->goaway;
}

const std::vector<std::int32_t>& h2_test_client::goaway_last_streams() const noexcept {
  return impl_->goaway_last_streams;
}

std::uint32_t h2_test_client::goaway_code() const noexcept {
  return impl_->goaway_code;
}

bool h2_test_client::connection_closed() const noexcept {
  return impl_->closed;
}

std::vector<std::pair<std::string, std::string>> h2_test_client::mapi_headers(
    std::string_view request_type, std::string_view cookie, std::string_view authorization) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"content-type", "application/mapi-http"},
      {"x-requesttype", std::string(request_type)},
      {"x-requestid", "{C715155F-2BE8-44E0-BD34-2960065754C8}:1"},
      {"x-clientinfo", "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1"},
      {"x-clientapplication", "Outlook/16.0.17928.20114"},
      {"user-agent", "Microsoft Office/16.0 (Windows NT 10.0; MAPI 16.0.17928; Pro)"}};
  if (!cookie.empty()) h.emplace_back("cookie", std::string(cookie));
  if (!authorization.empty()) h.emplace_back("authorization", std::string(authorization));
  return h;
}

}  // namespace testing_support
