// hub/registry.cpp — the registry of pprl/registry.hpp on SQLite.
//
// Tables (layout version 1):
//   meta(key, value)                    bits, schema and key of the registry; the pair table's
//                                       threshold and blocking
//   parties(party_id, label)            in first-ingest order
//   extracts(extract_id, party_id, label, as_of, checksum, records, ...)   checksum: XXH3-128 of the file
//   records(rid, party_id, record_id, filter, checksum, first_extract, filter_extract, erased)
//                                       rid in first-seen order; filter is the current version;
//                                       filter_extract: the extract that brought the current filter
//                                       (a record is new or updated, "dirty", if that extract came
//                                       after meta scored_through); erased: forgotten
//   filter_versions(rid, extract_id, filter)   every version of every filter (history)
//   appearances(extract_id, rid)        the extracts each record appeared in
//   pair_lists(rid, scored_through, pairs)   candidate pairs at the stored threshold, each in the
//                                       list of the record that was new or updated when it was scored
//   link_runs(link_id, as_of, last_extract, ...)
//   entities(seq, entity_id, created_link, retired_link, survivor)   seq is the issue order
//   memberships(rid, seq, from_link, to_link)    to_link NULL while current
//   events(event_id, kind, as_of, recorded_at, entity, other, party, record_id, detail), append-only
//                                       (triggers refuse UPDATE and DELETE)
// Filters are stored as the file's bytes (ceil(bits / 8)) with their XXH3-64, which verify checks.
#include "pprl/registry.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <limits>
#include <numeric>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "runtime/calendar.hpp"
#include "format/atomic_file.hpp"
#include "hub/solve.hpp"
#include "runtime/parallel.hpp"
#include "pprl/error.hpp"
#include "pprl/format.hpp"
#include "pprl/match.hpp"

namespace pprl {
namespace {

// "PPRL" in PRAGMA application_id marks a registry among SQLite files.
constexpr std::int32_t application_id = 0x5050524c;
constexpr int layout_version = 1;

// Forward migrations: migrations[v] takes layout v to v + 1 (0 is an empty file).
const char* const migrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE parties(party_id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE);
CREATE TABLE extracts(extract_id INTEGER PRIMARY KEY, party_id INTEGER NOT NULL REFERENCES parties,
  label TEXT NOT NULL, as_of TEXT NOT NULL, checksum TEXT NOT NULL, records INTEGER NOT NULL,
  new_records INTEGER NOT NULL, updated INTEGER NOT NULL, ingested_at TEXT NOT NULL,
  UNIQUE(party_id, checksum));
CREATE TABLE records(rid INTEGER PRIMARY KEY, party_id INTEGER NOT NULL REFERENCES parties,
  record_id TEXT NOT NULL, filter BLOB, checksum INTEGER, first_extract INTEGER NOT NULL,
  filter_extract INTEGER NOT NULL, erased INTEGER NOT NULL DEFAULT 0,
  UNIQUE(party_id, record_id));
CREATE TABLE filter_versions(rid INTEGER NOT NULL, extract_id INTEGER NOT NULL, filter BLOB NOT NULL,
  checksum INTEGER NOT NULL, PRIMARY KEY(rid, extract_id)) WITHOUT ROWID;
CREATE TABLE appearances(extract_id INTEGER NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY(extract_id, rid)) WITHOUT ROWID;
CREATE TABLE pair_lists(rid INTEGER PRIMARY KEY, scored_through INTEGER NOT NULL, pairs BLOB NOT NULL);
CREATE TABLE link_runs(link_id INTEGER PRIMARY KEY, as_of TEXT NOT NULL, last_extract INTEGER NOT NULL,
  threshold TEXT NOT NULL, method TEXT NOT NULL, merge_rule TEXT NOT NULL, blocking TEXT NOT NULL,
  comparisons INTEGER NOT NULL, kept_pairs INTEGER NOT NULL, ran_at TEXT NOT NULL);
CREATE TABLE entities(seq INTEGER PRIMARY KEY, entity_id TEXT NOT NULL UNIQUE,
  created_link INTEGER NOT NULL, retired_link INTEGER, survivor TEXT);
CREATE TABLE memberships(rid INTEGER NOT NULL, seq INTEGER NOT NULL REFERENCES entities,
  from_link INTEGER NOT NULL, to_link INTEGER, PRIMARY KEY(rid, from_link));
CREATE INDEX memberships_by_entity ON memberships(seq);
CREATE INDEX memberships_current ON memberships(rid) WHERE to_link IS NULL;
CREATE TABLE events(event_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, as_of TEXT NOT NULL,
  recorded_at TEXT NOT NULL, entity TEXT NOT NULL DEFAULT '', other TEXT NOT NULL DEFAULT '',
  party TEXT NOT NULL DEFAULT '', record_id TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');
CREATE INDEX events_by_entity ON events(entity);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
)sql",
};
static_assert(sizeof(migrations) / sizeof(migrations[0]) == layout_version, "one migration per layout version");

// SQLite result codes as pprl errors: a busy or locked database, a read-only one, a file that is not
// a database, a full disk; anything else names SQLite's message (which never holds row values).
[[noreturn]] void fail(sqlite3* db, int rc, const std::string& what) {
    const std::string reason = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            throw IoError("registry: " + what + ": another process is writing to the registry; try again when it has finished");
        case SQLITE_READONLY: throw IoError("registry: " + what + ": the registry is read-only");
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT: throw FormatError("registry: " + what + ": the file is damaged or not a registry (" + reason + ")");
        case SQLITE_FULL: throw IoError("registry: " + what + ": the disk is full");
        case SQLITE_NOMEM: throw InternalError("registry: " + what + ": out of memory");
        default: throw IoError("registry: " + what + ": " + reason);
    }
}

class Statement {
public:
    Statement(sqlite3* db, const char* sql) : db_(db) {
        const int rc = sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr);
        if (rc != SQLITE_OK) fail(db, rc, "preparing a query");
    }
    ~Statement() { sqlite3_finalize(statement_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, std::int64_t value) {
        check(sqlite3_bind_int64(statement_, index, value));
        return *this;
    }
    Statement& bind(int index, const std::string& value) {
        check(sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT));
        return *this;
    }
    Statement& bind_blob(int index, const void* data, std::size_t size) {
        check(sqlite3_bind_blob(statement_, index, data, static_cast<int>(size), SQLITE_TRANSIENT));
        return *this;
    }
    Statement& bind_null(int index) {
        check(sqlite3_bind_null(statement_, index));
        return *this;
    }
    // True while a row is ready; false when done.
    bool step() {
        const int rc = sqlite3_step(statement_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(db_, rc, "a query");
    }
    void run() {
        while (step()) {
        }
        reset();
    }
    void reset() {
        sqlite3_reset(statement_);
        sqlite3_clear_bindings(statement_);
    }
    std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
    bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
    // Valid until the next step or reset.
    std::string_view text_view(int column) const {
        const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
        return data == nullptr ? std::string_view() : std::string_view(data, static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
    }
    std::string text(int column) const { return std::string(text_view(column)); }
    const std::uint8_t* blob(int column) const { return static_cast<const std::uint8_t*>(sqlite3_column_blob(statement_, column)); }
    std::size_t blob_size(int column) const { return static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)); }

private:
    void check(int rc) {
        if (rc != SQLITE_OK) fail(db_, rc, "binding a value");
    }
    sqlite3* db_;
    sqlite3_stmt* statement_ = nullptr;
};

void execute(sqlite3* db, const char* sql, const std::string& what) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, what);
}

// BEGIN IMMEDIATE: the write lock is taken at once (a second writer waits for it here, never half
// way through); rolled back unless committed.
class Transaction {
public:
    explicit Transaction(sqlite3* db) : db_(db) { execute(db, "BEGIN IMMEDIATE", "starting a transaction"); }
    ~Transaction() {
        if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void commit() {
        execute(db_, "COMMIT", "committing");
        done_ = true;
    }

private:
    sqlite3* db_;
    bool done_ = false;
};

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm parts{};
    gmtime_r(&now, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

void check_date(const std::string& date, const std::string& option) {
    if (!is_iso_date(date)) throw UsageError(option + " must be a date written YYYY-MM-DD");
}

std::int64_t filter_checksum(const std::uint8_t* data, std::size_t size) {
    return static_cast<std::int64_t>(XXH3_64bits(data, size));
}

// XXH3-128 of a whole file, in hex: how a re-ingested file is recognised.
std::string file_checksum(const std::string& path) {
    const std::string content = read_file(path, std::numeric_limits<std::size_t>::max());
    const XXH128_hash_t hash = XXH3_128bits(content.data(), content.size());
    std::uint8_t bytes[16];
    for (int i = 0; i < 8; ++i) {
        bytes[i] = static_cast<std::uint8_t>(hash.high64 >> (56 - 8 * i));
        bytes[8 + i] = static_cast<std::uint8_t>(hash.low64 >> (56 - 8 * i));
    }
    return hex(bytes, sizeof bytes);
}

std::string threshold_text(const Threshold& t) { return std::to_string(t.numerator) + "/" + std::to_string(t.denominator); }

Threshold parse_threshold_text(const std::string& text) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) throw FormatError("registry: the stored pair threshold is malformed");
    return Threshold{std::stoull(text.substr(0, slash)), std::stoull(text.substr(slash + 1))};
}

// x < y for two thresholds held as fractions (numerators and denominators below 2³²).
bool lower(const Threshold& x, const Threshold& y) { return x.numerator * y.denominator < y.numerator * x.denominator; }

std::string blocking_text(const RegistryLinkOptions& options) {
    if (!options.blocking) return "none";
    return "lsh:" + std::to_string(options.lsh.tables) + "," + std::to_string(options.lsh.bits_per_key) + "," +
           std::to_string(options.lsh.seed);
}

const char* method_name(LinkMethod method) { return method == LinkMethod::greedy ? "greedy" : "optimal"; }
const char* merge_name(MergeRule rule) { return rule == MergeRule::clique ? "clique" : "parties"; }

// 16 hex digits from SQLite's generator (ChaCha20, seeded from the system), not issued before.
std::string fresh_entity_id(Statement& taken) {
    for (;;) {
        std::uint8_t bytes[8];
        sqlite3_randomness(sizeof bytes, bytes);
        const std::string id = hex(bytes, sizeof bytes);
        taken.bind(1, id);
        const bool exists = taken.step();
        taken.reset();
        if (!exists) return id;
    }
}

// A stored candidate pair: kept in the pair list of its owner, the record that was new or updated
// when the pair was scored. A list is stored as one blob of 16-byte entries, little-endian: the
// partner's rid (8 bytes), |A∧B| and |A|+|B| (4 bytes each). A list row holds the registry's
// scored_through at the time, so that an entry whose partner was updated later can be told stale.
struct StoredPair {
    std::int64_t owner, partner;
    std::uint32_t common, total;
};
constexpr std::size_t stored_pair_bytes = 16;

template <class Iterator>
std::string encode_pairs(Iterator first, Iterator last) {
    std::string out;
    out.reserve(static_cast<std::size_t>(last - first) * stored_pair_bytes);
    for (; first != last; ++first) {
        const auto partner = static_cast<std::uint64_t>(first->partner);
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(partner >> (8 * i)));
        for (const std::uint32_t value : {first->common, first->total})
            for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
    }
    return out;
}

void decode_pairs(std::int64_t owner, const std::uint8_t* data, std::size_t size, std::vector<StoredPair>& out) {
    if (size % stored_pair_bytes != 0) throw FormatError("registry: a stored pair list is damaged (run registry verify)");
    out.clear();
    const auto read = [](const std::uint8_t* at, int bytes) {
        std::uint64_t value = 0;
        for (int i = bytes - 1; i >= 0; --i) value = value << 8 | at[i];
        return value;
    };
    for (std::size_t at = 0; at < size; at += stored_pair_bytes)
        out.push_back(StoredPair{owner, static_cast<std::int64_t>(read(data + at, 8)), static_cast<std::uint32_t>(read(data + at + 8, 4)),
                                 static_cast<std::uint32_t>(read(data + at + 12, 4))});
}

// The current records, party by party (first-ingest order), each party's in first-seen order.
struct CurrentRecords {
    std::vector<std::string> labels;
    std::vector<FilterMatrix> parties;
    std::vector<std::vector<std::int64_t>> rids;   // per party, per row
    std::vector<std::vector<char>> dirty;         // per party, per row
    // Where each rid sits (rids are dense: issued in first-seen order): its party and row, or none.
    struct Place {
        std::uint32_t party = none, row = 0;
        bool dirty = false;
        std::int64_t filter_extract = 0;  // the extract that brought its current filter
        static constexpr std::uint32_t none = UINT32_MAX;
    };
    std::vector<Place> places;
    const Place* place(std::int64_t rid) const {
        if (rid < 0 || static_cast<std::uint64_t>(rid) >= places.size() || places[rid].party == Place::none) return nullptr;
        return &places[static_cast<std::size_t>(rid)];
    }
    std::size_t size() const {
        std::size_t n = 0;
        for (const auto& r : rids) n += r.size();
        return n;
    }
};

}  // namespace

struct Registry::Impl {
    sqlite3* db = nullptr;
    std::string path;

    ~Impl() {
        add_event.reset();
        sqlite3_close_v2(db);
    }

    std::string meta(const std::string& key) const {
        Statement query(db, "SELECT value FROM meta WHERE key = ?");
        query.bind(1, key);
        return query.step() ? query.text(0) : std::string();
    }
    void set_meta(const std::string& key, const std::string& value) {
        Statement(db, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(1, key)
            .bind(2, value)
            .run();
    }
    std::unique_ptr<Statement> add_event;  // prepared on first use (a link may log one per entity)
    void event(const std::string& kind, const std::string& as_of, const std::string& entity, const std::string& other,
               const std::string& party, const std::string& record_id, const std::string& detail) {
        if (!add_event)
            add_event = std::make_unique<Statement>(
                db, "INSERT INTO events(kind, as_of, recorded_at, entity, other, party, record_id, detail) VALUES(?,?,?,?,?,?,?,?)");
        add_event->bind(1, kind)
            .bind(2, as_of)
            .bind(3, utc_now())
            .bind(4, entity)
            .bind(5, other)
            .bind(6, party)
            .bind(7, record_id)
            .bind(8, detail)
            .run();
    }
    std::int64_t integer(const char* sql) const {
        Statement query(db, sql);
        return query.step() ? query.integer(0) : 0;
    }

    EncodingInfo info() const {
        EncodingInfo info;
        info.schema_known = meta("schema_known") == "1";
        info.key_known = meta("key_known") == "1";
        const std::string fingerprint = meta("schema_fingerprint"), key_check = meta("key_check");
        for (std::size_t i = 0; i < info.schema_fingerprint.size() && 2 * i + 1 < fingerprint.size(); ++i)
            info.schema_fingerprint[i] = static_cast<std::uint8_t>(std::stoul(fingerprint.substr(2 * i, 2), nullptr, 16));
        for (std::size_t i = 0; i < info.key_check.size() && 2 * i + 1 < key_check.size(); ++i)
            info.key_check[i] = static_cast<std::uint8_t>(std::stoul(key_check.substr(2 * i, 2), nullptr, 16));
        return info;
    }

    CurrentRecords current() const {
        CurrentRecords out;
        const std::string bits_text = meta("bits");
        if (bits_text.empty()) return out;
        const unsigned bits = static_cast<unsigned>(std::stoul(bits_text));
        const EncodingInfo reference = info();
        std::vector<std::int64_t> party_ids;
        Statement parties(db,
                          "SELECT party_id, label FROM parties WHERE EXISTS "
                          "(SELECT 1 FROM records r WHERE r.party_id = parties.party_id AND r.erased = 0) ORDER BY party_id");
        while (parties.step()) {
            party_ids.push_back(parties.integer(0));
            out.labels.push_back(parties.text(1));
        }
        // One pass over the records in rid order (the table's own order: no sort) fills every
        // party's matrix; a first pass counts them.
        std::vector<std::size_t> count(party_ids.size(), 0);
        const auto index_of = [&](std::int64_t party_id) {
            const auto at = std::lower_bound(party_ids.begin(), party_ids.end(), party_id);
            if (at == party_ids.end() || *at != party_id) throw FormatError("registry: a record names no party (run registry verify)");
            return static_cast<std::size_t>(at - party_ids.begin());
        };
        {
            Statement counts(db, "SELECT party_id, COUNT(*) FROM records NOT INDEXED WHERE erased = 0 GROUP BY party_id");
            while (counts.step()) count[index_of(counts.integer(0))] = static_cast<std::size_t>(counts.integer(1));
        }
        const std::string scored = meta("scored_through");
        const std::int64_t scored_through = scored.empty() ? 0 : std::stoll(scored);
        for (std::size_t p = 0; p < party_ids.size(); ++p) {
            FilterMatrix matrix(count[p], bits);
            matrix.info() = reference;
            matrix.info().party = out.labels[p];
            matrix.ids().reserve(count[p]);
            out.parties.push_back(std::move(matrix));
            out.rids.emplace_back().reserve(count[p]);
            out.dirty.emplace_back().reserve(count[p]);
        }
        Statement rows(db, "SELECT rid, party_id, record_id, filter, filter_extract FROM records WHERE erased = 0 ORDER BY rid");
        while (rows.step()) {
            const std::size_t p = index_of(rows.integer(1));
            FilterMatrix& matrix = out.parties[p];
            const std::size_t r = out.rids[p].size();
            if (r >= count[p] || rows.blob_size(3) != matrix.bytes()) throw FormatError("registry: a stored filter has the wrong size");
            std::memcpy(matrix.mutable_row_words(r), rows.blob(3), matrix.bytes());
            out.rids[p].push_back(rows.integer(0));
            matrix.ids().push_back(rows.text(2));
            const std::int64_t filter_extract = rows.integer(4);
            out.dirty[p].push_back(filter_extract > scored_through);
            const auto rid = static_cast<std::size_t>(out.rids[p].back());
            if (rid >= out.places.size()) out.places.resize(std::max(rid + 1, out.places.size() * 2));
            out.places[rid] = {static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(r), out.dirty[p].back() != 0, filter_extract};
        }
        for (std::size_t p = 0; p < party_ids.size(); ++p) {
            if (out.rids[p].size() != count[p]) throw FormatError("registry: the records changed while being read");
            out.parties[p].compute_popcounts();
        }
        return out;
    }

    void open(const std::string& file, bool writable, int busy_timeout_ms) {
        path = file;
        struct stat info {};
        if (::stat(file.c_str(), &info) != 0) throw IoError("registry: no registry at '" + file + "' (create one with registry init)");
        if (!S_ISREG(info.st_mode)) throw IoError("registry: '" + file + "' is not a regular file");
        if (writable && ::access(file.c_str(), W_OK) != 0)
            throw IoError("registry: '" + file + "' is read-only; this command writes to it");
        const int flags = (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
        const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
        if (rc != SQLITE_OK) fail(db, rc, "opening '" + file + "'");
        sqlite3_busy_timeout(db, busy_timeout_ms);
        sqlite3_extended_result_codes(db, 1);
        if (integer("PRAGMA application_id") != application_id)
            throw FormatError("registry: '" + file + "' is not a pprl registry");
        const std::int64_t version = integer("PRAGMA user_version");
        if (version > layout_version)
            throw FormatError("registry: '" + file + "' has layout version " + std::to_string(version) +
                              ", written by a newer pprl; this one reads up to version " + std::to_string(layout_version));
        if (version < layout_version) {
            if (!writable) throw FormatError("registry: '" + file + "' has an older layout; open it once with a command that writes to migrate it");
            migrate(version);
        }
        execute(db, "PRAGMA foreign_keys = ON", "setting up");
        // A page cache of up to 256 MiB (a link reads every filter and writes every pair; SQLite's
        // 2 MiB default sent most of that through pread and pwrite again), and WAL's NORMAL
        // synchronisation: a commit is atomic against a killed process either way, and after a power
        // loss the registry is consistent, at worst without the last commits.
        execute(db, "PRAGMA cache_size = -262144", "setting up");
        execute(db, "PRAGMA temp_store = MEMORY", "setting up");
        if (writable) execute(db, "PRAGMA synchronous = NORMAL", "setting up");
    }

    void migrate(std::int64_t from) {
        Transaction transaction(db);
        for (std::int64_t v = from; v < layout_version; ++v)
            execute(db, migrations[v], "migrating to layout version " + std::to_string(v + 1));
        execute(db, ("PRAGMA user_version = " + std::to_string(layout_version)).c_str(), "migrating");
        transaction.commit();
    }
};

void Registry::create(const std::string& path) {
    struct stat existing {};
    if (::lstat(path.c_str(), &existing) == 0) throw UsageError("registry: '" + path + "' already exists; init never replaces a file");
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    Impl impl;
    impl.db = db;
    impl.path = path;
    try {
        if (rc != SQLITE_OK) fail(db, rc, "creating '" + path + "'");
        execute(db, "PRAGMA journal_mode = WAL", "setting WAL mode");
        execute(db, ("PRAGMA application_id = " + std::to_string(application_id)).c_str(), "creating");
        impl.migrate(0);
        Transaction transaction(db);
        impl.set_meta("created_at", utc_now());
        impl.event("INIT", "", "", "", "", "", "registry created");
        transaction.commit();
    } catch (...) {
        sqlite3_close_v2(db);
        impl.db = nullptr;
        ::unlink(path.c_str());
        ::unlink((path + "-wal").c_str());
        ::unlink((path + "-shm").c_str());
        throw;
    }
}

Registry::Registry(const std::string& path, bool writable, int busy_timeout_ms) : impl_(std::make_unique<Impl>()) {
    impl_->open(path, writable, busy_timeout_ms);
}

Registry::~Registry() = default;

RegistryIngest Registry::ingest(const std::string& encoded_file, const std::string& party, const std::string& as_of,
                                const std::string& label) {
    check_date(as_of, "--as-of");
    check_party_label(party);
    if (party.empty()) throw UsageError("registry ingest needs a party name");
    const FilterMatrix extract = load_encoded_file(encoded_file);
    const std::string checksum = file_checksum(encoded_file);
    // The extract's rows in record-id order: bytewise, as SQLite's BINARY collation orders text.
    const std::vector<std::string>& ids = extract.ids();
    std::vector<std::size_t> by_id(extract.rows());
    std::iota(by_id.begin(), by_id.end(), std::size_t{0});
    std::sort(by_id.begin(), by_id.end(), [&](std::size_t x, std::size_t y) { return ids[x] < ids[y]; });
    for (std::size_t k = 1; k < by_id.size(); ++k)
        if (ids[by_id[k]] == ids[by_id[k - 1]])
            throw ValidationError("registry: '" + encoded_file + "' holds a record id more than once");
    sqlite3* db = impl_->db;
    Transaction transaction(db);
    RegistryIngest result;
    result.records = extract.rows();

    // The registry's encoding, fixed by its first extract.
    const EncodingInfo& info = extract.info();
    const std::string fingerprint = hex(info.schema_fingerprint.data(), info.schema_fingerprint.size());
    const std::string key_check = hex(info.key_check.data(), info.key_check.size());
    if (impl_->meta("bits").empty()) {
        impl_->set_meta("bits", std::to_string(extract.bits()));
        impl_->set_meta("schema_known", info.schema_known ? "1" : "0");
        impl_->set_meta("schema_fingerprint", fingerprint);
        impl_->set_meta("key_known", info.key_known ? "1" : "0");
        impl_->set_meta("key_check", key_check);
    } else {
        if (impl_->meta("bits") != std::to_string(extract.bits()))
            throw KeyMismatchError("registry: '" + encoded_file + "' holds " + std::to_string(extract.bits()) +
                                   "-bit filters; the registry's are " + impl_->meta("bits") + " bits");
        if (impl_->meta("schema_known") != (info.schema_known ? "1" : "0") || impl_->meta("schema_fingerprint") != fingerprint)
            throw KeyMismatchError("registry: '" + encoded_file + "' was encoded under another schema than the registry's extracts");
        if (impl_->meta("key_known") != (info.key_known ? "1" : "0") || impl_->meta("key_check") != key_check)
            throw KeyMismatchError("registry: '" + encoded_file + "' was encoded under another key than the registry's extracts");
    }

    Statement(db, "INSERT INTO parties(label) VALUES(?) ON CONFLICT(label) DO NOTHING").bind(1, party).run();
    Statement party_query(db, "SELECT party_id FROM parties WHERE label = ?");
    party_query.bind(1, party);
    party_query.step();
    const std::int64_t party_id = party_query.integer(0);

    Statement same(db, "SELECT extract_id FROM extracts WHERE party_id = ? AND checksum = ?");
    same.bind(1, party_id).bind(2, checksum);
    if (same.step()) {
        result.extract = same.integer(0);
        result.already_ingested = true;
        return result;  // rolled back: nothing was written
    }

    Statement add_extract(db,
                          "INSERT INTO extracts(party_id, label, as_of, checksum, records, new_records, updated, ingested_at) "
                          "VALUES(?, ?, ?, ?, ?, 0, 0, ?)");
    add_extract.bind(1, party_id).bind(2, label).bind(3, as_of).bind(4, checksum).bind(5, static_cast<std::int64_t>(extract.rows())).bind(6, utc_now());
    add_extract.run();
    const std::int64_t extract_id = sqlite3_last_insert_rowid(db);
    result.extract = extract_id;

    // What the registry knows of each row: one pass over the party's records in record-id order,
    // merged with the extract's rows in the same order (a search of the index per row cost more).
    enum : char { is_new, is_unchanged, is_updated, was_erased };
    std::vector<char> state(extract.rows(), is_new);
    std::vector<std::int64_t> rid_of(extract.rows(), 0);
    const std::size_t bytes = extract.bytes();
    {
        Statement known(db, "SELECT rid, record_id, checksum, filter, erased FROM records WHERE party_id = ? ORDER BY record_id");
        known.bind(1, party_id);
        std::size_t k = 0;
        while (known.step() && k < by_id.size()) {
            const std::string_view id = known.text_view(1);
            while (k < by_id.size() && std::string_view(ids[by_id[k]]) < id) ++k;
            if (k == by_id.size() || std::string_view(ids[by_id[k]]) != id) continue;
            const std::size_t r = by_id[k++];
            rid_of[r] = known.integer(0);
            const std::uint8_t* filter = extract.row_bytes(r);
            if (known.integer(4) != 0) state[r] = was_erased;
            else if (known.integer(2) == filter_checksum(filter, bytes) && known.blob_size(3) == bytes &&
                     std::memcmp(known.blob(3), filter, bytes) == 0)
                state[r] = is_unchanged;
            else state[r] = is_updated;
        }
    }
    Statement insert(db,
                     "INSERT INTO records(party_id, record_id, filter, checksum, first_extract, filter_extract) "
                     "VALUES(?, ?, ?, ?, ?, ?)");
    Statement update(db, "UPDATE records SET filter = ?, checksum = ?, filter_extract = ? WHERE rid = ?");
    Statement version(db, "INSERT INTO filter_versions(rid, extract_id, filter, checksum) VALUES(?, ?, ?, ?)");
    Statement appearance(db, "INSERT INTO appearances(extract_id, rid) VALUES(?, ?)");
    for (std::size_t r = 0; r < extract.rows(); ++r) {
        const std::uint8_t* filter = extract.row_bytes(r);
        std::int64_t rid = rid_of[r];
        switch (state[r]) {
            case was_erased:
                ++result.refused_erased;
                continue;
            case is_unchanged:
                ++result.unchanged;
                break;
            case is_new: {
                const std::int64_t sum = filter_checksum(filter, bytes);
                insert.bind(1, party_id).bind(2, ids[r]).bind_blob(3, filter, bytes).bind(4, sum).bind(5, extract_id).bind(6, extract_id);
                insert.run();
                rid = sqlite3_last_insert_rowid(db);
                version.bind(1, rid).bind(2, extract_id).bind_blob(3, filter, bytes).bind(4, sum).run();
                ++result.new_records;
                break;
            }
            default: {  // is_updated: its stored pairs are dropped by the next link, which rescores it
                const std::int64_t sum = filter_checksum(filter, bytes);
                update.bind_blob(1, filter, bytes).bind(2, sum).bind(3, extract_id).bind(4, rid).run();
                version.bind(1, rid).bind(2, extract_id).bind_blob(3, filter, bytes).bind(4, sum).run();
                ++result.updated;
                break;
            }
        }
        appearance.bind(1, extract_id).bind(2, rid).run();
    }
    Statement(db, "UPDATE extracts SET new_records = ?, updated = ? WHERE extract_id = ?")
        .bind(1, static_cast<std::int64_t>(result.new_records))
        .bind(2, static_cast<std::int64_t>(result.updated))
        .bind(3, extract_id)
        .run();
    std::string detail = std::to_string(result.records) + " records: " + std::to_string(result.new_records) + " new, " +
                         std::to_string(result.updated) + " updated, " + std::to_string(result.unchanged) + " unchanged";
    if (result.refused_erased) detail += ", " + std::to_string(result.refused_erased) + " erased before (not taken back)";
    if (!label.empty()) detail += " (" + label + ")";
    impl_->event("INGEST", as_of, "", "", party, "", detail);
    transaction.commit();
    return result;
}

RegistryLink Registry::link(const RegistryLinkOptions& options) {
    sqlite3* db = impl_->db;
    Transaction transaction(db);
    RegistryLink result;
    {
        Statement latest(db, "SELECT MAX(as_of), MAX(extract_id) FROM extracts");
        latest.step();
        if (latest.is_null(0)) throw UsageError("registry: nothing to link; ingest an extract first");
        result.as_of = latest.text(0);
    }
    const std::int64_t last_extract = impl_->integer("SELECT MAX(extract_id) FROM extracts");
    CurrentRecords current = impl_->current();
    result.records = current.size();

    // The stored pairs: complete at their threshold and blocking for every record not dirty (see
    // the pair lists above).
    const std::string stored_threshold = impl_->meta("pair_threshold");
    const std::string blocking = blocking_text(options);
    Threshold scoring = options.threshold;
    result.rescored_all = stored_threshold.empty() || impl_->meta("pair_blocking") != blocking ||
                          lower(options.threshold, parse_threshold_text(stored_threshold));
    if (result.rescored_all) {
        execute(db, "DELETE FROM pair_lists", "clearing the pairs");
        for (auto& dirty : current.dirty) std::fill(dirty.begin(), dirty.end(), 1);
        for (auto& place : current.places) place.dirty = true;
    } else {
        scoring = parse_threshold_text(stored_threshold);
    }

    // Pairs involving dirty records: dirty rows of one side against all of the other, and the clean
    // rows of the first side against the dirty rows of the second (no pair is scored twice). Each
    // is kept in the list of a dirty record of the pair.
    MatchOptions match_options;
    match_options.threshold = scoring;
    match_options.threads = options.threads;
    LshOptions lsh = options.lsh;
    lsh.threads = options.threads;
    std::vector<StoredPair> new_pairs;
    const auto rows_where = [&](std::size_t p, bool dirty) {
        std::vector<std::size_t> rows;
        for (std::size_t r = 0; r < current.dirty[p].size(); ++r)
            if ((current.dirty[p][r] != 0) == dirty) rows.push_back(r);
        return rows;
    };
    // Scores rows_p of party p against rows_q of party q (all of q if null); the dirty side owns.
    const auto score = [&](std::size_t p, const std::vector<std::size_t>& rows_p, std::size_t q,
                           const std::vector<std::size_t>* rows_q, bool p_owns) {
        if (rows_p.empty() || (rows_q != nullptr && rows_q->empty())) return;
        const FilterMatrix a = current.parties[p].copy_rows(rows_p);
        const FilterMatrix b = rows_q != nullptr ? current.parties[q].copy_rows(*rows_q) : current.parties[q];
        Candidates found;
        if (options.blocking && p != q) {  // pprl::link deduplicates one party exactly, blocking or not
            auto proposed = lsh_pairs(a, b, lsh);
            result.comparisons += proposed.size();
            found = score_pairs(a, b, std::move(proposed), match_options);
        } else {
            result.comparisons += p == q && rows_q == nullptr ? static_cast<std::uint64_t>(a.rows()) * (a.rows() - 1) / 2
                                                              : static_cast<std::uint64_t>(a.rows()) * b.rows();
            found = p == q && rows_q == nullptr ? match_dedup(a, match_options) : match(a, b, match_options);
        }
        for (std::size_t k = 0; k < found.size(); ++k) {
            const std::int64_t x = current.rids[p][rows_p[found.a_index[k]]];
            const std::int64_t y = rows_q != nullptr ? current.rids[q][(*rows_q)[found.b_index[k]]]
                                                     : current.rids[q][p == q ? rows_p[found.b_index[k]] : found.b_index[k]];
            new_pairs.push_back(p_owns ? StoredPair{x, y, found.common[k], found.total[k]}
                                       : StoredPair{y, x, found.common[k], found.total[k]});
        }
    };
    const auto score_dirty = [&] {
        if (current.parties.size() == 1) {
            // One party: deduplication. Dirty pairs among themselves, and dirty against clean.
            const std::vector<std::size_t> dirty = rows_where(0, true), clean = rows_where(0, false);
            result.scored_records = dirty.size();
            score(0, dirty, 0, nullptr, true);
            score(0, dirty, 0, &clean, true);
        } else {
            for (std::size_t p = 0; p < current.parties.size(); ++p) result.scored_records += rows_where(p, true).size();
            for (std::size_t p = 0; p < current.parties.size(); ++p)
                for (std::size_t q = p + 1; q < current.parties.size(); ++q) {
                    const std::vector<std::size_t> dirty_q = rows_where(q, true);
                    score(p, rows_where(p, true), q, nullptr, true);
                    score(p, rows_where(p, false), q, &dirty_q, false);
                }
        }
    };

    // The candidates at this run's threshold: the kept pairs that reach it, then the new ones.
    LinkResult solved;
    solved.party_labels = current.labels;
    using Place = CurrentRecords::Place;
    const auto add_candidate = [&](const Place* x, const Place* y, const StoredPair& pair) {
        if (!options.threshold.passes(pair.common, pair.total)) return;
        if (y->party < x->party || (y->party == x->party && y->row < x->row)) std::swap(x, y);
        solved.candidates.push_back(ScoredPair{x->party, x->row, y->party, y->row, pair.common, pair.total});
    };
    // A kept list is valid for its clean owner; an entry whose partner has since been updated is
    // stale (the partner's new pairs come with the new ones) and is skipped. When stale entries
    // outnumber the valid ones, every list is rewritten without them.
    std::uint64_t stale = 0;
    std::vector<std::pair<std::int64_t, std::vector<StoredPair>>> kept_lists;
    const auto read_kept = [&] {
        // Room for every stored pair at once (an upper bound: the lists' sizes, read from their record
        // headers) and a quarter more for the new ones, so that tens of millions of candidates are not
        // copied as the vector grows.
        {
            Statement sizes(db, "SELECT COALESCE(SUM(length(pairs)), 0) FROM pair_lists");
            sizes.step();
            const auto stored = static_cast<std::size_t>(sizes.integer(0)) / stored_pair_bytes;
            solved.candidates.reserve(stored + stored / 4);
        }
        Statement lists(db, "SELECT rid, scored_through, pairs FROM pair_lists");
        std::vector<StoredPair> entries;
        while (lists.step()) {
            const std::int64_t owner = lists.integer(0), scored = lists.integer(1);
            const Place* at = current.place(owner);
            if (at == nullptr || at->dirty) continue;  // replaced below (dirty) or erased
            decode_pairs(owner, lists.blob(2), lists.blob_size(2), entries);
            const auto is_stale = [&](const Place* partner) { return partner == nullptr || partner->filter_extract > scored; };
            std::size_t list_stale = 0;
            for (const StoredPair& pair : entries) {
                const Place* partner = current.place(pair.partner);
                if (is_stale(partner)) {
                    ++list_stale;
                    continue;
                }
                add_candidate(at, partner, pair);
            }
            result.kept_pairs += entries.size() - list_stale;
            stale += list_stale;
            if (list_stale != 0) {
                std::vector<StoredPair> valid;
                for (const StoredPair& pair : entries)
                    if (!is_stale(current.place(pair.partner))) valid.push_back(pair);
                kept_lists.emplace_back(owner, std::move(valid));
            }
        }
    };
    // The kept pairs are read on a thread of their own while the dirty records are scored: the two
    // share nothing but the current records, which neither changes.
    const bool two_threads = detail::thread_count(options.threads, 2) > 1;
    detail::overlap(read_kept, two_threads, score_dirty);
    solved.candidates.reserve(solved.candidates.size() + new_pairs.size());
    // The new pairs join the candidates (any order: ranking sorts them into one total order).
    std::sort(new_pairs.begin(), new_pairs.end(), [](const StoredPair& x, const StoredPair& y) {
        return x.owner != y.owner ? x.owner < y.owner : x.partner < y.partner;
    });
    for (const StoredPair& pair : new_pairs) {
        const Place* x = current.place(pair.owner);
        const Place* y = current.place(pair.partner);
        if (x == nullptr || y == nullptr) throw FormatError("registry: a new pair names a record that is not current");
        add_candidate(x, y, pair);
    }

    LinkOptions link_options;
    link_options.threshold = options.threshold;
    link_options.method = options.method;
    link_options.merge = options.merge;
    link_options.threads = options.threads;
    std::vector<const FilterMatrix*> parties;
    std::vector<std::int64_t> node_rid;  // records numbered party by party, as solve_clusters numbers them
    for (std::size_t p = 0; p < current.parties.size(); ++p) {
        parties.push_back(&current.parties[p]);
        node_rid.insert(node_rid.end(), current.rids[p].begin(), current.rids[p].end());
    }
    const std::size_t nodes = node_rid.size();
    // The new partition, with clusters numbered in the order of their first-seen member (smallest
    // rid), is worked out on a thread of its own while this one writes the pair lists and reads the
    // previous partition: the two touch nothing in common.
    std::vector<std::size_t> cluster_of(nodes), cluster_size;
    const auto solve = [&] {
        // For the optimal method, as link() orders them: party-pair blocks in match() order (score
        // descending, then rows). For greedy, in the merge's own order already (a sort of the
        // pairs themselves, which the merge's sort of their indices then finds done).
        if (options.method == LinkMethod::optimal)
            std::sort(solved.candidates.begin(), solved.candidates.end(), [](const ScoredPair& x, const ScoredPair& y) {
                if (x.party_a != y.party_a) return x.party_a < y.party_a;
                if (x.party_b != y.party_b) return x.party_b < y.party_b;
                if (const int order = compare_scores(x.common, x.total, y.common, y.total); order != 0) return order > 0;
                if (x.a != y.a) return x.a < y.a;
                return x.b < y.b;
            });
        else
            detail::sort_in_rank_order(solved.candidates);
        const std::vector<std::size_t> root =
            parties.empty() ? std::vector<std::size_t>() : detail::solve_clusters(parties, link_options, solved);
        std::vector<std::int64_t> first_rid(nodes, INT64_MAX);
        for (std::size_t node = 0; node < nodes; ++node) first_rid[root[node]] = std::min(first_rid[root[node]], node_rid[node]);
        std::vector<std::size_t> roots;
        for (std::size_t node = 0; node < nodes; ++node)
            if (root[node] == node) roots.push_back(node);
        std::sort(roots.begin(), roots.end(), [&](std::size_t x, std::size_t y) { return first_rid[x] < first_rid[y]; });
        cluster_size.assign(roots.size(), 0);
        for (std::size_t c = 0; c < roots.size(); ++c) cluster_of[roots[c]] = c;
        for (std::size_t node = 0; node < nodes; ++node) ++cluster_size[cluster_of[node] = cluster_of[root[node]]];
    };
    std::vector<std::int64_t> previous(current.places.size(), 0);  // each record's entity by issue order (0: none yet)
    std::unordered_map<std::int64_t, std::string> entity_ids;      // seq → id of every entity not retired
    const auto store = [&] {
        Statement drop_list(db, "DELETE FROM pair_lists WHERE rid = ?");
        Statement put_list(db, "INSERT OR REPLACE INTO pair_lists(rid, scored_through, pairs) VALUES(?, ?, ?)");
        if (stale > result.kept_pairs)
            for (const auto& [owner, valid] : kept_lists) {
                if (valid.empty()) {
                    drop_list.bind(1, owner).run();
                    continue;
                }
                const std::string blob = encode_pairs(valid.begin(), valid.end());
                Statement(db, "UPDATE pair_lists SET pairs = ? WHERE rid = ?").bind_blob(1, blob.data(), blob.size()).bind(2, owner).run();
            }
        // Each dirty record's list, replaced whole (empty lists are not kept).
        for (std::size_t p = 0; p < current.parties.size(); ++p)
            for (std::size_t r = 0; r < current.rids[p].size(); ++r)
                if (current.dirty[p][r]) drop_list.bind(1, current.rids[p][r]).run();
        for (auto first = new_pairs.begin(); first != new_pairs.end();) {
            auto last = first;
            while (last != new_pairs.end() && last->owner == first->owner) ++last;
            const std::string blob = encode_pairs(first, last);
            put_list.bind(1, first->owner).bind(2, last_extract).bind_blob(3, blob.data(), blob.size()).run();
            first = last;
        }
        impl_->set_meta("scored_through", std::to_string(last_extract));
        impl_->set_meta("pair_threshold", threshold_text(scoring));
        impl_->set_meta("pair_blocking", blocking);

        Statement memberships(db, "SELECT rid, seq FROM memberships WHERE to_link IS NULL");
        while (memberships.step())
            if (const auto rid = memberships.integer(0); rid >= 0 && static_cast<std::size_t>(rid) < previous.size())
                previous[static_cast<std::size_t>(rid)] = memberships.integer(1);
        Statement entities(db, "SELECT seq, entity_id FROM entities WHERE retired_link IS NULL");
        while (entities.step()) entity_ids.emplace(entities.integer(0), entities.text(1));
    };
    detail::overlap(solve, two_threads, store);
    for (char linked : solved.linked) result.links += linked != 0;
    result.entities = cluster_size.size();

    // Where each previous entity's records went: (seq, cluster, records), and its heir, the cluster
    // holding most of them (ties: the cluster whose first member was seen first, the lower index).
    struct Spread {
        std::int64_t seq;
        std::size_t cluster, records;
        bool split_away;  // not the heir: these records left the entity
    };
    std::vector<Spread> spread;
    {
        std::vector<std::pair<std::int64_t, std::size_t>> placed;  // (seq, cluster) per previously linked record
        for (std::size_t node = 0; node < nodes; ++node)
            if (const std::int64_t seq = previous[static_cast<std::size_t>(node_rid[node])]; seq != 0)
                placed.emplace_back(seq, cluster_of[node]);
        std::sort(placed.begin(), placed.end());
        for (std::size_t k = 0; k < placed.size();) {
            std::size_t end = k;
            while (end < placed.size() && placed[end] == placed[k]) ++end;
            spread.push_back({placed[k].first, placed[k].second, end - k, false});
            k = end;
        }
    }
    std::vector<std::pair<std::size_t, std::int64_t>> heirs;  // (cluster, seq): oldest first per cluster
    for (std::size_t k = 0; k < spread.size();) {
        std::size_t best = k, end = k;
        for (; end < spread.size() && spread[end].seq == spread[k].seq; ++end)
            if (spread[end].records > spread[best].records) best = end;
        heirs.emplace_back(spread[best].cluster, spread[k].seq);
        for (std::size_t j = k; j < end; ++j) spread[j].split_away = j != best;
        k = end;
    }
    std::sort(heirs.begin(), heirs.end());

    Statement(db,
              "INSERT INTO link_runs(as_of, last_extract, threshold, method, merge_rule, blocking, comparisons, kept_pairs, ran_at) "
              "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, result.as_of)
        .bind(2, last_extract)
        .bind(3, threshold_text(options.threshold))
        .bind(4, method_name(options.method))
        .bind(5, merge_name(options.merge))
        .bind(6, blocking)
        .bind(7, static_cast<std::int64_t>(result.comparisons))
        .bind(8, static_cast<std::int64_t>(result.kept_pairs))
        .bind(9, utc_now())
        .run();
    const std::int64_t link_id = sqlite3_last_insert_rowid(db);
    result.link = link_id;

    const auto id_of = [&](std::int64_t seq) -> const std::string& {
        const auto it = entity_ids.find(seq);
        if (it == entity_ids.end()) throw FormatError("registry: a record belongs to a retired entity (run registry verify)");
        return it->second;
    };
    Statement taken(db, "SELECT 1 FROM entities WHERE entity_id = ?");
    Statement add_entity(db, "INSERT INTO entities(entity_id, created_link) VALUES(?, ?)");
    Statement retire(db, "UPDATE entities SET retired_link = ?, survivor = ? WHERE seq = ?");
    std::vector<std::int64_t> cluster_seq(cluster_size.size(), 0);
    std::vector<std::string> cluster_id(cluster_size.size());
    for (std::size_t k = 0; k < heirs.size();) {
        const std::size_t c = heirs[k].first;
        cluster_seq[c] = heirs[k].second;  // the oldest claimant survives
        cluster_id[c] = id_of(cluster_seq[c]);
        ++result.kept_ids;
        for (++k; k < heirs.size() && heirs[k].first == c; ++k) {
            retire.bind(1, link_id).bind(2, cluster_id[c]).bind(3, heirs[k].second).run();
            impl_->event("MERGE", result.as_of, id_of(heirs[k].second), cluster_id[c], "", "",
                         "merged into " + cluster_id[c] + ", which keeps its id (the older one)");
            ++result.merged;
        }
    }
    for (std::size_t c = 0; c < cluster_size.size(); ++c) {
        if (cluster_seq[c] != 0) continue;
        cluster_id[c] = fresh_entity_id(taken);
        add_entity.bind(1, cluster_id[c]).bind(2, link_id).run();
        cluster_seq[c] = sqlite3_last_insert_rowid(db);
        impl_->event("NEW", result.as_of, cluster_id[c], "", "", "", std::to_string(cluster_size[c]) + " records");
        ++result.new_entities;
    }
    // Splits: a previous entity whose records now sit in more than one cluster.
    for (const Spread& part : spread)
        if (part.split_away) {
            impl_->event("SPLIT", result.as_of, id_of(part.seq), cluster_id[part.cluster], "", "",
                         std::to_string(part.records) + " of its records now belong to " + cluster_id[part.cluster]);
            ++result.split;
        }
    Statement close_membership(db, "UPDATE memberships SET to_link = ? WHERE rid = ? AND to_link IS NULL");
    Statement open_membership(db, "INSERT INTO memberships(rid, seq, from_link, to_link) VALUES(?, ?, ?, NULL)");
    for (std::size_t node = 0; node < nodes; ++node) {
        const std::int64_t rid = node_rid[node], was = previous[static_cast<std::size_t>(rid)];
        const std::int64_t now = cluster_seq[cluster_of[node]];
        if (was == now) continue;
        if (was != 0) {
            close_membership.bind(1, link_id).bind(2, rid).run();
            ++result.moved_records;
        }
        open_membership.bind(1, rid).bind(2, now).bind(3, link_id).run();
    }
    impl_->event("LINK", result.as_of, "", "", "", "",
                 std::to_string(result.records) + " records in " + std::to_string(result.entities) + " entities: " +
                     std::to_string(result.new_entities) + " new, " + std::to_string(result.merged) + " merged, " +
                     std::to_string(result.split) + " split, " + std::to_string(result.moved_records) + " records moved");
    transaction.commit();
    return result;
}

std::vector<RegistryEntityRow> Registry::entities(const std::string& as_of) const {
    if (!as_of.empty()) check_date(as_of, "--as-of");
    sqlite3* db = impl_->db;
    Statement run(db, as_of.empty() ? "SELECT MAX(link_id), MAX(as_of) FROM link_runs"
                                    : "SELECT link_id, as_of FROM link_runs WHERE as_of <= ?1 ORDER BY link_id DESC LIMIT 1");
    if (!as_of.empty()) run.bind(1, as_of);
    std::vector<RegistryEntityRow> rows;
    if (!run.step() || run.is_null(0)) return rows;
    const std::int64_t link_id = run.integer(0);
    const std::string run_as_of = run.text(1);
    // When each record was last seen: the extracts up to that date in date order, each read along its
    // appearances (stored by extract), later ones overwriting earlier ones.
    std::vector<std::string> dates;
    std::vector<std::int32_t> last_seen(static_cast<std::size_t>(impl_->integer("SELECT COALESCE(MAX(rid), 0) FROM records")) + 1, -1);
    {
        Statement extracts(db, "SELECT extract_id, as_of FROM extracts WHERE as_of <= ? ORDER BY as_of, extract_id");
        extracts.bind(1, run_as_of);
        Statement appeared(db, "SELECT rid FROM appearances WHERE extract_id = ?");
        while (extracts.step()) {
            dates.push_back(extracts.text(1));
            appeared.bind(1, extracts.integer(0));
            while (appeared.step())
                if (const auto rid = appeared.integer(0); rid >= 0 && static_cast<std::size_t>(rid) < last_seen.size())
                    last_seen[static_cast<std::size_t>(rid)] = static_cast<std::int32_t>(dates.size() - 1);
            appeared.reset();
        }
    }
    Statement query(db,
                    "SELECT p.label, r.record_id, e.entity_id, r.rid "
                    "FROM memberships m JOIN records r ON r.rid = m.rid JOIN parties p ON p.party_id = r.party_id "
                    "JOIN entities e ON e.seq = m.seq "
                    "WHERE m.from_link <= ?1 AND (m.to_link IS NULL OR m.to_link > ?1) AND r.erased = 0 "
                    "ORDER BY r.party_id, r.rid");
    query.bind(1, link_id);
    while (query.step()) {
        const auto rid = static_cast<std::size_t>(query.integer(3));
        const std::int32_t seen = rid < last_seen.size() ? last_seen[rid] : -1;
        rows.push_back(RegistryEntityRow{query.text(0), query.text(1), query.text(2), seen < 0 ? std::string() : dates[static_cast<std::size_t>(seen)]});
    }
    return rows;
}

namespace {

RegistryEvent read_event(const Statement& row) {
    return RegistryEvent{row.integer(0), row.text(1), row.text(2), row.text(3), row.text(4),
                         row.text(5),    row.text(6), row.text(7), row.text(8)};
}

constexpr const char* event_columns = "SELECT event_id, kind, as_of, recorded_at, entity, other, party, record_id, detail FROM events ";

std::vector<RegistryMembership> memberships(sqlite3* db, const std::string& where, const std::vector<std::string>& values) {
    const std::string sql =
        "SELECT p.label, r.record_id, e.entity_id, f.as_of, t.as_of FROM memberships m "
        "JOIN records r ON r.rid = m.rid JOIN parties p ON p.party_id = r.party_id JOIN entities e ON e.seq = m.seq "
        "JOIN link_runs f ON f.link_id = m.from_link LEFT JOIN link_runs t ON t.link_id = m.to_link WHERE " +
        where + " ORDER BY m.from_link, r.party_id, r.rid";
    Statement query(db, sql.c_str());
    for (std::size_t k = 0; k < values.size(); ++k) query.bind(static_cast<int>(k + 1), values[k]);
    std::vector<RegistryMembership> out;
    while (query.step()) out.push_back(RegistryMembership{query.text(0), query.text(1), query.text(2), query.text(3), query.text(4)});
    return out;
}

}  // namespace

std::vector<RegistryEvent> Registry::events(const std::string& since) const {
    if (!since.empty()) check_date(since, "--since");
    const std::string sql = std::string(event_columns) + (since.empty() ? "" : "WHERE as_of >= ?1 ") + "ORDER BY event_id";
    Statement query(impl_->db, sql.c_str());
    if (!since.empty()) query.bind(1, since);
    std::vector<RegistryEvent> out;
    while (query.step()) out.push_back(read_event(query));
    return out;
}

std::vector<RegistryEvent> Registry::entity_events(const std::string& entity_id) const {
    const std::string sql = std::string(event_columns) + "WHERE entity = ?1 OR other = ?1 ORDER BY event_id";
    Statement query(impl_->db, sql.c_str());
    query.bind(1, entity_id);
    std::vector<RegistryEvent> out;
    while (query.step()) out.push_back(read_event(query));
    return out;
}

std::vector<RegistryMembership> Registry::entity_history(const std::string& entity_id) const {
    return memberships(impl_->db, "e.entity_id = ?1", {entity_id});
}

std::vector<RegistryMembership> Registry::record_history(const std::string& party, const std::string& record_id) const {
    return memberships(impl_->db, "p.label = ?1 AND r.record_id = ?2", {party, record_id});
}

RegistryVerification Registry::verify() const {
    sqlite3* db = impl_->db;
    RegistryVerification report;
    // Everything below reads one snapshot.
    execute(db, "BEGIN", "starting a read");
    struct End {
        sqlite3* db;
        ~End() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
    } end{db};
    {
        Statement check(db, "PRAGMA integrity_check");
        while (check.step())
            if (check.text(0) != "ok") report.problems.push_back("SQLite integrity check: " + check.text(0));
    }
    const std::string bits_text = impl_->meta("bits");
    const std::size_t bytes = bits_text.empty() ? 0 : FilterMatrix::bytes_for(static_cast<unsigned>(std::stoul(bits_text)));
    const auto check_filters = [&](const char* sql, const char* what) {
        Statement query(db, sql);
        std::uint64_t bad = 0;
        while (query.step()) {
            ++report.filters;
            if (query.blob_size(1) != bytes || filter_checksum(query.blob(1), query.blob_size(1)) != query.integer(0)) ++bad;
        }
        if (bad) report.problems.push_back(std::to_string(bad) + " " + what + " fail their checksum or have the wrong size");
    };
    check_filters("SELECT checksum, filter FROM records WHERE erased = 0", "current filters");
    check_filters("SELECT checksum, filter FROM filter_versions", "stored filter versions");
    report.records = static_cast<std::uint64_t>(impl_->integer("SELECT COUNT(*) FROM records WHERE erased = 0"));
    report.entities = static_cast<std::uint64_t>(
        impl_->integer("SELECT COUNT(DISTINCT seq) FROM memberships WHERE to_link IS NULL"));
    const auto count_problem = [&](const char* sql, const std::string& what) {
        if (const std::int64_t n = impl_->integer(sql); n != 0) report.problems.push_back(std::to_string(n) + " " + what);
    };
    // Every record covered by the last link run is in exactly one entity; none after it is in any.
    count_problem(
        "SELECT COUNT(*) FROM records r WHERE r.erased = 0 AND r.first_extract <= "
        "(SELECT COALESCE(MAX(last_extract), 0) FROM link_runs) AND "
        "(SELECT COUNT(*) FROM memberships m WHERE m.rid = r.rid AND m.to_link IS NULL) != 1",
        "linked records are not in exactly one entity");
    count_problem(
        "SELECT COUNT(*) FROM records r WHERE r.first_extract > (SELECT COALESCE(MAX(last_extract), 0) FROM link_runs) "
        "AND EXISTS (SELECT 1 FROM memberships m WHERE m.rid = r.rid)",
        "records not yet linked have an entity");
    if (impl_->integer("SELECT COUNT(*) FROM parties") > 1)
        count_problem(
            "SELECT COUNT(*) FROM (SELECT m.seq FROM memberships m JOIN records r ON r.rid = m.rid "
            "WHERE m.to_link IS NULL GROUP BY m.seq, r.party_id HAVING COUNT(*) > 1)",
            "entities hold more than one record of a party");
    count_problem("SELECT COUNT(*) - COUNT(DISTINCT entity_id) FROM entities", "entity ids were issued twice");
    count_problem(
        "SELECT COUNT(*) FROM memberships m JOIN entities e ON e.seq = m.seq WHERE m.to_link IS NULL AND e.retired_link IS NOT NULL",
        "records belong to a retired entity");
    count_problem(
        "SELECT COUNT(*) FROM records r WHERE r.erased != 0 AND (r.filter IS NOT NULL OR "
        "EXISTS (SELECT 1 FROM filter_versions v WHERE v.rid = r.rid) OR EXISTS (SELECT 1 FROM memberships m WHERE m.rid = r.rid))",
        "erased records still have filters or entities");
    {
        // Every stored pair is between two records the registry holds and has not erased.
        std::unordered_set<std::int64_t> current;
        Statement rids(db, "SELECT rid FROM records WHERE erased = 0");
        while (rids.step()) current.insert(rids.integer(0));
        Statement lists(db, "SELECT rid, pairs FROM pair_lists");
        std::vector<StoredPair> entries;
        std::uint64_t bad = 0;
        while (lists.step()) {
            if (lists.blob_size(1) % stored_pair_bytes != 0) {
                ++bad;
                continue;
            }
            decode_pairs(lists.integer(0), lists.blob(1), lists.blob_size(1), entries);
            for (const StoredPair& pair : entries) bad += !current.count(pair.owner) || !current.count(pair.partner);
        }
        if (bad) report.problems.push_back(std::to_string(bad) + " stored pairs name a record that is not current");
    }
    return report;
}

void Registry::backup(const std::string& path) const {
    struct stat existing {};
    if (::lstat(path.c_str(), &existing) == 0) throw UsageError("registry backup: '" + path + "' already exists; a backup never replaces a file");
    AtomicFile out(path, 0600);
    sqlite3* copy = nullptr;
    int rc = sqlite3_open_v2(out.temporary_path().c_str(), &copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    struct Close {
        sqlite3*& db;
        ~Close() { sqlite3_close_v2(db); }
    } close{copy};
    if (rc != SQLITE_OK) fail(copy, rc, "creating the backup");
    execute(copy, "PRAGMA journal_mode = OFF", "creating the backup");  // the copy is renamed into place whole
    sqlite3_backup* job = sqlite3_backup_init(copy, "main", impl_->db, "main");
    if (job == nullptr) fail(copy, sqlite3_errcode(copy), "starting the backup");
    rc = sqlite3_backup_step(job, -1);
    sqlite3_backup_finish(job);
    if (rc != SQLITE_DONE) fail(copy, rc, "copying the registry");
    rc = sqlite3_close_v2(copy);
    copy = nullptr;
    if (rc != SQLITE_OK) fail(nullptr, rc, "closing the backup");
    out.commit();
}

void Registry::forget(const std::string& party, const std::string& record_id) {
    sqlite3* db = impl_->db;
    Transaction transaction(db);
    Statement find(db,
                   "SELECT r.rid, r.erased FROM records r JOIN parties p ON p.party_id = r.party_id "
                   "WHERE p.label = ? AND r.record_id = ?");
    find.bind(1, party).bind(2, record_id);
    if (!find.step()) throw UsageError("registry forget: party '" + party + "' has no record with that id");
    if (find.integer(1) != 0) throw UsageError("registry forget: that record of party '" + party + "' was erased before");
    const std::int64_t rid = find.integer(0);
    // Its current entity, retired here if the record was its last member.
    Statement entity(db,
                     "SELECT m.seq, e.entity_id, (SELECT COUNT(*) FROM memberships o WHERE o.seq = m.seq AND o.to_link IS NULL) "
                     "FROM memberships m JOIN entities e ON e.seq = m.seq WHERE m.rid = ? AND m.to_link IS NULL");
    entity.bind(1, rid);
    const bool linked = entity.step();
    const std::string entity_id = linked ? entity.text(1) : std::string();
    const bool last_member = linked && entity.integer(2) == 1;
    const std::int64_t seq = linked ? entity.integer(0) : 0;
    entity.reset();
    // Its pairs: its own list, and its entries in other records' lists (every list is read: erasure
    // is rare, and no index of partners is kept for it).
    {
        std::vector<std::pair<std::int64_t, std::string>> rewritten;
        Statement lists(db, "SELECT rid, pairs FROM pair_lists");
        std::vector<StoredPair> entries;
        while (lists.step()) {
            decode_pairs(lists.integer(0), lists.blob(1), lists.blob_size(1), entries);
            const auto end = std::remove_if(entries.begin(), entries.end(), [&](const StoredPair& pair) { return pair.partner == rid; });
            if (end != entries.end()) rewritten.emplace_back(lists.integer(0), encode_pairs(entries.begin(), end));
        }
        Statement put(db, "UPDATE pair_lists SET pairs = ? WHERE rid = ?");
        for (const auto& [owner, blob] : rewritten) put.bind_blob(1, blob.data(), blob.size()).bind(2, owner).run();
    }
    for (const char* sql : {"DELETE FROM pair_lists WHERE rid = ?1", "DELETE FROM filter_versions WHERE rid = ?1",
                            "DELETE FROM memberships WHERE rid = ?1", "DELETE FROM appearances WHERE rid = ?1",
                            "UPDATE records SET filter = NULL, checksum = NULL, erased = 1 WHERE rid = ?1"})
        Statement(db, sql).bind(1, rid).run();
    Statement latest(db, "SELECT COALESCE(MAX(as_of), '') FROM link_runs");
    latest.step();
    const std::string as_of = latest.text(0);
    if (last_member) {
        const std::int64_t link_id = impl_->integer("SELECT COALESCE(MAX(link_id), 0) FROM link_runs");
        Statement(db, "UPDATE entities SET retired_link = ? WHERE seq = ?").bind(1, link_id).bind(2, seq).run();
        impl_->event("RETIRE", as_of, entity_id, "", "", "", "its only record was erased");
    }
    impl_->event("FORGET", as_of, entity_id, "", party, record_id, "filter, pairs and entity memberships erased on request");
    transaction.commit();
}

std::vector<FilterMatrix> Registry::current_filters() const { return impl_->current().parties; }

std::uint64_t Registry::unlinked_records() const {
    return static_cast<std::uint64_t>(impl_->integer(
        "SELECT COUNT(*) FROM records r WHERE r.erased = 0 AND NOT EXISTS "
        "(SELECT 1 FROM memberships m WHERE m.rid = r.rid AND m.to_link IS NULL)"));
}

}  // namespace pprl
