// A wait for a socket to turn readable that costs no system call when the socket's last read
// took everything that had arrived. Included through proxy/io/stream.hpp only.
//
// Why: asio's socket wait (async_wait) re-arms the descriptor with epoll_ctl every time it
// starts with nothing queued, so that readiness which came before the wait is reported. That is
// one system call per request on every connection. The descriptor is registered edge-triggered
// once, for good; after a read that drained the socket, every byte that arrives later is a new
// edge, so the re-arm tells nothing new. Asio's own reads already skip it (a "speculative" read
// that finds nothing queues without re-arming); this is the same rule for a wait that holds no
// buffer.
//
// How: the reactor keeps, per descriptor, whether an edge came since an operation last took
// what it reported (its "try speculative" flag). The wait starts as a speculative operation:
//   - an edge came since (the flag is set): it completes at once, and clears the flag;
//   - none came: it is queued without a system call; the next edge completes it and clears the
//     flag.
// Clearing the flag says "what the edge reported is being read now". So the wait skips the
// re-arm only while the connection's `drained` says that a read took all that had arrived since
// the last edge an operation took: the wait clears `drained` when it takes one, and only a read
// that finds nothing more sets it again. Otherwise (nothing read since, a read that filled its
// buffer, or one that found the end) it re-arms the descriptor as asio's wait does. A wait that is
// not last in the descriptor's read queue leaves the flag set, so that the operations behind it are
// completed by the same edge. (asio's own wait never clears the flag: after one, the next wait
// would complete at once with nothing to read, so every read wait of a connection is this one.)
#pragma once

#include <boost/asio.hpp>
#include <memory>
#include <type_traits>
#include <utility>

namespace proxy::stream_detail {

static_assert(std::is_same_v<boost::asio::detail::reactor, boost::asio::detail::epoll_reactor>,
              "read_wait relies on the epoll reactor's per-descriptor state");

/// A TCP socket whose reactor registration read_wait can reach (asio keeps it protected).
class reactor_socket : public boost::asio::ip::tcp::socket {
 public:
  using boost::asio::ip::tcp::socket::basic_stream_socket;
  explicit reactor_socket(boost::asio::ip::tcp::socket&& s) noexcept
      : boost::asio::ip::tcp::socket(std::move(s)) {}

  /// The native descriptor and the reactor's state for it.
  auto& registration() noexcept { return impl_.get_implementation(); }
};

/// The reactor serving `s` (looked up once per connection: the lookup takes a lock).
inline boost::asio::detail::reactor& reactor_of(reactor_socket& s) {
  return boost::asio::use_service<boost::asio::detail::reactor>(
      boost::asio::query(s.get_executor(), boost::asio::execution::context));
}

/// The reactor operation of read_wait: asio's reactive_wait_op with the flag rule above.
template <class Handler, class IoExecutor>
class read_wait_op : public boost::asio::detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(read_wait_op);

  read_wait_op(const boost::system::error_code& success_ec, bool& drained, Handler& handler,
               const IoExecutor& io_ex)
      : reactor_op(success_ec, &read_wait_op::do_perform, &read_wait_op::do_complete),
        drained_(&drained),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  /// Called when an edge came (or, at the start, when one came since the flag was cleared).
  /// done_and_exhausted clears the flag; only the last operation queued may say it. Runs only
  /// while the socket is open (a close cancels the queued operations), so `drained` is alive.
  static status do_perform(reactor_op* base) {
    auto* o = static_cast<read_wait_op*>(base);
    *o->drained_ = false;
    return boost::asio::detail::op_queue_access::next(base) ? done : done_and_exhausted;
  }

  static void do_complete(void* owner, boost::asio::detail::operation* base,
                          const boost::system::error_code&, std::size_t) {
    namespace detail = boost::asio::detail;
    auto* o = static_cast<read_wait_op*>(base);
    ptr p = {std::addressof(o->handler_), o, o};
    detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    // The memory goes back before the upcall; the handler may own what allocated it.
    detail::binder1<Handler, boost::system::error_code> handler(o->handler_, o->ec_);
    p.h = std::addressof(handler.handler_);
    p.reset();
    if (owner) {
      detail::fenced_block b(detail::fenced_block::half);
      w.complete(handler, handler.handler_);
    }
  }

 private:
  bool* drained_;
  Handler handler_;
  boost::asio::detail::handler_work<Handler, IoExecutor> work_;
};

/// Per-operation cancellation of a read_wait (as asio's reactor_op_cancellation).
struct read_wait_cancellation {
  boost::asio::detail::reactor* reactor;
  boost::asio::detail::reactor::per_descriptor_data* data;
  int descriptor;

  void operator()(boost::asio::cancellation_type_t type) {
    using ct = boost::asio::cancellation_type;
    if (!!(type & (ct::terminal | ct::partial | ct::total)))
      reactor->cancel_ops_by_key(descriptor, *data, boost::asio::detail::reactor::read_op, this);
  }
};

/// Waits for `s` to turn readable, as socket::async_wait(wait_read) does. While `drained` (see
/// above) without re-arming the descriptor; otherwise it re-arms it, as asio's wait does (bytes
/// that are already there must be reported), but unlike asio's wait it clears the flag when it
/// completes, so that the next wait can skip the re-arm again. `drained` must live as long as
/// `s` is open. Completes with operation_aborted when cancelled or closed, bad_descriptor when
/// `s` is not open.
template <class Handler>
void read_wait(reactor_socket& s, boost::asio::detail::reactor& reactor, bool& drained,
               Handler&& handler) {
  namespace detail = boost::asio::detail;
  using op = read_wait_op<std::decay_t<Handler>, boost::asio::any_io_executor>;
  const bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
  auto slot = boost::asio::get_associated_cancellation_slot(handler);
  typename op::ptr p = {std::addressof(handler), op::ptr::allocate(handler), nullptr};
  p.p = new (p.v) op(boost::system::error_code(), drained, handler, s.get_executor());
  auto& reg = s.registration();
  if (slot.is_connected())
    p.p->cancellation_key_ = &slot.template emplace<read_wait_cancellation>(
        &reactor, &reg.reactor_data_, static_cast<int>(reg.socket_));
  reactor.start_op(detail::reactor::read_op, reg.socket_, reg.reactor_data_, p.p, is_continuation,
                   drained);
  p.v = p.p = nullptr;
}

}  // namespace proxy::stream_detail
