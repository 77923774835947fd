// Fuzz target: PROXY protocol headers. Never crashes or reads past the input; a complete header
// is no longer than the input and than proxy_header_max; reading it as the proxy does (exactly
// `want` more bytes each time) reaches the same verdict without reading past the header.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "routing/proxy_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace routing;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  proxy_header whole;
  const auto all = parse_proxy_header(in, proxy_versions::any, whole);
  if (all.st == proxy_parse::status::complete &&
      (whole.length > in.size() || whole.length > proxy_header_max))
    std::abort();
  std::size_t have = 0;
  proxy_header step;
  for (;;) {
    const auto r = parse_proxy_header(in.substr(0, have), proxy_versions::any, step);
    if (r.st != proxy_parse::status::need_more) {
      if (r.st != all.st) std::abort();
      if (r.st == proxy_parse::status::complete &&
          (step.length != have || step.source != whole.source))
        std::abort();
      break;
    }
    if (r.want == 0 || have + r.want > proxy_header_max) std::abort();
    if (have + r.want > in.size()) break;  // the input ends inside the header
    have += r.want;
  }
  return 0;
}
