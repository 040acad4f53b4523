#pragma once
// A small synchronous HTTP client for the gateway's network services (OCSP,
// CRL distribution points, RFC 3161 time-stamping), on libcurl. Only what
// those need: GET (with conditional GET) and POST of one body, bounded in
// time and size, no redirects unless asked, http and https only, no proxy
// from the environment. A failure is a returned result naming the URL, never
// an exception. Thread-safe: every call uses an easy handle of its own.
#include <chrono>
#include <cstddef>
#include <string>

namespace segel::services::http {

/** Limits and policy for one request (every field has a safe default). */
struct Options {
    std::chrono::milliseconds connect_timeout{5000};   ///< TCP (and TLS) connection set-up
    std::chrono::milliseconds total_timeout{15000};    ///< the whole exchange, first byte to last
    std::size_t max_response_bytes = 4 * 1024 * 1024;  ///< a larger body aborts the transfer
    int max_redirects = 0;                             ///< 0: a 3xx is answered as it is, never followed
    /**
     * The proxy to use ("http://proxy.example:3128"); empty: none. The
     * environment (http_proxy, https_proxy, ALL_PROXY) is never consulted: a
     * daemon's network path is configuration, not inherited state.
     */
    std::string proxy;
    std::string user_agent = "segel";
    /** PEM file of CAs for https (empty: the system store). */
    std::string ca_file;
};

/** Conditional GET (RFC 9110 §13): the validators of a copy already held. */
struct Validators {
    std::string etag;           ///< sent as If-None-Match when set
    std::string last_modified;  ///< sent as If-Modified-Since when set (the server's own HTTP-date)
};

/** What came back. */
struct Response {
    /** Empty when the exchange worked and the status is 2xx or 304; else what went wrong, naming the URL. */
    std::string error;
    long status = 0;  ///< the HTTP status (0 when no answer arrived)
    std::string body;
    std::string content_type;   ///< without parameters, lower case
    std::string etag;           ///< as sent by the server (quotes kept)
    std::string last_modified;  ///< as sent by the server
    std::string url;            ///< the URL finally answered (after redirects, when followed)

    [[nodiscard]] bool ok() const { return error.empty(); }
    [[nodiscard]] bool not_modified() const { return ok() && status == 304; }
};

/**
 * GET @p url. With @p validators, a copy that did not change answers 304
 * (not_modified()) with an empty body.
 */
Response get(const std::string& url, const Options& options, const Validators& validators = {});

/** POST @p body as @p content_type to @p url (e.g. application/ocsp-request). */
Response post(const std::string& url, const std::string& content_type, const std::string& body, const Options& options);

/**
 * Whether @p url is an absolute http:// or https:// URL with a host; the
 * reason when not (config validation uses it too).
 */
std::string check_url(const std::string& url);

}  // namespace segel::services::http
