#include "base/address.h"

namespace segel::base {

std::string domain_of(std::string_view address) {
    const auto at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : std::string(address.substr(at + 1));
}

std::string local_of(std::string_view address) {
    const auto at = address.rfind('@');
    return std::string(at == std::string_view::npos ? address : address.substr(0, at));
}

bool domain_matches(std::string_view domain, std::string_view rule, bool subdomains) {
    if (domain.empty() || rule.empty()) {
        return false;
    }
    if (domain == rule) {
        return true;
    }
    return subdomains && domain.size() > rule.size() + 1 && domain.substr(domain.size() - rule.size()) == rule &&
           domain[domain.size() - rule.size() - 1] == '.';
}

bool file_safe_address(std::string_view address) {
    if (address.empty() || address.front() == '.' || address.find('@') == std::string_view::npos ||
        address.find("..") != std::string_view::npos) {
        return false;
    }
    for (const char c : address) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || c == '\\' || u < 0x20 || u == 0x7f) {
            return false;
        }
    }
    return true;
}

}  // namespace segel::base
