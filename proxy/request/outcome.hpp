// How a request ended, said once: the outcome (metrics::request_outcome) goes to the
// request's metric label, its HttpProxy GenericErrors entry and, at the level it deserves, the
// stderr line, for HTTP/1.1 and HTTP/2 alike.
#pragma once

#include <string_view>

#include "metrics/labels.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/context.hpp"

namespace proxy {

using metrics::request_outcome;

/// What an outcome is called in GenericErrors ("BackendTimeout", ...; empty for those whose
/// record says it otherwise: completed, refused, health_check) and the stderr level it is
/// logged at (none: not logged).
struct outcome_words {
  std::string_view generic_error;
  std::optional<log_level> level;
};
outcome_words words_for(request_outcome o) noexcept;

/// Ends `rq` with `o`: its metric label, its GenericErrors entry ("Name" or "Name: detail")
/// and its stderr line. A request ends once: a later call replaces the label and adds its entry.
void end_request(request_ctx& rq, request_outcome o, std::string_view detail = {});

}  // namespace proxy
