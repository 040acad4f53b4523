// segel-noop-milter: a libmilter filter that does nothing, the floor any
// milter pays. It negotiates like segel-milter (the same protocol steps and
// no-reply flags, so the MTA sends it the same packets), receives every header
// and body chunk, and lets every message through unchanged.
#include <libmilter/mfapi.h>

#include <sys/stat.h>

#include <cstring>
#include <iostream>
#include <string>

namespace {

sfsistat on_negotiate(SMFICTX*, unsigned long, unsigned long f1, unsigned long, unsigned long, unsigned long* pf0,
                      unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    *pf0 = 0;
    // The same protocol request as segel-milter (milter/callbacks.cpp on_negotiate).
    *pf1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA |
                 SMFIP_SKIP);
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

sfsistat on_connect(SMFICTX*, char*, _SOCK_ADDR*) {
    return SMFIS_CONTINUE;
}
sfsistat on_envfrom(SMFICTX*, char**) {
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
sfsistat on_body(SMFICTX*, unsigned char*, size_t) {
    return SMFIS_NOREPLY;
}
sfsistat on_eom(SMFICTX*) {
    return SMFIS_CONTINUE;
}
sfsistat on_abort(SMFICTX*) {
    return SMFIS_CONTINUE;
}
sfsistat on_close(SMFICTX*) {
    return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || std::strcmp(argv[1], "-s") != 0) {
        std::cerr << "usage: segel-noop-milter -s unix:/path/to/socket\n";
        return 64;
    }
    std::string conn = argv[2];
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("segel-noop");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = 0;
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
