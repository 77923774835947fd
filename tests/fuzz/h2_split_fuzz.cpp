// Differential fuzz target over frame splits: the same client bytes fed to the HTTP/2 server
// session whole, byte by byte, and in pieces the input chooses must give every stream the same
// request head, the same body framing (h2_body_framing: what mapigate relays to a backend is
// framed from it), the same body bytes, the same end, and the session the same fate. A request
// whose framing depended on how its frames were split across reads was a request-smuggling
// hole (an HTTP/2 body reaching the HTTP/1.1 backend without Content-Length).
// Input: byte 0 seeds the piece sizes; the rest is what the client sends, after the preface.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "proxy/h2/codec.hpp"
#include "proxy/request/body_framing.hpp"

namespace {

constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct stream_record {
  std::string head;  ///< headers as received, in order
  int framing = -1;  ///< body_framing kind, or -1 when its content-length was invalid
  std::uint64_t length = 0;
  std::string body;
  bool ended = false;
  bool closed = false;
  std::uint32_t close_code = 0;
};

class recorder final : public proxy::h2::events {
 public:
  proxy::h2::codec* s = nullptr;
  std::map<std::int32_t, stream_record> streams;

  void on_request(std::int32_t id, proxy::h2::header_list headers, bool end_stream,
                  bool too_large) override {
    auto& r = streams[id];
    std::optional<std::string_view> length;
    for (const auto& h : headers) {
      r.head.append(h.name).append(": ").append(h.value).append("\n");
      if (h.name == "content-length") length = h.value;
    }
    if (too_large) r.head += "(too large)\n";
    const auto f = proxy::h2_body_framing(end_stream, length);
    r.framing = f ? int(f->k) : -1;
    r.length = f ? f->length : 0;
    if (f && f->k == proxy::body_framing::kind::none && !end_stream) std::abort();
    r.ended = end_stream;
  }
  void on_data(std::int32_t id, std::string_view data) override {
    streams[id].body.append(data);
    s->consume(id, data.size());
  }
  void on_end_stream(std::int32_t id) override { streams[id].ended = true; }
  void on_stream_close(std::int32_t id, std::uint32_t code) override {
    streams[id].closed = true;
    streams[id].close_code = code;
  }
  std::ptrdiff_t body_ready(std::int32_t, std::size_t, bool& eof) override {
    eof = true;
    return 0;
  }
  void take_body(std::int32_t, std::size_t n, proxy::h2::output& out) override {
    out.append(std::string(n, 'x'));
  }
};

/// Feeds `in` in pieces of the sizes `next` gives; returns everything observed, as text.
template <class Next>
std::string run(std::string_view in, Next next) {
  recorder r;
  proxy::h2::settings cfg;
  cfg.reset_burst = 1u << 30;  // the rapid-reset limit counts time, which differs between runs
  proxy::h2::codec s(r, cfg);
  r.s = &s;
  bool ok = true;
  while (!in.empty() && ok) {
    const std::size_t n = std::min(in.size(), next());
    ok = s.receive({reinterpret_cast<const std::uint8_t*>(in.data()), n});
    in.remove_prefix(n);
  }
  // The session's fate: a connection error may surface as receive() failing or as a GOAWAY
  // nghttp2 queued itself while receive() succeeded, depending on the split; both end it.
  (void)s.take_output();
  std::string out = ok && s.error_sent() == 0 ? "open\n" : "ended by an error\n";
  for (const auto& [id, st] : r.streams) {
    // What the body rule relays must be what the head declared, never more.
    if (st.framing == int(proxy::body_framing::kind::length) && st.body.size() > st.length)
      std::abort();
    if (st.framing == int(proxy::body_framing::kind::none) && !st.body.empty()) std::abort();
    // A request completes at the backend only once its stream ended with the declared body
    // (mapigate holds the last byte back until then). Bytes of a body that never completes
    // arrive in split-dependent amounts (nghttp2 refuses a DATA chunk past content-length
    // whole, so a byte-wise split delivers more of it): only that it never completes counts.
    const bool complete = st.ended && (st.framing != int(proxy::body_framing::kind::length) ||
                                       st.body.size() == st.length);
    if (st.ended && !complete) std::abort();  // nghttp2 ends no stream whose length differs
    out += std::to_string(id) + " framing " + std::to_string(st.framing) + "/" +
           std::to_string(st.length) + " closed " + std::to_string(st.closed) + "/" +
           std::to_string(st.close_code) + "\n" + st.head +
           (complete ? "complete, body " + st.body : std::string("never complete")) + "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint32_t seed = data[0] | 1u;
  const std::string in =
      std::string(preface) + std::string(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto whole = run(in, [&] { return in.size(); });
  const auto bytes = run(in, [] { return std::size_t(1); });
  const auto pieces = run(in, [&] {
    seed = seed * 1103515245u + 12345u;
    return std::size_t(1 + (seed >> 16) % 23);
  });
  if (whole != bytes || whole != pieces) {
    std::fprintf(stderr, "whole:\n%s\nbyte by byte:\n%s\nin pieces:\n%s\n", whole.c_str(),
                 bytes.c_str(), pieces.c_str());
    std::abort();
  }
  return 0;
}
