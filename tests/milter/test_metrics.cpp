#include "milter/metrics.h"

#include <catch2/catch.hpp>

#include <vector>

using segel::milter::Histogram;
using segel::milter::prometheus_label;

TEST_CASE("metrics: label values escape backslash, quote and newline (Prometheus text format)", "[milter][metrics]") {
    CHECK(prometheus_label("/etc/segel/segel.yaml") == "/etc/segel/segel.yaml");
    CHECK(prometheus_label("a\"b") == "a\\\"b");
    CHECK(prometheus_label("a\\b") == "a\\\\b");
    CHECK(prometheus_label("two\nlines") == "two\\nlines");
}

TEST_CASE("metrics: a histogram counts each value once, in the first bound it fits", "[milter][metrics]") {
    const std::vector<double> bounds = {1, 10, 100};
    Histogram h(&bounds);
    for (const double v : {0.5, 1.0, 1.5, 10.0, 99.0, 1000.0}) {
        h.observe(v);
    }
    CHECK(h.counts == std::vector<std::uint64_t>{2, 2, 1});  // 1000 is only in +Inf
    CHECK(h.count == 6);
    CHECK(h.sum == Approx(1112.0));
}
