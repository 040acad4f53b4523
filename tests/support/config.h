#pragma once
// The configuration tests' smallest valid configuration and the two helpers around config::parse
// that the tests of one section each use (tests/config/test_config_*.cpp).
#include "config/load.h"

#include <string>

namespace segel::test {

/** One official domain and a trust anchor; config::parse reads neither file. */
inline const std::string k_config_base =
    "trust:\n  anchors: [/etc/segel/root.pem]\nsigning:\n  domains:\n    - domain: dinas.example.go.id\n";

/** config::parse of k_config_base + @p extra, named "segel.yaml" (so errors read "segel.yaml:LINE:COL: ..."). */
inline config::Settings parse_config(const std::string& extra) {
    return config::parse(k_config_base + extra, "segel.yaml");
}

/** What parse_config(@p extra) says: the config::ConfigError text, or "accepted". */
inline std::string refusal(const std::string& extra) {
    try {
        parse_config(extra);
    } catch (const config::ConfigError& e) {
        return e.what();
    }
    return "accepted";
}

}  // namespace segel::test
