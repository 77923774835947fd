// Bounded label values.
#include "metrics/labels.hpp"

#include "routing/text.hpp"

namespace metrics {
namespace {

constexpr std::array<std::string_view, 6> emsmdb_types{"Connect",          "Execute", "Disconnect",
                                                       "NotificationWait", "PING",    "other"};
constexpr std::array<std::string_view, 21> nspi_types{
    "Bind",        "Unbind",       "CompareMIds",     "DNToMId",           "GetMatches",
    "GetPropList", "GetProps",     "GetSpecialTable", "GetTemplateInfo",   "ModLinkAtt",
    "ModProps",    "QueryColumns", "QueryRows",       "ResolveNames",      "ResortRestriction",
    "SeekEntries", "UpdateStat",   "GetMailboxUrl",   "GetAddressBookUrl", "PING",
    "other"};
constexpr std::array<std::string_view, 1> other_types{"none"};

}  // namespace

std::size_t code_class(int http_status, bool auth_step) noexcept {
  if (http_status == 401 && auth_step) return 4;
  if (http_status >= 200 && http_status < 600) return std::size_t(http_status / 100 - 2);
  return 5;
}

std::span<const std::string_view> request_types(vdir_label v) noexcept {
  if (v == vdir_label::emsmdb) return emsmdb_types;
  if (v == vdir_label::nspi) return nspi_types;
  return other_types;
}

std::size_t request_type_index(vdir_label v, std::string_view x_request_type) noexcept {
  const auto types = request_types(v);
  for (std::size_t i = 0; i + 1 < types.size(); ++i)
    if (routing::iequals(types[i], x_request_type)) return i;
  return types.size() - 1;
}

std::size_t request_type_slot(vdir_label v, std::size_t type_index) noexcept {
  if (v == vdir_label::emsmdb) return type_index;
  if (v == vdir_label::nspi) return emsmdb_types.size() + type_index;
  // One slot ("none") for each vdir after nspi.
  return emsmdb_types.size() + nspi_types.size() + std::size_t(v) - std::size_t(vdir_label::nspi) -
         1;
}

std::size_t request_type_slots() noexcept {
  return emsmdb_types.size() + nspi_types.size() + vdir_names.size() - 2;
}

std::size_t mapi_code_index(int code) noexcept {
  return code >= 0 && code < int(mapi_code_labels) - 1 ? std::size_t(code) : mapi_code_labels - 1;
}

std::optional<int> parse_mapi_code(std::string_view value) noexcept {
  value = routing::trim(value);
  if (value.empty() || value.size() > 3) return std::nullopt;
  int code = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    code = code * 10 + (c - '0');
  }
  return code;
}

std::size_t tls_version_index(std::string_view v) noexcept {
  if (v == "TLSv1.2") return 0;
  if (v == "TLSv1.3") return 1;
  return 2;
}

}  // namespace metrics
