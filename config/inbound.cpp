// The "inbound:" section of the configuration.
#include "config/reader.h"

namespace segel::config::detail {

void parse_inbound(const Reader& r, const YAML::Node& root, Settings& s) {
    (void)s;
    if (root["inbound"]) {
        r.require_map(root["inbound"], "inbound", {});
    }
}

}  // namespace segel::config::detail
