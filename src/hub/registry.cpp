// hub/registry.cpp — the registry of pprl/registry.hpp on SQLite.
//
// Tables (layout version 1):
//   meta(key, value)                    bits, schema and key of the registry; the pair table's
//                                       threshold and blocking
//   parties(party_id, label)            in first-ingest order
//   extracts(extract_id, party_id, label, as_of, checksum, records, ...)   checksum: XXH3-128 of the file
//   records(rid, party_id, record_id, filter, checksum, first_extract, last_extract, dirty, erased)
//                                       rid in first-seen order; filter is the current version;
//                                       dirty: new or updated since the last link; erased: forgotten
//   filter_versions(rid, extract_id, filter)   every version of every filter (history)
//   appearances(rid, extract_id)        the extracts each record appeared in
//   pairs(rid_a, rid_b, common, total)  candidate pairs at the stored threshold (rid_a's party first)
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
#include <map>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "runtime/calendar.hpp"
#include "format/atomic_file.hpp"
#include "hub/solve.hpp"
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
  last_extract INTEGER NOT NULL, dirty INTEGER NOT NULL, erased INTEGER NOT NULL DEFAULT 0,
  UNIQUE(party_id, record_id));
CREATE TABLE filter_versions(rid INTEGER NOT NULL, extract_id INTEGER NOT NULL, filter BLOB NOT NULL,
  checksum INTEGER NOT NULL, PRIMARY KEY(rid, extract_id)) WITHOUT ROWID;
CREATE TABLE appearances(rid INTEGER NOT NULL, extract_id INTEGER NOT NULL,
  PRIMARY KEY(rid, extract_id)) WITHOUT ROWID;
CREATE TABLE pairs(rid_a INTEGER NOT NULL, rid_b INTEGER NOT NULL, common INTEGER NOT NULL,
  total INTEGER NOT NULL, PRIMARY KEY(rid_a, rid_b)) WITHOUT ROWID;
CREATE INDEX pairs_by_b ON pairs(rid_b);
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
    std::string text(int column) const {
        const auto* data = sqlite3_column_text(statement_, column);
        return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data),
                                                             static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
    }
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
    const bool shaped = date.size() == 10 && date[4] == '-' && date[7] == '-' &&
                        std::all_of(date.begin(), date.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '-'; });
    if (shaped) {
        const long year = std::stol(date.substr(0, 4));
        const int month = std::stoi(date.substr(5, 2)), day = std::stoi(date.substr(8, 2));
        if (year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month)) return;
    }
    throw UsageError(option + " must be a date written YYYY-MM-DD");
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

// The current records, party by party (first-ingest order), each party's in first-seen order.
struct CurrentRecords {
    std::vector<std::string> labels;
    std::vector<FilterMatrix> parties;
    std::vector<std::vector<std::int64_t>> rids;   // per party, per row
    std::vector<std::vector<char>> dirty;         // per party, per row
    std::unordered_map<std::int64_t, std::pair<std::uint32_t, std::uint32_t>> where;  // rid → (party, row)
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

    ~Impl() { sqlite3_close_v2(db); }

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
    void event(const std::string& kind, const std::string& as_of, const std::string& entity, const std::string& other,
               const std::string& party, const std::string& record_id, const std::string& detail) {
        Statement(db, "INSERT INTO events(kind, as_of, recorded_at, entity, other, party, record_id, detail) VALUES(?,?,?,?,?,?,?,?)")
            .bind(1, kind)
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
        Statement counts(db, "SELECT COUNT(*) FROM records WHERE party_id = ? AND erased = 0");
        Statement rows(db, "SELECT rid, record_id, filter, dirty FROM records WHERE party_id = ? AND erased = 0 ORDER BY rid");
        for (std::size_t p = 0; p < party_ids.size(); ++p) {
            counts.bind(1, party_ids[p]);
            counts.step();
            const auto n = static_cast<std::size_t>(counts.integer(0));
            counts.reset();
            FilterMatrix matrix(n, bits);
            matrix.info() = reference;
            matrix.info().party = out.labels[p];
            matrix.ids().reserve(n);
            std::vector<std::int64_t> rids;
            std::vector<char> dirty;
            rids.reserve(n);
            dirty.reserve(n);
            rows.bind(1, party_ids[p]);
            for (std::size_t r = 0; rows.step(); ++r) {
                if (r >= n || rows.blob_size(2) != matrix.bytes()) throw FormatError("registry: a stored filter has the wrong size");
                std::memcpy(matrix.mutable_row_words(r), rows.blob(2), matrix.bytes());
                rids.push_back(rows.integer(0));
                matrix.ids().push_back(rows.text(1));
                dirty.push_back(rows.integer(3) != 0);
                out.where[rids.back()] = {static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(r)};
            }
            rows.reset();
            matrix.compute_popcounts();
            out.parties.push_back(std::move(matrix));
            out.rids.push_back(std::move(rids));
            out.dirty.push_back(std::move(dirty));
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
    {
        std::unordered_set<std::string> seen;
        for (const std::string& id : extract.ids())
            if (!seen.insert(id).second)
                throw ValidationError("registry: '" + encoded_file + "' holds a record id more than once");
    }
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

    Statement find(db, "SELECT rid, checksum, filter, erased FROM records WHERE party_id = ? AND record_id = ?");
    Statement insert(db,
                     "INSERT INTO records(party_id, record_id, filter, checksum, first_extract, last_extract, dirty) "
                     "VALUES(?, ?, ?, ?, ?, ?, 1)");
    Statement update(db, "UPDATE records SET filter = ?, checksum = ?, last_extract = ?, dirty = 1 WHERE rid = ?");
    Statement seen(db, "UPDATE records SET last_extract = ? WHERE rid = ?");
    Statement version(db, "INSERT INTO filter_versions(rid, extract_id, filter, checksum) VALUES(?, ?, ?, ?)");
    Statement appearance(db, "INSERT INTO appearances(rid, extract_id) VALUES(?, ?)");
    Statement drop_pairs_a(db, "DELETE FROM pairs WHERE rid_a = ?");
    Statement drop_pairs_b(db, "DELETE FROM pairs WHERE rid_b = ?");
    const std::size_t bytes = extract.bytes();
    for (std::size_t r = 0; r < extract.rows(); ++r) {
        const std::uint8_t* filter = extract.row_bytes(r);
        const std::int64_t sum = filter_checksum(filter, bytes);
        const std::string& id = extract.ids()[r];
        find.bind(1, party_id).bind(2, id);
        std::int64_t rid = 0;
        if (!find.step()) {
            find.reset();
            insert.bind(1, party_id).bind(2, id).bind_blob(3, filter, bytes).bind(4, sum).bind(5, extract_id).bind(6, extract_id);
            insert.run();
            rid = sqlite3_last_insert_rowid(db);
            version.bind(1, rid).bind(2, extract_id).bind_blob(3, filter, bytes).bind(4, sum).run();
            ++result.new_records;
        } else if (find.integer(3) != 0) {
            find.reset();
            ++result.refused_erased;
            continue;
        } else {
            rid = find.integer(0);
            const bool unchanged = find.integer(1) == sum && find.blob_size(2) == bytes && std::memcmp(find.blob(2), filter, bytes) == 0;
            find.reset();
            if (unchanged) {
                seen.bind(1, extract_id).bind(2, rid).run();
                ++result.unchanged;
            } else {
                update.bind_blob(1, filter, bytes).bind(2, sum).bind(3, extract_id).bind(4, rid).run();
                version.bind(1, rid).bind(2, extract_id).bind_blob(3, filter, bytes).bind(4, sum).run();
                drop_pairs_a.bind(1, rid).run();
                drop_pairs_b.bind(1, rid).run();
                ++result.updated;
            }
        }
        appearance.bind(1, rid).bind(2, extract_id).run();
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

    // The pair table: complete at its stored threshold and blocking, for every record not dirty.
    const std::string stored_threshold = impl_->meta("pair_threshold");
    const std::string blocking = blocking_text(options);
    Threshold scoring = options.threshold;
    result.rescored_all = stored_threshold.empty() || impl_->meta("pair_blocking") != blocking ||
                          lower(options.threshold, parse_threshold_text(stored_threshold));
    if (result.rescored_all) {
        execute(db, "DELETE FROM pairs", "clearing the pairs");
        for (auto& dirty : current.dirty) std::fill(dirty.begin(), dirty.end(), 1);
    } else {
        scoring = parse_threshold_text(stored_threshold);
    }
    result.kept_pairs = static_cast<std::uint64_t>(impl_->integer("SELECT COUNT(*) FROM pairs"));

    // Pairs involving dirty records: dirty rows of one side against all of the other, and the clean
    // rows of the first side against the dirty rows of the second (no pair is scored twice).
    MatchOptions match_options;
    match_options.threshold = scoring;
    match_options.threads = options.threads;
    LshOptions lsh = options.lsh;
    lsh.threads = options.threads;
    Statement add_pair(db, "INSERT INTO pairs(rid_a, rid_b, common, total) VALUES(?, ?, ?, ?)");
    const auto rows_where = [&](std::size_t p, bool dirty) {
        std::vector<std::size_t> rows;
        for (std::size_t r = 0; r < current.dirty[p].size(); ++r)
            if ((current.dirty[p][r] != 0) == dirty) rows.push_back(r);
        return rows;
    };
    const auto score = [&](std::size_t p, const std::vector<std::size_t>& rows_p, std::size_t q,
                           const std::vector<std::size_t>* rows_q) {
        if (rows_p.empty() || (rows_q != nullptr && rows_q->empty())) return;
        const FilterMatrix a = current.parties[p].copy_rows(rows_p);
        const FilterMatrix b = rows_q != nullptr ? current.parties[q].copy_rows(*rows_q) : current.parties[q];
        Candidates found;
        if (options.blocking) {
            auto proposed = lsh_pairs(a, b, lsh);
            result.comparisons += proposed.size();
            found = score_pairs(a, b, std::move(proposed), match_options);
        } else {
            result.comparisons += static_cast<std::uint64_t>(a.rows()) * b.rows();
            found = match(a, b, match_options);
        }
        for (std::size_t k = 0; k < found.size(); ++k) {
            const std::size_t row_b = rows_q != nullptr ? (*rows_q)[found.b_index[k]] : found.b_index[k];
            add_pair.bind(1, current.rids[p][rows_p[found.a_index[k]]])
                .bind(2, current.rids[q][row_b])
                .bind(3, found.common[k])
                .bind(4, found.total[k])
                .run();
        }
    };
    if (current.parties.size() == 1) {
        // One party: deduplication. Dirty pairs among themselves, and dirty against clean.
        const std::vector<std::size_t> dirty = rows_where(0, true), clean = rows_where(0, false);
        result.scored_records = dirty.size();
        if (!dirty.empty()) {
            const FilterMatrix a = current.parties[0].copy_rows(dirty);
            result.comparisons += static_cast<std::uint64_t>(dirty.size()) * (dirty.size() - 1) / 2;
            const Candidates found = match_dedup(a, match_options);
            for (std::size_t k = 0; k < found.size(); ++k)
                add_pair.bind(1, current.rids[0][dirty[found.a_index[k]]])
                    .bind(2, current.rids[0][dirty[found.b_index[k]]])
                    .bind(3, found.common[k])
                    .bind(4, found.total[k])
                    .run();
            const Candidates cross = clean.empty() ? Candidates{} : match(a, current.parties[0].copy_rows(clean), match_options);
            result.comparisons += static_cast<std::uint64_t>(dirty.size()) * clean.size();
            for (std::size_t k = 0; k < cross.size(); ++k) {
                const std::int64_t x = current.rids[0][dirty[cross.a_index[k]]], y = current.rids[0][clean[cross.b_index[k]]];
                add_pair.bind(1, std::min(x, y)).bind(2, std::max(x, y)).bind(3, cross.common[k]).bind(4, cross.total[k]).run();
            }
        }
    } else {
        for (std::size_t p = 0; p < current.parties.size(); ++p) result.scored_records += rows_where(p, true).size();
        for (std::size_t p = 0; p < current.parties.size(); ++p)
            for (std::size_t q = p + 1; q < current.parties.size(); ++q) {
                const std::vector<std::size_t> dirty_q = rows_where(q, true);
                score(p, rows_where(p, true), q, nullptr);
                score(p, rows_where(p, false), q, &dirty_q);
            }
    }
    execute(db, "UPDATE records SET dirty = 0 WHERE dirty != 0", "marking records scored");
    impl_->set_meta("pair_threshold", threshold_text(scoring));
    impl_->set_meta("pair_blocking", blocking);

    // The candidates at this run's threshold, as link() orders them: party-pair blocks in match()
    // order (score descending, then rows).
    LinkResult solved;
    solved.party_labels = current.labels;
    {
        Statement pairs(db, "SELECT rid_a, rid_b, common, total FROM pairs");
        while (pairs.step()) {
            const auto common = static_cast<std::uint32_t>(pairs.integer(2)), total = static_cast<std::uint32_t>(pairs.integer(3));
            if (!options.threshold.passes(common, total)) continue;
            const auto x = current.where.find(pairs.integer(0)), y = current.where.find(pairs.integer(1));
            if (x == current.where.end() || y == current.where.end())
                throw FormatError("registry: a stored pair names a record that is not current (run registry verify)");
            solved.candidates.push_back(ScoredPair{x->second.first, x->second.second, y->second.first, y->second.second, common, total});
        }
    }
    std::sort(solved.candidates.begin(), solved.candidates.end(), [](const ScoredPair& x, const ScoredPair& y) {
        if (x.party_a != y.party_a) return x.party_a < y.party_a;
        if (x.party_b != y.party_b) return x.party_b < y.party_b;
        if (const int order = compare_scores(x.common, x.total, y.common, y.total); order != 0) return order > 0;
        if (x.a != y.a) return x.a < y.a;
        return x.b < y.b;
    });
    LinkOptions link_options;
    link_options.threshold = options.threshold;
    link_options.method = options.method;
    link_options.merge = options.merge;
    link_options.threads = options.threads;
    std::vector<const FilterMatrix*> parties;
    for (const FilterMatrix& matrix : current.parties) parties.push_back(&matrix);
    if (!parties.empty()) detail::solve_links(parties, link_options, solved);
    for (char linked : solved.linked) result.links += linked != 0;

    // The new partition: clusters of rids, each with its first-seen member.
    std::vector<std::vector<std::int64_t>> clusters;
    {
        std::unordered_map<std::string, std::size_t> cluster_of;
        for (std::size_t k = 0; k < solved.entities.size(); ++k) {
            const auto [it, fresh] = cluster_of.emplace(solved.entities.entity_id[k], clusters.size());
            if (fresh) clusters.emplace_back();
            clusters[it->second].push_back(current.rids[solved.entities.party[k]][solved.entities.record[k]]);
        }
        for (auto& members : clusters) std::sort(members.begin(), members.end());
        std::sort(clusters.begin(), clusters.end(), [](const auto& x, const auto& y) { return x.front() < y.front(); });
    }
    result.entities = clusters.size();

    // The previous partition: each current record's entity (by issue order, seq).
    std::unordered_map<std::int64_t, std::int64_t> previous;  // rid → seq
    std::map<std::int64_t, std::string> open_entities;        // seq → id, for entities with current members
    {
        Statement query(db,
                        "SELECT m.rid, m.seq, e.entity_id FROM memberships m JOIN entities e ON e.seq = m.seq "
                        "WHERE m.to_link IS NULL");
        while (query.step()) {
            previous[query.integer(0)] = query.integer(1);
            open_entities[query.integer(1)] = query.text(2);
        }
    }
    // Each previous entity's heir: the cluster holding most of its previous members (ties: the
    // cluster whose first member was seen first, i.e. the lower cluster index).
    std::map<std::int64_t, std::map<std::size_t, std::size_t>> spread;  // seq → cluster → members
    for (std::size_t c = 0; c < clusters.size(); ++c)
        for (std::int64_t rid : clusters[c])
            if (const auto it = previous.find(rid); it != previous.end()) ++spread[it->second][c];
    std::map<std::int64_t, std::size_t> heir;
    for (const auto& [seq, counts] : spread) {
        std::size_t best = counts.begin()->first;
        for (const auto& [c, n] : counts)
            if (n > counts.at(best)) best = c;
        heir[seq] = best;
    }
    std::vector<std::vector<std::int64_t>> claimants(clusters.size());  // previous entities per cluster, oldest first
    for (const auto& [seq, c] : heir) claimants[c].push_back(seq);

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

    Statement taken(db, "SELECT 1 FROM entities WHERE entity_id = ?");
    Statement add_entity(db, "INSERT INTO entities(entity_id, created_link) VALUES(?, ?)");
    Statement retire(db, "UPDATE entities SET retired_link = ?, survivor = ? WHERE seq = ?");
    Statement close_membership(db, "UPDATE memberships SET to_link = ? WHERE rid = ? AND to_link IS NULL");
    Statement open_membership(db, "INSERT INTO memberships(rid, seq, from_link, to_link) VALUES(?, ?, ?, NULL)");
    std::vector<std::int64_t> cluster_seq(clusters.size());
    std::vector<std::string> cluster_id(clusters.size());
    for (std::size_t c = 0; c < clusters.size(); ++c) {
        if (!claimants[c].empty()) {
            cluster_seq[c] = claimants[c].front();
            cluster_id[c] = open_entities.at(cluster_seq[c]);
            ++result.kept_ids;
            for (std::size_t k = 1; k < claimants[c].size(); ++k) {
                const std::int64_t retired = claimants[c][k];
                retire.bind(1, link_id).bind(2, cluster_id[c]).bind(3, retired).run();
                impl_->event("MERGE", result.as_of, open_entities.at(retired), cluster_id[c], "", "",
                             "merged into " + cluster_id[c] + ", which keeps its id (the older one)");
                ++result.merged;
            }
        } else {
            cluster_id[c] = fresh_entity_id(taken);
            add_entity.bind(1, cluster_id[c]).bind(2, link_id).run();
            cluster_seq[c] = sqlite3_last_insert_rowid(db);
            impl_->event("NEW", result.as_of, cluster_id[c], "", "", "", std::to_string(clusters[c].size()) + " records");
            ++result.new_entities;
        }
    }
    // Splits: a previous entity whose members now sit in more than one cluster.
    for (const auto& [seq, counts] : spread)
        for (const auto& [c, n] : counts)
            if (c != heir.at(seq)) {
                impl_->event("SPLIT", result.as_of, open_entities.at(seq), cluster_id[c], "", "",
                             std::to_string(n) + " of its records now belong to " + cluster_id[c]);
                ++result.split;
            }
    // Entities left without current members (their records erased) are retired.
    for (const auto& [seq, id] : open_entities)
        if (!spread.count(seq)) {
            retire.bind(1, link_id).bind_null(2).bind(3, seq).run();
            impl_->event("RETIRE", result.as_of, id, "", "", "", "no current records");
            ++result.retired;
        }
    for (std::size_t c = 0; c < clusters.size(); ++c)
        for (std::int64_t rid : clusters[c]) {
            const auto it = previous.find(rid);
            if (it != previous.end() && it->second == cluster_seq[c]) continue;
            if (it != previous.end()) {
                close_membership.bind(1, link_id).bind(2, rid).run();
                ++result.moved_records;
            }
            open_membership.bind(1, rid).bind(2, cluster_seq[c]).bind(3, link_id).run();
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
    Statement query(db,
                    "SELECT p.label, r.record_id, e.entity_id, "
                    "(SELECT MAX(x.as_of) FROM appearances a JOIN extracts x ON x.extract_id = a.extract_id "
                    " WHERE a.rid = r.rid AND x.as_of <= ?2) "
                    "FROM memberships m JOIN records r ON r.rid = m.rid JOIN parties p ON p.party_id = r.party_id "
                    "JOIN entities e ON e.seq = m.seq "
                    "WHERE m.from_link <= ?1 AND (m.to_link IS NULL OR m.to_link > ?1) AND r.erased = 0 "
                    "ORDER BY r.party_id, r.rid");
    query.bind(1, link_id).bind(2, run_as_of);
    while (query.step()) rows.push_back(RegistryEntityRow{query.text(0), query.text(1), query.text(2), query.text(3)});
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
    count_problem(
        "SELECT COUNT(*) FROM pairs p WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.rid = p.rid_a AND r.erased = 0) "
        "OR NOT EXISTS (SELECT 1 FROM records r WHERE r.rid = p.rid_b AND r.erased = 0)",
        "stored pairs name a record that is not current");
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
    for (const char* sql : {"DELETE FROM pairs WHERE rid_a = ?1 OR rid_b = ?1", "DELETE FROM filter_versions WHERE rid = ?1",
                            "DELETE FROM memberships WHERE rid = ?1", "DELETE FROM appearances WHERE rid = ?1",
                            "UPDATE records SET filter = NULL, checksum = NULL, dirty = 0, erased = 1 WHERE rid = ?1"})
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
