// Quality commands: synth (test data with truth) and evaluate (P/R/F1, per group, report).
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "pprl/error.hpp"
#include "pprl/evaluate.hpp"
#include "format/atomic_file.hpp"
#include "pprl/report.hpp"
#include "pprl/synth.hpp"

namespace pprl::cli {

Command add_synth(CLI::App& app) {
    struct Options {
        std::size_t people = 20000;
        std::uint64_t seed = 1;
        int years = 1;
        std::string out_dir, parties = "city,schools,promise";
    };
    auto o = std::make_shared<Options>();
    app.add_option("--people", o->people, "Number of young people in the population (default 20000)");
    app.add_option("--seed", o->seed, "Random seed (same seed, same files)");
    app.add_option("--out-dir", o->out_dir, "Directory for <party>.csv and truth.csv")->required();
    app.add_option("--parties", o->parties, "Comma-separated parties: city, schools, promise (default all three)");
    app.add_option("--years", o->years,
                   "Several yearly extracts (1 to 50), each in <out-dir>/<year>/, the last year 2026; person ids are "
                   "the same in every year's truth");
    return [o]() {
        SynthOptions options;
        options.people = o->people;
        options.seed = o->seed;
        std::vector<std::string> names;
        std::stringstream list(o->parties);
        for (std::string name; std::getline(list, name, ',');) names.push_back(name);
        options.parties = synth_parties(names);
        if (options.parties.empty()) throw UsageError("--parties is empty");
        const auto report = [](const SynthOutput& output, const std::string& dir) {
            for (std::size_t p = 0; p < output.party_names.size(); ++p)
                std::cerr << "pprl: " << output.party_names[p] << ": " << with_commas(output.records[p].size())
                          << " records -> " << dir << "/" << output.party_names[p] << ".csv\n";
            std::cerr << "pprl: truth -> " << dir << "/truth.csv\n";
        };
        if (o->years == 1) {
            const SynthOutput output = synthesize(options);
            write_synth(output, o->out_dir);
            report(output, o->out_dir);
            return 0;
        }
        const std::vector<SynthYear> years = synthesize_years(options, o->years);
        write_synth_years(years, o->out_dir);
        for (const SynthYear& year : years) report(year.output, o->out_dir + "/" + std::to_string(year.reference_year));
        return 0;
    };
}

namespace {

void print_stability(std::ostream& out, const IdStability& stability, bool by_group) {
    const auto line = [&](const char* what, const StabilityCounts& counts) {
        out << what << with_commas(counts.kept) << " of " << with_commas(counts.people) << " people ("
            << std::fixed << std::setprecision(2) << 100 * counts.share() << "%)\n";
    };
    line("id stability: kept their entity ids: ", stability.all);
    line("  whose entities kept the same members: ", stability.same_members);
    line("  whose entities changed members: ", stability.changed_members);
    if (by_group)
        for (const auto& [group, counts] : stability.by_group) line(("  " + group + ": ").c_str(), counts);
}

void print_quality(std::ostream& out, const std::string& what, const Quality& q, bool by_group) {
    out << what << ": precision " << std::fixed << std::setprecision(4) << q.overall.precision() << ", recall "
              << q.overall.recall() << ", F1 " << q.overall.f1() << " (TP " << q.overall.true_positives << ", FP "
              << q.overall.false_positives << ", FN " << q.overall.false_negatives << ")\n";
    if (by_group) {
        for (const auto& g : q.groups)
            out << "  " << g.group << ": precision " << g.confusion.precision() << ", recall "
                      << g.confusion.recall() << ", F1 " << g.confusion.f1() << "\n";
        if (!q.largest_gap_group.empty())
            out << "  largest gap: " << q.largest_gap_group << " (" << std::setprecision(2) << q.largest_gap * 100
                      << " F1 points from overall)\n"
                      << std::setprecision(4);
    }
    if (q.unknown_records > 0) std::cerr << "pprl: warning: " << q.unknown_records << " records are not in the truth file\n";
}

// A pairs file against the truth: a sweep over every threshold from its lowest score up, the best
// one, the quality at `threshold` (or the best), score histograms and the EM estimate.
void evaluate_pairs_file(std::ostream& out, EvaluationReport& report, const Truth& truth,
                         const std::vector<PairRow>& pairs, const std::string& threshold, bool by_group) {
    double low = 1.0;
    std::vector<double> scores;
    for (const auto& p : pairs) {
        low = std::min(low, p.score);
        scores.push_back(p.score);
    }
    low = std::floor(low * 100) / 100;
    std::vector<double> thresholds;
    for (int t = static_cast<int>(std::lround(low * 100)); t <= 100; ++t) thresholds.push_back(t / 100.0);
    report.sweep = threshold_sweep(truth, pairs, thresholds);
    for (const auto& point : report.sweep)
        if (!report.best || point.confusion.f1() > report.best->confusion.f1()) report.best = point;
    report.pairs_threshold = !threshold.empty() ? parse_unit_interval("--threshold", threshold)
                                                : (report.best ? report.best->threshold : low);
    report.pairs = evaluate_pairs(truth, pairs, report.pairs_threshold);
    report.histogram = score_histogram(truth, pairs, low, 40);
    print_quality(out, "pairs at " + std::to_string(report.pairs_threshold).substr(0, 5), *report.pairs, by_group);
    if (report.best)
        out << "best threshold " << std::setprecision(2) << report.best->threshold << " (F1 " << std::setprecision(4)
                  << report.best->confusion.f1() << ")\n";
    if (scores.size() >= 4) {
        report.mixture = fit_mixture(scores);
        out << "without truth (EM): threshold " << std::setprecision(3) << report.mixture->threshold
                  << ", expected precision " << std::setprecision(4) << report.mixture->expected_precision
                  << ", expected recall " << report.mixture->expected_recall << "\n";
    }
}

// A file written but not committed yet.
std::unique_ptr<AtomicFile> written(const std::string& path, const std::string& text) {
    auto file = std::make_unique<AtomicFile>(path);
    file->write(text);
    return file;
}

}  // namespace

Command add_evaluate(CLI::App& app) {
    struct Options {
        std::string truth, entities, pairs, parties, by, report, json, threshold, previous_entities, previous_truth;
    };
    auto o = std::make_shared<Options>();
    app.add_option("--truth", o->truth, "truth.csv (party,record_id,person_id[,group]); '-': standard input, as for the next two")->required();
    app.add_option("--entities", o->entities, "entities.csv from pprl link");
    app.add_option("--pairs", o->pairs, "pairs CSV with scores (pprl match, or pprl link --pairs-out)");
    app.add_option("--parties", o->parties, "A,B: the two parties of a pprl match pairs file (which has no party columns)");
    app.add_option("--threshold", o->threshold, "Evaluate the pairs file at this threshold (default: its best F1)");
    app.add_option("--by", o->by, "Break results down by this truth column (only 'group' is supported)")
        ->check(CLI::IsMember({"group"}));
    app.add_option("--previous-entities", o->previous_entities,
                   "An earlier registry export (pprl registry export): report entity id stability against it");
    app.add_option("--previous-truth", o->previous_truth, "The truth of that earlier year (default: --truth)");
    app.add_option("--report", o->report, "Write a self-contained HTML report");
    app.add_option("--json", o->json, "Write every figure as JSON ('-': standard output, the figures then to standard error)");
    return [o]() {
        if (o->entities.empty() && o->pairs.empty()) throw UsageError("give --entities, --pairs or both");
        if (!o->previous_entities.empty() && o->entities.empty()) throw UsageError("--previous-entities needs --entities");
        if (!o->threshold.empty()) parse_unit_interval("--threshold", o->threshold);
        refuse_overwriting({o->report, o->json}, {o->truth, o->entities, o->pairs, o->previous_entities, o->previous_truth});
        // The figures go to standard output unless a report or the JSON does.
        std::ostream& out = o->report == standard_stream || o->json == standard_stream ? std::cerr : std::cout;
        const Truth truth = Truth::from_file(o->truth);
        EvaluationReport report;
        report.notes.push_back({"truth", o->truth});
        if (!o->entities.empty()) {
            report.entities = evaluate_entities(truth, read_entities(o->entities));
            report.notes.push_back({"entities", o->entities});
            print_quality(out, "entities", *report.entities, !o->by.empty());
        }
        if (!o->previous_entities.empty()) {
            const Truth previous = o->previous_truth.empty() ? truth : Truth::from_file(o->previous_truth);
            report.stability = id_stability(previous, read_entities(o->previous_entities), truth, read_entities(o->entities));
            report.notes.push_back({"previous entities", o->previous_entities});
            print_stability(out, *report.stability, !o->by.empty());
        }
        if (!o->pairs.empty()) {
            std::string party_a, party_b;
            if (!o->parties.empty()) {
                const auto comma = o->parties.find(',');
                if (comma == std::string::npos) throw UsageError("--parties takes A,B");
                party_a = o->parties.substr(0, comma);
                party_b = o->parties.substr(comma + 1);
            }
            report.notes.push_back({"pairs", o->pairs});
            evaluate_pairs_file(out, report, truth, read_pairs(o->pairs, party_a, party_b), o->threshold, !o->by.empty());
        }
        // Both written before either appears, so one failing leaves neither.
        std::unique_ptr<AtomicFile> html, json;
        if (!o->report.empty()) html = written(o->report, render_html(report));
        if (!o->json.empty()) json = written(o->json, render_json(report));
        if (html) html->commit();
        if (json) json->commit();
        if (html) std::cerr << "pprl: report -> " << o->report << "\n";
        return 0;
    };
}

}  // namespace pprl::cli
