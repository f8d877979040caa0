// pprl/synth.hpp — synthetic youth records from several agencies, with the truth.
//
// One population of young people (born within 18 years before the reference date) lives in
// households: siblings share a surname and an address, and about 3 % of births are twins (same date
// of birth, same household). Names are drawn with Zipf-like frequency skew from per-group lists
// (including double and hyphenated surnames and apostrophes). Each party (agency) sees a share of
// the population (its coverage) and records it with its own error profile: keyboard typos, phonetic
// spellings, OCR confusions, nicknames, first/last name swaps, day/month swaps and other date
// errors, moved addresses, missing values and case differences. Everything is drawn from one
// SplitMix64 stream per seed, with pprl's own integer-to-range mapping, so the output is the same for
// a seed on every platform.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pprl {

struct ErrorProfile {
    double coverage = 0.8;        // share of the population the party holds
    double typo = 0.05;           // a keyboard typo in a name (insert, delete, substitute, transpose)
    double phonetic = 0.03;       // a phonetic respelling (ph/f, ck/k, y/i, double letters, ...)
    double ocr = 0.01;            // an OCR confusion (o/0, l/1, rn/m, ...)
    double nickname = 0.04;       // first name recorded as a nickname (William → Bill)
    double name_swap = 0.01;      // first and last name swapped
    double date_swap = 0.02;      // day and month swapped (when both ≤ 12)
    double date_error = 0.02;     // one date part off (year ± 1, day ± 1..3, or a digit typo)
    double moved = 0.10;          // a different (newer or older) address and zip
    double missing = 0.03;        // per field (address, zip, sex): left empty
    double case_noise = 0.20;     // record written in upper case
};

struct SynthParty {
    std::string name;
    ErrorProfile errors;
};

struct SynthOptions {
    std::size_t people = 20000;
    std::uint64_t seed = 1;
    std::vector<SynthParty> parties;  // empty: city, schools, promise with their default profiles
    int reference_year = 2026;        // people are born in the 18 years before Jan 1 of this year
};

// Default profiles: city services (broad coverage, moderate errors), the school system (high
// coverage, clean), a nonprofit (low coverage, hand-entered: more typos and missing values).
std::vector<SynthParty> default_synth_parties();
// The default profiles of the named parties, in the order given; UsageError for an unknown name.
std::vector<SynthParty> synth_parties(const std::vector<std::string>& names);

struct SynthRecord {
    std::string record_id, first_name, last_name, dob, sex, address, zip;
};

struct SynthOutput {
    std::vector<std::string> party_names;
    std::vector<std::vector<SynthRecord>> records;  // per party
    // truth: per party, per record: person id and group
    std::vector<std::vector<std::string>> person_ids, groups;
    // What was applied, per party: counts of each error kind (for the rates test and the README).
    struct Applied {
        std::uint64_t records = 0, typo = 0, phonetic = 0, ocr = 0, nickname = 0, name_swap = 0, date_swap = 0,
                      date_error = 0, moved = 0, missing = 0, upper_case = 0;
    };
    std::vector<Applied> applied;
};

SynthOutput synthesize(const SynthOptions& options);

// Errors for rows that were not synthesised (an agency's own extract, for `pprl audit --tradeoff`):
// a copy of `rows` with `profile`'s errors applied column by column as `kinds` says. Text columns:
// a typo, a phonetic respelling and an OCR confusion, each in one text column of the row chosen at
// random, and upper case (case_noise); dates (YYYY-MM-DD; others are left as they are): day and
// month swapped or one part off; every column but `keep` ones left empty at the `missing` rate.
// Deterministic per seed.
enum class PerturbKind { keep, text, date, other };
std::vector<std::vector<std::string>> perturb_rows(const std::vector<std::vector<std::string>>& rows,
                                                   const std::vector<PerturbKind>& kinds, const ErrorProfile& profile,
                                                   std::uint64_t seed);

// Several years of extracts, for a registry (pprl/registry.hpp). Year y (0-based) of `years`
// describes Jan 1 of reference_year − (years − 1) + y: its youth window holds about options.people
// people (births are drawn over every year's window). Between years people age into and out of the
// window, move house (8 % a year) and now and then change surname (0.3 %); each party's coverage is
// kept at its share by people leaving (10 % a year) and entering; a party's record of a person
// persists with its errors, its id and its filter, except that the party records a move (60 % a
// year until it does) or a surname change (80 %), re-enters the record with fresh errors (5 %), or
// gives it a new id (2 %). Person ids are the same in every year's truth.
struct SynthYear {
    int reference_year = 0;
    SynthOutput output;
};
std::vector<SynthYear> synthesize_years(const SynthOptions& options, int years);

// Writes <dir>/<party>.csv (record_id,first_name,last_name,dob,sex,address,zip) and <dir>/truth.csv
// (party,record_id,person_id,group); creates <dir> if needed.
void write_synth(const SynthOutput& output, const std::string& dir);
// Each year into <dir>/<reference year>/ as write_synth does.
void write_synth_years(const std::vector<SynthYear>& years, const std::string& dir);

}  // namespace pprl
