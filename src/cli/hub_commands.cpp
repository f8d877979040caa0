// Hub-side commands: match (and, as they arrive, link and evaluate).
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "pprl/csv.hpp"
#include "pprl/format.hpp"
#include "pprl/io.hpp"
#include "pprl/match.hpp"
#include "pprl/simd.hpp"

namespace pprl::cli {

Command add_match(CLI::App& app) {
    struct Options {
        std::string a, b, threshold = "0.8", out;
        std::size_t top_k = 0;
        unsigned threads = 0;
        bool no_prune = false;
    };
    auto o = std::make_shared<Options>();
    app.add_option("a", o->a, "First encoded file")->required();
    app.add_option("b", o->b, "Second encoded file")->required();
    app.add_option("--threshold", o->threshold, "Dice threshold in (0, 1], exact decimal (default 0.8)");
    app.add_option("--top-k", o->top_k, "Keep at most K best matches per record of the first file");
    app.add_option("--threads", o->threads, "Worker threads (default: all cores)");
    app.add_flag("--no-prune", o->no_prune, "Disable popcount-bound pruning (for measurement; results are equal)");
    app.add_option("--out", o->out, "Pairs CSV to write (a_id,b_id,score)")->required();
    return [o]() {
        const auto start = std::chrono::steady_clock::now();
        MatchOptions options;
        options.threshold = Threshold::parse(o->threshold);
        options.top_k = o->top_k;
        options.threads = o->threads;
        options.prune = !o->no_prune;
        const FilterMatrix a = load_encoded_file(o->a);
        const FilterMatrix b = load_encoded_file(o->b);
        const std::string warning = check_comparable(a, b);
        if (!warning.empty()) std::cerr << "pprl: warning: " << warning << "\n";
        const auto match_start = std::chrono::steady_clock::now();
        const Candidates pairs = match(a, b, options);
        const double match_seconds = seconds_since(match_start);
        AtomicFile file(o->out);
        file.write("a_id,b_id,score\n");
        std::string line;
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            line.clear();
            append_csv_field(line, a.ids()[pairs.a_index[i]]);
            line += ',';
            append_csv_field(line, b.ids()[pairs.b_index[i]]);
            line += ',';
            line += format_score(pairs.score(i));
            line += '\n';
            file.write(line);
        }
        file.commit();
        const double comparisons = static_cast<double>(a.rows()) * static_cast<double>(b.rows());
        std::cerr << "pprl: " << with_commas(pairs.size()) << " pairs with Dice >= " << o->threshold << " among "
                  << with_commas(static_cast<std::uint64_t>(comparisons)) << " comparisons; matched in " << std::fixed
                  << std::setprecision(3) << match_seconds << " s (" << std::setprecision(2)
                  << (match_seconds > 0 ? comparisons / match_seconds / 1e9 : 0.0) << " G pairs/s, backend "
                  << simd::active_backend() << "), total " << seconds_since(start) << " s\n";
        return 0;
    };
}

}  // namespace pprl::cli
