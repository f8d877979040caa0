#include "pprl/report.hpp"

#include "pprl/model.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace pprl {
namespace {

std::string fixed(double value, int decimals = 4) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

// Chart geometry shared by the three figures.
constexpr double width = 640, height = 300, left = 56, right = 16, top = 20, bottom = 44;

std::string axes(const std::string& x_label, const std::string& y_label, double x0, double x1, double y0, double y1,
                 int x_ticks, int y_ticks, bool log_y = false) {
    std::ostringstream svg;
    const double w = width - left - right, h = height - top - bottom;
    svg << "<rect x='" << left << "' y='" << top << "' width='" << w << "' height='" << h
        << "' fill='none' stroke='#888'/>";
    for (int i = 0; x_ticks > 0 && i <= x_ticks; ++i) {
        const double x = left + w * i / x_ticks;
        svg << "<line x1='" << x << "' y1='" << top + h << "' x2='" << x << "' y2='" << top + h + 4 << "' stroke='#888'/>"
            << "<text x='" << x << "' y='" << top + h + 16 << "' font-size='11' text-anchor='middle'>"
            << fixed(x0 + (x1 - x0) * i / x_ticks, 2) << "</text>";
    }
    for (int i = 0; i <= y_ticks; ++i) {
        const double y = top + h - h * i / y_ticks;
        const double value = y0 + (y1 - y0) * i / y_ticks;
        svg << "<line x1='" << left - 4 << "' y1='" << y << "' x2='" << left + w << "' y2='" << y
            << "' stroke='#eee'/><text x='" << left - 6 << "' y='" << y + 4 << "' font-size='11' text-anchor='end'>"
            << (log_y ? "1e" + fixed(value, 0) : fixed(value, 2)) << "</text>";
    }
    svg << "<text x='" << left + w / 2 << "' y='" << height - 6 << "' font-size='12' text-anchor='middle'>" << x_label
        << "</text><text x='14' y='" << top + h / 2 << "' font-size='12' text-anchor='middle' transform='rotate(-90 14 "
        << top + h / 2 << ")'>" << y_label << "</text>";
    return svg.str();
}

std::string open_svg(const std::string& label) {
    std::ostringstream svg;
    svg << "<svg xmlns='http://www.w3.org/2000/svg' role='img' aria-label='" << escape(label) << "' width='" << width
        << "' height='" << height << "' viewBox='0 0 " << width << " " << height << "'>";
    return svg.str();
}

std::string sweep_chart(const std::vector<SweepPoint>& sweep) {
    if (sweep.empty()) return "";
    const double x0 = sweep.front().threshold, x1 = sweep.back().threshold;
    const double w = width - left - right, h = height - top - bottom;
    auto px = [&](double t) { return left + (x1 > x0 ? (t - x0) / (x1 - x0) : 0.5) * w; };
    auto py = [&](double v) { return top + h - v * h; };
    std::ostringstream svg;
    svg << open_svg("precision, recall and F1 by threshold") << axes("threshold", "value", x0, x1, 0, 1, 5, 5);
    const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c"};
    const char* names[] = {"precision", "recall", "F1"};
    for (int series = 0; series < 3; ++series) {
        svg << "<polyline fill='none' stroke-width='2' stroke='" << colours[series] << "' points='";
        for (const auto& p : sweep) {
            const double v = series == 0 ? p.confusion.precision() : series == 1 ? p.confusion.recall() : p.confusion.f1();
            svg << fixed(px(p.threshold), 1) << "," << fixed(py(v), 1) << " ";
        }
        svg << "'/><rect x='" << left + 10 + 110 * series << "' y='" << top + h - 22 << "' width='12' height='4' fill='"
            << colours[series] << "'/><text x='" << left + 26 + 110 * series << "' y='" << top + h - 16
            << "' font-size='12'>" << names[series] << "</text>";
    }
    svg << "</svg>";
    return svg.str();
}

std::string histogram_chart(const Histogram& hist) {
    const std::size_t bins = hist.matches.size();
    if (bins == 0) return "";
    double top_log = 1;
    for (std::size_t i = 0; i < bins; ++i)
        top_log = std::max({top_log, std::log10(1.0 + hist.matches[i]), std::log10(1.0 + hist.non_matches[i])});
    top_log = std::ceil(top_log);
    const double w = width - left - right, h = height - top - bottom;
    std::ostringstream svg;
    svg << open_svg("score histogram of true and false pairs")
        << axes("Dice score", "pairs (log scale)", hist.low, hist.high, 0, top_log, 5, static_cast<int>(top_log), true);
    const double bar = w / static_cast<double>(bins);
    for (std::size_t i = 0; i < bins; ++i) {
        const double x = left + bar * static_cast<double>(i);
        const double non = std::log10(1.0 + hist.non_matches[i]) / top_log * h;
        const double match = std::log10(1.0 + hist.matches[i]) / top_log * h;
        svg << "<rect x='" << fixed(x, 1) << "' y='" << fixed(top + h - non, 1) << "' width='" << fixed(bar / 2, 1)
            << "' height='" << fixed(non, 1) << "' fill='#d62728' opacity='0.8'/>";
        svg << "<rect x='" << fixed(x + bar / 2, 1) << "' y='" << fixed(top + h - match, 1) << "' width='"
            << fixed(bar / 2, 1) << "' height='" << fixed(match, 1) << "' fill='#1f77b4' opacity='0.8'/>";
    }
    svg << "<rect x='" << left + 10 << "' y='" << top + 8 << "' width='12' height='8' fill='#1f77b4'/><text x='"
        << left + 26 << "' y='" << top + 16 << "' font-size='12'>same person</text><rect x='" << left + 130 << "' y='"
        << top + 8 << "' width='12' height='8' fill='#d62728'/><text x='" << left + 146 << "' y='" << top + 16
        << "' font-size='12'>different people</text></svg>";
    return svg.str();
}

std::string group_chart(const Quality& q) {
    if (q.groups.empty()) return "";
    const double w = width - left - right, h = height - top - bottom;
    double low = q.overall.f1();
    for (const auto& g : q.groups) low = std::min(low, g.confusion.f1());
    low = std::max(0.0, std::floor((low - 0.02) * 20) / 20);
    auto py = [&](double v) { return top + h - (v - low) / (1 - low) * h; };
    std::ostringstream svg;
    svg << open_svg("F1 per group") << axes("", "F1", 0, 1, low, 1, 0, 4);
    const double slot = w / static_cast<double>(q.groups.size());
    for (std::size_t i = 0; i < q.groups.size(); ++i) {
        const double f1 = q.groups[i].confusion.f1();
        const double x = left + slot * static_cast<double>(i) + slot * 0.2;
        svg << "<rect x='" << fixed(x, 1) << "' y='" << fixed(py(f1), 1) << "' width='" << fixed(slot * 0.6, 1)
            << "' height='" << fixed(top + h - py(f1), 1) << "' fill='#2ca02c'/><text x='" << fixed(x + slot * 0.3, 1)
            << "' y='" << fixed(py(f1) - 4, 1) << "' font-size='11' text-anchor='middle'>" << fixed(f1, 3)
            << "</text><text x='" << fixed(x + slot * 0.3, 1) << "' y='" << top + h + 30
            << "' font-size='12' text-anchor='middle'>" << escape(q.groups[i].group) << "</text>";
    }
    svg << "<line x1='" << left << "' x2='" << left + w << "' y1='" << fixed(py(q.overall.f1()), 1) << "' y2='"
        << fixed(py(q.overall.f1()), 1) << "' stroke='#333' stroke-dasharray='6 4'/><text x='" << left + 4
        << "' y='" << fixed(py(q.overall.f1()) - 4, 1) << "' font-size='11' text-anchor='start'>overall "
        << fixed(q.overall.f1(), 3) << "</text></svg>";
    return svg.str();
}

std::string quality_table(const Quality& q) {
    std::ostringstream html;
    html << "<table><tr><th>group</th><th>true pos.</th><th>false pos.</th><th>false neg.</th><th>precision</th>"
            "<th>recall</th><th>F1</th></tr>";
    auto row = [&](const std::string& name, const Confusion& c) {
        html << "<tr><td>" << escape(name) << "</td><td>" << c.true_positives << "</td><td>" << c.false_positives
             << "</td><td>" << c.false_negatives << "</td><td>" << fixed(c.precision()) << "</td><td>"
             << fixed(c.recall()) << "</td><td>" << fixed(c.f1()) << "</td></tr>";
    };
    row("overall", q.overall);
    for (const auto& g : q.groups) row(g.group, g.confusion);
    html << "</table>";
    if (!q.largest_gap_group.empty())
        html << "<p>Largest gap: <b>" << escape(q.largest_gap_group) << "</b>, F1 " << fixed(q.largest_gap * 100, 2)
             << " points from the overall F1.</p>";
    return html.str();
}

nlohmann::json confusion_json(const Confusion& c) {
    return {{"true_positives", c.true_positives}, {"false_positives", c.false_positives},
            {"false_negatives", c.false_negatives}, {"precision", c.precision()}, {"recall", c.recall()}, {"f1", c.f1()}};
}

nlohmann::json quality_json(const Quality& q) {
    nlohmann::json out = {{"overall", confusion_json(q.overall)}, {"unknown_records", q.unknown_records}};
    out["groups"] = nlohmann::json::object();
    for (const auto& g : q.groups) out["groups"][g.group] = confusion_json(g.confusion);
    if (!q.largest_gap_group.empty()) out["largest_gap"] = {{"group", q.largest_gap_group}, {"f1_gap", q.largest_gap}};
    return out;
}

}  // namespace

std::string render_html(const EvaluationReport& r) {
    std::ostringstream html;
    html << "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>" << escape(r.title)
         << "</title><style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
            "td:first-child,th:first-child{text-align:left}h2{margin-top:1.5em}figure{margin:1em 0}</style></head><body>"
         << "<h1>" << escape(r.title) << "</h1>";
    if (!r.notes.empty()) {
        html << "<table>";
        for (const auto& [name, value] : r.notes) html << "<tr><td>" << escape(name) << "</td><td>" << escape(value) << "</td></tr>";
        html << "</table>";
    }
    if (r.entities) {
        html << "<h2>Entities: pairwise quality</h2>" << quality_table(*r.entities);
        if (!r.entities->groups.empty()) html << "<figure>" << group_chart(*r.entities) << "<figcaption>F1 per group</figcaption></figure>";
    }
    if (r.stability) {
        html << "<h2>Entity id stability against the earlier export</h2><table><tr><th>people</th><th>kept their ids</th><th>share</th></tr>";
        const auto row = [&](const std::string& what, const StabilityCounts& c) {
            html << "<tr><td>" << escape(what) << "</td><td>" << c.kept << " of " << c.people << "</td><td>"
                 << fixed(100 * c.share(), 2) << "%</td></tr>";
        };
        row("all present in both", r.stability->all);
        row("whose entities kept the same members", r.stability->same_members);
        row("whose entities changed members", r.stability->changed_members);
        for (const auto& [group, c] : r.stability->by_group) row(group, c);
        html << "</table>";
    }
    if (r.pairs) html << "<h2>Pairs at threshold " << fixed(r.pairs_threshold, 3) << "</h2>" << quality_table(*r.pairs);
    if (!r.sweep.empty()) {
        html << "<h2>Threshold sweep</h2><figure>" << sweep_chart(r.sweep)
             << "<figcaption>Precision, recall and F1 of &ldquo;score &ge; threshold&rdquo;</figcaption></figure>";
        if (r.best)
            html << "<p>Best F1 " << fixed(r.best->confusion.f1()) << " at threshold " << fixed(r.best->threshold, 3)
                 << " (precision " << fixed(r.best->confusion.precision()) << ", recall "
                 << fixed(r.best->confusion.recall()) << ").</p>";
    }
    if (r.histogram)
        html << "<h2>Score distributions</h2><figure>" << histogram_chart(*r.histogram)
             << "<figcaption>Dice scores of pairs of the same person and of different people</figcaption></figure>";
    if (r.mixture)
        html << "<h2>Estimate without truth (EM mixture)</h2><p>Suggested threshold " << fixed(r.mixture->threshold, 3)
             << "; expected precision " << fixed(r.mixture->expected_precision) << ", expected recall "
             << fixed(r.mixture->expected_recall) << ". Components: matches N(" << fixed(r.mixture->match_mean, 3) << ", "
             << fixed(r.mixture->match_sd, 3) << "&sup2;) with weight " << fixed(r.mixture->match_weight, 3)
             << ", non-matches N(" << fixed(r.mixture->non_match_mean, 3) << ", " << fixed(r.mixture->non_match_sd, 3)
             << "&sup2;).</p>";
    html << "</body></html>\n";
    return html.str();
}

std::string render_json(const EvaluationReport& r) {
    nlohmann::json out;
    for (const auto& [name, value] : r.notes) out["notes"][name] = value;
    if (r.entities) out["entities"] = quality_json(*r.entities);
    if (r.stability) {
        const auto counts = [](const StabilityCounts& c) {
            return nlohmann::json{{"people", c.people}, {"kept", c.kept}, {"share", c.share()}};
        };
        out["id_stability"] = {{"all", counts(r.stability->all)},
                               {"same_members", counts(r.stability->same_members)},
                               {"changed_members", counts(r.stability->changed_members)}};
        for (const auto& [group, c] : r.stability->by_group) out["id_stability"]["groups"][group] = counts(c);
    }
    if (r.pairs) {
        out["pairs"] = quality_json(*r.pairs);
        out["pairs"]["threshold"] = r.pairs_threshold;
    }
    if (!r.sweep.empty()) {
        out["sweep"] = nlohmann::json::array();
        for (const auto& p : r.sweep) {
            nlohmann::json point = confusion_json(p.confusion);
            point["threshold"] = p.threshold;
            out["sweep"].push_back(point);
        }
    }
    if (r.best) out["best"] = {{"threshold", r.best->threshold}, {"f1", r.best->confusion.f1()},
                               {"precision", r.best->confusion.precision()}, {"recall", r.best->confusion.recall()}};
    if (r.histogram)
        out["histogram"] = {{"low", r.histogram->low}, {"high", r.histogram->high}, {"matches", r.histogram->matches},
                            {"non_matches", r.histogram->non_matches}};
    if (r.mixture)
        out["mixture"] = {{"threshold", r.mixture->threshold}, {"expected_precision", r.mixture->expected_precision},
                          {"expected_recall", r.mixture->expected_recall}, {"match_weight", r.mixture->match_weight},
                          {"match_mean", r.mixture->match_mean}, {"match_sd", r.mixture->match_sd},
                          {"non_match_mean", r.mixture->non_match_mean}, {"non_match_sd", r.mixture->non_match_sd},
                          {"iterations", r.mixture->iterations}};
    // Labels and file names come from outside: invalid UTF-8 is replaced (U+FFFD), never an exception.
    return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string percent_text(double share) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(2) << 100 * share << "%";
    return out.str();
}

namespace {

// The trade-off chart: F1 (up) against re-identification beyond chance (right), one labelled point
// per hardening, and the table behind it.
void render_tradeoff(std::ostringstream& h, const std::vector<PrivacyQualityPoint>& points) {
    double x_max = 0.01, f1_min = 1, f1_max = 0;
    for (const auto& p : points) {
        x_max = std::max(x_max, p.reidentified - p.chance);
        f1_min = std::min(f1_min, p.f1);
        f1_max = std::max(f1_max, p.f1);
    }
    f1_min = std::max(0.0, f1_min - 0.01);
    f1_max = std::min(1.0, f1_max + 0.01);
    if (f1_max <= f1_min) f1_max = f1_min + 0.01;
    constexpr double width = 600, height = 300, left = 50, bottom = 30;
    auto x_of = [&](double x) { return left + std::max(0.0, x) / x_max * (width - left - 120); };
    auto y_of = [&](double f1) { return (height - bottom) - (f1 - f1_min) / (f1_max - f1_min) * (height - bottom - 10); };
    char text[64];
    h << "<h2>Privacy and linkage quality</h2><p>Each hardening applied to this schema: the extract linked "
         "with a copy of itself given synthetic errors (F1 at the automatic threshold), against the share of "
         "records the strongest attack re-identifies beyond chance (any attack, any target the hub sees). Up and "
         "to the left is better.</p><svg width=\"" << width << "\" height=\"" << height << "\" role=\"img\">"
      << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width << "\" y2=\"" << height - bottom
      << "\" stroke=\"#888\"/><line x1=\"" << left << "\" y1=\"0\" x2=\"" << left << "\" y2=\"" << height - bottom
      << "\" stroke=\"#888\"/>";
    std::snprintf(text, sizeof text, "%.3f", f1_max);
    h << "<text x=\"0\" y=\"14\" font-size=\"10\">F1 " << text << "</text>";
    std::snprintf(text, sizeof text, "%.3f", f1_min);
    h << "<text x=\"0\" y=\"" << height - bottom << "\" font-size=\"10\">" << text << "</text>";
    h << "<text x=\"" << left << "\" y=\"" << height - 8 << "\" font-size=\"10\">0</text><text x=\""
      << x_of(x_max) - 60 << "\" y=\"" << height - 8 << "\" font-size=\"10\">" << percent_text(x_max)
      << " beyond chance</text>";
    for (const auto& p : points) {
        const double x = x_of(p.reidentified - p.chance), y = y_of(p.f1);
        h << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"4\" fill=\"#4a7ab5\"/><text x=\"" << x + 6 << "\" y=\""
          << y + 4 << "\" font-size=\"10\">" << escape(p.hardening) << "</text>";
    }
    h << "</svg><table><tr><th>hardening</th><th>bits</th><th>model</th><th>threshold</th><th>precision</th>"
         "<th>recall</th><th>F1</th><th>strongest attack</th><th>re-identified</th><th>chance</th></tr>";
    for (const auto& p : points) {
        h << "<tr><td>" << escape(p.hardening) << "</td><td>" << p.bits << "</td><td>" << escape(p.model) << "</td>";
        for (double v : {p.threshold, p.precision, p.recall, p.f1}) {
            std::snprintf(text, sizeof text, "%.4f", v);
            h << "<td>" << text << "</td>";
        }
        h << "<td>" << escape(p.attack) << " on " << escape(p.target) << "</td><td>" << percent_text(p.reidentified)
          << "</td><td>" << percent_text(p.chance) << "</td></tr>";
    }
    h << "</table>";
}

}  // namespace

std::string render_audit_html(const std::vector<AuditSection>& sections, const std::string& file,
                              const std::vector<PrivacyQualityPoint>& tradeoff) {
    std::ostringstream h;
    h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>pprl audit</title><style>"
         "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}td,th{padding:.2em .8em;text-align:right}"
         "th:first-child,td:first-child{text-align:left}table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}"
         ".warn{color:#b00}</style></head><body>";
    h << "<h1>pprl audit: " << escape(file) << "</h1><p>This report names plaintext values: keep it at the agency.</p>";
    if (!tradeoff.empty()) render_tradeoff(h, tradeoff);
    if (sections.size() > 1) {
        h << "<h2>Summary</h2><table><tr><th>target</th>";
        for (const auto& a : sections.front().report.attacks) h << "<th>" << escape(a.name) << "</th>";
        h << "</tr>";
        for (const AuditSection& section : sections) {
            h << "<tr><td>" << escape(section.target) << "</td>";
            for (const auto& a : section.report.attacks)
                h << "<td>" << percent_text(a.record_rate) << " (chance " << percent_text(a.chance_rate) << ")</td>";
            h << "</tr>";
        }
        h << "</table>";
    }
    for (const AuditSection& section : sections) {
        const AuditReport& r = section.report;
        const FilterStatistics& s = r.statistics;
        h << "<h2>" << escape(section.target) << "</h2><h3>Filters</h3><table>"
          << "<tr><td>records</td><td>" << s.records << "</td></tr><tr><td>bits</td><td>" << s.bits << "</td></tr>"
          << "<tr><td>bit frequency min / mean / max</td><td>" << std::setprecision(3) << s.bit_frequency_min << " / "
          << s.bit_frequency_mean << " / " << s.bit_frequency_max << "</td></tr>"
          << "<tr><td>bit frequency coefficient of variation</td><td>" << s.bit_frequency_cv << "</td></tr>"
          << "<tr><td>distinct filters</td><td>" << s.distinct_filters << "</td></tr>"
          << "<tr><td>records sharing their filter with another</td><td>" << s.records_in_duplicates << "</td></tr>"
          << "<tr><td>largest group of identical filters</td><td>" << s.largest_duplicate_group << "</td></tr>"
          << "<tr><td>popcount mean ± sd (min–max)</td><td>" << std::setprecision(1) << std::fixed << s.popcount_mean
          << " ± " << s.popcount_sd << " (" << s.popcount_min << "–" << s.popcount_max << ")</td></tr></table>";
        // Popcount histogram as inline SVG bars.
        std::size_t peak = 1;
        for (std::size_t c : s.popcount_histogram) peak = std::max(peak, c);
        h << "<h4>Popcount distribution</h4><svg width=\"640\" height=\"140\" role=\"img\">";
        for (std::size_t i = 0; i < s.popcount_histogram.size(); ++i) {
            const double height = 120.0 * static_cast<double>(s.popcount_histogram[i]) / static_cast<double>(peak);
            h << "<rect x=\"" << i * 20 << "\" y=\"" << 125 - height << "\" width=\"18\" height=\"" << height
              << "\" fill=\"#4a7ab5\"/>";
        }
        h << "<text x=\"0\" y=\"138\" font-size=\"10\">0</text><text x=\"600\" y=\"138\" font-size=\"10\">" << s.bits
          << "</text></svg>";
        h << "<h3>Attacks</h3><table><tr><th>attack</th><th>records re-identified</th><th>names re-identified</th>"
             "<th>chance</th><th>q-grams located</th></tr>";
        for (const auto& a : r.attacks) {
            const bool bad = a.record_rate > std::max(0.01, 1.5 * a.chance_rate);
            h << "<tr><td>" << escape(a.name) << "</td><td" << (bad ? " class=\"warn\"" : "") << ">" << percent_text(a.record_rate)
              << " (" << a.correct << " of " << a.records << ")</td><td>" << percent_text(a.name_rate) << " (" << a.names_correct
              << " of " << a.names << ")</td><td>" << percent_text(a.chance_rate) << "</td><td>"
              << (a.name == "bit-pattern mining" ? std::to_string(a.patterns) : "") << "</td></tr>";
        }
        h << "</table>";
        if (!r.vulnerabilities.empty()) {
            h << "<h3>Vulnerabilities</h3><p>Share of records whose group of similar encodings is one of at most two "
                 "that look alike by each measure (Vidanage et al. 2023), and the mean of 1 / that number.</p>"
                 "<table><tr><th>records</th>";
            for (const char* name : vulnerability_names) h << "<th>" << name << "</th>";
            h << "</tr>";
            for (const auto& v : r.vulnerabilities) {
                h << "<tr><td>" << (v.group.empty() ? std::string("all") : escape(v.group)) << " (" << v.records << ")</td>";
                for (std::size_t m = 0; m < vulnerability_measures; ++m) {
                    char mean[32];
                    std::snprintf(mean, sizeof mean, "%.3f", v.mean[m]);
                    h << "<td>" << percent_text(v.high[m]) << " (mean " << mean << ")</td>";
                }
                h << "</tr>";
            }
            h << "</table>";
        }
        for (const auto& a : r.attacks) {
            if (a.reidentified.empty()) continue;
            h << "<h4>" << escape(a.name) << ": values re-identified</h4><p>";
            for (std::size_t i = 0; i < a.reidentified.size() && i < 50; ++i)
                h << (i ? ", " : "") << escape(a.reidentified[i].first) << " (" << a.reidentified[i].second << ")";
            h << "</p>";
        }
    }
    h << "</body></html>\n";
    return h.str();
}

namespace {

// Histogram of scores with the threshold as a vertical line (linear counts).
std::string score_histogram(const std::vector<double>& scores, double threshold, const std::string& x_label) {
    if (scores.empty()) return "";
    double low = *std::min_element(scores.begin(), scores.end()), high = *std::max_element(scores.begin(), scores.end());
    low = std::min(low, threshold), high = std::max(high, threshold);
    if (high <= low) high = low + 1;
    constexpr std::size_t bins = 60;
    std::vector<std::size_t> counts(bins, 0);
    for (double v : scores) ++counts[std::min(bins - 1, static_cast<std::size_t>((v - low) / (high - low) * bins))];
    const double peak = static_cast<double>(std::max<std::size_t>(1, *std::max_element(counts.begin(), counts.end())));
    const double w = width - left - right, h = height - top - bottom, bar = w / bins;
    std::ostringstream svg;
    svg << open_svg("histogram of candidate scores") << axes(x_label, "candidate pairs", low, high, 0, peak, 5, 4);
    for (std::size_t i = 0; i < bins; ++i) {
        const double height_i = static_cast<double>(counts[i]) / peak * h;
        svg << "<rect x='" << fixed(left + bar * static_cast<double>(i), 1) << "' y='" << fixed(top + h - height_i, 1)
            << "' width='" << fixed(bar - 1, 1) << "' height='" << fixed(height_i, 1) << "' fill='#4a7ab5'/>";
    }
    const double x = left + (threshold - low) / (high - low) * w;
    svg << "<line x1='" << fixed(x, 1) << "' y1='" << top << "' x2='" << fixed(x, 1) << "' y2='" << top + h
        << "' stroke='#d62728' stroke-width='2'/><text x='" << fixed(x + 4, 1) << "' y='" << top + 12
        << "' font-size='11' fill='#d62728'>threshold</text></svg>";
    return svg.str();
}

// One pair's weight built up segment by segment from the prior.
std::string waterfall(const FellegiSunterModel& model, const std::uint8_t* levels, double total) {
    std::vector<std::pair<std::string, double>> steps = {{"prior", std::log2(model.prior / (1 - model.prior))}};
    for (std::size_t s = 0; s < model.segments.size(); ++s)
        steps.push_back({model.segments[s].name, model.segments[s].log2_factor(levels[s])});
    double interactions = total;
    for (const auto& step : steps) interactions -= step.second;
    steps.push_back({"interactions", interactions});
    double low = 0, high = 0, running = 0;
    for (const auto& step : steps) {
        running += step.second;
        low = std::min(low, running), high = std::max(high, running);
    }
    if (high - low < 1) high = low + 1;
    const double row = 16, label = 110, span = 420;
    auto px = [&](double v) { return label + (v - low) / (high - low) * span; };
    std::ostringstream svg;
    const double svg_height = row * static_cast<double>(steps.size() + 1) + 8;
    svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << label + span + 80 << "' height='" << svg_height
        << "' role='img' aria-label='weights by segment'>";
    running = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const double from = running, to = running + steps[i].second;
        running = to;
        const double y = 4 + row * static_cast<double>(i);
        svg << "<text x='0' y='" << y + 11 << "' font-size='11'>" << escape(steps[i].first) << "</text><rect x='"
            << fixed(px(std::min(from, to)), 1) << "' y='" << y << "' width='" << fixed(std::max(1.0, std::abs(px(to) - px(from))), 1)
            << "' height='" << row - 4 << "' fill='" << (steps[i].second >= 0 ? "#2ca02c" : "#d62728") << "'/><text x='"
            << fixed(px(std::max(from, to)) + 4, 1) << "' y='" << y + 11 << "' font-size='11'>" << fixed(steps[i].second, 2)
            << "</text>";
    }
    const double y = 4 + row * static_cast<double>(steps.size());
    svg << "<text x='0' y='" << y + 11 << "' font-size='11' font-weight='bold'>match weight</text><text x='"
        << fixed(px(total) + 4, 1) << "' y='" << y + 11 << "' font-size='11' font-weight='bold'>" << fixed(total, 2)
        << "</text><line x1='" << fixed(px(0), 1) << "' y1='0' x2='" << fixed(px(0), 1) << "' y2='" << svg_height
        << "' stroke='#888' stroke-dasharray='3,3'/></svg>";
    return svg.str();
}

}  // namespace

std::string render_link_html(const LinkResult& r, const std::function<std::string(std::uint32_t, std::uint32_t)>& record_id) {
    const FellegiSunterModel* model = r.fitted.get();
    std::ostringstream h;
    h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>pprl link</title><style>"
         "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}td,th{padding:.2em .6em;text-align:right}"
         "th:first-child,td:first-child{text-align:left}table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}"
         "</style></head><body><h1>pprl link</h1>";
    std::size_t links = 0;
    for (char l : r.linked) links += l != 0;
    h << "<table><tr><td>model</td><td>" << (model ? "Fellegi-Sunter over the segments" : "record-level Dice")
      << "</td></tr><tr><td>threshold" << (model ? " (match probability)" : " (Dice)") << "</td><td>"
      << fixed(r.threshold, 4) << "</td></tr><tr><td>estimated best threshold</td><td>"
      << (std::isnan(r.estimated_threshold) ? std::string("-") : fixed(r.estimated_threshold, 4))
      << "</td></tr><tr><td>pairs at or above the threshold</td><td>" << r.candidates.size()
      << "</td></tr><tr><td>links</td><td>" << links << "</td></tr><tr><td>records</td><td>" << r.entities.size()
      << "</td></tr></table>";
    if (!r.candidate_scores.empty()) {
        const double line = model ? std::log2(r.threshold / (1 - r.threshold)) : r.threshold;
        h << "<h2>Candidate pairs by " << (model ? "match weight" : "Dice") << "</h2>"
          << score_histogram(r.candidate_scores, line, model ? "match weight (log2 odds)" : "Dice");
    }
    if (model != nullptr) {
        h << "<h2>Fitted m and u</h2><p>u from " << model->random_pairs << " random pairs; m of each segment from the "
          << "candidates the other segments call matches; match share among the " << model->candidate_pairs
          << " candidates " << fixed(model->prior, 4) << ". Level 0 is a missing value (no weight); levels 1 to 8 are "
          << "segment Dice of at least ";
        for (std::size_t l = 0; l + 1 < level_floor.size(); ++l) h << (l ? ", " : "") << fixed(level_floor[l], 2);
        h << " and below.</p><table><tr><th>segment</th><th>level</th><th>m</th><th>u</th><th>weight (log2 m/u)</th></tr>";
        for (const SegmentWeights& segment : model->segments)
            for (std::size_t l = 1; l < similarity_levels; ++l)
                h << "<tr><td>" << escape(segment.name) << "</td><td>" << l << "</td><td>" << fixed(segment.m[l], 5)
                  << "</td><td>" << fixed(segment.u[l], 5) << "</td><td>" << fixed(segment.log2_factor(l), 2) << "</td></tr>";
        h << "</table>";
        const std::size_t n = model->segments.size();
        h << "<h3>Interactions (log2, subtracted when both segments agree)</h3><table><tr><th></th>";
        for (const SegmentWeights& segment : model->segments) h << "<th>" << escape(segment.name) << "</th>";
        h << "</tr>";
        for (std::size_t f = 0; f < n; ++f) {
            h << "<tr><td>" << escape(model->segments[f].name) << "</td>";
            for (std::size_t g = 0; g < n; ++g)
                h << "<td>" << (g > f && !model->interaction.empty() ? fixed(model->interaction[f * n + g], 2) : "") << "</td>";
            h << "</tr>";
        }
        h << "</table><h2>Pairs nearest the threshold</h2><p>Record ids and weights only.</p>";
        for (std::size_t k = 0; k < r.near_threshold.size(); ++k) {
            const ScoredPair& p = r.near_threshold[k];
            h << "<h4>" << escape(r.party_labels[p.party_a]) << " " << escape(record_id(p.party_a, p.a)) << " – "
              << escape(r.party_labels[p.party_b]) << " " << escape(record_id(p.party_b, p.b)) << ": probability "
              << fixed(FellegiSunterModel::probability(p.weight), 4)
              << (FellegiSunterModel::probability(p.weight) >= r.threshold ? " (above)" : " (below)") << "</h4>"
              << waterfall(*model, &r.near_threshold_levels[k * n], p.weight);
        }
    }
    h << "</body></html>\n";
    return h.str();
}

}  // namespace pprl
