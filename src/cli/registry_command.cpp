// pprl registry: the hub's registry of entities across refreshes (pprl/registry.hpp).
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "format/atomic_file.hpp"
#include "format/csv.hpp"
#include "pprl/error.hpp"
#include "pprl/registry.hpp"

namespace pprl::cli {
namespace {

nlohmann::ordered_json event_json(const RegistryEvent& event) {
    nlohmann::ordered_json out;
    out["event"] = event.id;
    out["kind"] = event.kind;
    out["as_of"] = event.as_of;
    out["recorded_at"] = event.recorded_at;
    out["entity"] = event.entity;
    out["other"] = event.other;
    out["party"] = event.party;
    out["record_id"] = event.record_id;
    out["detail"] = event.detail;
    return out;
}

void print_event(const RegistryEvent& event) {
    std::cout << event.id << "  " << (event.as_of.empty() ? "          " : event.as_of) << "  " << std::left
              << std::setw(6) << event.kind << std::right;
    if (!event.entity.empty()) std::cout << "  entity " << event.entity;
    if (!event.party.empty()) std::cout << "  party " << event.party;
    if (!event.record_id.empty()) std::cout << "  record " << event.record_id;
    std::cout << "  " << event.detail << "\n";
}

void print_memberships(const std::vector<RegistryMembership>& periods) {
    std::cout << "party,record_id,entity_id,from,until\n";
    for (const RegistryMembership& period : periods) {
        std::string line;
        for (const std::string* field : {&period.party, &period.record_id, &period.entity_id, &period.from, &period.until}) {
            if (!line.empty()) line += ',';
            append_csv_field(line, *field);
        }
        std::cout << line << "\n";
    }
}

}  // namespace

Command add_registry(CLI::App& app) {
    app.require_subcommand(1);
    struct Options {
        std::string db, file, party, as_of, label, threshold, method = "greedy", merge = "parties", blocking = "none", out,
            entity, record, since, record_id;
        unsigned threads = 0;
        std::uint64_t seed = 0x5eed;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto registry_argument = [&](CLI::App* sub) { sub->add_option("db", o->db, "The registry (an SQLite file)")->required(); };

    CLI::App* init = app.add_subcommand("init", "Create an empty registry");
    registry_argument(init);

    CLI::App* ingest = app.add_subcommand("ingest", "Add one party's extract (a .pprl file)");
    registry_argument(ingest);
    ingest->add_option("file", o->file, "The encoded extract")->required();
    ingest->add_option("--party", o->party, "The party that sent it")->required();
    ingest->add_option("--as-of", o->as_of, "The date the extract describes (YYYY-MM-DD)")->required();
    ingest->add_option("--label", o->label, "A name for the extract (a term, a year)");

    CLI::App* link = app.add_subcommand("link", "Bring every entity up to date (scores only new and updated records)");
    registry_argument(link);
    link->add_option("--threshold", o->threshold, "Dice threshold in (0, 1], exact decimal")->required();
    link->add_option("--method", o->method, "greedy or optimal one-to-one assignment")->check(CLI::IsMember({"greedy", "optimal"}));
    link->add_option("--merge", o->merge, "three or more parties: parties (default) or clique, as pprl link")
        ->check(CLI::IsMember({"parties", "clique"}));
    link->add_option("--blocking", o->blocking, "none (exact all pairs, default) or lsh[:L,K] (Hamming LSH)");
    link->add_option("--seed", o->seed, "Seed for the LSH bit positions");
    link->add_option("--threads", o->threads, "Worker threads (default: all cores)");

    CLI::App* export_ = app.add_subcommand("export", "Write party,record_id,entity_id,last_seen as the registry stood on a date");
    registry_argument(export_);
    export_->add_option("--out", o->out, "Entities CSV to write ('-': standard output)")->required();
    export_->add_option("--as-of", o->as_of, "The date (YYYY-MM-DD; default: now)");

    CLI::App* history = app.add_subcommand("history", "The periods of an entity's records, or of one record, and their events");
    registry_argument(history);
    auto* entity_option = history->add_option("--entity", o->entity, "An entity id");
    auto* record_option = history->add_option("--record", o->record, "PARTY:RECORD_ID");
    entity_option->excludes(record_option);
    record_option->excludes(entity_option);

    CLI::App* events = app.add_subcommand("events", "The event log");
    registry_argument(events);
    events->add_option("--since", o->since, "Only events dated on or after this date (YYYY-MM-DD)");
    events->add_flag("--json", o->json, "A JSON array instead of text");

    CLI::App* verify = app.add_subcommand("verify", "SQLite integrity, filter checksums and the id contract's invariants");
    registry_argument(verify);

    CLI::App* backup = app.add_subcommand("backup", "An online copy of the registry (SQLite backup) to a new file");
    registry_argument(backup);
    backup->add_option("out", o->out, "The copy to write (must not exist)")->required();

    CLI::App* forget = app.add_subcommand("forget", "Erase a record on request (filter, pairs and memberships)");
    registry_argument(forget);
    forget->add_option("--party", o->party, "The record's party")->required();
    forget->add_option("--record-id", o->record_id, "The record's id")->required();

    return [o, init, ingest, link, export_, history, events, verify, backup, forget]() {
        if (init->parsed()) {
            Registry::create(o->db);
            std::cerr << "pprl: created the registry " << o->db << "\n";
            return 0;
        }
        if (ingest->parsed()) {
            const auto start = std::chrono::steady_clock::now();
            Registry registry(o->db, true);
            const RegistryIngest done = registry.ingest(o->file, o->party, o->as_of, o->label);
            if (done.already_ingested) {
                std::cerr << "pprl: " << o->file << " was already ingested for party " << o->party << " (extract "
                          << done.extract << "); nothing to do\n";
                return 0;
            }
            std::cerr << "pprl: extract " << done.extract << " of party " << o->party << " as of " << o->as_of << ": "
                      << with_commas(done.records) << " records, " << with_commas(done.new_records) << " new, "
                      << with_commas(done.updated) << " updated, " << with_commas(done.unchanged) << " unchanged";
            if (done.refused_erased) std::cerr << ", " << with_commas(done.refused_erased) << " erased before and not taken back";
            std::cerr << " (" << std::setprecision(2) << seconds_since(start) << " s)\n";
            return 0;
        }
        if (link->parsed()) {
            const auto start = std::chrono::steady_clock::now();
            RegistryLinkOptions options;
            options.threshold = Threshold::parse(o->threshold);
            options.method = o->method == "optimal" ? LinkMethod::optimal : LinkMethod::greedy;
            options.merge = o->merge == "clique" ? MergeRule::clique : MergeRule::disjoint_parties;
            options.threads = o->threads;
            LinkOptions blocking;
            blocking.set_blocking(o->blocking);
            options.blocking = blocking.blocking;
            options.lsh = blocking.lsh;
            options.lsh.seed = o->seed;
            Registry registry(o->db, true);
            const RegistryLink done = registry.link(options);
            std::cerr << "pprl: link " << done.link << " as of " << done.as_of << ": " << with_commas(done.records)
                      << " records in " << with_commas(done.entities) << " entities\n"
                      << "  scored " << with_commas(done.scored_records) << " new or updated records ("
                      << with_commas(done.comparisons) << " comparisons"
                      << (done.rescored_all ? ", every pair: first run, lower threshold or other blocking" : "")
                      << "), reused " << with_commas(done.kept_pairs) << " stored pairs; " << with_commas(done.links)
                      << " links\n"
                      << "  ids: " << with_commas(done.kept_ids) << " kept, " << with_commas(done.new_entities) << " new, "
                      << with_commas(done.merged) << " retired by merges, " << with_commas(done.split) << " splits; "
                      << with_commas(done.moved_records)
                      << " records changed entity\n"
                      << "  " << std::setprecision(2) << seconds_since(start) << " s\n";
            return 0;
        }
        if (export_->parsed()) {
            refuse_overwriting({o->out}, {o->db});
            Registry registry(o->db, false);
            const std::vector<RegistryEntityRow> rows = registry.entities(o->as_of);
            AtomicFile file(o->out);
            file.write("party,record_id,entity_id,last_seen\n");
            std::string line;
            for (const RegistryEntityRow& row : rows) {
                line.clear();
                append_csv_field(line, row.party);
                line += ',';
                append_csv_field(line, row.record_id);
                line += ',' + row.entity_id + ',' + row.last_seen + '\n';
                file.write(line);
            }
            file.commit();
            std::cerr << "pprl: wrote " << with_commas(rows.size()) << " records to " << o->out;
            if (!o->as_of.empty()) std::cerr << " as the registry stood on " << o->as_of;
            std::cerr << "\n";
            if (o->as_of.empty())
                if (const std::uint64_t waiting = registry.unlinked_records(); waiting != 0)
                    std::cerr << "pprl: " << with_commas(waiting)
                              << " records ingested since the last link have no entity yet (run registry link)\n";
            return 0;
        }
        if (history->parsed()) {
            if (o->entity.empty() == o->record.empty()) throw UsageError("registry history takes --entity or --record");
            Registry registry(o->db, false);
            if (!o->entity.empty()) {
                print_memberships(registry.entity_history(o->entity));
                for (const RegistryEvent& event : registry.entity_events(o->entity)) print_event(event);
            } else {
                const auto colon = o->record.find(':');
                if (colon == std::string::npos || colon == 0)
                    throw UsageError("--record takes PARTY:RECORD_ID");
                print_memberships(registry.record_history(o->record.substr(0, colon), o->record.substr(colon + 1)));
            }
            return 0;
        }
        if (events->parsed()) {
            Registry registry(o->db, false);
            const std::vector<RegistryEvent> log = registry.events(o->since);
            if (o->json) {
                nlohmann::ordered_json out = nlohmann::ordered_json::array();
                for (const RegistryEvent& event : log) out.push_back(event_json(event));
                std::cout << out.dump(2) << "\n";
            } else {
                for (const RegistryEvent& event : log) print_event(event);
            }
            return 0;
        }
        if (verify->parsed()) {
            Registry registry(o->db, false);
            const RegistryVerification report = registry.verify();
            std::cout << "records " << report.records << ", entities " << report.entities << ", filters checked "
                      << report.filters << "\n";
            for (const std::string& problem : report.problems) std::cout << "problem: " << problem << "\n";
            if (!report.problems.empty()) throw FormatError("registry verify found " + std::to_string(report.problems.size()) + " problems");
            std::cout << "sound\n";
            return 0;
        }
        if (backup->parsed()) {
            Registry registry(o->db, false);
            registry.backup(o->out);
            std::cerr << "pprl: backed up " << o->db << " to " << o->out << "\n";
            return 0;
        }
        Registry registry(o->db, true);
        registry.forget(o->party, o->record_id);
        std::cerr << "pprl: erased that record of party " << o->party << "; the event is logged\n";
        return 0;
    };
}

}  // namespace pprl::cli
