#pragma once
// From the validated "audit:" settings to the objects the milter and
// segelctl use: the loaded seal, the seals verify accepts, the trail's options.
#include "audit/trail.h"
#include "config/settings.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace segel::audit {

/**
 * Loads audit.seal (once, at start or reload).
 * @throws config::ConfigError pointing at audit.seal.* for an unreadable,
 *         world-readable or broken key file, or a wrong passphrase
 */
std::shared_ptr<const Seal> load_seal(const config::Settings& settings);

/**
 * The SHA-256 fingerprints of the seal certificates whose checkpoint
 * signatures verify accepts: @p seal's, and every certificate in the files of
 * audit.seal_certificates (other nodes, a seal before its renewal).
 * @throws config::ConfigError for an unreadable certificate file
 */
std::set<std::string> pinned_seals(const config::Settings& settings, const Seal* seal);

/** The trail's options from the settings: the node's own file, node, sync, checkpoint interval. */
TrailOptions trail_options(const config::Settings& settings, std::shared_ptr<const Seal> seal);

/**
 * check-config's part for the audit: section: with audit enabled, the seal of
 * the configuration at @p config_path loads (file modes, passphrase). Each
 * problem is appended to @p errors as "file:line:col: audit.seal.…: problem".
 * Checked as the calling process's user.
 */
void check_seal(const std::string& config_path, std::vector<std::string>& errors);

/** SHA-256 of a file's bytes (the configuration's hash in start and reload events). @throws Error{Usage} */
Hash file_sha256(const std::string& path);

}  // namespace segel::audit
