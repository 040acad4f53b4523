// The HTML form of a report: one self-contained page (no script, no external
// resource), inline SVG charts drawn here, CSS for screen and print. Every value
// that comes from the record — units, reason words, verdicts, node names — is
// attacker-influenced (a sender chooses its address) and goes through
// html_escape().
#include "report/report.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace segel::report {

namespace {

struct Labels {
    const char* lang;
    const char* title;
    const char* period;
    const char* store;
    const char* generated;
    const char* checkpoints;
    const char* node;
    const char* sequence;
    const char* size;
    const char* root;
    const char* time;
    const char* after;
    const char* proof;
    const char* unit;
    const char* total;
    const char* no_unit;
    const char* signed_only;
    const char* sign_encrypt;
    const char* passed;
    const char* refused;
    const char* verified;
    const char* decrypted;
    const char* incidents;
    const char* errors;
    const char* certificates;
    const char* issued;
    const char* expired;
    const char* expiring;
    const char* revoked;
    const char* by_unit;
    const char* by_month;
    const char* by_reason;
    const char* by_verdict;
    const char* by_incident;
    const char* none;
    const char* reason;
    const char* verdict;
    const char* kind;
    const char* count;
};

constexpr Labels k_id = {
    "id",
    "Laporan pengawasan sertifikat elektronik",
    "Periode",
    "Sumber catatan audit",
    "Dibuat",
    "Checkpoint audit yang mendasari laporan",
    "Node",
    "Nomor urut",
    "Jumlah peristiwa",
    "Akar (root hash)",
    "Waktu",
    "Peristiwa sesudahnya (tidak dihitung)",
    "Setiap angka di laporan ini adalah hitungan tepat atas peristiwa yang dicakup checkpoint di atas; "
    "periksa dengan <code>segelctl audit verify</code> dan hitung ulang dengan <code>segelctl report</code> "
    "(docs/reports.md).",
    "Unit kerja (OPD)",
    "Jumlah",
    "(tanpa unit)",
    "Ditandatangani",
    "Ditandatangani dan dienkripsi",
    "Dikirim tanpa tanda tangan",
    "Ditolak",
    "Masuk diverifikasi",
    "Didekripsi",
    "Insiden",
    "Galat internal",
    "Sertifikat",
    "terbit",
    "kedaluwarsa",
    "akan kedaluwarsa (90 hari)",
    "dicabut",
    "Surat ditandatangani per unit",
    "Tren per bulan",
    "Penolakan menurut alasan",
    "Verifikasi masuk menurut hasil",
    "Insiden menurut jenis",
    "tidak ada",
    "Alasan",
    "Hasil",
    "Jenis",
    "Jumlah",
};

constexpr Labels k_en = {
    "en",
    "Electronic certificate supervision report",
    "Period",
    "Audit record",
    "Generated",
    "Audit checkpoints the report is computed from",
    "Node",
    "Sequence",
    "Events",
    "Root hash",
    "Time",
    "Events after it (not counted)",
    "Every number in this report is an exact count over the events the checkpoints above cover; check them "
    "with <code>segelctl audit verify</code> and recount with <code>segelctl report</code> (docs/reports.md).",
    "Organisational unit (OPD)",
    "Total",
    "(no unit)",
    "Signed",
    "Signed and encrypted",
    "Sent unsigned",
    "Refused",
    "Inbound verified",
    "Decrypted",
    "Incidents",
    "Internal errors",
    "Certificates",
    "issued",
    "expired",
    "expiring (90 days)",
    "revoked",
    "Signed mail per unit",
    "Trend per month",
    "Refusals by reason",
    "Inbound verification by result",
    "Incidents by kind",
    "none",
    "Reason",
    "Result",
    "Kind",
    "Count",
};

std::string num(std::int64_t n) {
    return std::to_string(n);
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string unit_name(const std::string& u, const Labels& l) {
    return u.empty() ? l.no_unit : html_escape(u);
}

constexpr const char* k_colors[] = {"#1f5f8b", "#6a9f3a", "#c0392b", "#d68910", "#7d3c98", "#17a589"};

/** Horizontal bars, one group per label, one bar per series (a legend above). */
std::string bar_chart(const std::vector<std::string>& labels, const std::vector<std::string>& series,
                      const std::vector<std::vector<std::int64_t>>& values, const std::string& title) {
    std::int64_t max = 1;
    for (const auto& row : values) {
        for (const auto v : row) {
            max = std::max(max, v);
        }
    }
    const double label_w = 190;
    const double chart_w = 460;
    const double bar_h = 12;
    const double group_h = bar_h * static_cast<double>(series.size()) + 8;
    const double legend_h = 22;
    const double height = legend_h + group_h * static_cast<double>(labels.size()) + 4;
    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"" + fmt(label_w + chart_w + 60) +
                      "\" height=\"" + fmt(height) + "\" viewBox=\"0 0 " + fmt(label_w + chart_w + 60) + " " +
                      fmt(height) + "\"><title>" + title + "</title>";
    double x = 0;
    for (std::size_t s = 0; s < series.size(); ++s) {
        svg += "<rect x=\"" + fmt(x) + "\" y=\"4\" width=\"10\" height=\"10\" fill=\"" + k_colors[s % 6] +
               "\"/><text x=\"" + fmt(x + 14) + "\" y=\"13\" font-size=\"11\">" + series[s] + "</text>";
        x += 14 + 7.0 * static_cast<double>(series[s].size()) + 16;
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const double y0 = legend_h + group_h * static_cast<double>(i);
        svg += "<text x=\"" + fmt(label_w - 6) + "\" y=\"" + fmt(y0 + group_h / 2 + 3) +
               "\" font-size=\"11\" text-anchor=\"end\">" + labels[i] + "</text>";
        for (std::size_t s = 0; s < series.size(); ++s) {
            const std::int64_t v = values[i][s];
            const double w = chart_w * static_cast<double>(v) / static_cast<double>(max);
            const double y = y0 + bar_h * static_cast<double>(s);
            svg += "<rect x=\"" + fmt(label_w) + "\" y=\"" + fmt(y) + "\" width=\"" + fmt(std::max(w, 0.5)) +
                   "\" height=\"" + fmt(bar_h - 2) + "\" fill=\"" + k_colors[s % 6] + "\"/>";
            svg += "<text x=\"" + fmt(label_w + w + 4) + "\" y=\"" + fmt(y + bar_h - 3) + "\" font-size=\"10\">" +
                   num(v) + "</text>";
        }
    }
    return svg + "</svg>";
}

/** Vertical bars per month. */
std::string month_chart(const Report& r, const Labels& l) {
    const std::vector<std::string> series = {l.signed_only, l.sign_encrypt, l.refused, l.verified, l.incidents};
    std::int64_t max = 1;
    std::vector<std::vector<std::int64_t>> values;
    for (const auto& [mo, m] : r.months) {
        values.push_back({m.signed_only, m.sign_encrypt, m.refused_total(), m.verified_total(), m.incidents_total()});
        for (const auto v : values.back()) {
            max = std::max(max, v);
        }
    }
    const double bar_w = 11;
    const double group_w = bar_w * static_cast<double>(series.size()) + 14;
    const double plot_h = 180;
    const double top = 26;
    double legend_w = 0;
    for (const auto& name : series) {
        legend_w += 14 + 6.5 * static_cast<double>(name.size()) + 14;
    }
    const double width =
        std::max(legend_w, 40 + group_w * static_cast<double>(std::max<std::size_t>(values.size(), 1)) + 10);
    const double height = top + plot_h + 24;
    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"" + fmt(width) + "\" height=\"" +
                      fmt(height) + "\" viewBox=\"0 0 " + fmt(width) + " " + fmt(height) + "\"><title>" + l.by_month +
                      "</title>";
    double x = 0;
    for (std::size_t s = 0; s < series.size(); ++s) {
        svg += "<rect x=\"" + fmt(x) + "\" y=\"4\" width=\"10\" height=\"10\" fill=\"" + k_colors[s % 6] +
               "\"/><text x=\"" + fmt(x + 14) + "\" y=\"13\" font-size=\"11\">" + series[s] + "</text>";
        x += 14 + 6.5 * static_cast<double>(series[s].size()) + 14;
    }
    svg += "<line x1=\"36\" y1=\"" + fmt(top + plot_h) + "\" x2=\"" + fmt(width) + "\" y2=\"" + fmt(top + plot_h) +
           "\" stroke=\"#444\"/><text x=\"32\" y=\"" + fmt(top + 8) + "\" font-size=\"10\" text-anchor=\"end\">" +
           num(max) + "</text>";
    std::size_t i = 0;
    for (const auto& [mo, m] : r.months) {
        const double gx = 40 + group_w * static_cast<double>(i);
        for (std::size_t s = 0; s < series.size(); ++s) {
            const double h = plot_h * static_cast<double>(values[i][s]) / static_cast<double>(max);
            svg += "<rect x=\"" + fmt(gx + bar_w * static_cast<double>(s)) + "\" y=\"" + fmt(top + plot_h - h) +
                   "\" width=\"" + fmt(bar_w - 1) + "\" height=\"" + fmt(h) + "\" fill=\"" + k_colors[s % 6] + "\"/>";
        }
        svg += "<text x=\"" + fmt(gx + group_w / 2 - 7) + "\" y=\"" + fmt(top + plot_h + 14) +
               "\" font-size=\"10\" text-anchor=\"middle\">" + html_escape(mo) + "</text>";
        ++i;
    }
    return svg + "</svg>";
}

std::string breakdown(const char* heading, const char* column, const std::map<std::string, std::int64_t>& m,
                      const Labels& l) {
    std::string out = "<h3>" + std::string(heading) + "</h3>";
    if (m.empty()) {
        return out + "<p class=\"none\">" + l.none + "</p>";
    }
    out += "<table class=\"breakdown\"><tr><th>" + std::string(column) + "</th><th>" + l.count + "</th></tr>";
    for (const auto& [k, v] : m) {
        out += "<tr><td><code>" + html_escape(k) + "</code></td><td class=\"n\">" + num(v) + "</td></tr>";
    }
    return out + "</table>";
}

}  // namespace

std::string html_escape(std::string_view s) {
    // Bytes that are not well-formed UTF-8 (and NUL) become U+FFFD as in the store's columns.
    const std::string text = audit::column_safe(s);
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    out += "\xEF\xBF\xBD";  // a control character: U+FFFD
                } else {
                    out += ch;
                }
        }
    }
    return out;
}

std::string to_html(const Report& r, Lang lang) {
    const Labels& l = lang == Lang::En ? k_en : k_id;
    std::string h = "<!DOCTYPE html>\n<html lang=\"" + std::string(l.lang) +
                    "\"><head><meta charset=\"utf-8\">"
                    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
                    "'unsafe-inline'; img-src data:\">"
                    "<title>" +
                    std::string(l.title) + " " + html_escape(r.period.from) + " – " + html_escape(r.period.to) +
                    "</title><style>"
                    "body{font-family:'DejaVu Sans',Arial,sans-serif;font-size:12px;color:#111;margin:24px;}"
                    "h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px;border-bottom:1px solid "
                    "#999}h3{font-size:13px;margin:14px 0 4px}"
                    "table{border-collapse:collapse;margin:4px 0 10px}th,td{border:1px solid #bbb;padding:3px "
                    "6px;text-align:left;vertical-align:top}th{background:#e8eef4}td.n,th.n{text-align:right;"
                    "font-variant-numeric:tabular-nums;white-space:nowrap}td.u code{white-space:nowrap}"
                    "code{font-family:'DejaVu Sans Mono',monospace;font-size:10px;overflow-wrap:anywhere}"
                    ".meta td:first-child{font-weight:bold}.none{color:#666}.proof{font-size:11px;color:#333}"
                    "svg{display:block;margin:6px 0;max-width:100%;height:auto}"
                    "@page{size:A4;margin:15mm}@media print{body{margin:0}h2{break-after:avoid}"
                    "table,svg{break-inside:avoid}}"
                    "</style></head><body>\n";
    h += "<h1>" + std::string(l.title) + "</h1>\n<table class=\"meta\"><tr><td>" + l.period + "</td><td>" +
         html_escape(r.period.from) + " – " + html_escape(r.period.to) + " (UTC)</td></tr><tr><td>" + l.store +
         "</td><td><code>" + html_escape(r.store) + "</code></td></tr><tr><td>" + l.generated + "</td><td>" +
         html_escape(r.generated) + "</td></tr></table>\n";

    // One small table per node: the root hash (64 hex digits) keeps to one line on A4.
    h += "<h2>" + std::string(l.checkpoints) + "</h2>\n";
    for (const auto& c : r.checkpoints) {
        h += "<table class=\"meta\"><tr><td>" + std::string(l.node) + "</td><td><code>" + html_escape(c.node) +
             "</code></td></tr><tr><td>" + l.sequence + "</td><td>" + std::to_string(c.sequence) +
             "</td></tr><tr><td>" + l.size + "</td><td>" + std::to_string(c.size) + "</td></tr><tr><td>" + l.root +
             "</td><td><code>" + html_escape(c.root) + "</code></td></tr><tr><td>" + l.time + "</td><td>" +
             html_escape(c.time) + "</td></tr><tr><td>" + l.after + "</td><td>" + std::to_string(c.events_after) +
             "</td></tr></table>\n";
    }
    h += "<p class=\"proof\">" + std::string(l.proof) + "</p>\n";

    // The main tables: one row per unit, then the total; messages, then certificates.
    using Cells = std::vector<std::int64_t>;
    const auto table = [&](const std::vector<const char*>& heads, const std::function<Cells(const Measures&)>& cells) {
        h += "<table><tr><th>" + std::string(l.unit) + "</th>";
        for (const char* head : heads) {
            h += "<th>" + std::string(head) + "</th>";
        }
        h += "</tr>";
        const auto row = [&](const std::string& name, const Measures& m, bool bold) {
            const std::string td = bold ? "<th class=\"n\">" : "<td class=\"n\">";
            const std::string end = bold ? "</th>" : "</td>";
            h += "<tr>" + std::string(bold ? "<th>" : "<td class=\"u\">") + name + end;
            for (const auto n : cells(m)) {
                h += td + num(n) + end;
            }
            h += "</tr>";
        };
        for (const auto& [u, m] : r.units) {
            row("<code>" + unit_name(u, l) + "</code>", m, false);
        }
        row(l.total, r.total, true);
        h += "</table>\n";
    };
    h += "<h2>" + std::string(l.unit) + "</h2>\n";
    table({l.signed_only, l.sign_encrypt, l.passed, l.refused, l.verified, l.decrypted, l.incidents},
          [](const Measures& m) {
              return Cells{m.signed_only,      m.sign_encrypt, m.passed,           m.refused_total(),
                           m.verified_total(), m.decrypted,    m.incidents_total()};
          });
    h += "<h3>" + std::string(l.certificates) + "</h3>\n";
    table({l.issued, l.expired, l.expiring, l.revoked}, [](const Measures& m) {
        return Cells{m.certs_issued, m.certs_expired, m.certs_expiring, m.certs_revoked};
    });

    std::vector<std::string> labels;
    std::vector<std::vector<std::int64_t>> values;
    for (const auto& [u, m] : r.units) {
        labels.push_back(unit_name(u, l));
        values.push_back({m.signed_only, m.sign_encrypt, m.refused_total()});
    }
    h += "<h2>" + std::string(l.by_unit) + "</h2>\n";
    h += labels.empty() ? "<p class=\"none\">" + std::string(l.none) + "</p>"
                        : bar_chart(labels, {l.signed_only, l.sign_encrypt, l.refused}, values, l.by_unit);
    h += "\n<h2>" + std::string(l.by_month) + "</h2>\n" + month_chart(r, l) + "\n";

    h += "<h2>" + std::string(l.total) + "</h2>\n";
    h += breakdown(l.by_reason, l.reason, r.total.refused, l);
    h += breakdown(l.by_verdict, l.verdict, r.total.verified, l);
    std::map<std::string, std::int64_t> incidents;
    for (const auto& k : k_incident_kinds) {
        incidents[k] = 0;
    }
    for (const auto& [k, v] : r.total.incidents) {
        incidents[k] = v;
    }
    h += breakdown(l.by_incident, l.kind, incidents, l);
    for (const auto& [u, m] : r.units) {
        h += "<h2>" + std::string(l.unit) + ": <code>" + unit_name(u, l) + "</code></h2>\n";
        h += breakdown(l.by_reason, l.reason, m.refused, l);
        h += breakdown(l.by_verdict, l.verdict, m.verified, l);
        h += breakdown(l.by_incident, l.kind, m.incidents, l);
    }
    h += "</body></html>\n";
    return h;
}

}  // namespace segel::report
