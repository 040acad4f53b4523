// The differential test of the identity gate: for every From form in
// from_cases.h, what GMime (smime::mime::parse_mailboxes, the reader segel's
// own inbound path and many MUAs use) and Python's email package
// (policy=default) read is recorded in the table, and every value segel would
// sign must be read by both as exactly that one address, with no other address
// in the names they show.
//
// To re-record the readers after a library update:
//   SEGEL_READERS_DUMP=/tmp/readers.tsv build/tests/test_from_readers
// writes "name<TAB>gmime<TAB>python" for every row.
#include "policy/address.h"
#include "smime/mime/fields.h"
#include "tests/policy/from_cases.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

using namespace segel;

namespace {

struct Read {
    std::string address;
    std::string name;
};

std::string hex(std::string_view s) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        out += k_digits[u >> 4U];
        out += k_digits[u & 0xFU];
    }
    return out;
}

std::string unhex(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16));
    }
    return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string part;
    std::istringstream in(s);
    while (std::getline(in, part, sep)) {
        out.push_back(part);
    }
    return out;
}

/** Runs from_readers.py once over every row; one line (or "!Error") per row. */
std::vector<std::string> python_readings(const std::vector<test::FromCase>& rows) {
    char input[] = "/tmp/segel-from-readers.XXXXXX";
    const int fd = ::mkstemp(input);
    REQUIRE(fd >= 0);
    ::close(fd);
    {
        std::ofstream out(input);
        for (const auto& row : rows) {
            out << hex(row.raw) << "\n";
        }
    }
    const std::string cmd = std::string("python3 ") + SEGEL_SOURCE_DIR + "/tests/policy/from_readers.py < " + input;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
    REQUIRE(pipe != nullptr);
    std::string all;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe.get())) > 0) {
        all.append(buf, n);
    }
    const int rc = ::pclose(pipe.release());
    std::remove(input);
    REQUIRE(rc == 0);
    auto lines = split(all, '\n');
    REQUIRE(lines.size() == rows.size());
    return lines;
}

std::vector<Read> parse_python(const std::string& line) {
    std::vector<Read> out;
    if (line.empty() || line.front() == '!') {
        return out;
    }
    for (const auto& item : split(line, ';')) {
        const auto comma = item.find(',');
        out.push_back({unhex(item.substr(0, comma)), unhex(item.substr(comma + 1))});
    }
    return out;
}

std::vector<Read> gmime_reading(std::string_view raw) {
    std::vector<Read> out;
    for (const auto& mb : smime::mime::parse_mailboxes(std::string(raw))) {
        out.push_back({mb.address, mb.name});
    }
    return out;
}

/** Addresses in lower case, ' '-separated: the form the table records. */
std::string summary(const std::vector<Read>& reads) {
    std::string out;
    for (const auto& r : reads) {
        std::string a = r.address;
        for (auto& c : a) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        out += (out.empty() ? "" : " ") + a;
    }
    return out;
}

/** segel's verdict: parsed as one mailbox whose name and comments show no other address. */
bool segel_signs(const test::FromCase& row) {
    const auto r = policy::address::parse_mailbox(row.raw);
    if (!r.ok()) {
        return false;
    }
    std::vector<std::string> texts = r.mailbox.comments;
    texts.push_back(r.mailbox.display_name);
    for (const auto& text : texts) {
        for (const auto& a : policy::address::addresses_in(text)) {
            if (a != r.mailbox.address) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

TEST_CASE("From readers: what segel signs, GMime and Python's email read as the same one address",
          "[policy][interop]") {
    const auto& rows = test::from_cases();
    const auto python = python_readings(rows);
    std::ofstream dump;
    if (const char* path = std::getenv("SEGEL_READERS_DUMP")) {
        dump.open(path);
    }
    std::size_t signed_rows = 0;
    std::size_t disagreeing = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& row = rows[i];
        INFO(row.name);
        const auto gm = gmime_reading(row.raw);
        const auto py = parse_python(python[i]);
        const std::string py_text = python[i].front() == '!' ? python[i] : summary(py);
        if (dump.is_open()) {
            dump << row.name << "\t" << summary(gm) << "\t" << py_text << "\n";
        }
        // The record: what each reader makes of this From.
        CHECK(summary(gm) == row.gmime);
        CHECK(py_text == row.python);
        disagreeing += summary(gm) != py_text ? 1 : 0;
        if (!segel_signs(row)) {
            continue;
        }
        // The guarantee: a From that segel signs is one mailbox for both, the same address,
        // and neither shows another address in the name.
        ++signed_rows;
        for (const auto* reads : {&gm, &py}) {
            REQUIRE(reads->size() == 1);
            CHECK(summary(*reads) == row.address);
            for (const auto& a : policy::address::addresses_in(reads->front().name)) {
                CHECK(a == row.address);
            }
        }
    }
    CHECK(signed_rows > 15);
    CHECK(disagreeing > 5);  // the table keeps the forms on which the readers disagree
}
