// The "encryption:" section of the configuration (docs/encryption.md).
#include "config/reader.h"

namespace segel::config::detail {

namespace {

using Policy = Encryption::Policy;
using Cipher = Encryption::Cipher;

const std::vector<std::pair<std::string, Policy>> k_policies = {
    {"never", Policy::Never}, {"opportunistic", Policy::Opportunistic}, {"required", Policy::Required}};
const std::vector<std::pair<std::string, Cipher>> k_ciphers = {
    {"aes-256-cbc", Cipher::Aes256Cbc}, {"aes-128-gcm", Cipher::Aes128Gcm}, {"aes-256-gcm", Cipher::Aes256Gcm}};

int seconds(const Reader& r, const YAML::Node& n, const std::string& path, int min) {
    const std::string v = r.scalar(n, path);
    std::size_t used = 0;
    long value = -1;
    try {
        value = std::stol(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || value < min || value > 86400 * 30) {
        r.fail(n, path, "\"" + v + "\" is not a number of seconds (" + std::to_string(min) + " to 2592000)");
    }
    return static_cast<int>(value);
}

void parse_rule_fields(const Reader& r, const YAML::Node& item, const std::string& path, Encryption::Rule& rule) {
    if (item["policy"]) {
        rule.has_policy = true;
        rule.policy = r.choice<Policy>(item["policy"], path + ".policy", k_policies);
    }
    if (item["cipher"]) {
        rule.has_cipher = true;
        rule.cipher = r.choice<Cipher>(item["cipher"], path + ".cipher", k_ciphers);
    }
    if (!rule.has_policy && !rule.has_cipher) {
        r.fail(item, path, "sets nothing: give policy (never | opportunistic | required) and/or cipher");
    }
}

void parse_ldap(const Reader& r, const YAML::Node& l, Encryption::Ldap& ldap) {
    r.require_map(l, "encryption.ldap", {"uri", "base_dn", "filter", "bind_dn", "bind_password_file", "timeout"});
    ldap.origin = origin_of(l);
    if (!l["uri"] || !l["base_dn"]) {
        r.fail(l, "encryption.ldap", "needs uri (ldap://host:389/ or ldaps://host/) and base_dn (where to search)");
    }
    ldap.uri = r.scalar(l["uri"], "encryption.ldap.uri");
    if (ldap.uri.rfind("ldap://", 0) != 0 && ldap.uri.rfind("ldaps://", 0) != 0 && ldap.uri.rfind("ldapi://", 0) != 0) {
        r.fail(l["uri"], "encryption.ldap.uri",
               "\"" + ldap.uri + "\" is not an LDAP URI (ldap://host:389/, ldaps://host/)");
    }
    ldap.base_dn = r.scalar(l["base_dn"], "encryption.ldap.base_dn");
    if (l["filter"]) {
        ldap.filter = r.scalar(l["filter"], "encryption.ldap.filter");
        if (ldap.filter.find("%s") == std::string::npos || ldap.filter.front() != '(' || ldap.filter.back() != ')') {
            r.fail(l["filter"], "encryption.ldap.filter",
                   "\"" + ldap.filter +
                       "\" must be a parenthesised LDAP filter with %s where the address goes, "
                       "e.g. (mail=%s)");
        }
    }
    if (l["bind_dn"]) {
        ldap.bind_dn = r.scalar(l["bind_dn"], "encryption.ldap.bind_dn");
    }
    if (l["bind_password_file"]) {
        ldap.bind_password_file = r.scalar(l["bind_password_file"], "encryption.ldap.bind_password_file");
    }
    if (ldap.bind_dn.empty() != ldap.bind_password_file.empty()) {
        r.fail(l, "encryption.ldap",
               "bind_dn and bind_password_file go together (leave both out to search anonymously)");
    }
    if (l["timeout"]) {
        ldap.timeout_seconds = seconds(r, l["timeout"], "encryption.ldap.timeout", 1);
    }
}

}  // namespace

void parse_encryption(const Reader& r, const YAML::Node& root, Settings& s) {
    const auto e = root["encryption"];
    if (!e) {
        return;
    }
    Encryption& enc = s.encryption;
    r.require_map(e, "encryption",
                  {"policy", "cipher", "subject_trigger", "decrypt_inbound", "domains", "recipients",
                   "certificate_directory", "harvest_directory", "system_trust", "system_bundle", "extra_anchors",
                   "ldap", "cache_size", "cache_ttl", "negative_ttl"});
    enc.present = true;
    enc.origin = origin_of(e);
    if (e["policy"]) {
        enc.policy = r.choice<Policy>(e["policy"], "encryption.policy", k_policies);
    }
    if (e["cipher"]) {
        enc.cipher = r.choice<Cipher>(e["cipher"], "encryption.cipher", k_ciphers);
    }
    if (e["subject_trigger"]) {
        enc.subject_trigger =
            e["subject_trigger"].IsNull() ? "" : r.scalar(e["subject_trigger"], "encryption.subject_trigger");
        if (enc.subject_trigger.find_first_of("\r\n") != std::string::npos) {
            r.fail(e["subject_trigger"], "encryption.subject_trigger", "must be one line");
        }
    }
    if (e["decrypt_inbound"]) {
        enc.decrypt_inbound = r.boolean(e["decrypt_inbound"], "encryption.decrypt_inbound");
    }
    if (e["domains"]) {
        int i = 0;
        for (const auto& item : r.sequence(e["domains"], "encryption.domains")) {
            const std::string path = Reader::index("encryption.domains", i++);
            r.require_map(item, path, {"domain", "subdomains", "policy", "cipher"});
            if (!item["domain"]) {
                r.fail(item, path + ".domain", "missing: the recipient domain this rule is for, e.g. mitra.example.id");
            }
            Encryption::Rule rule;
            rule.origin = origin_of(item["domain"]);
            rule.match = lower(r.scalar(item["domain"], path + ".domain"));
            if (!valid_domain(rule.match)) {
                r.fail(item["domain"], path + ".domain", "\"" + rule.match + "\" is not a domain name");
            }
            if (item["subdomains"]) {
                rule.subdomains = r.boolean(item["subdomains"], path + ".subdomains");
            }
            for (const auto& prev : enc.domains) {
                if (prev.match == rule.match) {
                    r.fail(item["domain"], path + ".domain",
                           "\"" + rule.match + "\" is listed twice (first at line " + std::to_string(prev.origin.line) +
                               ")");
                }
            }
            parse_rule_fields(r, item, path, rule);
            enc.domains.push_back(rule);
        }
    }
    if (e["recipients"]) {
        int i = 0;
        for (const auto& item : r.sequence(e["recipients"], "encryption.recipients")) {
            const std::string path = Reader::index("encryption.recipients", i++);
            r.require_map(item, path, {"address", "policy", "cipher"});
            if (!item["address"]) {
                r.fail(item, path + ".address", "missing: the recipient address this rule is for");
            }
            Encryption::Rule rule;
            rule.origin = origin_of(item["address"]);
            rule.match = lower(r.scalar(item["address"], path + ".address"));
            if (!valid_address(rule.match)) {
                r.fail(item["address"], path + ".address", "\"" + rule.match + "\" is not an e-mail address");
            }
            for (const auto& prev : enc.recipients) {
                if (prev.match == rule.match) {
                    r.fail(item["address"], path + ".address",
                           "\"" + rule.match + "\" is listed twice (first at line " + std::to_string(prev.origin.line) +
                               ")");
                }
            }
            parse_rule_fields(r, item, path, rule);
            enc.recipients.push_back(rule);
        }
    }
    if (e["certificate_directory"]) {
        enc.certificate_directory = r.scalar(e["certificate_directory"], "encryption.certificate_directory");
    }
    if (e["harvest_directory"]) {
        enc.harvest_directory = r.scalar(e["harvest_directory"], "encryption.harvest_directory");
    }
    if (e["system_trust"]) {
        enc.system_trust = r.boolean(e["system_trust"], "encryption.system_trust");
    }
    if (e["system_bundle"]) {
        enc.system_bundle = r.scalar(e["system_bundle"], "encryption.system_bundle");
    }
    if (e["extra_anchors"]) {
        enc.extra_anchors = r.strings(e["extra_anchors"], "encryption.extra_anchors");
    }
    if (e["ldap"]) {
        parse_ldap(r, e["ldap"], enc.ldap);
    }
    if (e["cache_size"]) {
        const std::string v = r.scalar(e["cache_size"], "encryption.cache_size");
        if (!parse_size(v, enc.cache_size) || enc.cache_size == 0) {
            r.fail(e["cache_size"], "encryption.cache_size", "\"" + v + "\" is not a positive number of entries");
        }
    }
    if (e["cache_ttl"]) {
        enc.cache_ttl_seconds = seconds(r, e["cache_ttl"], "encryption.cache_ttl", 0);
    }
    if (e["negative_ttl"]) {
        enc.negative_ttl_seconds = seconds(r, e["negative_ttl"], "encryption.negative_ttl", 0);
    }
    if (enc.harvest_directory.empty()) {
        enc.harvest_directory = s.inbound.harvest_directory;
    }
}

}  // namespace segel::config::detail
