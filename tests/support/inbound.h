#pragma once
// The fixture of the inbound tests (tests/interop/test_inbound.cpp, tests/engine/test_inbound_limits.cpp):
// a test PKI with siti, a Gateway made from an "inbound:" section, messages signed by smime::sign,
// and mail from outside through an engine Session as the milter runs it.
#include "engine/session.h"
#include "tests/support/pki.h"

#include <memory>
#include <string>

namespace segel::test {

/** The smallest configuration for the inbound tests (the anchor is replaced by the gateway). */
extern const std::string k_inbound_base;

/** The config::ConfigError text of @p yaml, or "" when it is accepted. */
std::string config_error(const std::string& yaml);

struct InboundFixture {
    TestPki pki;
    Issued siti = pki.issue({"Siti Rahma", "siti@dinas.example.go.id"});

    /**
     * A Gateway of k_inbound_base + @p inbound_yaml with this PKI's root and intermediate;
     * @p with_siti_key adds siti's certificate and key as a credential (for decryption).
     */
    [[nodiscard]] std::shared_ptr<const engine::Gateway> gateway(const std::string& inbound_yaml,
                                                                 bool with_siti_key = false) const;

    /**
     * A message signed (via smime::sign) by @p who, with extra header lines in front;
     * @p outer_from replaces the From field outside the signed entity.
     */
    [[nodiscard]] std::string signed_message(
        const Issued& who, const std::string& extra_headers, const std::string& subject = "Undangan",
        const std::string& outer_from = "Siti Rahma <siti@dinas.example.go.id>") const;
};

/** @p message from outside (client 192.0.2.10, envelope @p mail_from to @p recipient) through a Session. */
engine::Processed from_outside(const std::shared_ptr<const engine::Gateway>& gw, const std::string& mail_from,
                               const std::string& recipient, const std::string& message);

}  // namespace segel::test
