#pragma once
// check-config, shared by `segel-milter --check-config` and `segelctl check-config`:
// every mistake of a configuration in one run, with files and directories tried
// as the user the milter runs as. And that user: looked up, and switched to.
#include <sys/types.h>

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace segel::engine {

/** A user (and group) the milter runs as: `-u segel`, `-u segel:postfix`. */
struct Identity {
    std::string user;
    std::string group;  ///< the user's primary group unless given
    uid_t uid = 0;
    gid_t gid = 0;
};

/**
 * Looks up "USER" or "USER:GROUP" (names or numbers).
 * @throws std::invalid_argument "no user 'x' on this system" and the like
 */
Identity lookup_identity(const std::string& spec);

/** Who this process is now. */
Identity current_identity();

/**
 * Becomes @p who for good: supplementary groups of the user (so a member of
 * group postfix keeps it), then the group, then the user; and checks that root
 * cannot be regained.
 * @throws std::runtime_error with the system's reason
 */
void become(const Identity& who);

/** The outcome of check_config(). */
struct CheckReport {
    std::vector<std::string> errors;    ///< "file:line:col: key: problem", in file order
    std::vector<std::string> warnings;  ///< certificates that will not sign, soon-expiring ones, ...
    std::string summary;                ///< "2 official domain(s), 11 credential(s), 1 trust anchor(s)" when valid
    std::string checked_as;             ///< the user the files were opened as
    [[nodiscard]] bool ok() const { return errors.empty(); }
};

/**
 * Reads the configuration at @p path and every file and directory it names,
 * reporting every mistake. With @p as (and when it is not this process's
 * user) the check runs in a child process that became that user first, so
 * "Permission denied" is what the milter would meet.
 */
CheckReport check_config(const std::string& path, const std::optional<Identity>& as);

/**
 * Prints @p report the one way both programs do: every error on @p err, every
 * warning on @p out, then "PATH: OK (...; checked as user U)" or the count.
 * @return 0, or 78 (EX_CONFIG) when there were errors
 */
int print_report(const CheckReport& report, const std::string& path, std::ostream& out, std::ostream& err);

/**
 * The user check-config runs as when none is given: root checks as `segel`
 * when that user exists (the packaged service's User=), anyone else as themself.
 */
std::optional<Identity> default_check_identity();

}  // namespace segel::engine
