// fuzz_config: the configuration loader (config::parse, the whole of config/load.cpp and
// its sections) from YAML text. Input: a configuration file.
//
// Properties: every refusal is a ConfigError (segel-milter --check-config, segelctl and the
// reload catch exactly that: anything else would end the process instead of naming the line),
// with a 1-based line and column; sizes that parse_size accepts are what the text says.
#include "config/load.h"
#include "fuzz/support/fuzz.h"

#include <fuzzer/FuzzedDataProvider.h>

namespace {

using segel::fuzz::require;

/** parse_size's reference: digits and an optional K/M/G (optionally "i", "b"), no overflow. */
std::optional<unsigned __int128> reference_size(const std::string& t) {
    std::size_t i = 0;
    unsigned __int128 v = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        v = v * 10 + static_cast<unsigned>(t[i] - '0');
        if (v > ~std::size_t{0}) {
            return std::nullopt;
        }
        ++i;
    }
    if (i == 0) {
        return std::nullopt;
    }
    std::string unit;
    for (; i < t.size(); ++i) {
        unit += static_cast<char>(std::tolower(static_cast<unsigned char>(t[i])));
    }
    if (!unit.empty() && unit.back() == 'b') {
        unit.pop_back();
    }
    if (!unit.empty() && unit.back() == 'i') {
        unit.pop_back();
    }
    const unsigned shift = unit.empty() ? 0 : unit == "k" ? 10 : unit == "m" ? 20 : unit == "g" ? 30 : 99;
    if (shift == 99) {
        return std::nullopt;
    }
    v <<= shift;
    if (v > ~std::size_t{0}) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace segel;
    const std::string text(fuzz::bytes(data, size));
    try {
        (void)config::parse(text, "fuzz.yaml");
    } catch (const config::ConfigError& e) {
        require(e.origin.line >= 0 && e.origin.column >= 0, "ConfigError: a line and column");
        require(e.file == "fuzz.yaml", "ConfigError: names the file");
    }
    // Any other exception escapes: libFuzzer reports it as a crash ("uncaught exception").

    // The size syntax on its own (milter.max_message_size, spool_memory_limit).
    FuzzedDataProvider in(data, size);
    const std::string s = in.ConsumeRandomLengthString(32);
    std::size_t got = 0;
    const bool ok = config::parse_size(s, got);
    const auto expected = reference_size(s);
    require(ok == expected.has_value(), "parse_size accepts a size exactly when it is one that fits");
    require(!ok || got == static_cast<std::size_t>(*expected), "parse_size gives the size the text says");
    config::Network net;
    (void)config::parse_network(s, net);
    return 0;
}
