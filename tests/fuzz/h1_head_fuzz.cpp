// Fuzz target: the strict request-head scanner must never read out of bounds, a head it accepts
// must end with CRLFCRLF inside the input, and it must answer exactly as the byte-at-a-time
// reference scanner does (result, length and reason).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/h1/head_scan.hpp"
#include "tests/proxy/h1_head_reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (std::size_t limit : {std::size_t(64), std::size_t(16 * 1024)}) {
    const auto r = proxy::scan_request_head(in, limit);
    if (r.result == proxy::head_scan::state::complete) {
      if (r.length > size || r.length > limit || r.length < 4 ||
          in.substr(r.length - 4, 4) != "\r\n\r\n")
        std::abort();
    }
    const auto ref = proxy::reference::scan_request_head(in, limit);
    if (r.result != ref.result || r.length != ref.length || r.reason != ref.reason ||
        r.start != ref.start)
      std::abort();
  }
  return 0;
}
