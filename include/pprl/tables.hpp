// pprl/tables.hpp — the hub's CSV tables, written and read in one place.
//
//   pairs     a_id,b_id,score                          `pprl match`: pairs of two files, best first
//             party_a,a_id,party_b,b_id,score,linked   `pprl link --pairs-out`: every scored pair
//   entities  party,record_id,entity_id                `pprl link`: one row per input record
// RFC 4180 fields (ids and labels quoted where needed); scores in the shortest decimal that reads
// back to the same double. Writers go through a temporary file renamed on commit(), so a failure
// leaves no table that looks whole. Readers find columns by name (extra columns are allowed),
// reject a row with too few fields or a score outside [0, 1] with its row number, never its values.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pprl {

// One row of an entities table.
struct EntityRow {
    std::string party, record_id, entity_id;
};

// One row of a pairs table.
struct PairRow {
    std::string party_a, a_id, party_b, b_id;
    double score = 0;
    bool linked = false;
};

enum class PairColumns {
    ids,           // a_id,b_id,score
    with_parties,  // party_a,a_id,party_b,b_id,score,linked
};

class PairsWriter {
public:
    // `extra_columns` follow the standard ones (with_parties only): each add() then passes their
    // values as one comma-separated text.
    PairsWriter(const std::string& path, PairColumns columns, const std::vector<std::string>& extra_columns = {});
    ~PairsWriter();
    PairsWriter(const PairsWriter&) = delete;
    PairsWriter& operator=(const PairsWriter&) = delete;
    // PairColumns::ids ignores the parties and `linked`.
    void add(std::string_view party_a, std::string_view a_id, std::string_view party_b, std::string_view b_id,
             double score, bool linked, std::string_view extra = {});
    void commit();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class EntitiesWriter {
public:
    explicit EntitiesWriter(const std::string& path);
    ~EntitiesWriter();
    EntitiesWriter(const EntitiesWriter&) = delete;
    EntitiesWriter& operator=(const EntitiesWriter&) = delete;
    void add(std::string_view party, std::string_view record_id, std::string_view entity_id);
    void commit();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Reads an entities table. ValidationError for a missing column or a malformed row.
std::vector<EntityRow> read_entities(const std::string& path);
// Reads a pairs table of either layout; for `a_id,b_id,score`, the parties are `party_a` and
// `party_b` (UsageError if they are not given).
std::vector<PairRow> read_pairs(const std::string& path, const std::string& party_a = "", const std::string& party_b = "");

// The shortest decimal text that reads back as `score`.
std::string format_score(double score);

}  // namespace pprl
