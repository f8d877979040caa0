#include "pprl/encode.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "pprl/clkhash.hpp"
#include "pprl/crypto.hpp"
#include "pprl/csv.hpp"
#include "pprl/error.hpp"
#include "pprl/harden.hpp"
#include "pprl/normalize.hpp"
#include "pprl/tokenize.hpp"
#include "clkhash_internal.hpp"
#include "parallel.hpp"

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

// Sets k positions in [0, m) drawn from the HMAC stream of `token` (see the header) into `row`;
// `first` is block 0 of the stream, HMAC(subkey, 0x00 || token), computed by the caller, and `width`
// is index_bits(m).
void set_token_bits(const crypto::HmacSha256& mac, const std::string& token, const crypto::Digest256& first, unsigned k,
                    unsigned m, unsigned width, std::uint64_t* row) {
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
        if (value < m) {
            FilterMatrix::set_bit(row, value);
            ++drawn;
        }
    }
}

// A token waiting to be hashed: its field's HMAC key and its k.
struct PendingToken {
    const crypto::HmacSha256* mac;
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

    bool encode_clkhash(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                        std::uint64_t& tokens) const;
    void bind_clkhash(const std::map<std::string, std::size_t>& position, const std::vector<std::string>& columns);
};

bool Encoder::Impl::encode_clkhash(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                                   std::uint64_t& tokens) const {
    static const std::string empty;
    thread_local std::vector<const std::string*> feature_values;
    feature_values.clear();
    for (std::size_t column : feature_columns) feature_values.push_back(column == no_column ? &empty : &values[column]);
    return clkhash->encode(feature_values, reinterpret_cast<std::uint8_t*>(row), why.field, why.reason, tokens);
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

Encoder::Encoder(const Schema& schema, const SecretKey& secret) : impl_(std::make_unique<Impl>()) {
    impl_->schema = schema;
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
        BoundField field{&spec, 0, crypto::HmacSha256(subkey), {}, {}, {}};
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
    if (!impl_->bound) throw UsageError("Encoder::bind_columns must be called before encoding");
    if (values.size() != impl_->column_count) {
        why.field.clear();
        why.reason = "has " + std::to_string(values.size()) + " fields, the header has " +
                     std::to_string(impl_->column_count);
        return false;
    }
    if (impl_->clkhash) return impl_->encode_clkhash(values, row, why, tokens);
    const unsigned m = impl_->schema.filter_bits();
    thread_local std::string value, canonical, salt_value, salt_canonical, salt;
    // Every token of the record, hashed together after all fields have passed their checks, so the
    // HMACs run several at a time (crypto::HmacSha256::mac_many).
    thread_local std::vector<std::string> token_list;
    thread_local std::vector<PendingToken> pending;
    thread_local std::vector<crypto::HmacSha256::Request> requests;
    thread_local std::vector<crypto::Digest256> digests;
    thread_local std::vector<std::uint64_t> unhardened;
    token_list.clear();
    pending.clear();
    for (const BoundField& field : impl_->fields) {
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
        for (std::size_t t = 0; t < added; ++t) pending.push_back(PendingToken{&field.mac, k});
    }
    std::uint64_t* target = row;
    if (impl_->hardener) {
        unhardened.assign(m / 64, 0);
        target = unhardened.data();
    }
    requests.clear();
    for (std::size_t t = 0; t < token_list.size(); ++t)
        requests.push_back({pending[t].mac, 0, token_list[t].data(), token_list[t].size()});
    digests.resize(requests.size());
    crypto::HmacSha256::mac_many(requests.data(), requests.size(), digests.data());
    for (std::size_t t = 0; t < token_list.size(); ++t)
        set_token_bits(*pending[t].mac, token_list[t], digests[t], pending[t].k, m, impl_->index_width, target);
    if (impl_->hardener)
        impl_->hardener->apply(reinterpret_cast<const std::uint8_t*>(unhardened.data()), reinterpret_cast<std::uint8_t*>(row),
                               values[impl_->id_index]);
    tokens += token_list.size();
    return true;
}

FilterMatrix Encoder::encode_batch(const std::vector<std::vector<std::string>>& rows,
                                   const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                                   unsigned threads,
                                   std::unordered_set<std::string>& seen_ids, EncodeSummary& summary) const {
    const std::size_t n = rows.size();
    const unsigned m = impl_->schema.bits();
    FilterMatrix scratch(n, m);
    std::vector<char> accepted(n, 0);
    std::vector<Rejection> why(n);
    threads = detail::thread_count(threads, n);
    std::vector<std::uint64_t> token_counts(threads, 0), invalid_counts(threads, 0);
    auto work = [&](unsigned t) {
        const std::size_t begin = n * t / threads, end = n * (t + 1) / threads;
        std::uint64_t tokens = 0, invalid = 0;
        for (std::size_t i = begin; i < end; ++i)
            accepted[i] = encode_record(rows[i], scratch.mutable_row_words(i), why[i], tokens, invalid) ? 1 : 0;
        token_counts[t] = tokens;
        invalid_counts[t] = invalid;
    };
    detail::run_workers(threads, work);
    for (std::uint64_t tokens : token_counts) summary.tokens += tokens;
    for (std::uint64_t invalid : invalid_counts) summary.invalid_as_missing += invalid;

    // Ids are checked in input order, after encoding, so the first of two duplicates is kept.
    std::vector<std::string> row_ids;  // ids that are row numbers (clkhash schemas without an id column)
    if (impl_->id_index == Impl::no_column) {
        row_ids.resize(n);
        for (std::size_t i = 0; i < n; ++i) row_ids[i] = std::to_string(i < row_numbers.size() ? row_numbers[i] : i + 1);
    }
    auto id_of = [&](std::size_t i) -> const std::string& {
        return row_ids.empty() ? rows[i][impl_->id_index] : row_ids[i];
    };
    const std::string id_name = impl_->id_index == Impl::no_column ? std::string("(row number)")
                                : impl_->schema.id_column().empty() ? impl_->schema.fields().front().name
                                                                     : impl_->schema.id_column();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (accepted[i]) {
            const std::string& id = id_of(i);
            std::string reason;
            if (id.empty()) reason = "empty record id";
            else if (id.size() > max_record_id_bytes) reason = "record id longer than 256 bytes";
            else if (!seen_ids.insert(id).second) reason = "duplicate record id (an earlier row has it)";
            if (!reason.empty()) {
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
    FilterMatrix out(kept, m);
    out.ids().reserve(kept);
    std::size_t j = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!accepted[i]) continue;
        std::memcpy(out.mutable_row_words(j), scratch.row_words(i), out.stride_bytes());
        out.ids().push_back(id_of(i));
        ++j;
    }
    summary.rows_read += n;
    summary.rows_encoded += kept;
    return out;
}

EncodeSummary encode_csv(const std::string& csv_path, const Schema& schema, const SecretKey& secret,
                         const EncodeOptions& options, const std::function<void(const FilterMatrix&)>& sink) {
    Encoder encoder(schema, secret);
    CsvReader reader(csv_path);
    CsvRecord header;
    if (!reader.next(header)) throw ValidationError("'" + csv_path + "' is empty (expected a header row)");
    if (!header.error.empty()) throw ValidationError("'" + csv_path + "' header row: " + header.error);
    encoder.bind_columns(header.fields);

    const unsigned threads = options.threads;  // 0: all cores (encode_batch resolves it)
    const std::size_t batch_rows = std::max<std::size_t>(options.batch_rows, 1);

    // Reading and encoding alternate; parallelism lives inside encode_batch. (A reader thread
    // running one batch ahead was tried and changed nothing measurable on the development machine.)
    EncodeSummary summary;
    std::unordered_set<std::string> seen_ids;
    std::vector<std::vector<std::string>> rows(batch_rows);  // buffers reused batch after batch
    std::vector<std::uint64_t> row_numbers, lines;
    CsvRecord record;
    std::uint64_t next_row = 1;
    for (bool more = true; more;) {
        std::size_t used = 0;
        row_numbers.clear();
        lines.clear();
        while (used < batch_rows && (more = reader.next(record))) {
            if (!record.error.empty()) {
                // A malformed record is rejected in its place; the rows around it still encode.
                summary.rows_read += 1;
                summary.rejections.push_back(Rejection{next_row++, record.line, "", record.error});
                continue;
            }
            rows[used++].swap(record.fields);
            row_numbers.push_back(next_row++);
            lines.push_back(record.line);
        }
        if (used == 0) continue;
        rows.resize(used);
        FilterMatrix part = encoder.encode_batch(rows, row_numbers, lines, threads, seen_ids, summary);
        if (part.rows() > 0) sink(part);
        rows.resize(batch_rows);
        if (options.progress) options.progress(summary.rows_read);
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
