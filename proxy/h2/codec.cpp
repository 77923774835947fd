// nghttp2 glue for the HTTP/2 codec.
#include "proxy/h2/codec.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace proxy::h2 {
namespace {
/// Room reserved for a request's header list: Outlook's MAPI requests carry about a dozen
/// fields, most of them short. The bytes' block stays within the 1,032 bytes that glibc's
/// per-thread cache serves without a lock or a search; a longer list (a Kerberos ticket) grows.
constexpr std::size_t typical_headers = 16;
constexpr std::size_t typical_header_bytes = 1000;
}  // namespace

struct codec::callbacks {
  static codec& self(void* p) { return *static_cast<codec*>(p); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* p) {
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto& b = self(p).blocks_.emplace_back(pending_block{f->hd.stream_id, {}, 0, false});
    b.headers.reserve(typical_headers, typical_header_bytes);  // not one per doubling
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* p) {
    auto& s = self(p);
    auto* b = s.block(f->hd.stream_id);
    if (!b) return 0;                     // trailers: ignored
    b->bytes += namelen + valuelen + 32;  // RFC 9113 §6.5.2 accounting
    if (b->bytes > s.settings_.max_header_list) {
      b->too_large = true;  // keep counting, store nothing more
      return 0;
    }
    b->headers.add({reinterpret_cast<const char*>(name), namelen},
                   {reinterpret_cast<const char*>(value), valuelen});
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* p) {
    auto& s = self(p);
    const bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (f->hd.type) {
      case NGHTTP2_HEADERS: {
        auto it = std::find_if(s.blocks_.begin(), s.blocks_.end(),
                               [&](const pending_block& b) { return b.stream == f->hd.stream_id; });
        if (it != s.blocks_.end()) {
          auto b = std::move(*it);
          s.blocks_.erase(it);
          s.ev_.on_request(b.stream, std::move(b.headers), end, b.too_large);
        } else if (end) {
          s.ev_.on_end_stream(f->hd.stream_id);  // trailers end the stream
        }
        break;
      }
      case NGHTTP2_DATA:
        if (end) s.ev_.on_end_stream(f->hd.stream_id);
        break;
      default:
        break;
    }
    return 0;
  }

  static int on_frame_send(nghttp2_session* s, const nghttp2_frame* f, void* p) {
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR)
      self(p).error_sent_ = f->goaway.error_code;
    // A complete response sent before the request's end (mapigate refused it early): ask the
    // client to stop sending a body nobody reads, without error (RFC 9113 §8.1; the client
    // keeps the response).
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(s, f->hd.stream_id) == 0)
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t stream,
                           const std::uint8_t* data, std::size_t len, void* p) {
    self(p).ev_.on_data(stream, std::string_view(reinterpret_cast<const char*>(data), len));
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream, std::uint32_t code, void* p) {
    auto& s = self(p);
    std::erase_if(s.blocks_, [&](const pending_block& b) { return b.stream == stream; });
    s.ev_.on_stream_close(stream, code);
    return 0;
  }

  /// DATA without a copy of nghttp2's (NGHTTP2_DATA_FLAG_NO_COPY): nghttp2 asks how much is
  /// ready, then send_data writes the frame into take_output()'s result itself.
  static ssize_t read_body(nghttp2_session*, std::int32_t stream, std::uint8_t*, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source*, void* p) {
    bool eof = false;
    const auto n = self(p).ev_.body_ready(stream, length, eof);
    // Nothing yet, however said: an empty DATA frame would be sent, and asked for again at once.
    if (n < 0 || (n == 0 && !eof)) return NGHTTP2_ERR_DEFERRED;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
  }

  /// The DATA frame body_ready announced: its 9-byte header, padding's length byte (mapigate
  /// never pads; nghttp2 decides), the bytes themselves, the padding.
  static int send_data(nghttp2_session*, nghttp2_frame* f, const std::uint8_t* framehd,
                       std::size_t length, nghttp2_data_source*, void* p) {
    auto& s = self(p);
    if (!s.output_) return NGHTTP2_ERR_WOULDBLOCK;  // only while take_output() runs
    auto& out = *s.output_;
    out.append({reinterpret_cast<const char*>(framehd), 9});
    const std::size_t pad = f->data.padlen;
    if (pad > 0) {
      const char padlen = static_cast<char>(pad - 1);
      out.append({&padlen, 1});
    }
    s.ev_.take_body(f->hd.stream_id, length, out);
    if (pad > 1) {
      std::memset(out.prepare(pad - 1), 0, pad - 1);
      out.commit(pad - 1);
    }
    return 0;
  }
};

codec::codec(events& ev, const settings& s) : ev_(ev), settings_(s) {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) throw std::bad_alloc();
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &callbacks::on_stream_close);
  nghttp2_session_callbacks_set_send_data_callback(cbs, &callbacks::send_data);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    throw std::bad_alloc();
  }
  // Request body windows are opened only as far as the backend has taken the bytes.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);  // SETTINGS/PING floods end the session
  nghttp2_option_set_max_settings(opt, 32);
  nghttp2_option_set_stream_reset_rate_limit(opt, s.reset_burst, s.reset_rate);
  nghttp2_option_set_max_continuations(opt, s.max_continuations);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  const int rc = nghttp2_session_server_new2(&s_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rc != 0) throw std::bad_alloc();
  const nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, s.initial_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, s.max_header_list},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(s_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
}

codec::~codec() {
  nghttp2_session_del(s_);
}

codec::pending_block* codec::block(std::int32_t stream) {
  for (auto& b : blocks_)
    if (b.stream == stream) return &b;
  return nullptr;
}

bool codec::receive(std::span<const std::uint8_t> bytes) {
  if (failed_) return false;
  const auto n = nghttp2_session_mem_recv(s_, bytes.data(), bytes.size());
  if (n < 0 || static_cast<std::size_t>(n) != bytes.size()) {
    failed_ = true;
    // Bad frames or a flood: say why (GOAWAY) before the connection closes.
    nghttp2_session_terminate_session(
        s_, n == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
    return false;
  }
  return true;
}

void codec::take_output(output& out) {
  const std::size_t start = out.size();
  output_ = &out;
  for (;;) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(s_, &data);
    if (n <= 0) break;
    out.append({reinterpret_cast<const char*>(data), static_cast<std::size_t>(n)});
    if (out.size() - start >= 64 * 1024) break;  // one write at a time; the caller comes back
  }
  output_ = nullptr;
}

bool codec::want_read() const {
  return !failed_ && nghttp2_session_want_read(s_) != 0;
}

bool codec::want_write() const {
  return nghttp2_session_want_write(s_) != 0;
}

void codec::submit_response(std::int32_t stream, int status, std::span<const field_view> headers,
                            bool has_body) {
  const std::string code = std::to_string(status);
  // Reused by every session of the worker's thread (the call does not nest): one allocation
  // per thread, not one per response. A list grown for an unusual response (a backend may send
  // thousands of fields within its 64 KiB head) is not kept beyond the next one.
  static thread_local std::vector<nghttp2_nv> nva;
  if (nva.capacity() > kept_fields) std::vector<nghttp2_nv>().swap(nva);
  nva.clear();
  nva.reserve(headers.size() + 1);
  // No NO_COPY flags: nghttp2 copies names and values (lower-casing the names), so the views
  // need only last for this call.
  auto nv = [](std::string_view n, std::string_view v) {
    return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                      v.size(), NGHTTP2_NV_FLAG_NONE};
  };
  nva.push_back(nv(":status", code));
  for (const auto& h : headers)
    nva.push_back(nv(h.name, h.value));
  nghttp2_data_provider provider{};
  provider.read_callback = &callbacks::read_body;
  nghttp2_submit_response(s_, stream, nva.data(), nva.size(), has_body ? &provider : nullptr);
}

void codec::submit_continue(std::int32_t stream) {
  static constexpr std::string_view name = ":status", value = "100";
  nghttp2_nv nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                value.size(), NGHTTP2_NV_FLAG_NONE};
  nghttp2_submit_headers(s_, NGHTTP2_FLAG_NONE, stream, nullptr, &nv, 1, nullptr);
}

void codec::resume(std::int32_t stream) {
  nghttp2_session_resume_data(s_, stream);
}

void codec::consume(std::int32_t stream, std::size_t n) {
  nghttp2_session_consume(s_, stream, n);
}

void codec::reset(std::int32_t stream, std::uint32_t error_code) {
  nghttp2_submit_rst_stream(s_, NGHTTP2_FLAG_NONE, stream, error_code);
}

void codec::shutdown_notice() {
  nghttp2_submit_shutdown_notice(s_);
}

void codec::goaway(std::uint32_t error_code) {
  nghttp2_submit_goaway(s_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s_),
                        error_code, nullptr, 0);
}

}  // namespace proxy::h2
