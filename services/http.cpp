#include "services/http.h"

#include "services/curl_global.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace segel::services::http {

namespace {

struct UrlFree {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
struct CurlStringFree {
    void operator()(char* s) const noexcept { curl_free(s); }
};

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim(std::string s) {
    const auto ws = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), ws));
    s.erase(std::find_if_not(s.rbegin(), s.rend(), ws).base(), s.end());
    return s;
}

/** What the callbacks fill in while the transfer runs. */
struct Transfer {
    std::size_t limit = 0;
    bool too_large = false;
    Response* out = nullptr;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    if (t->out->body.size() + n > t->limit) {
        t->too_large = true;
        return 0;  // CURLE_WRITE_ERROR: the transfer stops here
    }
    t->out->body.append(data, n);
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    const std::string line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100 Continue): start over
        t->out->content_type.clear();
        t->out->etag.clear();
        t->out->last_modified.clear();
        return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
        return n;
    }
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string value = trim(line.substr(colon + 1));
    if (name == "content-type") {
        t->out->content_type = lower(trim(value.substr(0, value.find(';'))));
    } else if (name == "etag") {
        t->out->etag = value;
    } else if (name == "last-modified") {
        t->out->last_modified = value;
    }
    return n;
}

/** Header values go on one line: a CR or LF in a validator would split the request. */
bool one_line(const std::string& v) {
    return v.find_first_of("\r\n") == std::string::npos;
}

Response perform(const char* method, const std::string& url, const Options& o, const Validators& v,
                 const std::string* content_type, const std::string* body) {
    Response out;
    out.url = url;
    const std::string prefix = std::string(method) + " " + url + ": ";
    if (const std::string bad = check_url(url); !bad.empty()) {
        out.error = prefix + bad;
        return out;
    }
    if (!one_line(v.etag) || !one_line(v.last_modified) || (content_type != nullptr && !one_line(*content_type))) {
        out.error = prefix + "a header value holds a line break";
        return out;
    }
    detail::curl_global();
    std::unique_ptr<CURL, detail::EasyFree> curl(curl_easy_init());
    if (!curl) {
        out.error = prefix + "cannot create a libcurl handle";
        return out;
    }
    CURL* c = curl.get();
    char errbuf[CURL_ERROR_SIZE] = {};
    Transfer transfer{o.max_response_bytes, false, &out};
    std::unique_ptr<curl_slist, detail::SlistFree> headers;
    auto add_header = [&](const std::string& h) { headers.reset(curl_slist_append(headers.release(), h.c_str())); };
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o.total_timeout.count()));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(o.max_response_bytes));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, o.max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(o.max_redirects));
    // "" disables every proxy, including the environment's (libcurl: CURLOPT_PROXY).
    curl_easy_setopt(c, CURLOPT_PROXY, o.proxy.c_str());
    curl_easy_setopt(c, CURLOPT_USERAGENT, o.user_agent.c_str());
    if (!o.basic_auth.empty()) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
        curl_easy_setopt(c, CURLOPT_USERPWD, o.basic_auth.c_str());
    }
    if (!o.ca_file.empty()) {
        curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
    if (body != nullptr) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
        add_header("Content-Type: " + (content_type != nullptr ? *content_type : "application/octet-stream"));
        add_header("Expect:");  // no 100-continue round trip for small bodies
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        if (!v.etag.empty()) {
            add_header("If-None-Match: " + v.etag);
        }
        if (!v.last_modified.empty()) {
            add_header("If-Modified-Since: " + v.last_modified);
        }
    }
    if (headers) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    }

    const CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
    char* effective = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK && effective != nullptr) {
        out.url = effective;
    }
    if (rc != CURLE_OK) {
        out.body.clear();
        if (transfer.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
            out.error = prefix + "the answer is larger than " + std::to_string(o.max_response_bytes) +
                        " bytes (the limit for this service); transfer aborted";
        } else {
            std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : std::string();
            while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) {
                detail.pop_back();
            }
            out.error = prefix + curl_easy_strerror(rc) + (detail.empty() ? "" : " (" + detail + ")");
        }
        return out;
    }
    if (out.status == 304 && body == nullptr) {
        return out;
    }
    if (out.status >= 300 && out.status < 400) {
        char* location = nullptr;
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
        out.error =
            prefix + "HTTP " + std::to_string(out.status) + " redirect" +
            (location != nullptr ? std::string(" to ") + location : std::string()) +
            (o.max_redirects > 0 ? " (too many redirects)" : " (redirects are not followed; configure the final URL)");
        return out;
    }
    if (out.status < 200 || out.status >= 300) {
        out.error = prefix + "HTTP " + std::to_string(out.status);
        return out;
    }
    return out;
}

}  // namespace

std::string check_url(const std::string& url) {
    if (url.find_first_of(" \t\r\n") != std::string::npos) {
        return "not a URL (white space or a line break in it)";
    }
    detail::curl_global();
    std::unique_ptr<CURLU, UrlFree> h(curl_url());
    if (!h || curl_url_set(h.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        return "not an absolute URL (e.g. http://ocsp.example.go.id/)";
    }
    char* raw_scheme = nullptr;
    char* raw_host = nullptr;
    curl_url_get(h.get(), CURLUPART_SCHEME, &raw_scheme, 0);
    std::unique_ptr<char, CurlStringFree> scheme(raw_scheme);
    curl_url_get(h.get(), CURLUPART_HOST, &raw_host, 0);
    std::unique_ptr<char, CurlStringFree> host(raw_host);
    const std::string s = scheme ? lower(scheme.get()) : "";
    if (s != "http" && s != "https") {
        return "only http:// and https:// URLs are fetched (scheme \"" + s + "\")";
    }
    if (!host || host.get()[0] == '\0') {
        return "the URL names no host";
    }
    return {};
}

Response get(const std::string& url, const Options& options, const Validators& validators) {
    return perform("GET", url, options, validators, nullptr, nullptr);
}

Response post(const std::string& url, const std::string& content_type, const std::string& body,
              const Options& options) {
    return perform("POST", url, options, {}, &content_type, &body);
}

}  // namespace segel::services::http
