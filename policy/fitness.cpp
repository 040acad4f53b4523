#include "policy/fitness.h"

#include <algorithm>
#include <utility>

namespace segel::policy {

namespace {

constexpr const char* k_email_protection = "1.3.6.1.5.5.7.3.4";
constexpr const char* k_any_eku = "2.5.29.37.0";

bool has(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out.empty() ? "(none)" : out;
}

bool rsa_key(const CertFacts& c) {
    return c.key_type.rfind("RSA", 0) == 0;
}

bool document_signing(const CertUsage& u) {
    return has(u.eku, "1.2.840.113583.1.1.5") || has(u.eku, "1.3.6.1.4.1.311.10.3.12") ||
           has(u.eku, "1.3.6.1.5.5.7.3.36");
}

/** The EKUs without the criticality (the sentences say it in their own language). */
std::string eku_oids(const CertUsage& u) {
    std::vector<std::string> parts;
    for (const auto& oid : u.eku) {
        const std::string name = eku_name(oid);
        parts.push_back(name.empty() ? oid : oid + " (" + name + ")");
    }
    return joined(parts);
}

Unfit eku_problem(const CertUsage& u, bool for_encryption) {
    const std::string critical_en = u.eku_critical ? " (marked critical)" : "";
    const std::string critical_id = u.eku_critical ? " (ditandai kritis)" : "";
    Unfit f;
    f.code = "eku";
    f.en = "the extended key usage" + critical_en + " lists only " + eku_oids(u) +
           "; S/MIME mail needs emailProtection (" + k_email_protection + ")" +
           (for_encryption ? ", so mail programs will not encrypt to it"
                           : ", so recipients' mail programs (Outlook, Thunderbird, gpgsm, openssl) reject or warn "
                             "about its signatures");
    f.id = "extended key usage" + critical_id + " hanya berisi " + eku_oids(u) +
           "; e-mail S/MIME memerlukan emailProtection (" + k_email_protection + ")" +
           (for_encryption ? ", sehingga program e-mail tidak akan mengenkripsi kepadanya"
                           : ", sehingga program e-mail penerima (Outlook, Thunderbird, gpgsm, openssl) menolak atau "
                             "memperingatkan tanda tangannya");
    f.ask_en = "a certificate for e-mail protection (S/MIME) whose extended key usage includes emailProtection (" +
               std::string(k_email_protection) + ")" + (document_signing(u) ? ", not only document (PDF) signing" : "");
    f.ask_id = "sertifikat untuk pengamanan e-mail (S/MIME) yang extended key usage-nya memuat emailProtection (" +
               std::string(k_email_protection) + ")" +
               (document_signing(u) ? ", bukan hanya untuk penandatanganan dokumen (PDF)" : "");
    return f;
}

}  // namespace

std::string eku_text(const CertUsage& u) {
    return eku_oids(u) + (u.eku_critical ? ", critical" : "");
}

std::string eku_name(const std::string& oid) {
    static const std::pair<const char*, const char*> k_names[] = {
        {"1.3.6.1.5.5.7.3.4", "emailProtection"},
        {"2.5.29.37.0", "anyExtendedKeyUsage"},
        {"1.3.6.1.5.5.7.3.1", "serverAuth, TLS server"},
        {"1.3.6.1.5.5.7.3.2", "clientAuth, TLS client"},
        {"1.3.6.1.5.5.7.3.3", "codeSigning"},
        {"1.3.6.1.5.5.7.3.8", "timeStamping"},
        {"1.3.6.1.5.5.7.3.9", "OCSPSigning"},
        {"1.3.6.1.5.5.7.3.36", "documentSigning, RFC 9336"},
        {"1.2.840.113583.1.1.5", "Adobe PDF signing"},
        {"1.3.6.1.4.1.311.10.3.12", "Microsoft document signing"},
        {"1.3.6.1.4.1.311.20.2.2", "Microsoft smart card logon"},
    };
    for (const auto& [o, name] : k_names) {
        if (oid == o) {
            return name;
        }
    }
    return {};
}

Fitness fitness(const CertFacts& c, const config::Settings& s) {
    Fitness f;
    const CertUsage& u = c.usage;
    const bool email_eku = !u.eku_present || has(u.eku, k_email_protection) || has(u.eku, k_any_eku);

    // The address (R4): subjectAltName rfc822Name, or the subject's emailAddress.
    if (c.addresses.empty()) {
        Unfit x{"no-address",
                "the certificate names no e-mail address (no subjectAltName rfc822Name, no subject emailAddress), so "
                "it cannot sign mail as anyone, nor receive encrypted mail",
                "sertifikat tidak memuat alamat e-mail (tidak ada rfc822Name pada subjectAltName maupun emailAddress "
                "pada subject), sehingga tidak dapat menandatangani e-mail atas nama siapa pun dan tidak dapat "
                "menerima e-mail terenkripsi",
                "a certificate with your official e-mail address in the subjectAltName (rfc822Name)",
                "sertifikat yang memuat alamat e-mail dinas Anda pada subjectAltName (rfc822Name)"};
        f.signing.push_back(x);
        f.encryption.push_back(x);
    } else {
        std::vector<std::string> foreign;
        for (const auto& a : c.addresses) {
            if (official_rule(s, a) == nullptr) {
                foreign.push_back(a);
            }
        }
        if (foreign.size() == c.addresses.size()) {
            std::vector<std::string> domains;
            for (const auto& d : s.signing.domains) {
                domains.push_back(d.domain);
            }
            f.signing.push_back(
                {"not-official",
                 "its address " + joined(foreign) + " is not in an official domain of this gateway (signing.domains: " +
                     joined(domains) + "), so it never signs here (R2)",
                 "alamatnya " + joined(foreign) + " tidak berada di domain resmi gateway ini (signing.domains: " +
                     joined(domains) + "), sehingga tidak pernah dipakai untuk menandatangani di sini (R2)",
                 "a certificate for your official address (an address in " + joined(domains) + ")",
                 "sertifikat untuk alamat e-mail dinas Anda (alamat di " + joined(domains) + ")"});
        }
        if (!u.address_in_san && u.address_in_subject) {
            f.notes.push_back({"subject-address",
                               "the address is only in the subject's emailAddress (no subjectAltName): segel accepts "
                               "it (RFC 8550 §3), but some mail programs look only at the subjectAltName",
                               "alamat hanya ada pada emailAddress di subject (tanpa subjectAltName): segel "
                               "menerimanya (RFC 8550 §3), tetapi sebagian program e-mail hanya membaca "
                               "subjectAltName",
                               "", ""});
        }
    }

    // Key usage (RFC 8550 §4.4.2): signing needs digitalSignature or nonRepudiation.
    if (u.key_usage_present && !has(u.key_usage, "digitalSignature") && !has(u.key_usage, "nonRepudiation")) {
        f.signing.push_back({"key-usage",
                             "the key usage (" + joined(u.key_usage) +
                                 ") does not allow signing: it needs digitalSignature or nonRepudiation",
                             "key usage (" + joined(u.key_usage) +
                                 ") tidak mengizinkan tanda tangan: diperlukan digitalSignature atau nonRepudiation",
                             "a signing certificate (key usage digitalSignature and nonRepudiation)",
                             "sertifikat penandatanganan (key usage digitalSignature dan nonRepudiation)"});
    }
    // Receiving encrypted mail: keyEncipherment (RSA) or keyAgreement (EC).
    const char* needed = rsa_key(c) ? "keyEncipherment" : "keyAgreement";
    if (u.key_usage_present && !has(u.key_usage, needed)) {
        f.encryption.push_back(
            {"key-usage",
             "the key usage (" + joined(u.key_usage) + ") lacks " + needed +
                 ", so nobody can send its owner encrypted mail",
             "key usage (" + joined(u.key_usage) + ") tidak memuat " + needed +
                 ", sehingga tidak ada yang dapat mengirim e-mail terenkripsi kepada pemiliknya",
             "a certificate whose key usage also includes " + std::string(needed) + " (to receive encrypted mail)",
             "sertifikat yang key usage-nya juga memuat " + std::string(needed) +
                 " (agar dapat menerima e-mail terenkripsi)"});
    }
    if (!email_eku) {
        const config::DomainRule* rule = nullptr;
        for (const auto& a : c.addresses) {
            if (const auto* r = official_rule(s, a); r != nullptr && rule == nullptr) {
                rule = r;
            }
        }
        if (rule != nullptr && rule->document_signing_certificates && document_signing(u)) {
            f.notes.push_back(
                {"compatibility",
                 "signs only because " + rule->domain +
                     " sets document_signing_certificates: allow (its extended key usage lists " + eku_oids(u) +
                     ", not emailProtection); recipients' mail programs will warn about or reject "
                     "these signatures",
                 "dipakai menandatangani hanya karena " + rule->domain +
                     " memasang document_signing_certificates: allow (extended key usage-nya " + eku_oids(u) +
                     ", bukan emailProtection); program e-mail penerima akan memperingatkan atau "
                     "menolak tanda tangan ini",
                 "", ""});
        } else {
            f.signing.push_back(eku_problem(u, false));
        }
        f.encryption.push_back(eku_problem(u, true));
    }
    return f;
}

std::vector<std::string> explain(const Fitness& f) {
    std::vector<std::string> out;
    auto add = [&](const char* what_id, const char* what_en, const std::vector<Unfit>& list) {
        for (const auto& u : list) {
            out.push_back(std::string(what_id) + u.id);
            out.push_back(std::string("  ") + what_en + u.en);
            if (!u.ask_en.empty()) {
                out.push_back("  minta kepada RA (Dinas Kominfo): " + u.ask_id);
                out.push_back("  ask the RA (Dinas Kominfo) for: " + u.ask_en);
            }
        }
    };
    add("tidak dapat menandatangani e-mail: ", "cannot sign mail: ", f.signing);
    add("tidak dapat menerima e-mail terenkripsi: ", "cannot receive encrypted mail: ", f.encryption);
    add("catatan: ", "note: ", f.notes);
    return out;
}

std::string refusal_suffix(const std::string& code) {
    if (code == "eku") {
        return "; ask the RA (Dinas Kominfo) for an e-mail (S/MIME) certificate / sertifikat ini bukan untuk e-mail "
               "(tanpa emailProtection): mintalah sertifikat e-mail (S/MIME) kepada RA (Dinas Kominfo)";
    }
    if (code == "key-usage") {
        return "; ask the RA (Dinas Kominfo) for a signing certificate / key usage sertifikat ini tidak mengizinkan "
               "tanda tangan: mintalah sertifikat penandatanganan kepada RA (Dinas Kominfo)";
    }
    return {};
}

}  // namespace segel::policy
