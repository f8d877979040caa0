// Hub-side commands: match (and, as they arrive, link and evaluate).
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <set>

#include "commands.hpp"
#include "pprl/error.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/format.hpp"
#include "pprl/link.hpp"
#include "pprl/match.hpp"
#include "pprl/simd.hpp"
#include "pprl/tables.hpp"

namespace pprl::cli {

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
    app.add_option("--out", o->out, "Pairs CSV to write (a_id,b_id,score)")->required();
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

// Entities, and with a path the scored pairs, of a link run.
void write_link_tables(const LinkResult& result, const std::vector<FilterMatrix>& files, const std::string& entities_path,
                       const std::string& pairs_path) {
    const std::vector<std::string>& labels = result.party_labels;
    EntitiesWriter entities(entities_path);
    for (std::size_t i = 0; i < result.entities.size(); ++i)
        entities.add(labels[result.entities.party[i]], files[result.entities.party[i]].ids()[result.entities.record[i]],
                     result.entities.entity_id[i]);
    if (!pairs_path.empty()) {
        PairsWriter pairs(pairs_path, PairColumns::with_parties);
        for (std::size_t k = 0; k < result.candidates.size(); ++k) {
            const ScoredPair& p = result.candidates[k];
            pairs.add(labels[p.party_a], files[p.party_a].ids()[p.a], labels[p.party_b], files[p.party_b].ids()[p.b],
                      p.score(), result.linked[k] != 0);
        }
        entities.commit();  // the main output first: the pairs appear only beside it
        pairs.commit();
        return;
    }
    entities.commit();
}

// Records, entities, pairs and links; comparisons made; with a truth file, LSH's pairs completeness.
void print_link_summary(const LinkResult& result, const std::vector<FilterMatrix>& files, const LinkOptions& options,
                        const std::string& threshold, const std::string& method, const Truth* truth) {
    std::set<std::string> distinct(result.entities.entity_id.begin(), result.entities.entity_id.end());
    std::size_t links = 0;
    for (char l : result.linked) links += l != 0;
    std::cerr << "pprl: " << with_commas(result.entities.size()) << " records in " << with_commas(distinct.size())
              << " entities; " << with_commas(result.candidates.size()) << " pairs >= " << threshold << ", "
              << with_commas(links) << " links (" << method << ")\n";
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
        std::string threshold = "0.8", method = "greedy", blocking = "none", out, pairs_out, truth;
        unsigned threads = 0;
        std::uint64_t seed = 0x5eed;
    };
    auto o = std::make_shared<Options>();
    app.add_option("files", o->inputs, "Encoded files, one per party (one file: deduplicate it)")->required();
    app.add_option("--threshold", o->threshold, "Dice threshold in (0, 1], exact decimal (default 0.8)");
    app.add_option("--method", o->method, "greedy or optimal one-to-one assignment")
        ->check(CLI::IsMember({"greedy", "optimal"}));
    app.add_option("--blocking", o->blocking, "none (exact all pairs, default) or lsh[:L,K] (Hamming LSH)");
    app.add_option("--seed", o->seed, "Seed for the LSH bit positions");
    app.add_option("--threads", o->threads, "Worker threads (default: all cores)");
    app.add_option("--out", o->out, "Entities CSV to write (party,record_id,entity_id)")->required();
    app.add_option("--pairs-out", o->pairs_out, "Also write every scored pair (party_a,a_id,party_b,b_id,score,linked)");
    app.add_option("--truth", o->truth, "truth.csv (party,record_id,person_id[,group]) to report pairs completeness");
    return [o]() {
        const auto start = std::chrono::steady_clock::now();
        LinkOptions options;
        options.threshold = Threshold::parse(o->threshold);
        options.method = o->method == "optimal" ? LinkMethod::optimal : LinkMethod::greedy;
        options.threads = o->threads;
        options.set_blocking(o->blocking);
        options.lsh.seed = o->seed;
        options.keep_blocked_pairs = options.blocking && !o->truth.empty();
        std::vector<std::string> inputs = o->inputs;
        inputs.push_back(o->truth);
        refuse_overwriting({o->out, o->pairs_out}, inputs);
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
        write_link_tables(result, files, o->out, o->pairs_out);
        print_link_summary(result, files, options, o->threshold, o->method, truth ? &*truth : nullptr);
        std::cerr << "\npprl: linked in " << std::setprecision(2) << link_seconds << " s, total "
                  << seconds_since(start) << " s\n";
        return 0;
    };
}

}  // namespace pprl::cli
