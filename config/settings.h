#pragma once
// The validated, immutable configuration. Plain data: no YAML, no OpenSSL.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace segel::config {

enum class OnError { Tempfail, Accept };
enum class Action { Reject, Pass };
enum class SignFormat { Detached, Opaque };
/** How SMTP AUTH logins are compared (signing.login_case): as SASL reports them, or ignoring ASCII case. */
enum class LoginCase { Exact, Insensitive };
/**
 * What to do with mail an official sender's client already signed or encrypted, when the
 * gateway cannot pass it as the sender's own valid signature (domains[].client_signatures,
 * client_encrypted): refuse it, sign over it with the sender's certificate, or pass it unchanged.
 */
enum class ClientProtected { Reject, Wrap, Pass };

/** An IPv4 or IPv6 network in CIDR form. */
struct Network {
    std::array<std::uint8_t, 16> bytes{};
    int prefix = 0;
    bool v6 = false;
    std::string text;
};

/** Where a setting came from, for messages that point at the line. */
struct Origin {
    int line = 0;
    int column = 0;
};

struct DomainRule {
    std::string domain;              ///< lower case, no trailing dot
    bool subdomains = false;         ///< also every name below it (e.g. bapenda.pekalongankab.go.id)
    bool local_part_logins = false;  ///< login "siti" owns siti@<domain>
    Action without_certificate = Action::Reject;
    ClientProtected client_signatures = ClientProtected::Reject;  ///< a client signature not the sender's valid one
    ClientProtected client_encrypted = ClientProtected::Reject;   ///< client-encrypted mail (cannot be checked)
    /**
     * A message whose own content makes it impossible to sign (docs/refusals.md: 554 5.6.0):
     * refused with the reason (the default), or sent unsigned (logged).
     */
    Action unsignable = Action::Reject;
    Origin origin;
};

struct OtherDomainRule {
    std::string domain;
    bool subdomains = false;
    Action action = Action::Reject;
    Origin origin;
};

/** An application server that cannot authenticate (R7): client networks → addresses. */
struct SystemSender {
    std::string name;
    std::vector<Network> clients;
    std::vector<std::string> may_send_as;
    Origin origin;
};

struct CredentialRef {
    std::string pkcs12;
    std::string certificate;
    std::string key;
    std::string passphrase_file;
    Origin origin;
    /** Where each key of the entry was written ("pkcs12", "key", ...), for pointed errors. */
    std::map<std::string, Origin> field_origins;
};

/** The "inbound:" section: verification of incoming signed mail (docs/verification.md). */
struct Inbound {
    enum class SenderProtection { Tag, Quarantine, Reject };
    enum class CertificateTime { Arrival, SigningTime };
    bool enabled = false;     ///< true when the section is present (unless enabled: false)
    std::string authserv_id;  ///< RFC 8601 authserv-id; default: this host's name
    SenderProtection sender_protection = SenderProtection::Tag;  ///< official From, unsigned/invalid, from outside
    CertificateTime certificate_time = CertificateTime::Arrival;
    bool weak_algorithms_fail = false;   ///< SHA-1 / RSA < 2048: fail instead of "pass; weak: ..."
    bool accept_lf_signatures = true;    ///< accept signatures computed over LF-only bytes (reported)
    std::vector<std::string> crl_files;  ///< PEM or DER CRLs checked for revocation
    std::string harvest_directory;       ///< where trusted signers' certificates are kept; empty: off
    struct SubjectTag {
        bool enabled = false;
        std::string signed_text;  ///< "{name}" becomes the signer's name
        std::string invalid_text;
        std::string not_sender_text;
        std::string partial_text;
        std::string unsigned_official_text;
    } subject_tag;
    Origin origin;
};

/** The "encryption:" section (docs/encryption.md). */
struct Encryption {
    enum class Policy { Never, Opportunistic, Required };
    enum class Cipher { Aes256Cbc, Aes128Gcm, Aes256Gcm };
    /** A per-domain or per-recipient rule; unset fields fall through to the next level. */
    struct Rule {
        std::string match;        ///< a domain (domains) or an address (recipients), lower case
        bool subdomains = false;  ///< domains only: also every name below it
        bool has_policy = false;
        Policy policy = Policy::Never;
        bool has_cipher = false;
        Cipher cipher = Cipher::Aes256Cbc;
        Origin origin;
    };
    struct Ldap {
        std::string uri;  ///< empty: no directory lookups
        std::string base_dn;
        std::string filter = "(mail=%s)";  ///< %s becomes the RFC 4515-escaped address
        std::string bind_dn;               ///< empty: anonymous
        std::string bind_password_file;    ///< mode 600
        int timeout_seconds = 5;
        Origin origin;
    };
    bool present = false;                       ///< the section is in the file
    Policy policy = Policy::Never;              ///< the default for every recipient
    Cipher cipher = Cipher::Aes256Cbc;          ///< the default content cipher
    std::string subject_trigger = "[RAHASIA]";  ///< makes a message required; removed on the way out; "" = off
    bool decrypt_inbound = true;                ///< decrypt inbound mail for staff whose keys are held
    std::vector<Rule> domains;
    std::vector<Rule> recipients;
    std::string certificate_directory;  ///< local store: <dir>/<address>.pem; empty: none
    std::string harvest_directory;      ///< empty: inbound.harvest_directory
    bool system_trust = false;          ///< recipients may also chain to the system CA bundle
    std::string system_bundle = "/etc/ssl/certs/ca-certificates.crt";
    std::vector<std::string> extra_anchors;  ///< partner CAs trusted for recipients only
    Ldap ldap;
    std::size_t cache_size = 10000;  ///< lookups kept
    int cache_ttl_seconds = 3600;    ///< found certificates
    int negative_ttl_seconds = 300;  ///< "no certificate" answers
    Origin origin;
};

/** The "audit:" section: the tamper-evident audit trail (docs/audit.md). */
struct Audit {
    enum class OnFailure { Tempfail, Accept };
    enum class Sync { Full, Normal };
    bool enabled = false;  ///< the section is present
    std::string store =
        "sqlite:/var/lib/segel/audit.db";  ///< sqlite:/path, or postgresql://… (shared, via the shipper)
    std::string local;                     ///< the node's own SQLite file (the sqlite store's path, or audit.local)
    std::string node;                      ///< this gateway's name in the log; default: this host's name
    CredentialRef seal;                    ///< signs checkpoints (and the witness mail)
    std::vector<std::string> seal_certificates;  ///< other seals whose checkpoints verify accepts (PEM files)
    std::uint64_t checkpoint_events = 1000;
    int checkpoint_minutes = 10;
    std::vector<std::string> witnesses;  ///< addresses the daily checkpoint mail goes to
    std::string witness_from;            ///< its sender; empty: the seal certificate's address
    std::string witness_smtp = "127.0.0.1:25";
    OnFailure on_failure = OnFailure::Tempfail;
    Sync sync = Sync::Full;
    Origin origin;
    std::map<std::string, Origin> field_origins;  ///< where each key was written, for pointed errors
};

struct Settings {
    std::string source;  ///< the file it was read from

    struct Milter {
        std::string socket = "unix:/run/segel/segel.sock";
        Origin socket_origin;
        unsigned socket_mode = 0660;  ///< unix socket permissions: Postfix's group must reach it
        std::string socket_owner;     ///< user to give the unix socket to; empty: the milter's user
        Origin socket_owner_origin;
        std::string socket_group;  ///< group to give the unix socket to (e.g. postfix); empty: as created
        Origin socket_group_origin;
        std::vector<Network> internal_networks;
        OnError on_internal_error = OnError::Tempfail;
        std::size_t spool_memory_limit = 1024 * 1024;
        std::string spool_directory;  ///< empty: $TMPDIR or /var/tmp
        Origin spool_directory_origin;
        std::size_t max_message_size = 50 * 1024 * 1024;
        int timeout_seconds = 300;
        int shutdown_timeout_seconds = 30;  ///< how long a stop waits for messages in progress
    } milter;

    struct Log {
        enum class Destination { Auto, Syslog, Journal, Stderr };
        std::string level = "info";
        /** auto: stderr when it is a terminal, a file or a pipe; syslog otherwise (under systemd too). */
        Destination destination = Destination::Auto;
        std::string facility = "mail";  ///< syslog facility: mail (beside Postfix), daemon, local0 … local7
    } log;

    struct Trust {
        std::vector<std::string> anchors;
        std::vector<std::string> intermediates;
        Origin origin;
    } trust;

    struct Signing {
        SignFormat format = SignFormat::Detached;
        Action other_senders = Action::Reject;
        std::vector<DomainRule> domains;
        std::vector<OtherDomainRule> other_domains;
        LoginCase login_case = LoginCase::Exact;
        /** login → addresses it owns; the login as written (lower-cased when login_case is Insensitive) */
        std::map<std::string, std::vector<std::string>> logins;
        std::vector<SystemSender> systems;
    } signing;

    std::vector<CredentialRef> credentials;

    Inbound inbound;
    Encryption encryption;
    Audit audit;

    /** The "metrics:" section (docs/operations.md#metrics). */
    struct Metrics {
        std::string file = "/run/segel/segel.prom";  ///< Prometheus text format; empty: none
        Origin file_origin;
        int interval_seconds = 15;  ///< how often the file is rewritten
        Origin origin;
    } metrics;
};

}  // namespace segel::config
