// EMailAddress from a POX Autodiscover request, with expat.
#include "routing/pox.hpp"

#include <expat.h>

#include <vector>

namespace routing {
namespace {

constexpr std::size_t max_depth = 16;
constexpr std::size_t max_text = 320;  ///< an address is at most 254 characters

struct walk {
  XML_Parser parser;
  std::vector<std::string> path;  ///< local names from the root
  bool in_address = false;
  bool found = false;
  std::string text;
  bool failed = false;

  void stop() {
    failed = true;
    XML_StopParser(parser, XML_FALSE);
  }
};

/// "uri|local" (namespace processing on) or "local": the local part.
std::string_view local_name(const XML_Char* name) {
  std::string_view n(name);
  const auto bar = n.rfind('|');
  return bar == std::string_view::npos ? n : n.substr(bar + 1);
}

void XMLCALL on_start(void* data, const XML_Char* name, const XML_Char**) {
  auto& w = *static_cast<walk*>(data);
  if (w.path.size() >= max_depth) return w.stop();
  w.path.emplace_back(local_name(name));
  // Autodiscover/Request/EMailAddress, as [MS-OXDSCLI] 2.2.3 lays it out.
  w.in_address = !w.found && w.path.size() == 3 && w.path[0] == "Autodiscover" &&
                 w.path[1] == "Request" && w.path[2] == "EMailAddress";
}

void XMLCALL on_end(void* data, const XML_Char*) {
  auto& w = *static_cast<walk*>(data);
  if (w.in_address) w.found = true;
  w.in_address = false;
  if (!w.path.empty()) w.path.pop_back();
}

void XMLCALL on_text(void* data, const XML_Char* s, int len) {
  auto& w = *static_cast<walk*>(data);
  if (!w.in_address) return;
  if (w.text.size() + std::size_t(len) > max_text) return w.stop();
  w.text.append(s, std::size_t(len));
}

void XMLCALL on_doctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  static_cast<walk*>(data)->stop();  // no DTD: no entity tricks
}

}  // namespace

std::optional<std::string> pox_email_address(std::string_view body) {
  if (body.empty() || body.size() > pox_max_bytes) return std::nullopt;
  XML_Parser p = XML_ParserCreateNS(nullptr, '|');
  if (p == nullptr) return std::nullopt;
  walk w{p};
  XML_SetUserData(p, &w);
  XML_SetElementHandler(p, on_start, on_end);
  XML_SetCharacterDataHandler(p, on_text);
  XML_SetStartDoctypeDeclHandler(p, on_doctype);
  XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
  const auto status = XML_Parse(p, body.data(), int(body.size()), XML_TRUE);
  XML_ParserFree(p);
  if (status != XML_STATUS_OK || w.failed || !w.found) return std::nullopt;
  // XML whitespace around the address: space, tab, CR, LF.
  const auto first = w.text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::nullopt;
  const auto last = w.text.find_last_not_of(" \t\r\n");
  return w.text.substr(first, last - first + 1);
}

}  // namespace routing
