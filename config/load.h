#pragma once
#include "config/settings.h"

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace segel::config {

/**
 * A configuration mistake, pointing at the file, line, column and key:
 * "segel.yaml:14:5: signing.domains[2]: problem". Or several at once (load()
 * reports every mistake it finds): then what() has one such line each, and
 * file, origin and key_path are the first one's.
 */
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string file, Origin origin, std::string key_path, const std::string& message);
    /** All of @p errors (at least one), in the order given. */
    explicit ConfigError(const std::vector<ConfigError>& errors);
    std::string file;
    Origin origin;
    std::string key_path;
    /** Each mistake as its own "file:line:col: key: problem" line (one entry for a single mistake). */
    std::vector<std::string> lines;
};

/**
 * A problem loading the credential @p ref (named @p base, e.g. "credentials[2]")
 * as a ConfigError pointing at the key whose file it is about: the passphrase
 * file when the message names it, else the first file named.
 */
ConfigError credential_error(const std::string& source, const CredentialRef& ref, const std::string& base,
                             const std::string& what);

/**
 * Reads and validates a YAML file. Independent parts (each key of a section,
 * each list entry, each section) are checked even after a mistake in another,
 * so one run reports them all.
 * @throws ConfigError with every mistake; an unreadable file names the system's reason
 */
Settings load(const std::string& path);

/**
 * For check-config: what could be read of @p path, and every mistake in
 * @p errors (empty when the file is valid). Never throws for the file's content.
 */
Settings load_partial(const std::string& path, std::vector<ConfigError>& errors);

/** Same, from text (tests); @p name stands in for the file name in messages. */
Settings parse(const std::string& yaml, const std::string& name);

/** Parses "10.0.0.0/8", "::1", "192.0.2.7". @return false when malformed. */
bool parse_network(const std::string& text, Network& out);

/** Parses sizes like "1048576", "512K", "1M", "2G". @return false when malformed. */
bool parse_size(const std::string& text, std::size_t& out);

/** Parses durations like "90" (seconds), "90s", "15m", "24h", "7d". @return false when malformed. */
bool parse_duration(const std::string& text, std::chrono::seconds& out);

}  // namespace segel::config
