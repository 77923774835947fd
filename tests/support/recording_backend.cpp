// Recording backend: blocking sockets, a thread per connection; Beast's strict parser reads the
// requests out of the recorded bytes.
#include "tests/support/recording_backend.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "proxy/io/net.hpp"

namespace testing_support {

using namespace proxy;  // net, beast, http, tcp

std::string parsed_request::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (beast::iequals(n, name)) return v;
  return {};
}

namespace {

/// Parses one request from the front of `in`: the bytes it used (0: incomplete), or `ec`.
std::size_t parse_one(std::string_view in, parsed_request& out, error_code& ec) {
  http::request_parser<http::string_body> p;
  p.eager(true);
  p.header_limit(64 * 1024);
  p.body_limit(64 * 1024 * 1024);
  std::size_t used = 0;
  while (!p.is_done() && used < in.size()) {
    const std::size_t n = p.put(net::buffer(in.data() + used, in.size() - used), ec);
    used += n;
    if (ec == http::error::need_more) {
      ec = {};
      return 0;
    }
    if (ec) return 0;
    if (n == 0) break;
  }
  if (!p.is_done()) return 0;
  auto& req = p.get();
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  for (const auto& f : req)
    out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = req.body();
  out.content_length = p.content_length().has_value();
  out.chunked = p.chunked();
  return used;
}

}  // namespace

request_stream parse_requests(std::string_view raw) {
  request_stream s;
  while (!raw.empty()) {
    parsed_request r;
    error_code ec;
    const std::size_t used = parse_one(raw, r, ec);
    if (ec) {
      s.error = ec.message();
      break;
    }
    if (used == 0) break;
    s.requests.push_back(std::move(r));
    raw.remove_prefix(used);
  }
  s.rest = std::string(raw);
  return s;
}

struct recording_backend::impl {
  net::io_context io;
  tcp::acceptor acceptor{io, {net::ip::make_address("127.0.0.1"), 0}};
  mutable std::mutex m;
  mutable std::condition_variable changed;
  std::vector<connection> conns;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::vector<std::thread> threads;
  std::thread acceptor_thread;
  bool stopping = false;
  behaviour mode = behaviour::answer;

  void serve(std::shared_ptr<tcp::socket> s, std::size_t index) {
    static constexpr std::string_view reply =
        "HTTP/1.1 200 OK\r\nContent-Type: application/mapi-http\r\nX-ResponseCode: 0\r\n"
        "Content-Length: 2\r\n\r\nok";
    std::string unparsed;
    char buf[4096];
    for (;;) {
      error_code ec;
      const std::size_t n = s->read_some(net::buffer(buf), ec);
      if (ec) break;
      unparsed.append(buf, n);
      {
        std::lock_guard lock(m);
        conns[index].bytes.append(buf, n);
      }
      changed.notify_all();
      if (mode == behaviour::close_on_head && unparsed.find("\r\n\r\n") != std::string::npos) break;
      // Answer every request that is complete by now, as a keep-alive origin would.
      bool failed = false;
      for (;;) {
        parsed_request r;
        const std::size_t used = parse_one(unparsed, r, ec);
        if (ec) failed = true;
        if (ec || used == 0) break;
        unparsed.erase(0, used);
        net::write(*s, net::buffer(reply), ec);
        if (ec) {
          failed = true;
          break;
        }
        {
          std::lock_guard lock(m);
          ++conns[index].answered;
        }
        changed.notify_all();
      }
      if (failed) break;  // a backend that cannot parse the stream closes it
      if (unparsed.empty() && !idle_step(*s, index)) break;
    }
    error_code ignored;
    s->close(ignored);
    {
      std::lock_guard lock(m);
      conns[index].closed = true;
    }
    changed.notify_all();
  }

  /// Between requests: in the idle modes, once the connection has idled for idle_grace, closes
  /// it (false) or sends the unasked answer. True: go on reading.
  bool idle_step(tcp::socket& s, std::size_t index) {
    if (mode != behaviour::close_when_idle && mode != behaviour::speak_when_idle) return true;
    pollfd p{s.native_handle(), POLLIN, 0};
    const int grace = static_cast<int>(idle_grace.count());
    if (::poll(&p, 1, grace) != 0) return true;  // the next request is coming: not idle
    error_code ec;
    if (mode == behaviour::speak_when_idle) net::write(s, net::buffer(unasked), ec);
    {
      std::lock_guard lock(m);
      conns[index].idled_out = true;
    }
    changed.notify_all();
    return mode == behaviour::speak_when_idle && !ec;
  }

  void accept_loop() {
    for (;;) {
      auto s = std::make_shared<tcp::socket>(io);
      error_code ec;
      acceptor.accept(*s, ec);
      std::lock_guard lock(m);
      if (ec || stopping) return;
      conns.emplace_back();
      sockets.push_back(s);
      threads.emplace_back([this, s, i = conns.size() - 1] { serve(s, i); });
    }
  }
};

recording_backend::recording_backend(behaviour b) : impl_(std::make_unique<impl>()) {
  impl_->mode = b;
  impl_->acceptor_thread = std::thread([this] { impl_->accept_loop(); });
}

recording_backend::~recording_backend() {
  {
    std::lock_guard lock(impl_->m);
    impl_->stopping = true;
    for (auto& s : impl_->sockets)
      ::shutdown(s->native_handle(), SHUT_RDWR);  // wakes its reader
  }
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);  // wakes the accept
  impl_->acceptor_thread.join();
  for (auto& t : impl_->threads)
    t.join();
}

std::uint16_t recording_backend::port() const {
  return impl_->acceptor.local_endpoint().port();
}

std::vector<recording_backend::connection> recording_backend::connections() const {
  std::lock_guard lock(impl_->m);
  return impl_->conns;
}

std::size_t recording_backend::answered() const {
  std::lock_guard lock(impl_->m);
  std::size_t n = 0;
  for (const auto& c : impl_->conns)
    n += c.answered;
  return n;
}

bool recording_backend::wait_answered(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->m);
  return impl_->changed.wait_for(lock, timeout, [&] {
    std::size_t a = 0;
    for (const auto& c : impl_->conns)
      a += c.answered;
    return a >= n;
  });
}

bool recording_backend::wait_all_closed(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->m);
  return impl_->changed.wait_for(lock, timeout, [&] {
    for (const auto& c : impl_->conns)
      if (!c.closed) return false;
    return true;
  });
}

}  // namespace testing_support
