#include "services/revocation.h"
#include "base/time.h"

#include "services/http.h"
#include "smime/error.h"
#include "smime/verify.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

namespace segel::services {

namespace {

using smime::RevocationState;
using smime::RevocationStatus;
using Source = RevocationStatus::Source;
using std::chrono::seconds;

constexpr std::size_t k_max_ocsp_answer = 1024 * 1024;
constexpr std::size_t k_max_answers = 10000;
constexpr auto k_poll = seconds(30);  ///< how often the milter looks for answers segelctl wrote

bool settled(const RevocationStatus& s) {
    return s.state == RevocationState::Good || s.state == RevocationState::Revoked;
}

long long to_unix(TimePoint t) {
    return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}
TimePoint from_unix(long long s) {
    return TimePoint(seconds(s));
}

/** FNV-1a 64: a stable file name for a URL (not a security boundary: the directory is ours). */
std::string url_key(const std::string& url) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const unsigned char c : url) {
        h = (h ^ c) * 1099511628211ULL;
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/** Writes @p path atomically (a reader sees the old file or the new one, never half of one). */
void write_atomic(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << bytes;
        if (!out) {
            std::remove(tmp.c_str());
            return;  // a cache: failing to keep a copy costs a fetch later, nothing else
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
    }
}

long long mtime_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return 0;
    }
    return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

using Meta = std::map<std::string, std::string>;

std::string write_meta(const Meta& m) {
    std::string out;
    for (const auto& [k, v] : m) {
        std::string clean = v;
        std::replace(clean.begin(), clean.end(), '\n', ' ');
        out += k + "=" + clean + "\n";
    }
    return out;
}

Meta read_meta(const std::string& text) {
    Meta m;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) {
            m[line.substr(0, eq)] = line.substr(eq + 1);
        }
    }
    return m;
}

long long meta_time(const Meta& m, const char* key) {
    const auto it = m.find(key);
    if (it == m.end() || it->second.empty()) {
        return 0;
    }
    try {
        return std::stoll(it->second);
    } catch (const std::exception&) {
        return 0;
    }
}

Meta status_meta(const RevocationStatus& s) {
    return {{"state", smime::to_string(s.state)},
            {"source", smime::to_string(s.source)},
            {"url", s.url},
            {"obtained", std::to_string(to_unix(s.obtained))},
            {"this_update", std::to_string(to_unix(s.this_update))},
            {"next_update", s.next_update ? std::to_string(to_unix(*s.next_update)) : ""},
            {"revoked_at", std::to_string(to_unix(s.revoked_at))},
            {"reason", s.reason},
            {"responder", s.responder},
            {"detail", s.detail}};
}

std::optional<RevocationStatus> status_from_meta(const Meta& m) {
    RevocationStatus s;
    const auto state = m.count("state") ? m.at("state") : "";
    if (state == "good") {
        s.state = RevocationState::Good;
    } else if (state == "revoked") {
        s.state = RevocationState::Revoked;
    } else {
        return std::nullopt;
    }
    const auto source = m.count("source") ? m.at("source") : "";
    s.source = source == "ocsp" ? Source::Ocsp : source == "crl" ? Source::Crl : Source::None;
    if (s.source == Source::None) {
        return std::nullopt;
    }
    s.url = m.count("url") ? m.at("url") : "";
    s.obtained = from_unix(meta_time(m, "obtained"));
    s.this_update = from_unix(meta_time(m, "this_update"));
    if (const long long n = meta_time(m, "next_update"); n != 0) {
        s.next_update = from_unix(n);
    }
    s.revoked_at = from_unix(meta_time(m, "revoked_at"));
    s.reason = m.count("reason") ? m.at("reason") : "";
    s.responder = m.count("responder") ? m.at("responder") : "";
    s.detail = m.count("detail") ? m.at("detail") : "";
    return s;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : "; ") + s;
    }
    return out;
}

RevocationStatus unknown(std::string detail) {
    RevocationStatus s;
    s.state = RevocationState::Unknown;
    s.detail = std::move(detail);
    return s;
}

bool same_status(const CertificateStatus& a, const CertificateStatus& b) {
    return a.evidence.state == b.evidence.state && a.problem == b.problem &&
           a.evidence.revoked_at == b.evidence.revoked_at;
}

}  // namespace

struct RevocationService::Entry {
    smime::ossl::Ptr<X509> cert;
    smime::ossl::Ptr<X509> issuer;
    CertificateStatus status;
    TimePoint next_due{};      ///< zero: due now
    long long file_mtime = 0;  ///< of the status file last read or written
};

struct RevocationService::CrlCopy {
    smime::ossl::Ptr<X509_CRL> crl;
    std::string etag;
    std::string last_modified;
    TimePoint fetched{};  ///< fetched or revalidated (304)
    TimePoint this_update{};
    std::optional<TimePoint> next_update;
};

struct RevocationService::CrlEntry {
    std::shared_ptr<const CrlCopy> copy;
    std::set<std::string> verified;  ///< issuers (fingerprints) whose signature on this copy was checked
    bool loaded = false;             ///< the cache directory was looked at
    bool fetching = false;
};

std::vector<Override> load_overrides(const config::Revocation& settings, std::size_t* failed_index) {
    std::vector<Override> out;
    for (std::size_t i = 0; i < settings.responders.size(); ++i) {
        const auto& r = settings.responders[i];
        Override o;
        if (!r.issuer.empty()) {
            try {
                o.issuer = std::move(smime::read_pem_certs(r.issuer).front());
            } catch (const smime::Error&) {
                if (failed_index != nullptr) {
                    *failed_index = i;
                }
                throw;
            }
        }
        o.has_ocsp = r.has_ocsp;
        o.ocsp = r.ocsp;
        o.has_crl = r.has_crl;
        o.crl = r.crl;
        out.push_back(std::move(o));
    }
    return out;
}

std::shared_ptr<RevocationService> RevocationService::process() {
    static const std::shared_ptr<RevocationService> service = std::make_shared<RevocationService>();
    return service;
}

RevocationService::RevocationService() = default;

RevocationService::~RevocationService() {
    stop();
}

smime::RevocationPoints RevocationService::points(X509* cert) const {
    smime::RevocationPoints p = smime::revocation_points(cert);
    std::lock_guard lock(m_mutex);
    const Override* chosen = nullptr;
    for (const auto& o : m_overrides) {
        if (o.issuer && X509_check_issued(o.issuer.get(), cert) == X509_V_OK) {
            chosen = &o;  // an entry for this CA wins over one for every certificate
            break;
        }
        if (!o.issuer && chosen == nullptr) {
            chosen = &o;
        }
    }
    if (chosen != nullptr) {
        if (chosen->has_ocsp) {
            p.ocsp = chosen->ocsp;
        }
        if (chosen->has_crl) {
            p.crl = chosen->crl;
        }
    }
    return p;
}

void RevocationService::configure(const config::Revocation& settings, std::vector<Override> overrides,
                                  std::vector<Watched> watched) {
    std::vector<std::string> fresh;
    {
        std::lock_guard lock(m_mutex);
        m_settings = settings;
        m_overrides = std::move(overrides);
    }
    std::map<std::string, Entry> next;
    for (auto& w : watched) {
        const std::string fp = smime::ossl::fingerprint_sha256(w.cert.get());
        Entry e;
        e.cert = std::move(w.cert);
        e.issuer = std::move(w.issuer);
        const smime::RevocationPoints p = points(e.cert.get());
        e.status.ocsp_urls = p.ocsp;
        e.status.crl_urls = p.crl;
        next.emplace(fp, std::move(e));
    }
    bool running = false;
    {
        std::lock_guard lock(m_mutex);
        for (auto& [fp, e] : next) {
            if (const auto it = m_watched.find(fp); it != m_watched.end()) {
                e.status.evidence = it->second.status.evidence;
                e.status.problem = it->second.status.problem;
                e.status.last_attempt = it->second.status.last_attempt;
                e.next_due = it->second.next_due;
                e.file_mtime = it->second.file_mtime;
            } else {
                load_cached(e);
                if (!settled(e.status.evidence)) {
                    fresh.push_back(fp);
                }
            }
        }
        m_watched = std::move(next);
        running = m_running;
        if (!settings.enabled) {
            fresh.clear();
        }
    }
    pick_up_files();  // answers segelctl wrote since (a reload after `segelctl revocation refresh`)
    if (running) {
        const TimePoint now = std::chrono::system_clock::now();
        std::map<std::string, std::string> dead;
        for (const auto& fp : fresh) {
            attempt(fp, now, &dead);
        }
        m_wake.notify_all();
    }
}

void RevocationService::load_cached(Entry& e) {
    // Called with m_mutex held; a small file read.
    if (m_settings.cache_directory.empty()) {
        return;
    }
    const std::string base =
        m_settings.cache_directory + "/status-" + smime::ossl::fingerprint_sha256(e.cert.get()).substr(0, 32);
    const auto text = read_file(base + ".meta");
    e.file_mtime = mtime_of(base + ".meta");
    if (!text) {
        return;
    }
    if (auto s = status_from_meta(read_meta(*text))) {
        e.status.evidence = *s;
        e.status.last_attempt = s->obtained;
        e.next_due = s->obtained + m_settings.check_interval;
    }
}

void RevocationService::pick_up_files() {
    std::vector<std::tuple<smime::ossl::Ptr<X509>, CertificateStatus, CertificateStatus>> changes;
    Listener listener;
    {
        std::lock_guard lock(m_mutex);
        if (m_settings.cache_directory.empty()) {
            return;
        }
        for (auto& [fp, e] : m_watched) {
            const std::string meta = m_settings.cache_directory + "/status-" + fp.substr(0, 32) + ".meta";
            const long long mtime = mtime_of(meta);
            if (mtime == 0 || mtime == e.file_mtime) {
                continue;
            }
            e.file_mtime = mtime;
            const auto text = read_file(meta);
            const auto s = text ? status_from_meta(read_meta(*text)) : std::nullopt;
            // The file keeps whole seconds: an answer segelctl got within the second of the
            // milter's own is newer all the same (the file changed since this process read it).
            using std::chrono::floor;
            using std::chrono::seconds;
            if (s && (!settled(e.status.evidence) ||
                      floor<seconds>(s->obtained) >= floor<seconds>(e.status.evidence.obtained))) {
                const CertificateStatus before = e.status;
                e.status.evidence = *s;
                e.status.problem.clear();
                e.next_due = s->obtained + m_settings.check_interval;
                if (!same_status(before, e.status)) {
                    changes.emplace_back(smime::ossl::retain(e.cert.get()), before, e.status);
                }
            }
        }
        listener = m_listener;
    }
    if (listener) {
        for (const auto& [cert, before, after] : changes) {
            listener(cert.get(), before, after);
        }
    }
}

CertificateStatus RevocationService::status(X509* cert) const {
    return status_of(smime::ossl::fingerprint_sha256(cert));
}

CertificateStatus RevocationService::status_of(const std::string& fp) const {
    std::lock_guard lock(m_mutex);
    if (!m_settings.enabled) {
        CertificateStatus s;
        s.evidence.detail = "revocation.enabled is false";
        return s;
    }
    const auto it = m_watched.find(fp);
    if (it == m_watched.end()) {
        CertificateStatus s;
        s.evidence.detail = "not a loaded signing certificate";
        return s;
    }
    CertificateStatus s = it->second.status;
    if (s.ocsp_urls.empty() && s.crl_urls.empty() && !settled(s.evidence)) {
        s.evidence.state = RevocationState::NotChecked;
        s.evidence.detail =
            "the certificate names no OCSP responder or CRL distribution point (set revocation.responders)";
    } else if (!settled(s.evidence)) {
        s.evidence.state = RevocationState::Unknown;
        s.evidence.detail = s.problem.empty() ? "not checked yet" : s.problem;
    }
    return s;
}

void RevocationService::record_down(const std::string& url, const std::string& error, TimePoint now) {
    std::lock_guard lock(m_mutex);
    m_down[url] = {now, error};
}

bool RevocationService::is_down(const std::string& url, TimePoint since, std::string& error) const {
    std::lock_guard lock(m_mutex);
    const auto it = m_down.find(url);
    if (it == m_down.end() || it->second.first < since) {
        return false;
    }
    error = it->second.second + " (not asked again before " +
            base::format_time(it->second.first + m_settings.retry_interval) + ")";
    return true;
}

RevocationStatus RevocationService::ask_ocsp(const std::string& url, X509* cert, X509* issuer, TimePoint now,
                                             std::optional<TimePoint> skip_if_down_since) {
    std::string error;
    http::Options o;
    config::Revocation settings;
    {
        std::lock_guard lock(m_mutex);
        settings = m_settings;
    }
    if (skip_if_down_since && is_down(url, *skip_if_down_since, error)) {
        return unknown(error);
    }
    o.connect_timeout = settings.connect_timeout;
    o.total_timeout = settings.timeout;
    o.max_response_bytes = k_max_ocsp_answer;
    o.proxy = settings.proxy;
    smime::OcspRequest req;
    try {
        req = smime::ocsp_request(cert, issuer);
    } catch (const smime::Error& e) {
        return unknown("OCSP " + url + ": cannot build a request: " + e.what());
    }
    const http::Response resp = http::post(url, "application/ocsp-request", req.der, o);
    if (!resp.ok()) {
        if (resp.status == 0) {
            record_down(url, resp.error, now);
        }
        return unknown(resp.error);
    }
    smime::OcspPolicy policy;
    policy.now = now;
    policy.require_nonce = settings.require_nonce;
    policy.max_age = settings.max_age;
    smime::ossl::Ptr<X509> responder;
    RevocationStatus s = smime::check_ocsp(resp.body, cert, issuer, req.nonce, policy, &responder);
    s.url = url;
    s.obtained = now;
    if (!settled(s)) {
        s.detail = "OCSP " + url + ": " + s.detail;
        return s;
    }
    if (responder) {
        const std::string fp = smime::ossl::fingerprint_sha256(responder.get());
        std::lock_guard lock(m_mutex);
        if (m_responders.count(fp) == 0 && !m_settings.cache_directory.empty()) {
            write_atomic(m_settings.cache_directory + "/responder-" + fp.substr(0, 32) + ".pem",
                         smime::to_pem(responder.get()));
        }
        m_responders[fp] = std::move(responder);
    }
    return s;
}

bool RevocationService::fetch_crl(const std::string& url, TimePoint now, std::string& error) {
    http::Validators validators;
    http::Options o;
    std::string dir;
    {
        std::unique_lock lock(m_mutex);
        CrlEntry& e = m_crls[url];
        if (e.fetching) {  // someone else is at it: wait for their result
            m_crl_done.wait_for(lock, m_settings.timeout + seconds(2), [&] { return !e.fetching; });
            return e.copy != nullptr;
        }
        e.fetching = true;
        if (e.copy) {
            validators = {e.copy->etag, e.copy->last_modified};
        }
        o.connect_timeout = m_settings.connect_timeout;
        o.total_timeout = m_settings.timeout;
        o.max_response_bytes = m_settings.max_crl_size;
        o.proxy = m_settings.proxy;
        dir = m_settings.cache_directory;
    }
    const http::Response resp = http::get(url, o, validators);
    std::shared_ptr<CrlCopy> fresh;
    std::string der;
    if (!resp.ok()) {
        error = resp.error;
    } else if (resp.not_modified()) {
        // The copy we hold is still the current one: only its fetch time moves.
    } else {
        std::string why;
        auto crl = smime::parse_crl(resp.body, &why);
        if (!crl) {
            error = "CRL " + url + ": " + why;
        } else {
            fresh = std::make_shared<CrlCopy>();
            const auto [this_update, next_update] = smime::crl_times(crl.get());
            fresh->crl = std::move(crl);
            fresh->etag = resp.etag;
            fresh->last_modified = resp.last_modified;
            fresh->this_update = this_update;
            fresh->next_update = next_update;
            fresh->fetched = now;
            der = resp.body;
        }
    }
    std::lock_guard lock(m_mutex);
    CrlEntry& e = m_crls[url];
    e.fetching = false;
    bool ok = error.empty();
    if (ok && resp.not_modified()) {
        if (e.copy) {
            auto same = std::make_shared<CrlCopy>();
            same->crl.reset(X509_CRL_dup(e.copy->crl.get()));
            same->etag = e.copy->etag;
            same->last_modified = e.copy->last_modified;
            same->this_update = e.copy->this_update;
            same->next_update = e.copy->next_update;
            same->fetched = now;
            e.copy = std::move(same);
        } else {
            ok = false;
            error = "GET " + url + ": 304 Not Modified for a CRL that is not held";
        }
    } else if (ok) {
        e.copy = std::move(fresh);
        e.verified.clear();
    }
    if (!ok && resp.status == 0) {
        m_down[url] = {now, error};
    }
    if (ok && !dir.empty()) {
        const std::string base = dir + "/crl-" + url_key(url);
        if (!der.empty()) {
            write_atomic(base + ".der", der);
        }
        write_atomic(base + ".meta", write_meta({{"url", url},
                                                 {"etag", e.copy->etag},
                                                 {"last_modified", e.copy->last_modified},
                                                 {"fetched", std::to_string(to_unix(e.copy->fetched))}}));
    }
    m_crl_done.notify_all();
    return ok;
}

std::shared_ptr<const RevocationService::CrlCopy> RevocationService::crl_copy(const std::string& url, TimePoint now,
                                                                              std::string& error, bool revalidate) {
    bool refresh_inline = false;
    std::shared_ptr<const CrlCopy> current;
    TimePoint since;
    {
        std::lock_guard lock(m_mutex);
        CrlEntry& e = m_crls[url];
        if (!e.loaded && !m_settings.cache_directory.empty()) {
            e.loaded = true;
            const std::string base = m_settings.cache_directory + "/crl-" + url_key(url);
            const auto der = read_file(base + ".der");
            const auto meta = read_file(base + ".meta");
            auto crl = der ? smime::parse_crl(*der) : nullptr;
            if (crl && meta) {
                const Meta m = read_meta(*meta);
                auto copy = std::make_shared<CrlCopy>();
                const auto [this_update, next_update] = smime::crl_times(crl.get());
                copy->crl = std::move(crl);
                copy->etag = m.count("etag") ? m.at("etag") : "";
                copy->last_modified = m.count("last_modified") ? m.at("last_modified") : "";
                copy->fetched = from_unix(meta_time(m, "fetched"));
                copy->this_update = this_update;
                copy->next_update = next_update;
                e.copy = std::move(copy);
            }
        }
        e.loaded = true;
        since = now - m_settings.retry_interval;
        if (e.copy) {
            const CrlCopy& c = *e.copy;
            const TimePoint valid_until = c.next_update ? *c.next_update : c.fetched + m_settings.check_interval;
            if (now < valid_until) {
                auto refresh_at = c.fetched + m_settings.check_interval;
                if (c.next_update) {
                    const auto span = *c.next_update - c.this_update;
                    const auto margin = std::min<std::chrono::system_clock::duration>(std::chrono::hours(1), span / 4);
                    refresh_at = std::min(refresh_at, *c.next_update - margin);
                }
                current = e.copy;
                if (revalidate && !e.fetching) {
                    refresh_inline = true;  // a forced refresh asks again (a conditional GET: cheap)
                } else if (now >= refresh_at && !e.fetching) {
                    if (m_running) {  // served while a fresh copy is fetched in the background
                        m_refresh_queue.insert(url);
                        m_wake.notify_all();
                    } else {
                        refresh_inline = true;
                    }
                }
                if (!refresh_inline) {
                    return current;
                }
            }
        }
    }
    std::string down;
    if (!refresh_inline && is_down(url, since, down)) {
        error = down;
        return nullptr;
    }
    if (fetch_crl(url, now, error)) {
        std::lock_guard lock(m_mutex);
        return m_crls[url].copy;
    }
    if (current) {
        return current;  // the refresh failed (error says why): the copy still valid keeps serving
    }
    if (error.empty()) {
        error = "CRL " + url + ": no copy could be fetched";
    }
    return nullptr;
}

RevocationStatus RevocationService::ask_crl(const std::string& url, X509* cert, X509* issuer, TimePoint now,
                                            bool revalidate, std::string* refresh_error) {
    std::string error;
    const auto copy = crl_copy(url, now, error, revalidate);
    if (!copy) {
        return unknown(error);
    }
    if (!error.empty() && refresh_error != nullptr) {
        *refresh_error = error + " (the copy fetched " + base::format_time(copy->fetched) + " still answers)";
    }
    const std::string issuer_fp = smime::ossl::fingerprint_sha256(issuer);
    bool verified = false;
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_crls.find(url);
        verified = it != m_crls.end() && it->second.copy == copy && it->second.verified.count(issuer_fp) != 0;
    }
    if (!verified) {
        if (const std::string why = smime::crl_signed_by(copy->crl.get(), issuer); !why.empty()) {
            return unknown("CRL " + url + ": " + why);
        }
        std::lock_guard lock(m_mutex);
        const auto it = m_crls.find(url);
        if (it != m_crls.end() && it->second.copy == copy) {
            it->second.verified.insert(issuer_fp);
        }
    }
    RevocationStatus s = smime::check_crl(copy->crl.get(), cert, now);
    s.url = url;
    s.obtained = copy->fetched;
    if (!settled(s)) {
        s.detail = "CRL " + url + ": " + s.detail;
    }
    return s;
}

void RevocationService::attempt(const std::string& fp, TimePoint now, std::map<std::string, std::string>* dead,
                                std::set<std::string>* revalidate) {
    smime::ossl::Ptr<X509> cert;
    smime::ossl::Ptr<X509> issuer;
    std::vector<std::string> ocsp;
    std::vector<std::string> crl;
    std::string dir;
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_watched.find(fp);
        if (it == m_watched.end() || !m_settings.enabled) {
            return;
        }
        cert = smime::ossl::retain(it->second.cert.get());
        issuer = smime::ossl::retain(it->second.issuer.get());
        ocsp = it->second.status.ocsp_urls;
        crl = it->second.status.crl_urls;
        dir = m_settings.cache_directory;
    }
    std::vector<std::string> problems;
    std::optional<RevocationStatus> found;
    auto try_url = [&](const std::string& url, bool is_ocsp) {
        if (found) {
            return;
        }
        if (dead != nullptr && dead->count(url) != 0) {
            problems.push_back(dead->at(url));
            return;
        }
        std::string stale;
        RevocationStatus s = is_ocsp ? ask_ocsp(url, cert.get(), issuer.get(), now, std::nullopt)
                                     : ask_crl(url, cert.get(), issuer.get(), now,
                                               revalidate != nullptr && revalidate->insert(url).second, &stale);
        if (!stale.empty()) {
            problems.push_back(stale);
        }
        if (settled(s)) {
            found = std::move(s);
            return;
        }
        problems.push_back(s.detail);
        std::string why;
        if (dead != nullptr && is_down(url, now, why)) {
            (*dead)[url] = s.detail;  // no answer at all: the other certificates need not wait for it again
        }
    };
    for (const auto& u : ocsp) {
        try_url(u, true);
    }
    for (const auto& u : crl) {
        try_url(u, false);
    }
    CertificateStatus before;
    CertificateStatus after;
    Listener listener;
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_watched.find(fp);
        if (it == m_watched.end()) {
            return;
        }
        Entry& e = it->second;
        before = e.status;
        e.status.last_attempt = now;
        if (found) {
            e.status.evidence = *found;
            e.status.problem = join(problems);  // what failed on the way (OCSP down, a CRL not refreshed)
            e.next_due = now + m_settings.check_interval;
            if (found->next_update && *found->next_update > now + seconds(120)) {
                e.next_due = std::min(e.next_due, *found->next_update - seconds(60));
            }
            if (!dir.empty()) {
                const std::string meta = dir + "/status-" + fp.substr(0, 32) + ".meta";
                write_atomic(meta, write_meta(status_meta(*found)));
                e.file_mtime = mtime_of(meta);
            }
        } else {
            e.status.problem =
                problems.empty() ? "the certificate names no OCSP responder or CRL distribution point" : join(problems);
            e.next_due = now + m_settings.retry_interval;
        }
        after = e.status;
        listener = m_listener;
    }
    if (listener && !same_status(before, after)) {
        listener(cert.get(), before, after);
    }
}

void RevocationService::refresh(bool force, TimePoint now) {
    std::vector<std::string> due;
    {
        std::lock_guard lock(m_mutex);
        if (!m_settings.enabled) {
            return;
        }
        for (const auto& [fp, e] : m_watched) {
            if (e.status.ocsp_urls.empty() && e.status.crl_urls.empty()) {
                continue;
            }
            if (force || e.next_due == TimePoint{} || e.next_due <= now) {
                due.push_back(fp);
            }
        }
    }
    std::map<std::string, std::string> dead;  // this round only
    std::set<std::string> revalidated;
    for (const auto& fp : due) {
        attempt(fp, now, &dead, force ? &revalidated : nullptr);
    }
}

void RevocationService::start(Listener listener) {
    {
        std::lock_guard lock(m_mutex);
        if (m_running) {
            return;
        }
        m_listener = std::move(listener);
    }
    refresh(false, std::chrono::system_clock::now());
    std::lock_guard lock(m_mutex);
    m_running = true;
    m_stop = false;
    // The checking thread takes no signals: the process's own handlers (reload, stop) stay in charge.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    m_thread = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void RevocationService::stop() {
    {
        std::lock_guard lock(m_mutex);
        if (!m_running) {
            return;
        }
        m_stop = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) {
        m_thread.join();
    }
    std::lock_guard lock(m_mutex);
    m_running = false;
}

void RevocationService::run() {
    for (;;) {
        const TimePoint now = std::chrono::system_clock::now();
        pick_up_files();
        refresh(false, now);
        std::set<std::string> queue;
        {
            std::lock_guard lock(m_mutex);
            queue.swap(m_refresh_queue);
        }
        for (const auto& url : queue) {
            std::string error;
            fetch_crl(url, now, error);
        }
        std::unique_lock lock(m_mutex);
        if (m_stop) {
            return;
        }
        TimePoint wake = std::chrono::system_clock::now() + k_poll;
        for (const auto& [fp, e] : m_watched) {
            if ((!e.status.ocsp_urls.empty() || !e.status.crl_urls.empty()) && e.next_due < wake) {
                wake = e.next_due;
            }
        }
        m_wake.wait_until(lock, wake, [&] { return m_stop || !m_refresh_queue.empty(); });
        if (m_stop) {
            return;
        }
    }
}

RevocationStatus RevocationService::check(X509* cert, X509* issuer, TimePoint now, const std::string& fingerprint) {
    const std::string fp = fingerprint.empty() ? smime::ossl::fingerprint_sha256(cert) : fingerprint;
    TimePoint since;
    {
        std::lock_guard lock(m_mutex);
        if (!m_settings.enabled) {
            RevocationStatus s;
            s.detail = "revocation.enabled is false";
            return s;
        }
        if (const auto it = m_watched.find(fp); it != m_watched.end() && settled(it->second.status.evidence)) {
            return it->second.status.evidence;
        }
        if (const auto it = m_answers.find(fp); it != m_answers.end()) {
            const RevocationStatus& a = it->second;
            TimePoint until = a.obtained + m_settings.check_interval;
            if (a.next_update) {
                until = std::min(until, *a.next_update);
            }
            if (now < until) {
                return a;
            }
            m_answers.erase(it);
        }
        since = now - m_settings.retry_interval;
    }
    const smime::RevocationPoints p = points(cert);
    if (p.ocsp.empty() && p.crl.empty()) {
        RevocationStatus s;
        s.detail = "the certificate names no OCSP responder or CRL distribution point";
        return s;
    }
    std::vector<std::string> problems;
    for (const auto& url : p.crl) {
        RevocationStatus s = ask_crl(url, cert, issuer, now);
        if (settled(s)) {
            return s;
        }
        problems.push_back(s.detail);
    }
    for (const auto& url : p.ocsp) {
        RevocationStatus s = ask_ocsp(url, cert, issuer, now, since);
        if (settled(s)) {
            std::lock_guard lock(m_mutex);
            if (m_answers.size() >= k_max_answers) {
                m_answers.erase(m_answers.begin());
            }
            m_answers[fp] = s;
            return s;
        }
        problems.push_back(s.detail);
    }
    return unknown(join(problems));
}

std::vector<smime::ossl::Ptr<X509>> RevocationService::responder_certificates() const {
    std::vector<smime::ossl::Ptr<X509>> out;
    std::lock_guard lock(m_mutex);
    std::set<std::string> seen;
    for (const auto& [fp, c] : m_responders) {
        out.push_back(smime::ossl::retain(c.get()));
        seen.insert(fp.substr(0, 32));
    }
    if (!m_settings.cache_directory.empty()) {
        if (DIR* d = ::opendir(m_settings.cache_directory.c_str())) {
            while (const dirent* ent = ::readdir(d)) {
                const std::string name = ent->d_name;
                if (name.rfind("responder-", 0) != 0 || name.size() < 4 ||
                    name.compare(name.size() - 4, 4, ".pem") != 0 || seen.count(name.substr(10, 32)) != 0) {
                    continue;
                }
                try {
                    for (auto& c : smime::read_pem_certs(m_settings.cache_directory + "/" + name)) {
                        out.push_back(std::move(c));
                    }
                } catch (const smime::Error&) {
                    // a damaged cache file: ignored (it is rewritten with the next answer)
                }
            }
            ::closedir(d);
        }
    }
    return out;
}

}  // namespace segel::services
