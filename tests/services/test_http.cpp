// services::http against a real HTTP server on 127.0.0.1 (integration/responders.py):
// conditional GET, POST, redirects, the size cap, timeouts, refused and dropped
// connections, HTTP errors, schemes, proxies, header injection, threads.
#include "services/http.h"
#include "tests/support/pki.h"
#include "tests/support/responders.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <utime.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

using namespace segel;
namespace http = services::http;

namespace {

struct Server {
    std::string files;
    test::Responders resp;
    static std::string make_dir() {
        char templ[] = "/tmp/segel-unit-http-XXXXXX";
        return mkdtemp(templ);
    }
    Server() : files(make_dir()), resp({"--static", "/crl=" + files}) {}
    ~Server() {
        std::error_code ec;
        std::filesystem::remove_all(files, ec);
    }
};

http::Options quick() {
    http::Options o;
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.total_timeout = std::chrono::milliseconds(5000);
    return o;
}

}  // namespace

TEST_CASE("http: GET a file, then a conditional GET answers 304 until it changes", "[services][http]") {
    Server s;
    test::write_file(s.files + "/int.crl", std::string(1000, 'x'), 0644);
    const auto r = http::get(s.resp.url("/crl/int.crl"), quick());
    REQUIRE(r.ok());
    CHECK(r.status == 200);
    CHECK(r.body == std::string(1000, 'x'));
    CHECK(r.content_type == "application/pkix-crl");
    REQUIRE_FALSE(r.etag.empty());
    REQUIRE_FALSE(r.last_modified.empty());

    const auto by_etag = http::get(s.resp.url("/crl/int.crl"), quick(), {r.etag, ""});
    CHECK(by_etag.not_modified());
    CHECK(by_etag.body.empty());
    const auto by_date = http::get(s.resp.url("/crl/int.crl"), quick(), {"", r.last_modified});
    CHECK(by_date.not_modified());

    test::write_file(s.files + "/int.crl", std::string(1000, 'y'), 0644);
    struct utimbuf later {};
    later.actime = later.modtime = time(nullptr) + 120;
    utime((s.files + "/int.crl").c_str(), &later);
    const auto changed = http::get(s.resp.url("/crl/int.crl"), quick(), {r.etag, r.last_modified});
    REQUIRE(changed.ok());
    CHECK(changed.status == 200);
    CHECK(changed.body == std::string(1000, 'y'));
    CHECK(changed.etag != r.etag);
    CHECK_THAT(s.resp.log(), Catch::Contains("\"if_none_match\": " + std::string("\"\\\"")));
}

TEST_CASE("http: POST sends the body with its content type", "[services][http]") {
    Server s;
    const std::string body("\x30\x03\x0a\x01\x00\r\n\0binary", 13);
    const auto r = http::post(s.resp.url("/_echo"), "application/ocsp-request", body, quick());
    REQUIRE(r.ok());
    CHECK(r.status == 200);
    CHECK(r.body == body);
    CHECK(r.content_type == "application/ocsp-request");
}

TEST_CASE("http: redirects are not followed unless configured", "[services][http]") {
    Server s;
    test::write_file(s.files + "/a.crl", "target", 0644);
    const std::string url = s.resp.url("/_redirect?to=" + s.resp.url("/crl/a.crl"));
    const auto off = http::get(url, quick());
    CHECK_FALSE(off.ok());
    CHECK(off.status == 302);
    CHECK_THAT(off.error, Catch::StartsWith("GET " + url + ": HTTP 302 redirect to " + s.resp.url("/crl/a.crl")));
    CHECK_THAT(off.error, Catch::Contains("not followed"));

    http::Options follow = quick();
    follow.max_redirects = 2;
    const auto on = http::get(url, follow);
    REQUIRE(on.ok());
    CHECK(on.body == "target");
    CHECK(on.url == s.resp.url("/crl/a.crl"));

    // A redirect to another scheme is never followed.
    const auto ftp = http::get(s.resp.url("/_redirect?to=ftp://127.0.0.1/x"), follow);
    CHECK_FALSE(ftp.ok());
}

TEST_CASE("http: an answer over the size cap aborts with a reason", "[services][http]") {
    Server s;
    test::write_file(s.files + "/big.crl", std::string(100 * 1024, 'z'), 0644);
    http::Options o = quick();
    o.max_response_bytes = 10 * 1024;
    const auto r = http::get(s.resp.url("/crl/big.crl"), o);
    CHECK_FALSE(r.ok());
    CHECK(r.body.empty());
    CHECK_THAT(r.error, Catch::Contains("larger than 10240 bytes"));
    o.max_response_bytes = 100 * 1024;
    CHECK(http::get(s.resp.url("/crl/big.crl"), o).ok());  // exactly at the cap is fine
}

TEST_CASE("http: failures are results naming the URL and the reason", "[services][http]") {
    Server s;
    SECTION("refused") {
        const std::string url = "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/ocsp";
        const auto r = http::post(url, "application/ocsp-request", "x", quick());
        CHECK_FALSE(r.ok());
        CHECK(r.status == 0);
        CHECK_THAT(r.error, Catch::StartsWith("POST " + url + ": Couldn't connect to server"));
    }
    SECTION("dropped without an answer") {
        s.resp.fault("/crl", "down");
        const auto r = http::get(s.resp.url("/crl/x.crl"), quick());
        CHECK_FALSE(r.ok());
        CHECK_THAT(r.error, Catch::StartsWith("GET " + s.resp.url("/crl/x.crl") + ": "));
    }
    SECTION("too slow") {
        s.resp.fault("/crl", "slow:3");
        http::Options o = quick();
        o.total_timeout = std::chrono::milliseconds(300);
        const auto r = http::get(s.resp.url("/crl/x.crl"), o);
        CHECK_FALSE(r.ok());
        CHECK_THAT(r.error, Catch::Contains("Timeout"));
    }
    SECTION("HTTP 500 and 404") {
        s.resp.fault("/crl", "http500");
        const auto r = http::get(s.resp.url("/crl/x.crl"), quick());
        CHECK_FALSE(r.ok());
        CHECK(r.status == 500);
        CHECK(r.error == "GET " + s.resp.url("/crl/x.crl") + ": HTTP 500");
        s.resp.fault("/crl", "ok");
        CHECK(http::get(s.resp.url("/crl/missing.crl"), quick()).status == 404);
    }
    SECTION("garbage is still a 200: judging the bytes is the caller's job") {
        s.resp.fault("/crl", "garbage");
        const auto r = http::get(s.resp.url("/crl/x.crl"), quick());
        CHECK(r.ok());
        CHECK(r.body.size() == 512);
    }
}

TEST_CASE("http: only http and https URLs; header values stay on one line", "[services][http]") {
    for (const std::string url : {"ftp://127.0.0.1/crl", "file:///etc/passwd", "gopher://127.0.0.1/", "ldap://x/"}) {
        const auto r = http::get(url, quick());
        CHECK_FALSE(r.ok());
        CHECK_THAT(r.error, Catch::Contains("only http:// and https://"));
    }
    CHECK_FALSE(http::check_url("not a url").empty());
    CHECK_FALSE(http::check_url("/relative/path").empty());
    CHECK_FALSE(http::check_url("http://").empty());
    CHECK(http::check_url("http://ocsp.example.go.id/").empty());
    CHECK(http::check_url("HTTPS://cdp.example.go.id:8443/bsre.crl").empty());

    Server s;
    const auto r = http::get(s.resp.url("/crl/x.crl"), quick(), {"\"a\"\r\nX-Injected: 1", ""});
    CHECK_FALSE(r.ok());
    CHECK_THAT(r.error, Catch::Contains("line break"));
    CHECK_THAT(s.resp.log(), !Catch::Contains("X-Injected"));
}

TEST_CASE("http: the environment's proxy is ignored; a configured one is used", "[services][http]") {
    Server s;
    test::write_file(s.files + "/p.crl", "direct", 0644);
    const int proxy_port = test::closed_port();
    const std::string dead_proxy = "http://127.0.0.1:" + std::to_string(proxy_port);
    for (const char* var : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}) {
        setenv(var, dead_proxy.c_str(), 1);
    }
    const auto direct = http::get(s.resp.url("/crl/p.crl"), quick());
    for (const char* var : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}) {
        unsetenv(var);
    }
    REQUIRE(direct.ok());
    CHECK(direct.body == "direct");

    http::Options via = quick();
    via.proxy = dead_proxy;
    const auto proxied = http::get(s.resp.url("/crl/p.crl"), via);
    CHECK_FALSE(proxied.ok());
    CHECK_THAT(proxied.error, Catch::Contains("port " + std::to_string(proxy_port)));  // it went to the proxy
}

TEST_CASE("http: concurrent calls from many threads", "[services][http]") {
    Server s;
    test::write_file(s.files + "/t.crl", "shared", 0644);
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 8; ++i) {
                const auto r = http::get(s.resp.url("/crl/t.crl"), quick());
                if (r.ok() && r.body == "shared") {
                    ++good;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(good == 48);
}
