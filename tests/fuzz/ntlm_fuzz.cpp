// Fuzz target: NTLM messages as mapigate reads them from clients (find_message, then the type 3
// parse for the log's user) and as the probe reads them from servers (type 2). Nothing may read
// outside the input; a parsed type 2 answers with a type 3 that parses back with the same user.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "routing/ntlm.hpp"
#include "routing/ntlm_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace routing::ntlm;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto message = find_message(in);
  if (!message) return 0;
  (void)message_type(*message);
  if (const auto a = parse_authenticate(*message)) {
    (void)verify_v2(*message, bytes8{}, "pw");
    if (a->user.size() > in.size() * 4) std::abort();  // UTF-16 → UTF-8 at most 3 bytes a unit
  }
  if (const auto c = read_challenge(*message)) {
    if (c->target_info.size() > message->size()) std::abort();
    const auto reply = build_authenticate_v2(*c, {"alice", "CORP", "pw", "WS"}, bytes8{}, 1);
    if (!reply) return 0;  // no MD4 here
    const auto back = parse_authenticate(*reply);
    if (!back || back->user != "alice" || back->domain != "CORP") std::abort();
    if (!verify_v2(*reply, c->server_challenge, "pw")) std::abort();
  }
  return 0;
}
