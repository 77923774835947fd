// Fuzz target: Autodiscover POX bodies (client input read before routing). Never crashes, never
// reads outside the input; an address it finds is non-empty, short and came from the input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "routing/pox.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (const auto email = routing::pox_email_address(in)) {
    if (email->empty() || email->size() > 320) std::abort();
  }
  return 0;
}
