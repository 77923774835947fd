// OpenSSL error queue → text, for start-up diagnostics.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tls {

/// Drains the calling thread's OpenSSL error queue into one line ("what: reason; reason").
std::string openssl_errors(std::string_view what);

/// Thrown while building contexts (start-up and reload only, never on the request path).
struct tls_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace tls
