// The "notices:" section: expiry notices sent by `segelctl notify-expiry`
// (a daily systemd timer) to certificate owners and OPD administrators (R5).
// Example:
//
//   notices:
//     sign_as: noreply@dinas.example.go.id   # From; signed with that address's credential
//     relay: 127.0.0.1:25
//     state_file: /var/lib/segel/notices.sqlite
//     days: [90, 60, 30, 14, 7, 1, 0]
//     administrators: [kominfo@examplekab.go.id]
//     domains:
//       - domain: dinas.example.go.id
//         administrators: [admin@dinas.example.go.id]
#include "config/reader.h"

namespace segel::config::detail {

void parse_notices(const Reader& r, const YAML::Node& root, Settings& s) {
    Notices& no = s.notices;
    const YAML::Node n = root["notices"];
    if (!n) {
        return;
    }
    no.present = true;
    no.origin = origin_of(n);
    if (n.IsNull()) {
        return;
    }
    r.require_map(n, "notices",
                  {"days", "relay", "sign_as", "from", "state_file", "administrators", "domains", "notify_owners"});
    if (n["days"]) {
        no.days.clear();
        int i = 0;
        for (const auto& item : r.sequence(n["days"], "notices.days")) {
            const std::string path = Reader::index("notices.days", i++);
            int d = -1;
            try {
                std::size_t used = 0;
                const std::string v = r.scalar(item, path);
                d = std::stoi(v, &used);
                if (used != v.size()) {
                    d = -1;
                }
            } catch (const std::exception&) {
                d = -1;
            }
            if (d < 0 || d > 3650) {
                r.fail(item, path, "must be a number of days before expiry, 0 (the day it expires) to 3650");
            }
            if (std::find(no.days.begin(), no.days.end(), d) != no.days.end()) {
                r.fail(item, path, std::to_string(d) + " is listed twice");
            }
            no.days.push_back(d);
        }
        std::sort(no.days.rbegin(), no.days.rend());
    }
    if (n["relay"]) {
        no.relay = r.scalar(n["relay"], "notices.relay");
        const auto colon = no.relay.rfind(':');
        int port = 0;
        try {
            port = colon == std::string::npos ? 0 : std::stoi(no.relay.substr(colon + 1));
        } catch (const std::exception&) {
            port = 0;
        }
        if (colon == std::string::npos || colon == 0 || port < 1 || port > 65535 ||
            no.relay.find_first_of(" /@") != std::string::npos) {
            r.fail(n["relay"], "notices.relay", "\"" + no.relay + "\" is not HOST:PORT (e.g. 127.0.0.1:25)");
        }
    }
    if (n["sign_as"]) {
        no.sign_as = lower(r.scalar(n["sign_as"], "notices.sign_as"));
        if (!valid_address(no.sign_as)) {
            r.fail(n["sign_as"], "notices.sign_as", "\"" + no.sign_as + "\" is not an e-mail address");
        }
        if (!covered(s.signing.domains, domain_of(no.sign_as))) {
            r.fail(n["sign_as"], "notices.sign_as",
                   "\"" + no.sign_as +
                       "\" is not in an official domain (signing.domains): notices are signed as an official sender");
        }
    }
    if (n["from"]) {
        no.from = lower(r.scalar(n["from"], "notices.from"));
        if (!valid_address(no.from)) {
            r.fail(n["from"], "notices.from", "\"" + no.from + "\" is not an e-mail address");
        }
    }
    if (no.from.empty()) {
        no.from = no.sign_as;
    }
    if (no.from.empty()) {
        r.fail(n, "notices.sign_as",
               "missing: the official address notices come from (and are signed as), e.g. noreply@dinas.example.go.id");
    }
    if (n["state_file"]) {
        no.state_file = r.scalar(n["state_file"], "notices.state_file");
        if (no.state_file.empty() || no.state_file.front() != '/') {
            r.fail(n["state_file"], "notices.state_file",
                   "must be an absolute file path, e.g. /var/lib/segel/notices.sqlite");
        }
    }
    if (n["administrators"]) {
        no.administrators = addresses(r, n["administrators"], "notices.administrators");
    }
    if (n["notify_owners"]) {
        no.notify_owners = r.boolean(n["notify_owners"], "notices.notify_owners");
    }
    if (n["domains"]) {
        int i = 0;
        for (const auto& item : r.sequence(n["domains"], "notices.domains")) {
            const std::string path = Reader::index("notices.domains", i++);
            no.domains.push_back(domain_administrators(r, item, path));
        }
    }
}

}  // namespace segel::config::detail
