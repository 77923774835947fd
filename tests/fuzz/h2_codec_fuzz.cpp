// Fuzz target: arbitrary bytes into the sans-I/O HTTP/2 server session. It must never crash,
// leak or read out of bounds; every request it reports gets a response with a body, so the
// send path (HPACK, DATA, flow control) runs too.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "proxy/h2/codec.hpp"

namespace {

class responder final : public proxy::h2::events {
 public:
  proxy::h2::codec* s = nullptr;
  std::vector<std::int32_t> to_answer;
  void on_request(std::int32_t id, proxy::h2::header_list headers, bool, bool) override {
    for (const auto& h : headers)
      if (h.name.empty()) std::abort();  // nghttp2 never reports an empty name
    to_answer.push_back(id);
  }
  void on_data(std::int32_t id, std::string_view data) override { s->consume(id, data.size()); }
  void on_end_stream(std::int32_t) override {}
  void on_stream_close(std::int32_t, std::uint32_t) override {}
  std::ptrdiff_t body_ready(std::int32_t, std::size_t n, bool& eof) override {
    const std::size_t k = n < 5 ? n : 5;
    eof = true;
    return static_cast<std::ptrdiff_t>(k);
  }
  void take_body(std::int32_t, std::size_t n, proxy::h2::output& out) override {
    out.append(std::string_view("hello").substr(0, n));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  responder r;
  proxy::h2::codec s(r, proxy::h2::settings{});
  r.s = &s;
  // Feed in two pieces, so frames split across reads are exercised.
  const std::size_t half = size / 2;
  for (const auto& [p, n] : {std::pair{data, half}, std::pair{data + half, size - half}}) {
    if (!s.receive({p, n})) break;
    const proxy::h2::field_view head[] = {{"content-type", "text/plain"}};
    for (auto id : r.to_answer)
      s.submit_response(id, 200, head, id % 2 == 1);
    r.to_answer.clear();
    for (int i = 0; i < 4 && s.want_write(); ++i)
      (void)s.take_output();
  }
  (void)s.take_output();
  return 0;
}
