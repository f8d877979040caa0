#include "pprl/encode.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <exception>
#include <mutex>
#include <thread>

#include "clkhash/clkhash.hpp"
#include "crypto/crypto.hpp"
#include "format/csv.hpp"
#include "pprl/error.hpp"
#include "pprl/harden.hpp"
#include "pprl/normalize.hpp"
#include "agency/tokenize.hpp"
#include "clkhash/internal.hpp"
#include "runtime/parallel.hpp"
#include "agency/token_cache.hpp"

namespace pprl {
namespace {

// A raw value longer than this many bytes per allowed code point is rejected before normalisation
// (a UTF-8 code point is at most 4 bytes; NFKC can shrink text, so allow generous slack).
constexpr std::size_t raw_bytes_per_code_point = 8;
// Record ids are opaque keys, not personal data, but a runaway column should still be caught.
constexpr std::size_t max_record_id_bytes = 256;

const char key_check_message[] = "pprl key check v1";

struct BoundField {
    const FieldSpec* spec;
    std::uint32_t index;  // position among the encoded fields (the token cache's field number)
    std::size_t column;
    crypto::HmacSha256 mac;
    std::vector<std::string> missing_values;  // normalised
    std::string replacement;                  // normalised
    std::map<std::string, std::string> aliases;  // normalised alias → value
    const BoundField* salt_source = nullptr;     // the field whose value salts this one's tokens
};

unsigned index_bits(unsigned m) {
    unsigned bits = 0;
    while ((1u << bits) < m) ++bits;
    return bits;
}

// Draws k positions in [0, m) from the HMAC stream of `token` (see the header) into `positions`;
// `first` is block 0 of the stream, HMAC(subkey, 0x00 || token), computed by the caller, and `width`
// is index_bits(m).
void draw_positions(const crypto::HmacSha256& mac, const std::string& token, const crypto::Digest256& first,
                    unsigned k, unsigned m, unsigned width, std::uint16_t* positions) {
    const std::uint32_t mask = (1u << width) - 1;
    std::uint8_t counter = 0;
    crypto::Digest256 digest = first;
    unsigned bit = 0;
    for (unsigned drawn = 0; drawn < k;) {
        if (bit + width > 256) {
            digest = mac.mac(++counter, token.data(), token.size());
            bit = 0;
        }
        const unsigned byte = bit / 8;
        std::uint32_t window = static_cast<std::uint32_t>(digest[byte]) << 16;
        if (byte + 1 < 32) window |= static_cast<std::uint32_t>(digest[byte + 1]) << 8;
        if (byte + 2 < 32) window |= digest[byte + 2];
        const std::uint32_t value = (window >> (24 - bit % 8 - width)) & mask;
        bit += width;
        if (value < m) positions[drawn++] = static_cast<std::uint16_t>(value);
    }
}

// A token of the record being encoded: its field and its k.
struct PendingToken {
    const BoundField* field;
    unsigned k;
};

std::string normalized(const std::string& value, const NormalizeOptions& options) {
    std::string out;
    if (!normalize(value, options, out)) throw ValidationError("a configured value in the schema is not valid UTF-8");
    return out;
}

}  // namespace

KeyCheck key_check_value(const SecretKey& secret) {
    static const char salt[] = "pprl/v1/key-check";
    SecretKey subkey = crypto::hkdf_sha256(secret.data(), secret.size(), salt, sizeof salt - 1, "", 0, 32);
    const crypto::Digest256 mac =
        crypto::hmac_sha256(subkey.data(), subkey.size(), key_check_message, sizeof key_check_message - 1);
    KeyCheck check{};
    std::memcpy(check.data(), mac.data(), check.size());
    return check;
}

EncodingInfo encoding_info(const Schema& schema, const KeyCheck& key_check, const std::string& party) {
    EncodingInfo info;
    info.party = party;
    info.schema_known = true;
    info.schema_fingerprint = schema.fingerprint();
    info.key_known = true;
    info.key_check = key_check;
    return info;
}

struct Encoder::Impl {
    Schema schema;
    KeyCheck key_check{};
    std::vector<BoundField> fields;  // encoded fields in schema order
    unsigned index_width = 0;  // bits per drawn position: index_bits(filter length)
    std::unique_ptr<Hardener> hardener;  // when the schema declares hardening steps
    std::size_t id_index = 0;  // no_column: ids are the data row numbers
    std::size_t column_count = 0;
    bool bound = false;
    // clkhash schemas: the record encoder and each feature's column (no_column: absent, ignored).
    std::unique_ptr<clkhash::RecordEncoder> clkhash;
    std::vector<std::size_t> feature_columns;
    static constexpr std::size_t no_column = static_cast<std::size_t>(-1);

    // Token caches (token_cache.hpp), one per worker at a time: a worker takes one from the pool for
    // a batch (or a single record) and gives it back, so caches are never shared between threads and
    // survive from batch to batch.
    std::size_t token_cache_entries = 0;
    mutable std::mutex caches_mutex;
    mutable std::vector<std::unique_ptr<detail::TokenCache>> idle_caches;
    class CacheLease {
    public:
        explicit CacheLease(const Impl& impl) : impl_(impl) {
            std::lock_guard<std::mutex> lock(impl.caches_mutex);
            if (impl.idle_caches.empty()) {
                cache_ = std::make_unique<detail::TokenCache>(impl.token_cache_entries);
            } else {
                cache_ = std::move(impl.idle_caches.back());
                impl.idle_caches.pop_back();
            }
        }
        ~CacheLease() {
            std::lock_guard<std::mutex> lock(impl_.caches_mutex);
            impl_.idle_caches.push_back(std::move(cache_));
        }
        CacheLease(const CacheLease&) = delete;
        CacheLease& operator=(const CacheLease&) = delete;
        detail::TokenCache& cache() const noexcept { return *cache_; }

    private:
        const Impl& impl_;
        std::unique_ptr<detail::TokenCache> cache_;
    };

    bool encode(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why, std::uint64_t& tokens,
                std::uint64_t& invalid_fields, detail::TokenCache* cache) const;

    // A batch in two phases: the first n rows encoded on `threads` threads, then (serially, in input
    // order) ids checked, rejections recorded and accepted filters gathered.
    struct EncodedRows;
    void encode_rows(const std::vector<std::vector<std::string>>& rows, std::size_t n, unsigned threads,
                     EncodedRows& out) const;
    FilterMatrix finish(const std::vector<std::vector<std::string>>& rows, std::size_t n,
                        const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                        EncodedRows& encoded, RecordIdSet& seen_ids, EncodeSummary& summary) const;

    bool encode_clkhash(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                        std::uint64_t& tokens, detail::TokenCache* cache) const;
    void bind_clkhash(const std::map<std::string, std::size_t>& position, const std::vector<std::string>& columns);
};

bool Encoder::Impl::encode_clkhash(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                                   std::uint64_t& tokens, detail::TokenCache* cache) const {
    static const std::string empty;
    thread_local std::vector<const std::string*> feature_values;
    feature_values.clear();
    for (std::size_t column : feature_columns) feature_values.push_back(column == no_column ? &empty : &values[column]);
    return clkhash->encode(feature_values, reinterpret_cast<std::uint8_t*>(row), why.field, why.reason, tokens, cache);
}

// Features are found by name (clkhash itself wants the header to list them in order; any order is
// accepted here, and an ignored feature may be absent). The id column is the one named, else the
// first feature's column if that feature is ignored, else the row number.
void Encoder::Impl::bind_clkhash(const std::map<std::string, std::size_t>& position,
                                 const std::vector<std::string>& columns) {
    std::vector<bool> used(columns.size(), false);
    feature_columns.clear();
    for (const FieldSpec& spec : schema.fields()) {
        auto it = position.find(spec.name);
        if (it == position.end()) {
            if (!spec.ignored) throw ValidationError("the clkhash feature \"" + spec.name + "\" has no column in the input");
            feature_columns.push_back(no_column);
            continue;
        }
        used[it->second] = true;
        feature_columns.push_back(it->second);
    }
    id_index = no_column;
    if (!schema.id_column().empty()) {
        auto id = position.find(schema.id_column());
        if (id == position.end()) throw ValidationError("the id column \"" + schema.id_column() + "\" is missing");
        id_index = id->second;
        used[id->second] = true;
    } else if (schema.fields().front().ignored && feature_columns.front() != no_column) {
        id_index = feature_columns.front();
    }
    for (std::size_t i = 0; i < columns.size(); ++i)
        if (!used[i]) throw ValidationError("column \"" + columns[i] + "\" is not a feature of the clkhash schema");
}

Encoder::Encoder(const Schema& schema, const SecretKey& secret, std::size_t token_cache_entries)
    : impl_(std::make_unique<Impl>()) {
    impl_->schema = schema;
    impl_->token_cache_entries = token_cache_entries;
    if (schema.clkhash() != nullptr) {
        // clkhash takes any text secret; the CLI warns when it is short.
        if (secret.empty()) throw ValidationError("the secret is empty");
        impl_->key_check = key_check_value(secret);
        impl_->clkhash = std::make_unique<clkhash::RecordEncoder>(*schema.clkhash(), secret);
        return;
    }
    if (secret.size() < SecretKey::min_bytes) throw ValidationError("the secret key is shorter than 128 bits");
    impl_->key_check = key_check_value(secret);
    impl_->index_width = index_bits(impl_->schema.filter_bits());
    if (!impl_->schema.hardening().empty())
        impl_->hardener = std::make_unique<Hardener>(impl_->schema.hardening(), impl_->schema.filter_bits(), secret,
                                                     impl_->schema.fingerprint());
    for (const FieldSpec& spec : impl_->schema.fields()) {
        if (spec.ignored) continue;
        std::string info = "pprl/v1/field-hash";
        info.push_back('\0');
        info += spec.name;
        const Fingerprint& salt = impl_->schema.fingerprint();
        SecretKey subkey = crypto::hkdf_sha256(secret.data(), secret.size(), salt.data(), salt.size(), info.data(),
                                               info.size(), 32);
        BoundField field{&spec, static_cast<std::uint32_t>(impl_->fields.size()), 0, crypto::HmacSha256(subkey), {}, {}, {}};
        for (const auto& value : spec.missing.values) field.missing_values.push_back(normalized(value, spec.normalize));
        field.replacement = normalized(spec.missing.replacement, spec.normalize);
        for (const auto& [alias, value] : spec.enum_aliases)
            field.aliases[normalized(alias, spec.normalize)] = normalized(value, spec.normalize);
        impl_->fields.push_back(std::move(field));
    }
    for (BoundField& field : impl_->fields)
        for (const BoundField& other : impl_->fields)
            if (!field.spec->salt_field.empty() && other.spec->name == field.spec->salt_field) field.salt_source = &other;
}

Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;

const Schema& Encoder::schema() const noexcept { return impl_->schema; }
KeyCheck Encoder::key_check() const noexcept { return impl_->key_check; }
std::size_t Encoder::id_column_index() const noexcept { return impl_->id_index; }

void Encoder::bind_columns(const std::vector<std::string>& columns) {
    std::map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].empty()) throw ValidationError("column " + std::to_string(i + 1) + " has an empty name");
        if (!position.emplace(columns[i], i).second)
            throw ValidationError("column \"" + columns[i] + "\" appears twice in the header");
    }
    const Schema& schema = impl_->schema;
    if (impl_->clkhash) {
        impl_->bind_clkhash(position, columns);
        impl_->column_count = columns.size();
        impl_->bound = true;
        return;
    }
    auto id = position.find(schema.id_column());
    if (id == position.end()) throw ValidationError("the id column \"" + schema.id_column() + "\" is missing");
    impl_->id_index = id->second;
    std::vector<bool> used(columns.size(), false);
    used[id->second] = true;
    for (const FieldSpec& spec : schema.fields()) {
        auto it = position.find(spec.name);
        if (it == position.end()) {
            if (spec.ignored) continue;
            throw ValidationError("the schema field \"" + spec.name + "\" has no column in the input");
        }
        used[it->second] = true;
    }
    for (BoundField& field : impl_->fields) field.column = position.at(field.spec->name);
    for (std::size_t i = 0; i < columns.size(); ++i)
        if (!used[i])
            throw ValidationError("column \"" + columns[i] +
                                  "\" is not in the schema (list it with \"ignore\": true to leave it out)");
    impl_->column_count = columns.size();
    impl_->bound = true;
}

namespace {

enum class ValueOutcome { encode, skip, reject };

// A field's value as it is tokenised: normalised, missing-value rule applied, parsed and printed in
// canonical form. On reject, `reason` says why (never the value).
ValueOutcome field_value(const BoundField& field, const std::string& raw, std::string& value, std::string& canonical,
                         const std::string*& encoded, std::string& reason, std::uint64_t& invalid_fields) {
    const FieldSpec& spec = *field.spec;
    auto reject = [&](std::string why) {
        reason = std::move(why);
        return ValueOutcome::reject;
    };
    if (raw.size() > spec.max_length * raw_bytes_per_code_point)
        return reject("longer than " + std::to_string(spec.max_length) + " characters");
    if (!normalize(raw, spec.normalize, value)) return reject("not valid UTF-8");
    if (std::find(field.missing_values.begin(), field.missing_values.end(), value) != field.missing_values.end()) {
        if (spec.missing.action == MissingAction::skip) return ValueOutcome::skip;
        if (spec.missing.action == MissingAction::reject) return reject("missing value");
        value = field.replacement;
    }
    encoded = &value;
    const char* invalid = nullptr;  // why the value does not parse as its type
    switch (spec.type) {
        case FieldType::string:
            break;
        case FieldType::date: {
            bool parsed = false;
            for (const auto& format : spec.date_formats)
                if ((parsed = parse_date(value, format, canonical))) break;
            if (!parsed) invalid = "not a valid date in the schema's formats";
            encoded = &canonical;
            break;
        }
        case FieldType::integer: {
            std::int64_t number = 0;
            if (!parse_integer(value, number)) invalid = "not an integer";
            else if (number < spec.min_value || number > spec.max_value) invalid = "integer out of range";
            canonical = std::to_string(number);
            encoded = &canonical;
            break;
        }
        case FieldType::enumeration: {
            auto alias = field.aliases.find(value);
            if (alias != field.aliases.end()) canonical = alias->second;
            else canonical = value;
            bool allowed = false;
            for (const auto& option : spec.enum_values) allowed = allowed || option == canonical;
            if (!allowed) invalid = "not one of the allowed values";
            encoded = &canonical;
            break;
        }
    }
    if (invalid != nullptr) {
        if (!spec.invalid_as_missing) return reject(invalid);
        // The schema asked for invalid values to count as missing: the row is kept, the summary
        // counts the field, and the missing-value rule decides.
        ++invalid_fields;
        if (spec.missing.action == MissingAction::skip) return ValueOutcome::skip;
        if (spec.missing.action == MissingAction::reject) return reject(std::string(invalid) + " (treated as missing)");
        encoded = &field.replacement;
    }
    if (count_code_points(*encoded) > spec.max_length)
        return reject("longer than " + std::to_string(spec.max_length) + " characters");
    return ValueOutcome::encode;
}

}  // namespace

bool Encoder::encode_record(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                            std::uint64_t& tokens, std::uint64_t& invalid_fields) const {
    const Impl::CacheLease lease(*impl_);
    return impl_->encode(values, row, why, tokens, invalid_fields, &lease.cache());
}

bool Encoder::Impl::encode(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                           std::uint64_t& tokens, std::uint64_t& invalid_fields, detail::TokenCache* cache) const {
    if (!bound) throw UsageError("Encoder::bind_columns must be called before encoding");
    if (values.size() != column_count) {
        why.field.clear();
        why.reason = "has " + std::to_string(values.size()) + " fields, the header has " + std::to_string(column_count);
        return false;
    }
    if (clkhash) return encode_clkhash(values, row, why, tokens, cache);
    const unsigned m = schema.filter_bits();
    thread_local std::string value, canonical, salt_value, salt_canonical, salt;
    // Every token of the record, looked up in the cache after all fields have passed their checks;
    // the ones it does not hold are hashed together, so the HMACs run several at a time
    // (crypto::HmacSha256::mac_many).
    thread_local std::vector<std::string> token_list;
    thread_local std::vector<PendingToken> pending;
    thread_local std::vector<crypto::HmacSha256::Request> requests;
    thread_local std::vector<std::size_t> misses;  // token_list indices of the requests
    thread_local std::vector<std::uint64_t> hashes;  // cache hashes of the tokens
    thread_local std::vector<crypto::Digest256> digests;
    thread_local std::vector<std::uint16_t> positions;
    thread_local std::vector<std::uint64_t> unhardened;
    token_list.clear();
    pending.clear();
    for (const BoundField& field : fields) {
        const FieldSpec& spec = *field.spec;
        const std::string* encoded = nullptr;
        const ValueOutcome outcome =
            field_value(field, values[field.column], value, canonical, encoded, why.reason, invalid_fields);
        if (outcome == ValueOutcome::reject) {
            why.field = spec.name;
            return false;
        }
        if (outcome == ValueOutcome::skip) continue;
        const std::size_t before = token_list.size();
        tokenize(*encoded, spec.tokenizer, token_list);
        const std::size_t added = token_list.size() - before;
        if (added == 0) continue;
        if (field.salt_source != nullptr) {
            // Salt: the source field's canonical value (a date's year), or empty when it has none.
            // The unit separator keeps "salt|token" unambiguous.
            const std::string* salt_encoded = nullptr;
            std::string ignored_reason;
            std::uint64_t ignored_count = 0;
            salt.clear();
            if (field_value(*field.salt_source, values[field.salt_source->column], salt_value, salt_canonical,
                            salt_encoded, ignored_reason, ignored_count) == ValueOutcome::encode)
                salt = spec.salt_year_only ? salt_encoded->substr(0, 4) : *salt_encoded;
            salt.push_back('\x1f');
            for (std::size_t t = before; t < token_list.size(); ++t) token_list[t].insert(0, salt);
        }
        unsigned k = spec.weight.bits;
        if (spec.weight.mode == WeightSpec::Mode::bits_per_feature)
            k = static_cast<unsigned>((spec.weight.bits + added - 1) / added);
        for (std::size_t t = 0; t < added; ++t) pending.push_back(PendingToken{&field, k});
    }
    std::uint64_t* target = row;
    if (hardener) {
        unhardened.assign(m / 64, 0);
        target = unhardened.data();
    }
    requests.clear();
    misses.clear();
    hashes.resize(token_list.size());
    for (std::size_t t = 0; t < token_list.size(); ++t) {
        const PendingToken& token = pending[t];
        hashes[t] = detail::TokenCache::hash(token.field->index, token.k, token_list[t]);
        if (const std::uint16_t* known = cache->find(hashes[t], token.field->index, token.k, token_list[t])) {
            for (unsigned j = 0; j < token.k; ++j) FilterMatrix::set_bit(target, known[j]);
            continue;
        }
        misses.push_back(t);
        requests.push_back({&token.field->mac, 0, token_list[t].data(), token_list[t].size()});
    }
    digests.resize(requests.size());
    crypto::HmacSha256::mac_many(requests.data(), requests.size(), digests.data());
    for (std::size_t r = 0; r < misses.size(); ++r) {
        const std::size_t t = misses[r];
        const PendingToken& token = pending[t];
        positions.resize(token.k);
        draw_positions(token.field->mac, token_list[t], digests[r], token.k, m, index_width, positions.data());
        for (unsigned j = 0; j < token.k; ++j) FilterMatrix::set_bit(target, positions[j]);
        cache->insert(hashes[t], token.field->index, token.k, token_list[t], positions.data());
    }
    if (hardener)
        hardener->apply(reinterpret_cast<const std::uint8_t*>(unhardened.data()), reinterpret_cast<std::uint8_t*>(row),
                        values[id_index]);
    tokens += token_list.size();
    return true;
}

// A batch after its parallel phase: every row's filter (rejected rows' left as they were), whether
// it was accepted and why not, and the counts.
struct Encoder::Impl::EncodedRows {
    FilterMatrix filters;
    std::vector<char> accepted;
    std::vector<Rejection> why;
    std::vector<std::uint64_t> id_hashes;  // RecordIdSet::hash of each row's id (when ids are a column)
    std::uint64_t tokens = 0, invalid_fields = 0;
};

void Encoder::Impl::encode_rows(const std::vector<std::vector<std::string>>& rows, std::size_t n, unsigned threads,
                                EncodedRows& out) const {
    // The matrix is reused when a batch of the same size left it here (encode_csv hands each batch's
    // filters back after its sink): allocating and freeing 2 MiB per batch made glibc serve later
    // ones from a fragmenting heap (peak RSS 189 MiB instead of 126 for a million rows on one
    // thread) and page-faulted every batch in again.
    if (n > 0 && out.filters.rows() == n && out.filters.bits() == schema.bits()) {
        std::memset(out.filters.mutable_row_words(0), 0, n * out.filters.stride_bytes());
        out.filters.ids().clear();
    } else {
        out.filters = FilterMatrix(n, schema.bits());
    }
    out.accepted.assign(n, 0);
    out.why.assign(n, Rejection{});
    out.id_hashes.assign(id_index == no_column ? 0 : n, 0);
    out.tokens = out.invalid_fields = 0;
    threads = detail::thread_count(threads, n);
    std::vector<std::uint64_t> token_counts(threads, 0), invalid_counts(threads, 0);
    std::vector<std::exception_ptr> failures(threads);
    // Rows are handed out in chunks from a shared counter rather than in equal halves: the thread
    // that reads and writes batches runs beside the encoders, and a worker it slows down must not
    // leave the others waiting at the end of the batch.
    constexpr std::size_t chunk_rows = 256;
    std::atomic<std::size_t> next_chunk{0};
    auto work = [&](unsigned t) {
        try {
            const CacheLease lease(*this);
            std::uint64_t tokens = 0, invalid = 0;  // local: no cache line shared between workers
            for (std::size_t begin; (begin = next_chunk.fetch_add(chunk_rows)) < n;) {
                for (std::size_t i = begin, end = std::min(n, begin + chunk_rows); i < end; ++i) {
                    const bool ok =
                        encode(rows[i], out.filters.mutable_row_words(i), out.why[i], tokens, invalid, &lease.cache());
                    out.accepted[i] = ok ? 1 : 0;
                    if (ok && id_index != no_column) out.id_hashes[i] = RecordIdSet::hash(rows[i][id_index]);
                }
            }
            token_counts[t] = tokens;
            invalid_counts[t] = invalid;
        } catch (...) {
            failures[t] = std::current_exception();
        }
    };
    detail::run_workers(threads, work);
    for (const std::exception_ptr& failure : failures)
        if (failure) std::rethrow_exception(failure);
    for (std::uint64_t tokens : token_counts) out.tokens += tokens;
    for (std::uint64_t invalid : invalid_counts) out.invalid_fields += invalid;
}

FilterMatrix Encoder::Impl::finish(const std::vector<std::vector<std::string>>& rows, std::size_t n,
                                   const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                                   EncodedRows& encoded, RecordIdSet& seen_ids,
                                   EncodeSummary& summary) const {
    summary.tokens += encoded.tokens;
    summary.invalid_as_missing += encoded.invalid_fields;
    std::vector<char>& accepted = encoded.accepted;
    std::vector<Rejection>& why = encoded.why;

    // Ids are checked in input order, after encoding, so the first of two duplicates is kept.
    std::vector<std::string> row_ids;  // ids that are row numbers (clkhash schemas without an id column)
    if (id_index == no_column) {
        row_ids.resize(n);
        for (std::size_t i = 0; i < n; ++i) row_ids[i] = std::to_string(i < row_numbers.size() ? row_numbers[i] : i + 1);
    }
    auto id_of = [&](std::size_t i) -> const std::string& { return row_ids.empty() ? rows[i][id_index] : row_ids[i]; };
    std::vector<std::uint64_t>& id_hashes = encoded.id_hashes;
    if (id_hashes.empty()) {
        id_hashes.resize(n);
        for (std::size_t i = 0; i < n; ++i) id_hashes[i] = RecordIdSet::hash(id_of(i));
    }
    // Each insertion misses the cache once; fetching a few ids ahead overlaps the misses.
    constexpr std::size_t prefetch_distance = 8;
    const std::string id_name = id_index == no_column      ? std::string("(row number)")
                                : schema.id_column().empty() ? schema.fields().front().name
                                                             : schema.id_column();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (i + prefetch_distance < n) seen_ids.prefetch(id_hashes[i + prefetch_distance]);
        if (accepted[i]) {
            const std::string& id = id_of(i);
            const char* reason = nullptr;
            if (id.empty()) reason = "empty record id";
            else if (id.size() > max_record_id_bytes) reason = "record id longer than 256 bytes";
            else if (!seen_ids.insert(id, id_hashes[i])) reason = "duplicate record id (an earlier row has it)";
            if (reason != nullptr) {
                accepted[i] = 0;
                why[i].field = id_name;
                why[i].reason = reason;
            }
        }
        if (accepted[i]) ++kept;
        else {
            why[i].row = i < row_numbers.size() ? row_numbers[i] : i + 1;
            why[i].line = i < lines.size() ? lines[i] : 0;
            summary.rejections.push_back(std::move(why[i]));
        }
    }
    summary.rows_read += n;
    summary.rows_encoded += kept;
    FilterMatrix out;
    if (kept == n) {
        out = std::move(encoded.filters);  // the usual case: nothing to close up
    } else {
        out = FilterMatrix(kept, schema.bits());
        for (std::size_t i = 0, j = 0; i < n; ++i)
            if (accepted[i]) std::memcpy(out.mutable_row_words(j++), encoded.filters.row_words(i), out.stride_bytes());
    }
    out.ids().reserve(kept);
    for (std::size_t i = 0; i < n; ++i)
        if (accepted[i]) out.ids().push_back(id_of(i));
    return out;
}

FilterMatrix Encoder::encode_batch(const std::vector<std::vector<std::string>>& rows,
                                   const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                                   unsigned threads, RecordIdSet& seen_ids,
                                   EncodeSummary& summary) const {
    Impl::EncodedRows encoded;
    impl_->encode_rows(rows, rows.size(), threads, encoded);
    return impl_->finish(rows, rows.size(), row_numbers, lines, encoded, seen_ids, summary);
}

namespace {

// Rows read from the CSV file for one batch; buffers are reused from batch to batch.
struct CsvBatch {
    std::vector<std::vector<std::string>> rows;
    std::size_t used = 0;
    std::vector<std::uint64_t> row_numbers, lines;
};

// Reads up to batch.rows.size() rows; a malformed record is rejected in its place (the rows around
// it still encode). Returns false at the end of the file.
bool read_batch(CsvReader& reader, CsvRecord& record, std::uint64_t& next_row, CsvBatch& batch,
                EncodeSummary& summary) {
    batch.used = 0;
    batch.row_numbers.clear();
    batch.lines.clear();
    while (batch.used < batch.rows.size()) {
        if (!reader.next(record)) return false;
        if (!record.error.empty()) {
            summary.rows_read += 1;
            summary.rejections.push_back(Rejection{next_row++, record.line, "", record.error});
            continue;
        }
        batch.rows[batch.used++].swap(record.fields);
        batch.row_numbers.push_back(next_row++);
        batch.lines.push_back(record.line);
    }
    return true;
}

}  // namespace

EncodeSummary encode_csv(const std::string& csv_path, const Schema& schema, const SecretKey& secret,
                         const EncodeOptions& options, const std::function<void(const FilterMatrix&)>& sink) {
    Encoder encoder(schema, secret, options.token_cache_entries);
    const Encoder::Impl& impl = *encoder.impl_;
    CsvReader reader(csv_path);
    CsvRecord header;
    if (!reader.next(header)) throw ValidationError("'" + csv_path + "' is empty (expected a header row)");
    if (!header.error.empty()) throw ValidationError("'" + csv_path + "' header row: " + header.error);
    encoder.bind_columns(header.fields);

    const unsigned threads = detail::thread_count(options.threads, static_cast<std::size_t>(-1));
    const std::size_t batch_rows = std::max<std::size_t>(options.batch_rows, 1);

    // A pipeline of three batches: while the encoding threads work on one, this thread finishes the
    // one before (ids, rejections, the sink) and reads the one after, so reading and writing, which
    // are serial, do not leave the other cores idle. On one thread the steps simply alternate.
    struct Slot {
        CsvBatch batch;
        Encoder::Impl::EncodedRows encoded;
    };
    Slot slots[3];
    for (Slot& slot : slots) slot.batch.rows.resize(batch_rows);
    Slot* reading = &slots[0];
    Slot* encoding = &slots[1];
    Slot* finishing = &slots[2];
    bool have_finishing = false;  // a batch encoded but not yet finished

    EncodeSummary summary;
    RecordIdSet seen_ids;
    CsvRecord record;
    std::uint64_t next_row = 1;
    auto finish = [&](Slot& slot) {
        FilterMatrix part = impl.finish(slot.batch.rows, slot.batch.used, slot.batch.row_numbers, slot.batch.lines,
                                        slot.encoded, seen_ids, summary);
        if (part.rows() > 0) sink(part);
        if (part.rows() == slot.batch.used) slot.encoded.filters = std::move(part);  // for the next batch here
        if (options.progress) options.progress(summary.rows_read);
    };
    bool more = read_batch(reader, record, next_row, reading->batch, summary);
    for (;;) {
        std::swap(reading, encoding);  // the batch just read goes to the encoders
        const bool have_encoding = encoding->batch.used > 0;
        std::exception_ptr failure;
        std::thread encoder_thread;
        if (have_encoding) {
            auto run = [&impl, encoding, threads, &failure] {
                try {
                    impl.encode_rows(encoding->batch.rows, encoding->batch.used, threads, encoding->encoded);
                } catch (...) {
                    failure = std::current_exception();
                }
            };
            if (threads > 1) encoder_thread = std::thread(run);
            else run();
        }
        try {
            if (have_finishing) finish(*finishing);
            have_finishing = false;
            if (more) more = read_batch(reader, record, next_row, reading->batch, summary);
            else reading->batch.used = 0;
        } catch (...) {
            if (encoder_thread.joinable()) encoder_thread.join();
            throw;
        }
        if (encoder_thread.joinable()) encoder_thread.join();
        if (failure) std::rethrow_exception(failure);
        if (have_encoding) {
            std::swap(encoding, finishing);
            have_finishing = true;
        }
        if (!have_encoding && !more && reading->batch.used == 0) break;
    }
    if (summary.rows_read == 0) throw ValidationError("'" + csv_path + "' has a header but no data rows");
    std::sort(summary.rejections.begin(), summary.rejections.end(),
              [](const Rejection& x, const Rejection& y) { return x.row < y.row; });
    return summary;
}

FilterMatrix concatenate(const std::vector<FilterMatrix>& parts) {
    if (parts.empty()) throw UsageError("nothing to concatenate");
    std::size_t rows = 0;
    for (const auto& part : parts) {
        if (part.bits() != parts[0].bits()) throw UsageError("cannot concatenate filters of different lengths");
        rows += part.rows();
    }
    FilterMatrix out(rows, parts[0].bits());
    out.info() = parts[0].info();
    out.ids().reserve(rows);
    std::size_t row = 0;
    for (const auto& part : parts) {
        if (part.rows() > 0) std::memcpy(out.mutable_row_words(row), part.data(), part.rows() * part.stride_bytes());
        out.ids().insert(out.ids().end(), part.ids().begin(), part.ids().end());
        row += part.rows();
    }
    out.compute_popcounts();
    return out;
}

FilterMatrix encode_csv(const std::string& csv_path, const Schema& schema, const SecretKey& secret,
                        const EncodeOptions& options, EncodeSummary& summary) {
    std::vector<FilterMatrix> parts;
    summary = encode_csv(csv_path, schema, secret, options, [&](const FilterMatrix& part) { parts.push_back(part); });
    FilterMatrix all = parts.empty() ? FilterMatrix(0, schema.bits()) : concatenate(parts);  // popcounts included
    all.info() = encoding_info(schema, key_check_value(secret), options.party);
    return all;
}

}  // namespace pprl
