// segel-noop-milter: a libmilter filter that does nothing, the floor any
// milter pays. It negotiates like segel-milter (the same protocol steps and
// no-reply flags, so the MTA sends it the same packets), receives every header
// and body chunk, and lets every message through unchanged.
//
// With --echo it is the floor any *signing* milter pays instead: it keeps the
// body it received and, at end of message, changes Content-Type and sends the
// same body back (smfi_replacebody) — what a milter must do to hand the MTA a
// rewritten message, with no MIME work and no cryptography (docs/performance.md,
// "Floors").
//
// With --sign P12 PASSFILE it is the floor of a signing milter end to end, where
// the cryptography shares the machine with the MTA: what --echo does, and at end
// of message the body is signed with the key of P12 and the signature checked
// as segel's self-check does (bench/cms_floor.h sign_checked, the same work as
// segel-bench-limit --path sign+check); the body goes back with the signature's
// base64 after it. No MIME work, no policy.
#include "bench/cms_floor.h"

#include <libmilter/mfapi.h>

#include <sys/stat.h>

#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

namespace {

bool g_echo = false;
std::unique_ptr<segel::bench::Signer> g_signer;  ///< --sign

/** The actions asked for: none, or (--echo) changing a header and the body. */
unsigned long actions() {
    return g_echo ? (SMFIF_CHGHDRS | SMFIF_CHGBODY) : 0;
}

/** The body received so far (--echo), one per milter connection. */
std::string* body_of(SMFICTX* ctx) {
    return static_cast<std::string*>(smfi_getpriv(ctx));
}

sfsistat on_negotiate(SMFICTX*, unsigned long, unsigned long f1, unsigned long, unsigned long, unsigned long* pf0,
                      unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    *pf0 = actions();
    // The same protocol request as segel-milter (milter/callbacks.cpp on_negotiate).
    *pf1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA |
                 SMFIP_SKIP);
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR*) {
    if (g_echo) {
        smfi_setpriv(ctx, new std::string);
    }
    return SMFIS_CONTINUE;
}
sfsistat on_envfrom(SMFICTX* ctx, char**) {
    if (std::string* body = body_of(ctx)) {
        body->clear();  // keeps its buffer: one allocation per connection, not per message
    }
    return SMFIS_CONTINUE;
}
sfsistat on_envrcpt(SMFICTX*, char**) {
    return SMFIS_CONTINUE;
}
sfsistat on_header(SMFICTX*, char*, char*) {
    return SMFIS_NOREPLY;
}
sfsistat on_eoh(SMFICTX*) {
    return SMFIS_CONTINUE;
}
sfsistat on_body(SMFICTX* ctx, unsigned char* chunk, size_t n) {
    if (std::string* body = body_of(ctx)) {
        body->append(reinterpret_cast<const char*>(chunk), n);
    }
    return SMFIS_NOREPLY;
}
sfsistat on_eom(SMFICTX* ctx) {
    if (std::string* body = body_of(ctx)) {
        if (g_signer) {
            try {
                const segel::bench::BioPtr der = segel::bench::sign_checked(*g_signer, *body);
                const char* data = nullptr;
                const std::size_t n = segel::bench::mem_size(der.get(), &data);
                body->append("\r\n").append(segel::bench::base64_lines(data, n));
            } catch (const std::exception& e) {
                std::cerr << "segel-noop-milter: " << e.what() << "\n";
                return SMFIS_TEMPFAIL;
            }
        }
        char field[] = "Content-Type";
        char value[] = " multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256";
        if (smfi_chgheader(ctx, field, 1, value) != MI_SUCCESS ||
            smfi_replacebody(ctx, reinterpret_cast<unsigned char*>(body->data()), static_cast<int>(body->size())) !=
                MI_SUCCESS) {
            return SMFIS_TEMPFAIL;
        }
    }
    return SMFIS_CONTINUE;
}
sfsistat on_abort(SMFICTX*) {
    return SMFIS_CONTINUE;
}
sfsistat on_close(SMFICTX* ctx) {
    delete body_of(ctx);
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
    int at = 1;
    if (argc > 1 && std::strcmp(argv[1], "--echo") == 0) {
        g_echo = true;
        at = 2;
    } else if (argc > 3 && std::strcmp(argv[1], "--sign") == 0) {
        try {
            g_signer = std::make_unique<segel::bench::Signer>(segel::bench::load_pkcs12(argv[2], argv[3]));
        } catch (const std::exception& e) {
            std::cerr << "segel-noop-milter: --sign: " << e.what() << "\n";
            return 66;
        }
        g_echo = true;
        at = 4;
    }
    if (argc != at + 2 || std::strcmp(argv[at], "-s") != 0) {
        std::cerr << "usage: segel-noop-milter [--echo | --sign P12 PASSFILE] -s unix:/path/to/socket\n";
        return 64;
    }
    std::string conn = argv[at + 1];
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>(g_signer ? "segel-signer" : g_echo ? "segel-echo" : "segel-noop");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = static_cast<int>(actions());
    d.xxfi_connect = on_connect;
    d.xxfi_envfrom = on_envfrom;
    d.xxfi_envrcpt = on_envrcpt;
    d.xxfi_header = on_header;
    d.xxfi_eoh = on_eoh;
    d.xxfi_body = on_body;
    d.xxfi_eom = on_eom;
    d.xxfi_abort = on_abort;
    d.xxfi_close = on_close;
    d.xxfi_negotiate = on_negotiate;
    if (smfi_setconn(conn.data()) != MI_SUCCESS || smfi_register(d) != MI_SUCCESS ||
        smfi_opensocket(true) != MI_SUCCESS) {
        std::cerr << "segel-noop-milter: cannot listen on " << conn << "\n";
        return 69;
    }
    if (conn.rfind("unix:", 0) == 0) {
        ::chmod(conn.c_str() + 5, 0666);  // Postfix's smtpd runs as user postfix
    }
    return smfi_main() == MI_SUCCESS ? 0 : 70;
}
