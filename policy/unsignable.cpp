#include "policy/unsignable.h"

namespace segel::policy {

Decision unsignable(const config::Settings& settings, const Decision& decision, const std::string& reason,
                    bool encryption_required) {
    const config::DomainRule* rule = official_rule(settings, decision.sender);
    if (!encryption_required && rule != nullptr && rule->unsignable == config::Action::Pass) {
        Decision d =
            pass(decision, "cannot be signed (" + reason + "); sent unsigned (" + rule->domain + " unsignable: pass)");
        d.cert.reset();
        return d;
    }
    // RFC 3463: 5.6.x is the class for media (content) problems; 5.6.0 "other or undefined".
    return reject(because(decision, "unsignable"),
                  "message cannot be signed: " + reason +
                      (encryption_required ? "; it must be encrypted, so it is not sent unsigned either"
                                           : "; correct or remove that part and send again"),
                  "554", "5.6.0");
}

}  // namespace segel::policy
