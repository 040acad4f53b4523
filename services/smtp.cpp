#include "services/smtp.h"

#include "services/curl_global.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

namespace segel::services::smtp {

namespace {

struct Reader {
    const std::string* data;
    std::size_t offset = 0;
};

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* r = static_cast<Reader*>(user);
    const std::size_t n = std::min(size * count, r->data->size() - r->offset);
    std::memcpy(buffer, r->data->data() + r->offset, n);
    r->offset += n;
    return n;
}

bool one_line(const std::string& v) {
    return v.find_first_of("\r\n<>") == std::string::npos;
}

}  // namespace

std::string send(const std::string& relay, const std::string& from, const std::vector<std::string>& to,
                 const std::string& message, const Options& o) {
    const std::string prefix = "SMTP to " + relay + ": ";
    if (to.empty()) {
        return prefix + "no recipients";
    }
    if (!one_line(from) || !std::all_of(to.begin(), to.end(), one_line) || !one_line(o.helo)) {
        return prefix + "an address holds a line break or angle bracket";
    }
    detail::curl_global();
    std::unique_ptr<CURL, detail::EasyFree> curl(curl_easy_init());
    if (!curl) {
        return prefix + "cannot create a libcurl handle";
    }
    CURL* c = curl.get();
    char errbuf[CURL_ERROR_SIZE] = {};
    // The URL's path is the EHLO name (libcurl: smtp://host:port/domain).
    const std::string url = "smtp://" + relay + "/" + o.helo;
    std::unique_ptr<curl_slist, detail::SlistFree> rcpts;
    for (const auto& r : to) {
        rcpts.reset(curl_slist_append(rcpts.release(), ("<" + r + ">").c_str()));
    }
    const std::string mail_from = "<" + from + ">";
    std::string data = message;
    if (data.size() < 2 || data.compare(data.size() - 2, 2, "\r\n") != 0) {
        data += "\r\n";
    }
    Reader reader{&data};
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp");
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o.total_timeout.count()));
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts.get());
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &reader);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : std::string();
        return prefix + curl_easy_strerror(rc) + (detail.empty() ? "" : " (" + detail + ")") +
               (code != 0 ? " [last reply " + std::to_string(code) + "]" : "");
    }
    return {};
}

}  // namespace segel::services::smtp
