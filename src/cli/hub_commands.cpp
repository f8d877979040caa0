// Hub-side commands: match (and, as they arrive, link and evaluate).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <set>

#include "commands.hpp"
#include "format/atomic_file.hpp"
#include "pprl/error.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/format.hpp"
#include "pprl/link.hpp"
#include "pprl/match.hpp"
#include "pprl/model.hpp"
#include "pprl/report.hpp"
#include "pprl/simd.hpp"
#include "pprl/tables.hpp"

namespace pprl::cli {

namespace {

// A Dice threshold more than this far from the estimate gets a warning.
constexpr double dice_threshold_tolerance = 0.075;

// Four decimals: weights and probabilities are estimates, not exact scores.
std::string format_score_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4f", value);
    return text;
}

}  // namespace

Command add_match(CLI::App& app) {
    struct Options {
        std::string a, b, threshold = "0.8", out, top_k;
        unsigned threads = 0;
        bool no_prune = false;
    };
    auto o = std::make_shared<Options>();
    app.add_option("a", o->a, "First encoded file")->required();
    app.add_option("b", o->b, "Second encoded file (omit to deduplicate the first: pairs i < j)");
    app.add_option("--threshold", o->threshold, "Dice threshold in (0, 1], exact decimal (default 0.8)");
    app.add_option("--top-k", o->top_k, "Keep at most K best matches per record of the first file (1 to 4294967295)");
    app.add_option("--threads", o->threads, "Worker threads (default: all cores)");
    app.add_flag("--no-prune", o->no_prune, "Disable popcount-bound pruning (for measurement; results are equal)");
    app.add_option("--out", o->out, "Pairs CSV to write (a_id,b_id,score; '-': standard output)")->required();
    return [o]() {
        const auto start = std::chrono::steady_clock::now();
        MatchOptions options;
        options.threshold = Threshold::parse(o->threshold);
        options.top_k = o->top_k.empty() ? 0 : parse_count("--top-k", o->top_k, UINT32_MAX);
        refuse_overwriting({o->out}, {o->a, o->b});
        options.threads = o->threads;
        options.prune = !o->no_prune;
        const bool dedup = o->b.empty();
        const FilterMatrix a = load_encoded_file(o->a);
        const FilterMatrix b = dedup ? a : load_encoded_file(o->b);
        const std::string warning = dedup ? "" : check_comparable(a, b);
        if (!warning.empty()) std::cerr << "pprl: warning: " << warning << "\n";
        const auto match_start = std::chrono::steady_clock::now();
        const Candidates pairs = dedup ? match_dedup(a, options) : match(a, b, options);
        const double match_seconds = seconds_since(match_start);
        if (!dedup) {
            // A threshold far from what these encodings call for gets a warning, from a sample.
            LinkOptions estimate_options;
            estimate_options.threads = o->threads;
            const double estimate = estimate_record_threshold({&a, &b}, estimate_options);
            if (std::abs(estimate - options.threshold.value()) > dice_threshold_tolerance)
                std::cerr << "pprl: warning: --threshold " << o->threshold
                          << " is far from the estimated best threshold " << format_score_text(estimate)
                          << " for these encodings (pprl link --threshold auto uses it)\n";
        }
        PairsWriter file(o->out, PairColumns::ids);
        for (std::size_t i = 0; i < pairs.size(); ++i)
            file.add({}, a.ids()[pairs.a_index[i]], {}, b.ids()[pairs.b_index[i]], pairs.score(i), false);
        file.commit();
        const double comparisons = dedup ? static_cast<double>(a.rows()) * (static_cast<double>(a.rows()) - 1) / 2
                                         : static_cast<double>(a.rows()) * static_cast<double>(b.rows());
        std::cerr << "pprl: " << with_commas(pairs.size()) << " pairs with Dice >= " << o->threshold << " among "
                  << with_commas(static_cast<std::uint64_t>(comparisons)) << " comparisons; matched in " << std::fixed
                  << std::setprecision(3) << match_seconds << " s (" << std::setprecision(2)
                  << (match_seconds > 0 ? comparisons / match_seconds / 1e9 : 0.0) << " G pairs/s, backend "
                  << simd::active_backend() << "), total " << seconds_since(start) << " s\n";
        return 0;
    };
}

}  // namespace pprl::cli

namespace pprl::cli {

namespace {

// Is a given threshold far from the estimated one: dice_threshold_tolerance in Dice, or a factor of
// 32 in the odds of a match probability?
bool threshold_far(const LinkResult& result) {
    const double given = result.threshold, estimate = result.estimated_threshold;
    if (std::isnan(estimate)) return false;
    if (result.model == LinkModel::record) return std::abs(given - estimate) > dice_threshold_tolerance;
    auto log_odds = [](double p) { return std::log2(std::max(p, 1e-300) / std::max(1.0 - p, 1e-300)); };
    return std::abs(log_odds(given) - log_odds(estimate)) > 5;
}

// Entities, and with a path the scored pairs, of a link run.
void write_link_tables(const LinkResult& result, const std::vector<FilterMatrix>& files, const std::string& entities_path,
                       const std::string& pairs_path, const std::string& report_path) {
    const std::vector<std::string>& labels = result.party_labels;
    // The report is written first and appears only after the entities.
    std::unique_ptr<AtomicFile> report;
    if (!report_path.empty()) {
        report = std::make_unique<AtomicFile>(report_path);
        report->write(render_link_html(result, [&](std::uint32_t party, std::uint32_t row) { return files[party].ids()[row]; }));
    }
    EntitiesWriter entities(entities_path);
    for (std::size_t i = 0; i < result.entities.size(); ++i)
        entities.add(labels[result.entities.party[i]], files[result.entities.party[i]].ids()[result.entities.record[i]],
                     result.entities.entity_id[i]);
    if (!pairs_path.empty()) {
        // Under Fellegi–Sunter: the match weight and probability, and each segment's level and weight.
        std::vector<std::string> extra_columns;
        const FellegiSunterModel* model = result.fitted.get();
        if (model != nullptr) {
            extra_columns = {"match_weight", "match_probability"};
            for (const SegmentWeights& segment : model->segments) {
                extra_columns.push_back(segment.name + "_level");
                extra_columns.push_back(segment.name + "_weight");
            }
        }
        PairsWriter pairs(pairs_path, PairColumns::with_parties, extra_columns);
        std::string extra;
        for (std::size_t k = 0; k < result.candidates.size(); ++k) {
            const ScoredPair& p = result.candidates[k];
            extra.clear();
            if (model != nullptr) {
                extra = format_score_text(p.weight) + "," + format_score_text(FellegiSunterModel::probability(p.weight));
                for (std::size_t s = 0; s < model->segments.size(); ++s) {
                    const std::uint8_t level = result.levels[k * model->segments.size() + s];
                    extra += "," + std::to_string(level) + "," + format_score_text(model->segments[s].log2_factor(level));
                }
            }
            pairs.add(labels[p.party_a], files[p.party_a].ids()[p.a], labels[p.party_b], files[p.party_b].ids()[p.b],
                      p.score(), result.linked[k] != 0, extra);
        }
        entities.commit();  // the main output first: the pairs appear only beside it
        pairs.commit();
        if (report) report->commit();
        return;
    }
    entities.commit();
    if (report) report->commit();
}

// Records, entities, pairs and links; comparisons made; with a truth file, LSH's pairs completeness.
void print_link_summary(const LinkResult& result, const std::vector<FilterMatrix>& files, const LinkOptions& options,
                        const std::string& method, const Truth* truth) {
    std::set<std::string> distinct(result.entities.entity_id.begin(), result.entities.entity_id.end());
    std::size_t links = 0;
    for (char l : result.linked) links += l != 0;
    const bool fs = result.model == LinkModel::fellegi_sunter;
    if (const FellegiSunterModel* model = result.fitted.get()) {
        std::cerr << "pprl: Fellegi-Sunter model over " << model->segments.size() << " segments: u from "
                  << with_commas(model->random_pairs) << " random pairs, m from those of the "
                  << with_commas(model->candidate_pairs) << " candidates that the other segments call matches";
        if (model->iterations > 0)
            std::cerr << ", refined by EM (" << model->iterations << " iterations"
                      << (model->converged ? "" : ", not converged") << ")";
        std::cerr << "; match prior among candidates " << std::setprecision(4) << model->prior << "\n";
    }
    std::cerr << "pprl: threshold " << (options.auto_threshold ? "auto: " : "") << format_score(result.threshold)
              << (fs ? " (match probability)" : " (Dice)") << "\n";
    std::cerr << "pprl: " << with_commas(result.entities.size()) << " records in " << with_commas(distinct.size())
              << " entities; " << with_commas(result.candidates.size()) << " pairs >= " << format_score(result.threshold)
              << ", " << with_commas(links) << " links (" << method << ")\n";
    std::cerr << "pprl: compared " << with_commas(result.comparisons) << " of " << with_commas(result.possible_pairs)
              << " possible pairs (reduction ratio " << std::fixed << std::setprecision(6)
              << (result.possible_pairs ? 1.0 - static_cast<double>(result.comparisons) / result.possible_pairs : 0.0)
              << ")";
    if (truth != nullptr) {
        std::vector<const std::vector<std::string>*> ids;
        for (const auto& f : files) ids.push_back(&f.ids());
        const double completeness =
            options.blocking ? pairs_completeness(*truth, result.party_labels, ids, result.blocked_pairs) : 1.0;
        std::cerr << ", pairs completeness " << std::setprecision(4) << completeness;
    }
}

}  // namespace

Command add_link(CLI::App& app) {
    struct Options {
        std::vector<std::string> inputs;
        std::string threshold = "auto", model = "auto", method = "greedy", merge = "parties", blocking = "none", out,
            pairs_out, truth, report;
        std::string candidate_floor = "0.5", candidate_top_k = "auto";
        unsigned threads = 0;
        std::uint64_t seed = 0x5eed;
    };
    auto o = std::make_shared<Options>();
    app.add_option("files", o->inputs, "Encoded files, one per party (one file: deduplicate it)")->required();
    app.add_option("--model", o->model,
                   "auto (fs for segmented encodings, else record), record (Dice of the whole filters) or fs "
                   "(Fellegi-Sunter over the segments, m/u estimated from the encodings)")
        ->check(CLI::IsMember({"auto", "record", "fs"}));
    app.add_option("--threshold", o->threshold,
                   "auto (default: chosen from the data), or a Dice threshold (record) or match probability (fs) in "
                   "(0, 1], exact decimal");
    app.add_option("--candidate-floor", o->candidate_floor,
                   "fs and auto: least record-level Dice of a candidate pair (default 0.5)");
    app.add_option("--candidate-top-k", o->candidate_top_k,
                   "fs and auto: candidates kept per record (default auto: 3 per record of the first party of a "
                   "pair for record, 10 per record of either party for fs)");
    app.add_option("--method", o->method, "greedy or optimal one-to-one assignment")
        ->check(CLI::IsMember({"greedy", "optimal"}));
    app.add_option("--merge", o->merge,
                   "three or more parties: merge two clusters when they share no party (parties, default) or only "
                   "when every pair across them is a candidate (clique: anonlink's greedy_solve)")
        ->check(CLI::IsMember({"parties", "clique"}));
    app.add_option("--blocking", o->blocking, "none (exact all pairs, default) or lsh[:L,K] (Hamming LSH)");
    app.add_option("--seed", o->seed, "Seed for the LSH bit positions");
    app.add_option("--threads", o->threads, "Worker threads (default: all cores)");
    app.add_option("--out", o->out, "Entities CSV to write (party,record_id,entity_id; '-': standard output)")->required();
    app.add_option("--pairs-out", o->pairs_out, "Also write every scored pair (party_a,a_id,party_b,b_id,score,linked)");
    app.add_option("--truth", o->truth, "truth.csv (party,record_id,person_id[,group]) to report pairs completeness");
    app.add_option("--report", o->report,
                   "Write an HTML report of the model: score histogram with the threshold; under fs the fitted m/u per "
                   "segment and level and the weights of the pairs nearest the threshold (ids and weights only)");
    return [o]() {
        const auto start = std::chrono::steady_clock::now();
        LinkOptions options;
        options.auto_threshold = o->threshold == "auto";
        if (!options.auto_threshold) options.threshold = Threshold::parse(o->threshold);
        options.model = o->model == "fs" ? LinkModel::fellegi_sunter : o->model == "record" ? LinkModel::record
                                                                                             : LinkModel::automatic;
        options.candidate_floor = Threshold::parse(o->candidate_floor);
        options.candidate_top_k =
            o->candidate_top_k == "auto" ? 0 : parse_count("--candidate-top-k", o->candidate_top_k, UINT32_MAX);
        options.method = o->method == "optimal" ? LinkMethod::optimal : LinkMethod::greedy;
        options.merge = o->merge == "clique" ? MergeRule::clique : MergeRule::disjoint_parties;
        options.threads = o->threads;
        options.set_blocking(o->blocking);
        options.lsh.seed = o->seed;
        options.keep_blocked_pairs = options.blocking && !o->truth.empty();
        options.estimate_threshold = !options.auto_threshold;
        std::vector<std::string> inputs = o->inputs;
        inputs.push_back(o->truth);
        refuse_overwriting({o->out, o->pairs_out, o->report}, inputs);
        // The truth is read before any output is written, so a bad truth file leaves nothing behind.
        std::optional<Truth> truth;
        if (!o->truth.empty()) truth = Truth::from_file(o->truth);
        std::vector<FilterMatrix> files;
        for (const auto& path : o->inputs) files.push_back(load_encoded_file(path));
        std::vector<const FilterMatrix*> parties;
        for (const auto& f : files) parties.push_back(&f);
        const auto load_done = std::chrono::steady_clock::now();
        const LinkResult result = link(parties, options);
        const double link_seconds = seconds_since(load_done);
        for (const auto& warning : result.warnings) std::cerr << "pprl: warning: " << warning << "\n";
        if (!options.auto_threshold && threshold_far(result))
            std::cerr << "pprl: warning: --threshold " << o->threshold << " is far from the estimated best threshold "
                      << format_score_text(result.estimated_threshold) << " for these encodings (--threshold auto uses it)\n";
        write_link_tables(result, files, o->out, o->pairs_out, o->report);
        print_link_summary(result, files, options, o->method, truth ? &*truth : nullptr);
        std::cerr << "\npprl: linked in " << std::setprecision(2) << link_seconds << " s, total "
                  << seconds_since(start) << " s\n";
        return 0;
    };
}

}  // namespace pprl::cli
