#pragma once
#include "config/settings.h"

#include <stdexcept>
#include <string>

namespace segel::config {

/** A configuration mistake, pointing at the file, line, column and key. */
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string file, Origin origin, std::string key_path, const std::string& message);
    std::string file;
    Origin origin;
    std::string key_path;
};

/** Reads and validates a YAML file. @throws ConfigError */
Settings load(const std::string& path);

/** Same, from text (tests); @p name stands in for the file name in messages. */
Settings parse(const std::string& yaml, const std::string& name);

/** Parses "10.0.0.0/8", "::1", "192.0.2.7". @return false when malformed. */
bool parse_network(const std::string& text, Network& out);

/** Parses sizes like "1048576", "512K", "1M", "2G". @return false when malformed. */
bool parse_size(const std::string& text, std::size_t& out);

}  // namespace segel::config
