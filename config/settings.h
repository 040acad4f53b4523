#pragma once
// The validated, immutable configuration. Plain data: no YAML, no OpenSSL.
#include <array>
#include <chrono>
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
    /**
     * The organisation seal (R7, docs/keys.md): the official address whose
     * certificate signs for an authenticated sender of this domain who has no
     * usable certificate of their own (the message gets Sender: this address).
     * Empty: off.
     */
    std::string seal;
    /** RFC 3161 time-stamps on this domain's signatures: names of timestamping.authorities, tried in order. */
    std::vector<std::string> timestamp;
    /**
     * Compatibility (docs/configuration.md): sign with certificates whose extended key
     * usage names document signing (Adobe PDF 1.2.840.113583.1.1.5, Microsoft
     * 1.3.6.1.4.1.311.10.3.12) instead of emailProtection. Off by default: recipients'
     * mail programs warn about or reject such signatures.
     */
    bool document_signing_certificates = false;
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
    std::string pkcs11;    ///< RFC 7512 URI of a private key in a token (docs/keys.md); certificate is then optional
    std::string module;    ///< the PKCS#11 module of pkcs11 (absolute path)
    std::string pin_file;  ///< the token's user PIN (mode 600); empty: the token needs no login
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
    /** What reading one inbound message may cost (smime/limits.h); beyond a limit: permerror. */
    struct Limits {
        std::size_t max_parts = 1000;
        std::size_t max_depth = 64;
        std::size_t max_parameters = 100;
        std::size_t max_header_bytes = 256 * 1024;
        std::size_t max_signers = 8;
        std::size_t max_certificates = 64;
        std::size_t max_recipients = 256;
    } limits;
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

/** The "timestamping:" section: RFC 3161 time-stamp authorities, defined once (docs/keys.md). */
struct Timestamping {
    enum class Hash { Sha256, Sha384, Sha512 };
    enum class OnFailure { Sign, Defer };
    struct Authority {
        std::string name;
        std::string url;               ///< http:// or https://, no credentials in it
        std::string credentials_file;  ///< "USER:PASSWORD" for HTTP Basic (mode 600); empty: none
        int timeout_seconds = 0;       ///< 0: the section's timeout
        Origin origin;
        Origin credentials_origin;
    };
    bool present = false;
    std::vector<Authority> authorities;
    std::vector<std::string> anchors;        ///< roots TSA certificates must chain to; empty: trust.anchors
    std::vector<std::string> intermediates;  ///< TSA intermediate CAs (the token usually carries them)
    Hash hash = Hash::Sha256;                ///< the message imprint's hash
    int timeout_seconds = 10;                ///< per authority, the whole exchange
    OnFailure on_failure = OnFailure::Sign;  ///< no authority gave a valid token: sign without (logged) or 451
    Origin origin;
};

/** The "revocation:" section (docs/configuration.md, docs/verification.md): OCSP and CRL checks. */
struct Revocation {
    enum class SigningUnknown { Defer, Sign };
    enum class VerifyUnknown { Note, TempError };
    enum class EncryptUnknown { Encrypt, Skip };
    /** URLs that replace the certificates' own AIA / CRL distribution points. */
    struct Responder {
        std::string issuer;  ///< PEM file of the issuing CA it applies to; empty: every certificate
        bool has_ocsp = false;
        std::vector<std::string> ocsp;  ///< replaces the AIA OCSP URLs ([] = do not ask OCSP)
        bool has_crl = false;
        std::vector<std::string> crl;  ///< replaces the CRL distribution points ([] = no CRL)
        Origin origin;
    };
    bool enabled = true;
    std::string cache_directory;  ///< answers and CRLs kept across restarts and shared with segelctl; "" = memory
    std::chrono::seconds check_interval{3600};  ///< own signing certificates are re-checked this often
    std::chrono::seconds retry_interval{300};   ///< after a failed check
    std::chrono::seconds timeout{10};           ///< one HTTP exchange, in total
    std::chrono::seconds connect_timeout{5};
    std::size_t max_crl_size = 20 * 1024 * 1024;
    std::string proxy;                            ///< "" = direct (the environment is never used)
    bool require_nonce = false;                   ///< refuse OCSP answers without a nonce
    std::chrono::seconds max_age{7 * 24 * 3600};  ///< OCSP answers without nextUpdate
    struct {
        std::chrono::seconds grace{24 * 3600};  ///< the last good answer counts while younger
        SigningUnknown unknown = SigningUnknown::Defer;
    } signing;
    VerifyUnknown verify_unknown = VerifyUnknown::Note;
    EncryptUnknown encrypt_unknown = EncryptUnknown::Encrypt;
    std::vector<Responder> responders;
    Origin origin;
};

/** The administrators of one OPD domain (notices.domains[], incidents.notify.domains[]). */
struct DomainAdministrators {
    std::string domain;  ///< lower case
    bool subdomains = false;
    std::vector<std::string> to;
    Origin origin;
};

/** The "notices:" section: expiry notices (docs/operations.md, segelctl notify-expiry). */
struct Notices {
    using Administrators = DomainAdministrators;
    bool present = false;
    std::vector<int> days = {90, 60, 30, 14, 7, 1, 0};  ///< before expiry; 0 = on expiry; descending
    std::string relay = "127.0.0.1:25";                 ///< host:port of the MTA that takes the notices
    std::string sign_as;  ///< From of every notice; signed with this address's credential ("" = unsigned)
    std::string from;     ///< envelope sender; default sign_as
    std::string state_file = "/var/lib/segel/notices.sqlite";  ///< what was sent (once per certificate and day)
    std::vector<std::string> administrators;                   ///< for every notice (CA certificates: only them)
    std::vector<Administrators> domains;                       ///< the OPD administrators, per domain
    bool notify_owners = true;                                 ///< also the addresses in the certificate
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

/** The "incidents:" section: incident detection and the mail about it (docs/incidents.md, R12). */
struct Incidents {
    using Administrators = DomainAdministrators;
    struct Notify {
        bool enabled = false;                     ///< the notify: mapping is present
        std::string relay = "127.0.0.1:25";       ///< host:port of the MTA that takes the mail
        std::string from;                         ///< its sender; empty: the audit seal certificate's address
        std::vector<std::string> csirt;           ///< the regional CSIRT: every incident
        std::vector<std::string> administrators;  ///< every incident
        std::vector<Administrators> domains;      ///< the OPD administrators: incidents of their unit
        std::chrono::seconds period{3600};        ///< one mail per kind and login per period
        std::size_t queue = 100;                  ///< mails waiting to be sent; beyond: dropped and counted
        Origin origin;
    } notify;
    struct SendAs {
        std::size_t refusals = 5;          ///< send-as refusals of one login …
        std::chrono::seconds within{600};  ///< … within this time
    } send_as;
    struct Volume {
        double factor = 10;        ///< signed messages per hour above factor × the login's own baseline …
        std::uint64_t floor = 60;  ///< … and above this many
        std::chrono::seconds history{7 * 24 * 3600};  ///< the baseline's horizon (and the replay at start)
    } volume;
    struct Clients {
        double factor = 3;      ///< distinct client networks per window above factor × baseline …
        std::size_t floor = 4;  ///< … and above this many
        std::chrono::seconds within{3600};
        int ipv4_prefix = 24;
        int ipv6_prefix = 48;
    } clients;
    struct CheckpointGap {
        int factor = 3;  ///< events uncovered longer than audit.checkpoint_minutes × factor
    } checkpoint_gap;
    std::size_t max_logins = 10000;  ///< per-login windows kept in memory (least recently used go first)
    Origin origin;
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

    Timestamping timestamping;
    Revocation revocation;
    Notices notices;
    Incidents incidents;
};

}  // namespace segel::config
