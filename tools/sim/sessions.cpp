// Session contexts (Connect/Bind … Disconnect/Unbind) with sequence cookies and idle expiry.
#include "tools/sim/sessions.hpp"

namespace sim::detail {

cookie_names names_for(cookie_style style) {
  if (style == cookie_style::sid) return {"sid", "sequence"};
  return {"MapiContext", "MapiSequence"};
}

session_store::session_store(std::chrono::milliseconds expiry, random_source& random)
    : expiry_(expiry), random_(random) {}

std::shared_ptr<session_context> session_store::create(endpoint_kind endpoint,
                                                       std::string identity) {
  sweep();
  auto context = std::make_shared<session_context>();
  do {
    context->id = random_.hex(32);
  } while (contexts_.count(context->id) != 0);
  context->sequence = random_.guid();
  context->identity = std::move(identity);
  context->endpoint = endpoint;
  context->last_used = std::chrono::steady_clock::now();
  contexts_.emplace(context->id, context);
  return context;
}

std::shared_ptr<session_context> session_store::find(std::string_view id) {
  auto it = contexts_.find(std::string(id));
  if (it == contexts_.end()) return nullptr;
  if (expired(*it->second, std::chrono::steady_clock::now())) {
    it->second->destroyed = true;
    contexts_.erase(it);
    return nullptr;
  }
  return it->second;
}

void session_store::destroy(const std::shared_ptr<session_context>& context) {
  if (!context) return;
  context->destroyed = true;
  auto it = contexts_.find(context->id);
  if (it != contexts_.end() && it->second == context) contexts_.erase(it);
}

void session_store::touch(session_context& context) const {
  context.last_used = std::chrono::steady_clock::now();
}

const std::string& session_store::rotate_sequence(session_context& context) {
  context.sequence = random_.guid();
  return context.sequence;
}

bool session_store::expired(const session_context& context,
                            std::chrono::steady_clock::time_point now) const {
  return !context.busy && context.waits == 0 && now - context.last_used > expiry_;
}

void session_store::sweep() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = contexts_.begin(); it != contexts_.end();) {
    if (expired(*it->second, now)) {
      it->second->destroyed = true;
      it = contexts_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace sim::detail
