// Hardening against linkage quality and attack success (issue 8's table):
//   harden_audit [people] [seed]
// For the example schema (its own hardening removed) with each hardening variant: synthesise three agencies (city, schools,
// promise) from `people` young people, encode, link (greedy) at thresholds 0.50..0.95, and report
// the best F1 over those thresholds and where it is. Then audit the city's encodings with the four
// attacks against first names, given a reference population of the same size (seed + 1000; the
// graph attack encodes it under a key of the attacker's own, and the pattern miner knows BLIP's flip
// rate): once on the full schema, once on a first-name-only encoding with the same hardening (the
// attacker's best case). Prints a Markdown table.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pprl/audit.hpp"
#include "pprl/encode.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/harden.hpp"
#include "format/atomic_file.hpp"
#include "pprl/link.hpp"
#include "pprl/synth.hpp"

using nlohmann::json;
using namespace pprl;

namespace {

struct Variant {
    std::string name;
    json hardening;  // filter.hardening (null: none)
    bool salt = false;
};

std::vector<std::vector<std::string>> rows_of(const std::vector<SynthRecord>& records) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : records) rows.push_back({r.record_id, r.first_name, r.last_name, r.dob, r.sex, r.address, r.zip});
    return rows;
}

FilterMatrix encode_rows(const Schema& schema, const SecretKey& key, const std::vector<std::vector<std::string>>& rows,
                         const std::vector<std::string>& columns, const std::string& party) {
    Encoder encoder(schema, key);
    encoder.bind_columns(columns);
    RecordIdSet seen;
    EncodeSummary summary;
    FilterMatrix m = encoder.encode_batch(rows, {}, {}, 0, seen, summary);
    m.compute_popcounts();
    m.info() = encoding_info(schema, encoder.key_check(), party);
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t people = argc > 1 ? static_cast<std::size_t>(std::atol(argv[1])) : 10000;
    const std::uint64_t seed = argc > 2 ? static_cast<std::uint64_t>(std::atol(argv[2])) : 7;
    // The example schema without its hardening: the baseline every variant starts from.
    json example = json::parse(read_file(std::string(PPRL_SOURCE_DIR) + "/examples/youth_schema.json", Schema::max_file_bytes));
    example["filter"].erase("hardening");
    for (auto& field : example["fields"]) field.erase("salt");
    SynthOptions options;
    options.people = people;
    options.seed = seed;
    const SynthOutput data = synthesize(options);
    options.seed = seed + 1000;
    const SynthOutput other = synthesize(options);
    std::vector<std::string> reference;
    std::vector<std::vector<std::string>> reference_rows;
    for (const auto& party : other.records)
        for (const auto& r : party) {
            reference.push_back(r.first_name);
            reference_rows.push_back({std::to_string(reference_rows.size()), r.first_name, r.last_name, r.dob, r.sex,
                                      r.address, r.zip});
        }
    Truth truth;
    for (std::size_t p = 0; p < data.party_names.size(); ++p)
        for (std::size_t i = 0; i < data.records[p].size(); ++i)
            truth.add(data.party_names[p], data.records[p][i].record_id, data.person_ids[p][i], data.groups[p][i]);
    std::vector<std::string> city_names;
    for (const auto& r : data.records[0]) city_names.push_back(r.first_name);
    const std::vector<std::string> columns = {"record_id", "first_name", "last_name", "dob", "sex", "address", "zip"};
    std::uint8_t key_bytes[32];
    for (int i = 0; i < 32; ++i) key_bytes[i] = static_cast<std::uint8_t>(seed * 131 + 7 * i);  // reproducible runs
    const SecretKey key(key_bytes, sizeof key_bytes);
    for (int i = 0; i < 32; ++i) key_bytes[i] = static_cast<std::uint8_t>(seed * 17 + 3 * i + 1);
    const SecretKey attacker_key(key_bytes, sizeof key_bytes);
    // The attacker's reference encoded like the audited file, and its first name per encoding.
    auto attacker_values = [&](const FilterMatrix& m) {
        std::vector<std::string> values;
        for (const auto& id : m.ids()) values.push_back(reference_rows[std::stoul(id)][1]);
        return values;
    };
    const std::vector<Variant> variants = {
        {"none", nullptr, false},
        {"salt names with birth year", nullptr, true},
        {"balance", json::array({{{"step", "balance"}}}), false},
        {"xor_fold", json::array({{{"step", "xor_fold"}}}), false},
        {"blip eps=3", json::array({{{"step", "blip"}, {"epsilon", 3}}}), false},
        {"blip eps=2", json::array({{{"step", "blip"}, {"epsilon", 2}}}), false},
        {"diffusion t=3", json::array({{{"step", "diffusion"}, {"t", 3}, {"bits", 1024}}}), false},
        {"diffusion t=5", json::array({{{"step", "diffusion"}, {"t", 5}, {"bits", 1024}}}), false},
        {"salt + diffusion t=3", json::array({{{"step", "diffusion"}, {"t", 3}, {"bits", 1024}}}), true},
        {"salt + blip eps=3", json::array({{{"step", "blip"}, {"epsilon", 3}}}), true},
        {"salt + balance", json::array({{{"step", "balance"}}}), true},
    };
    std::printf("%zu people, three agencies (%zu + %zu + %zu records); reference: %zu first names of another "
                "population\n\n",
                people, data.records[0].size(), data.records[1].size(), data.records[2].size(), reference.size());
    std::printf("| hardening | bits | best F1 | at t | freq. attack, schema | pattern attack, schema | "
                "similarity clustering, schema | graph matching, schema | freq. attack, first name only | pattern attack, "
                "first name only | similarity clustering, first name only | graph matching, first name only |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    double baseline_f1 = -1;
    for (const auto& variant : variants) {
        const auto start = std::chrono::steady_clock::now();
        json schema_json = example;
        if (!variant.hardening.is_null()) schema_json["filter"]["hardening"] = variant.hardening;
        if (variant.salt)
            for (auto& field : schema_json["fields"])
                if (field["name"] == "first_name" || field["name"] == "last_name")
                    field["salt"] = {{"field", "dob"}, {"part", "year"}};
        const Schema schema = Schema::from_json(schema_json.dump());
        std::vector<FilterMatrix> encoded;
        for (std::size_t p = 0; p < data.party_names.size(); ++p)
            encoded.push_back(encode_rows(schema, key, rows_of(data.records[p]), columns, data.party_names[p]));
        std::vector<const FilterMatrix*> inputs;
        for (const auto& m : encoded) inputs.push_back(&m);
        double best_f1 = 0, best_t = 0;
        // From the top down; F1 over thresholds is unimodal, so stop once it has fallen well below the
        // best (low thresholds on balanced filters, whose unrelated pairs score ~0.5, are costly).
        for (int step = 95; step >= 50; step -= 5) {
            LinkOptions link_options;
            link_options.threshold = Threshold::parse("0." + std::to_string(step));
            const LinkResult result = link(inputs, link_options);
            std::vector<EntityRow> rows;
            for (std::size_t i = 0; i < result.entities.size(); ++i)
                rows.push_back({data.party_names[result.entities.party[i]],
                                encoded[result.entities.party[i]].ids()[result.entities.record[i]],
                                result.entities.entity_id[i]});
            const double f1 = evaluate_entities(truth, rows).overall.f1();
            if (f1 > best_f1) best_f1 = f1, best_t = step / 100.0;
            if (f1 < best_f1 - 0.02) break;
        }
        if (baseline_f1 < 0) baseline_f1 = best_f1;

        const FieldSpec& first = schema.fields()[0];
        AuditOptions attacker;
        attacker.flip_probability = hardening_flip_probability(schema.hardening());
        const FilterMatrix reference_full = encode_rows(schema, attacker_key, reference_rows, columns, "reference");
        const std::vector<std::string> reference_full_values = attacker_values(reference_full);
        const AuditReport full = audit(encoded[0], city_names, reference, first.normalize, first.tokenizer, attacker,
                                       &reference_full, &reference_full_values);
        // First names alone, same filter settings and hardening (salting needs dob, so it stays).
        json single = schema_json;
        json kept = json::array();
        for (const auto& field : schema_json["fields"])
            if (field["name"] == "first_name" || (variant.salt && field["name"] == "dob")) kept.push_back(field);
        if (variant.salt)
            for (auto& field : kept)
                if (field["name"] == "dob") field["weight"] = {{"bits_per_token", 0}};  // salt source only
        single["fields"] = kept;
        const Schema single_schema = Schema::from_json(single.dump());
        std::vector<std::vector<std::string>> single_rows;
        for (const auto& r : data.records[0]) {
            if (variant.salt) single_rows.push_back({r.record_id, r.first_name, r.dob});
            else single_rows.push_back({r.record_id, r.first_name});
        }
        const std::vector<std::string> single_columns =
            variant.salt ? std::vector<std::string>{"record_id", "first_name", "dob"}
                         : std::vector<std::string>{"record_id", "first_name"};
        const FilterMatrix single_encoded = encode_rows(single_schema, key, single_rows, single_columns, "city");
        std::vector<std::vector<std::string>> reference_single_rows;
        for (const auto& r : reference_rows) {
            if (variant.salt) reference_single_rows.push_back({r[0], r[1], r[3]});
            else reference_single_rows.push_back({r[0], r[1]});
        }
        const FilterMatrix reference_single =
            encode_rows(single_schema, attacker_key, reference_single_rows, single_columns, "reference");
        const std::vector<std::string> reference_single_values = attacker_values(reference_single);
        const AuditReport alone = audit(single_encoded, city_names, reference, first.normalize, first.tokenizer,
                                        attacker, &reference_single, &reference_single_values);
        auto pct = [](const AttackResult& a) {
            static char buffer[64];
            std::snprintf(buffer, sizeof buffer, "%.2f%% (%zu names)", 100 * a.record_rate, a.names_correct);
            return std::string(buffer);
        };
        std::printf("| %s | %u | %.4f (%+.2f) | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |\n", variant.name.c_str(),
                    schema.bits(), best_f1, 100 * (best_f1 - baseline_f1), best_t, pct(full.attacks[0]).c_str(),
                    pct(full.attacks[1]).c_str(), pct(full.attacks[2]).c_str(), pct(full.attacks[3]).c_str(),
                    pct(alone.attacks[0]).c_str(), pct(alone.attacks[1]).c_str(), pct(alone.attacks[2]).c_str(),
                    pct(alone.attacks[3]).c_str());
        std::fflush(stdout);
        std::fprintf(stderr, "%s: %.1f s; chance %.2f%%; patterns located: schema %zu, first name only %zu\n",
                     variant.name.c_str(),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                     100 * alone.attacks[0].chance_rate, full.attacks[1].patterns, alone.attacks[1].patterns);
    }
    return 0;
}
