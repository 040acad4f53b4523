#pragma once
// The certificate-lifecycle commands of segelctl (tools/lifecycle_cmd.cpp).
#include "engine/gateway.h"
#include "tools/cli.h"

#include <chrono>
#include <string>
#include <vector>

namespace segel::tools {

/** `segelctl certs --config FILE [--at TIME] [--warn-days N] [--json]` */
int cmd_certs(const Args& a);
/** `segelctl revocation refresh --config FILE` */
int cmd_revocation(const Args& a);
/** `segelctl notify-expiry --config FILE [--at TIME] [--dry-run]` */
int cmd_notify_expiry(const Args& a);

/**
 * What check-config warns about: signing certificates that are not plainly
 * usable (expired, revoked, revocation unknown or not checked, soon
 * expiring), unfit for mail (with the reason in both languages), CA and
 * responder certificates expiring within 90 days, a notices.sign_as that
 * cannot sign.
 */
std::vector<std::string> certificate_warnings(const engine::Gateway& gateway,
                                              std::chrono::system_clock::time_point now);

}  // namespace segel::tools
