// The "encryption:" section of the configuration.
#include "config/reader.h"

namespace segel::config::detail {

void parse_encryption(const Reader& r, const YAML::Node& root, Settings& s) {
    (void)s;
    if (root["encryption"]) {
        r.require_map(root["encryption"], "encryption", {});
    }
}

}  // namespace segel::config::detail
