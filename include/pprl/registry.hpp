// pprl/registry.hpp — the hub's memory across refreshes: stable entity ids in one SQLite file.
//
// A registry holds, for one schema and key (fingerprint, key check and filter length fixed by the
// first extract): the parties; every ingested extract (party, label, as-of date, XXH3-128 of the
// file, record count); every record ever seen with each version of its filter and the extracts it
// appeared in; the scored candidate pairs; the entity of every record over time; and an append-only
// event log. It never holds a key or a plaintext value. The file is SQLite in WAL mode, its layout
// version in PRAGMA user_version (older layouts are migrated forward on open; a newer one is refused).
//
// Linking is incremental and exact. Pairs are kept with their integer counts at the lowest threshold
// ever linked at; a link scores only the pairs that involve new or updated records (against every
// current record), reuses the kept ones, and solves exactly as pprl::link does over all current
// records: parties in the order they were first ingested, each party's records in the order they were
// first seen. A lower threshold or other blocking rescores everything; another method or merge rule
// rescores nothing. Linking uses the record-level Dice model (a Fellegi–Sunter model is fitted over a
// whole snapshot and would change every score with each refresh).
//
// The id contract (tested clause by clause):
//   - an issued entity id is never issued again, whatever happens to its entity;
//   - an entity whose members did not change keeps its id;
//   - merges: the oldest id (first issued) survives, the others are retired (MERGE event naming the
//     survivor);
//   - splits: the part holding most of the entity's previous members keeps the id (a tie goes to the
//     part whose first member was seen first); the other parts take an id they inherit by the same
//     rule from another entity, or a new one (SPLIT event);
//   - a record missing from a later extract of its party stays in its entity (export and history say
//     when it was last seen);
//   - ids are 16 random hex digits, carrying nothing derived from members' data;
//   - forget() erases a record (its filters, pairs and memberships); the event is logged and the
//     record id is refused if an extract brings it again.
//
// Every write (ingest, link, forget) is one transaction taken with a write lock up front: a process
// killed at any moment leaves the registry as it was before the command, and a second writer waits
// (up to `busy_timeout_ms`) and then fails with IoError.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pprl/bloom.hpp"
#include "pprl/link.hpp"

namespace pprl {

// What ingest() did with an extract.
struct RegistryIngest {
    std::int64_t extract = 0;        // the extract's number in the registry
    bool already_ingested = false;   // the same file was ingested for this party before: nothing done
    std::uint64_t records = 0;       // rows in the extract
    std::uint64_t new_records = 0;   // record ids never seen for this party
    std::uint64_t updated = 0;       // seen before with another filter (the old one kept as history)
    std::uint64_t unchanged = 0;     // seen before with this filter
    std::uint64_t refused_erased = 0;  // ids erased on request (forget): not taken back
};

struct RegistryLinkOptions {
    Threshold threshold{13, 20};
    LinkMethod method = LinkMethod::greedy;
    MergeRule merge = MergeRule::disjoint_parties;
    bool blocking = false;
    LshOptions lsh;
    unsigned threads = 0;
};

// What link() did.
struct RegistryLink {
    std::int64_t link = 0;             // the link run's number
    std::string as_of;                 // the latest as-of date of the extracts it covers
    std::uint64_t records = 0;         // current records linked
    std::uint64_t entities = 0;        // entities after the run
    std::uint64_t scored_records = 0;  // new or updated records scored against the others
    std::uint64_t comparisons = 0;     // pairs scored in this run
    std::uint64_t kept_pairs = 0;      // candidate pairs reused from earlier runs
    bool rescored_all = false;         // threshold lowered, blocking changed, or the first run
    std::uint64_t links = 0;           // candidate pairs that became links
    std::uint64_t new_entities = 0, kept_ids = 0, merged = 0, split = 0;
    std::uint64_t moved_records = 0;   // records whose entity id changed
};

// One row of an export: the entity of a record as the registry stood on a date.
struct RegistryEntityRow {
    std::string party, record_id, entity_id;
    std::string last_seen;  // as-of date of the last extract of its party that held the record
};

// One event of the log.
struct RegistryEvent {
    std::int64_t id = 0;
    std::string kind;         // INIT, INGEST, LINK, NEW, MERGE, SPLIT, RETIRE, FORGET
    std::string as_of;        // the date the event belongs to (an extract's or a link's as-of date)
    std::string recorded_at;  // UTC time it was written
    std::string entity;       // the entity concerned (NEW, MERGE: the retired id, SPLIT, RETIRE)
    std::string other;        // MERGE: the survivor; SPLIT: the part's new id
    std::string party, record_id;  // INGEST, FORGET
    std::string detail;       // a readable summary
};

// One period of a record in an entity (history).
struct RegistryMembership {
    std::string party, record_id, entity_id;
    std::string from;   // as-of date of the link run that put it there
    std::string until;  // as-of date of the run that moved it out; empty while current
};

struct RegistryVerification {
    std::uint64_t records = 0, entities = 0, filters = 0;
    std::vector<std::string> problems;  // empty when the registry is sound
};

class Registry {
public:
    // Creates an empty registry; IoError if `path` exists.
    static void create(const std::string& path);
    // Opens an existing registry (migrating an older layout forward unless read-only). FormatError
    // for a file that is not a registry or was written by a newer pprl; IoError if it cannot be
    // opened, or if `writable` is asked of a registry that is read-only.
    Registry(const std::string& path, bool writable, int busy_timeout_ms = 10000);
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Adds an extract (a .pprl file, verified as load_encoded_file does). `as_of` is YYYY-MM-DD.
    // KeyMismatchError if its schema, key or filter length differ from the registry's; UsageError for
    // a bad date or party; ValidationError for a record id repeated within the extract.
    RegistryIngest ingest(const std::string& encoded_file, const std::string& party, const std::string& as_of,
                          const std::string& label = {});
    RegistryLink link(const RegistryLinkOptions& options);
    // The entities as they stood after the last link run dated on or before `as_of` (all runs when
    // empty), party by party in first-seen order. Records not yet linked are not listed.
    std::vector<RegistryEntityRow> entities(const std::string& as_of = {}) const;
    std::vector<RegistryEvent> events(const std::string& since = {}) const;
    // Every period of every record in the entity, and the events naming it.
    std::vector<RegistryMembership> entity_history(const std::string& entity_id) const;
    std::vector<RegistryMembership> record_history(const std::string& party, const std::string& record_id) const;
    std::vector<RegistryEvent> entity_events(const std::string& entity_id) const;
    RegistryVerification verify() const;
    // An online copy of the registry at `path` (which must not exist), written beside it and renamed.
    void backup(const std::string& path) const;
    // Erases a record; UsageError if the registry has no such record.
    void forget(const std::string& party, const std::string& record_id);

    // The current records' filters in the registry's order (parties in first-ingest order, records in
    // first-seen order), with ids and the registry's encoding info: what a batch pprl::link over the
    // same records takes to give the same partition.
    std::vector<FilterMatrix> current_filters() const;
    // Records ingested since the last link run (they have no entity yet).
    std::uint64_t unlinked_records() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pprl
