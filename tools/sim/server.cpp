// sim::server: listener, io thread, connection registry and the thread-safe observation API.
#include <future>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tools/sim/connection.hpp"
#include "tools/sim/mapi_sim.hpp"
#include "tools/sim/transport.hpp"

namespace sim {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::chrono::seconds stop_grace{3};

std::unique_ptr<ssl::context> make_tls_context(const options& opts) {
  if (opts.cert_file.empty() && opts.key_file.empty()) return nullptr;
  if (opts.cert_file.empty() || opts.key_file.empty()) {
    throw std::runtime_error("mapigate-sim: TLS needs both cert_file and key_file");
  }
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(context->native_handle(), SSL_OP_NO_RENEGOTIATION);
  boost::system::error_code ec;
  context->use_certificate_chain_file(opts.cert_file, ec);
  if (ec) {
    throw std::runtime_error("mapigate-sim: cannot load certificate " + opts.cert_file + ": " +
                             ec.message());
  }
  context->use_private_key_file(opts.key_file, ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("mapigate-sim: cannot load key " + opts.key_file + ": " +
                             ec.message());
  }
  return context;
}

}  // namespace

// Member order matters: ioc and acceptor are declared last so they are destroyed first; coroutine
// frames still pending in the io_context reach into state, live and tls while they unwind.
struct server::impl {
  explicit impl(options opts) : state(std::move(opts)) {}

  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(std::unique_ptr<detail::transport> io, std::uint64_t id);
  void close_all();  // io thread

  detail::server_state state;
  std::unique_ptr<ssl::context> tls;
  std::unordered_map<std::uint64_t, detail::transport*> live;  // io thread only
  std::uint64_t next_id = 0;                                   // io thread only
  bool stopping = false;                                       // io thread only
  std::uint16_t bound_port = 0;
  bool started = false;  // caller's thread (start/stop)
  std::thread thread;
  std::future<void> finished;
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
};

net::awaitable<void> server::impl::accept_loop() {
  net::steady_timer backoff(ioc);
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (stopping || !acceptor.is_open()) break;
    if (ec) {
      // e.g. EMFILE: back off briefly instead of spinning.
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::uint64_t id = ++next_id;
    state.records.connection_opened();
    try {
      auto io = detail::make_transport(std::move(socket), tls.get(), state.opts.idle_timeout);
      live.emplace(id, io.get());
      net::co_spawn(ioc, serve(std::move(io), id), net::detached);
    } catch (...) {
      // e.g. SSL_new failing under memory pressure: drop this connection, keep accepting.
      live.erase(id);
      state.records.connection_closed(id);
    }
  }
}

net::awaitable<void> server::impl::serve(std::unique_ptr<detail::transport> io, std::uint64_t id) {
  // Runs on normal completion and when the frame is destroyed with the io_context.
  struct finish {
    impl& self;
    detail::transport& io;
    std::uint64_t id;
    ~finish() {
      self.live.erase(id);
      io.close();
      self.state.records.connection_closed(id);
    }
  } guard{*this, *io, id};
  try {
    detail::connection conn(state, *io, id);
    co_await conn.run();
  } catch (...) {
    // A connection never takes the server down; the guard closes and records it.
  }
}

void server::impl::close_all() {
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (auto& [id, io] : live)
    io->close();
}

server::server(options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

server::~server() {
  stop();
}

void server::start() {
  if (impl_->started) throw std::runtime_error("mapigate-sim: server already started");
  auto& self = *impl_;
  self.tls = make_tls_context(self.state.opts);

  boost::system::error_code ec;
  tcp::resolver resolver(self.ioc);
  auto results = resolver.resolve(self.state.opts.address, std::to_string(self.state.opts.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    throw std::runtime_error("mapigate-sim: cannot resolve " + self.state.opts.address + ": " +
                             ec.message());
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  self.acceptor.open(endpoint.protocol(), ec);
  if (!ec) self.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) self.acceptor.bind(endpoint, ec);
  if (!ec) self.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    self.acceptor.close(ignored);
    throw std::runtime_error("mapigate-sim: cannot listen on " + self.state.opts.address + ":" +
                             std::to_string(self.state.opts.port) + ": " + ec.message());
  }
  self.bound_port = self.acceptor.local_endpoint().port();

  net::co_spawn(self.ioc, self.accept_loop(), net::detached);
  std::promise<void> done;
  self.finished = done.get_future();
  self.thread = std::thread([&self, done = std::move(done)]() mutable {
    for (;;) {
      try {
        self.ioc.run();
        break;
      } catch (...) {
        // Nothing should escape a handler; if something does, keep serving.
      }
    }
    done.set_value();
  });
  self.started = true;
}

void server::stop() {
  auto& self = *impl_;
  if (!self.started || !self.thread.joinable()) return;
  net::post(self.ioc, [&self] { self.close_all(); });
  if (self.finished.wait_for(stop_grace) != std::future_status::ready) self.ioc.stop();
  self.thread.join();
}

std::uint16_t server::port() const {
  return impl_->bound_port;
}
const std::string& server::name() const {
  return impl_->state.opts.name;
}
const options& server::config() const {
  return impl_->state.opts;
}
void server::set_vdir_healthy(std::string_view vdir, bool healthy) {
  impl_->state.set_vdir_healthy(vdir, healthy);
}

void server::set_healthy(bool healthy) {
  impl_->state.healthy.store(healthy);
}

std::vector<request_record> server::requests() const {
  return impl_->state.records.requests();
}
std::vector<write_event> server::writes() const {
  return impl_->state.records.writes();
}
std::uint64_t server::connections_accepted() const {
  return impl_->state.records.accepted();
}
std::uint64_t server::connections_open() const {
  return impl_->state.records.open();
}

bool server::connection_closed(std::uint64_t connection_id) const {
  return impl_->state.records.closed(connection_id);
}

bool server::wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const {
  return impl_->state.records.wait_for_requests(count, timeout);
}

bool server::wait_for_writes(std::size_t count, std::chrono::milliseconds timeout) const {
  return impl_->state.records.wait_for_writes(count, timeout);
}

bool server::wait_for_connection_closed(std::uint64_t connection_id,
                                        std::chrono::milliseconds timeout) const {
  return impl_->state.records.wait_for_closed(connection_id, timeout);
}

void server::clear_records() {
  impl_->state.records.clear();
}

}  // namespace sim
