// agency/encoder.cpp — one record's values to its filter (see pprl/encode.hpp).
//
// Per record: every field's value (agency/values.hpp) and its tokens (agency/tokenize.hpp, salted
// with another field's value where the schema says so) are gathered first, so a row that fails on
// its last field costs no hashing; then each token's positions come from the worker's token cache
// or, for the tokens it does not hold, from one batched round of HMACs (agency/hashing.hpp); then
// the schema's hardening. A clkhash schema goes to clkhash::RecordEncoder instead.
//
// A field value seen recently (a first name, a date of birth) skips all of that: the worker's value
// cache (agency/token_cache.hpp) holds its filter words whole, and, when the first hardening step
// is diffusion, their diffusion sum too. Diffusion D is linear, so the record's D(f₁ ∨ … ∨ fₙ) is
// ⊕ D(fᵢ) ⊕ D(r), where r, the record's filter XOR the fields' filters, holds only the bits two or
// more fields share (and fields without a cached sum): the cached sums leave diffusion a fraction of
// the set bits. A field whose values do not recur (addresses, say) stops using the cache.
#include "pprl/encode.hpp"

#include <cstring>
#include <map>
#include <mutex>
#include <type_traits>

#include "agency/harden_steps.hpp"
#include "agency/hashing.hpp"
#include "agency/token_cache.hpp"
#include "agency/tokenize.hpp"
#include "agency/values.hpp"
#include "clkhash/internal.hpp"
#include "crypto/crypto.hpp"
#include "crypto/wiped.hpp"
#include "pprl/error.hpp"
#include "pprl/harden.hpp"
#include "simd/diffusion.hpp"

namespace pprl {
namespace {

struct BoundField {
    FieldValueRule rule;
    std::uint32_t index;  // position among the encoded fields (the token cache's field number)
    std::size_t column = 0;
    crypto::HmacSha256 mac;
    const BoundField* salt_source = nullptr;  // the field whose value salts this one's tokens
    // Where its tokens go: the whole filter, or its segment of a segmented layout.
    unsigned first_bit = 0, bits = 0, index_width = 0;
    bool value_cached = false;  // whether its values may go to the value cache (not when salted)
    unsigned bigram_k = 0;      // its tokens' k when they may go to a bigram table, else 0 (see BigramTable)
};

// A token of the record being encoded: its field and its k, and its byte pair when it is a bigram
// its field's table did not hold (no_pair otherwise).
constexpr unsigned no_pair = 65536;
struct PendingToken {
    const BoundField* field;
    unsigned k;
    unsigned pair = no_pair;
};

// How often a field's value was looked up in a worker's value cache and found there.
struct FieldUse {
    std::uint64_t lookups = 0, hits = 0;
    bool off = false;  // its values recur too rarely to pay for the cache (see `recurring`)
};

// A field stops using the value cache once, after this many lookups, fewer than a quarter hit: a
// miss costs an insertion and a hit saves the tokens' lookups, bits and diffusion.
constexpr std::uint64_t value_trial_lookups = 4096;
bool recurring(const FieldUse& use) noexcept { return use.lookups < value_trial_lookups || 4 * use.hits >= use.lookups; }

// Entries larger than this, 4 KiB (filters of 16,384 bits or more with diffusion to as many, 32,768
// without), are not cached by value.
constexpr std::size_t max_value_entry_words = 512;

// Word-wise OR and XOR of n words, on arrays the compiler may take as distinct (so it vectorises
// them: through possibly aliased pointers it did one word at a time), with the usual filter lengths
// (512, 1,024 and 2,048 bits) unrolled whole.
template <class Op>
void combine_words(std::uint64_t* __restrict to, const std::uint64_t* __restrict from, std::size_t n, Op op) noexcept {
    const auto fixed = [&](auto words) {
        for (std::size_t w = 0; w < decltype(words)::value; ++w) to[w] = op(to[w], from[w]);
    };
    switch (n) {
        case 8: return fixed(std::integral_constant<std::size_t, 8>{});
        case 16: return fixed(std::integral_constant<std::size_t, 16>{});
        case 32: return fixed(std::integral_constant<std::size_t, 32>{});
        default:
            for (std::size_t w = 0; w < n; ++w) to[w] = op(to[w], from[w]);
    }
}
void or_words(std::uint64_t* to, const std::uint64_t* from, std::size_t n) noexcept {
    combine_words(to, from, n, [](std::uint64_t x, std::uint64_t y) { return x | y; });
}
void xor_words(std::uint64_t* to, const std::uint64_t* from, std::size_t n) noexcept {
    combine_words(to, from, n, [](std::uint64_t x, std::uint64_t y) { return x ^ y; });
}
// The vector holds n zero words.
template <class Words>
void zero_words(Words& words, std::size_t n) {
    words.resize(n);
    std::memset(words.data(), 0, n * sizeof(std::uint64_t));
}

}  // namespace

// The positions of a field's two-byte tokens (the bigrams of ASCII text), indexed by their bytes:
// where the token cache hashes a token's text and compares it, this table is one load. For fields
// of unsalted bigrams with a fixed k of at most max_bigram_k. A bigram's k positions sit in the
// block of its first byte, made on first use (2·k bytes for each second byte), a bit each saying
// which it holds. Both are key material (what the key made of pieces of personal data) and are
// wiped when freed.
constexpr unsigned max_bigram_k = 16;

struct BigramTable {
    std::vector<WipedVector<std::uint16_t>> blocks;  // 256 once the first bigram is inserted
    WipedVector<std::uint64_t> held;                 // 65,536 bits, likewise
    const std::uint16_t* find(unsigned pair, unsigned k) const noexcept {
        if (held.empty() || (held[pair / 64] >> (pair % 64) & 1) == 0) return nullptr;
        return blocks[pair >> 8].data() + std::size_t{pair & 0xFF} * k;
    }
    void insert(unsigned pair, unsigned k, const std::uint16_t* places) {
        if (held.empty()) {
            blocks.resize(256);
            held.resize(65536 / 64);
        }
        WipedVector<std::uint16_t>& block = blocks[pair >> 8];
        if (block.empty()) block.resize(std::size_t{256} * k);
        std::copy(places, places + k, block.begin() + std::size_t{pair & 0xFF} * k);
        held[pair / 64] |= std::uint64_t{1} << (pair % 64);
    }
};

// A worker's caches, handed on from worker to worker by the encoder (never shared between threads).
struct Encoder::Caches {
    Caches(std::size_t token_entries, std::size_t value_entries, std::size_t value_entry_words, std::size_t fields)
        : tokens(token_entries), values(value_entries, value_entry_words), use(fields), bigrams(fields) {}
    detail::TokenCache tokens;
    detail::ValueCache values;
    std::vector<FieldUse> use;          // by field
    std::vector<BigramTable> bigrams;   // by field (empty for the others)
};

struct Encoder::Impl {
    Schema schema;
    KeyCheck key_check{};
    std::vector<BoundField> fields;  // encoded fields in schema order
    std::unique_ptr<Hardener> hardener;  // when the schema declares hardening steps
    std::size_t id_index = no_column;
    std::size_t column_count = 0;
    bool bound = false;
    // clkhash schemas: the record encoder and each feature's column (no_column: absent, ignored).
    std::unique_ptr<clkhash::RecordEncoder> clkhash;
    std::vector<std::size_t> feature_columns;

    // Caches (token_cache.hpp) of workers that ended, kept warm for the next: a Worker takes one
    // (or makes one) and gives it back, so a cache is never shared between threads. The value cache
    // holds twice as many entries as the token cache; an entry is the value's filter words, then
    // (when the first hardening step is diffusion) their diffusion sum, then its token count.
    std::size_t token_cache_entries = 0;
    bool value_cache = false;
    std::size_t filter_words = 0, value_entry_words = 0;
    const std::uint64_t* linear_images = nullptr;  // the first hardening step's images, when it is diffusion
    std::uint32_t linear_stride = 0;
    mutable std::mutex caches_mutex;
    mutable std::vector<std::unique_ptr<Caches>> idle_caches;

    bool encode(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why, std::uint64_t& tokens,
                std::uint64_t& invalid_fields, Worker::State& worker) const;
    bool encode_clkhash(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                        std::uint64_t& tokens, Worker::State& worker) const;
    bool gather_field(const BoundField& field, const std::vector<std::string>& values, Rejection& why,
                      std::uint64_t& invalid_fields, Worker::State& worker) const;
    bool bigrams_from_table(const BoundField& field, std::string_view value, Worker::State& worker) const;
    bool gather_tokens(const std::vector<std::string>& values, Rejection& why, std::uint64_t& invalid_fields,
                       Worker::State& worker) const;
    void hash_tokens(Worker::State& worker, std::uint64_t* target) const;
    std::uint64_t combine_fields(const std::vector<std::string>& values, std::uint64_t* target, std::uint64_t* row,
                                 Worker::State& worker) const;
    void bind_clkhash(const std::map<std::string, std::size_t>& position, const std::vector<std::string>& columns);
    // Is `name` the id column or a field of the schema (safe to print)?
    bool names_in_schema(const std::string& name) const {
        if (name == schema.id_column()) return true;
        for (const FieldSpec& spec : schema.fields())
            if (spec.name == name) return true;
        return false;
    }
};

// A worker's token cache and scratch. Every buffer that holds a value, a token or what the key made
// of one is a wiped type (crypto/wiped.hpp); wipe() overwrites what they hold.
struct Encoder::Worker::State {
    const Impl* encoder;
    std::unique_ptr<Caches> caches;
    ValueScratch value, salt_value;
    WipedString salt;
    TokenList tokens;
    std::vector<PendingToken> pending;                  // field and k per token
    std::vector<crypto::HmacSha256::Request> requests;  // pointers into `tokens`
    std::vector<std::size_t> misses;                    // token indices of the requests
    WipedVector<std::uint64_t> hashes;                  // cache hashes of the tokens
    std::vector<const std::uint16_t*> known;            // each token's positions in the cache, or nullptr
    WipedVector<crypto::Digest256> digests;
    WipedVector<std::uint16_t> positions;
    WipedVector<std::uint64_t> unhardened;
    // The value cache, by field: each value's cache hash, the entry found (or nullptr), whether the
    // value goes into the cache, its token count, and the filter words of the fields not found.
    WipedVector<std::uint64_t> value_hashes;
    std::vector<const std::uint64_t*> entries;
    std::vector<char> to_insert;
    std::vector<std::uint32_t> field_tokens;
    std::uint32_t table_hits = 0;  // the last gathered field's bigrams found in its table
    WipedVector<std::uint64_t> field_words;
    WipedVector<std::uint64_t> entry, rest, linear_sum, rest_sum;  // an entry being made; diffusion's parts
    std::vector<const std::string*> feature_values;  // clkhash: each feature's cell
    std::unique_ptr<clkhash::RecordEncoder::Scratch> clkhash;
    std::unique_ptr<Hardener::Workspace> hardening;

    void wipe() noexcept {
        pprl::wipe(value.normalised);
        pprl::wipe(value.canonical);
        pprl::wipe(salt_value.normalised);
        pprl::wipe(salt_value.canonical);
        pprl::wipe(salt);
        tokens.wipe();
        requests.clear();
        pprl::wipe(hashes);
        pprl::wipe(digests);
        pprl::wipe(positions);
        pprl::wipe(unhardened);
        pprl::wipe(value_hashes);
        pprl::wipe(field_words);
        pprl::wipe(entry);
        pprl::wipe(rest);
        pprl::wipe(linear_sum);
        pprl::wipe(rest_sum);
        if (clkhash) clkhash->wipe();
        if (hardening) hardening->wipe();
    }
};

Encoder::Worker::Worker(const Encoder& encoder) : state_(std::make_unique<State>()) {
    const Impl& impl = *encoder.impl_;
    state_->encoder = &impl;
    {
        std::lock_guard<std::mutex> lock(impl.caches_mutex);
        if (!impl.idle_caches.empty()) {
            state_->caches = std::move(impl.idle_caches.back());
            impl.idle_caches.pop_back();
        }
    }
    if (!state_->caches)
        state_->caches = std::make_unique<Caches>(impl.token_cache_entries,
                                                  impl.value_cache ? 2 * impl.token_cache_entries : 0,
                                                  impl.value_entry_words, impl.fields.size());
    if (impl.clkhash) state_->clkhash = std::make_unique<clkhash::RecordEncoder::Scratch>();
    if (impl.hardener) state_->hardening = std::make_unique<Hardener::Workspace>();
}

Encoder::Worker::~Worker() {
    state_->wipe();
    std::lock_guard<std::mutex> lock(state_->encoder->caches_mutex);
    state_->encoder->idle_caches.push_back(std::move(state_->caches));
}

void Encoder::Worker::wipe() noexcept { state_->wipe(); }

void Encoder::Worker::visit_scratch(const std::function<void(const void*, std::size_t)>& visit) const {
    const State& s = *state_;
    visit_buffer(s.value.normalised, visit);
    visit_buffer(s.value.canonical, visit);
    visit_buffer(s.salt_value.normalised, visit);
    visit_buffer(s.salt_value.canonical, visit);
    visit_buffer(s.salt, visit);
    s.tokens.visit_buffers(visit);
    visit_buffer(s.hashes, visit);
    visit_buffer(s.digests, visit);
    visit_buffer(s.positions, visit);
    visit_buffer(s.unhardened, visit);
    visit_buffer(s.value_hashes, visit);
    visit_buffer(s.field_words, visit);
    visit_buffer(s.entry, visit);
    visit_buffer(s.rest, visit);
    visit_buffer(s.linear_sum, visit);
    visit_buffer(s.rest_sum, visit);
    if (s.clkhash) s.clkhash->visit_buffers(visit);
    if (s.hardening) s.hardening->visit_buffers(visit);
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
    const Layout layout = impl_->schema.layout();
    if (!impl_->schema.hardening().empty())
        impl_->hardener = std::make_unique<Hardener>(impl_->schema.hardening(), impl_->schema.filter_bits(), secret,
                                                     impl_->schema.fingerprint(), layout);
    for (const FieldSpec& spec : impl_->schema.fields()) {
        if (spec.ignored) continue;
        const SecretKey subkey = field_hash_key(secret, impl_->schema.fingerprint(), spec.name);
        BoundField field{FieldValueRule(spec), static_cast<std::uint32_t>(impl_->fields.size()), 0,
                         crypto::HmacSha256(subkey), nullptr};
        field.bits = impl_->schema.filter_bits();
        const auto& segments = impl_->schema.segments();
        for (std::size_t s = 0; s < segments.size(); ++s)
            for (const std::string& name : segments[s].fields)
                if (name == spec.name) field.first_bit = layout[s].first_bit, field.bits = layout[s].bits;
        field.index_width = index_bits(field.bits);
        impl_->fields.push_back(std::move(field));
    }
    for (BoundField& field : impl_->fields) {
        for (const BoundField& other : impl_->fields)
            if (!field.rule.spec->salt_field.empty() && other.rule.spec->name == field.rule.spec->salt_field)
                field.salt_source = &other;
        field.value_cached = field.salt_source == nullptr;
    }
    Impl& impl = *impl_;
    impl.filter_words = impl.schema.filter_bits() / 64;
    if (impl.hardener) impl.linear_images = detail::HardenerSteps::first_images(*impl.hardener, impl.linear_stride);
    impl.value_entry_words = impl.filter_words + (impl.linear_images != nullptr ? impl.linear_stride : 0) + 1;
    impl.value_cache = token_cache_entries > 0 && impl.value_entry_words <= max_value_entry_words;
    for (BoundField& field : impl.fields) {
        const FieldSpec& spec = *field.rule.spec;
        if (impl.value_cache && field.salt_source == nullptr && spec.tokenizer.kind == TokenizerKind::qgram &&
            spec.tokenizer.q == 2 && spec.weight.mode == WeightSpec::Mode::bits_per_token && spec.weight.bits > 0 &&
            spec.weight.bits <= max_bigram_k)
            field.bigram_k = spec.weight.bits;
    }
}

Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;

const Schema& Encoder::schema() const noexcept { return impl_->schema; }
KeyCheck Encoder::key_check() const noexcept { return impl_->key_check; }
std::size_t Encoder::id_column_index() const noexcept { return impl_->id_index; }
std::size_t Encoder::column_count() const noexcept { return impl_->column_count; }

std::string Encoder::id_column_name() const {
    if (impl_->id_index == no_column) return "(row number)";
    return impl_->schema.id_column().empty() ? impl_->schema.fields().front().name : impl_->schema.id_column();
}

void Encoder::bind_columns(const std::vector<std::string>& columns) {
    // A header may be a first row of data (a file without one): its cells are named in messages only
    // where they are names the schema itself uses, otherwise by position.
    std::map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].empty()) throw ValidationError("column " + std::to_string(i + 1) + " has an empty name");
        const auto [earlier, fresh] = position.emplace(columns[i], i);
        if (!fresh)
            throw ValidationError("columns " + std::to_string(earlier->second + 1) + " and " + std::to_string(i + 1) +
                                  " of the header have the same name" +
                                  (impl_->names_in_schema(columns[i]) ? " (\"" + columns[i] + "\")" : ""));
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
    for (BoundField& field : impl_->fields) field.column = position.at(field.rule.spec->name);
    for (std::size_t i = 0; i < columns.size(); ++i)
        if (!used[i])
            throw ValidationError("column " + std::to_string(i + 1) +
                                  " of the header is not in the schema (list it with \"ignore\": true to leave it out)");
    impl_->column_count = columns.size();
    impl_->bound = true;
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
        if (!used[i])
            throw ValidationError("column " + std::to_string(i + 1) + " of the header is not a feature of the clkhash schema");
}

bool Encoder::encode_record(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                            std::uint64_t& tokens, std::uint64_t& invalid_fields, Worker& worker) const {
    return impl_->encode(values, row, why, tokens, invalid_fields, *worker.state_);
}

bool Encoder::encode_record(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                            std::uint64_t& tokens, std::uint64_t& invalid_fields) const {
    Worker worker(*this);
    return encode_record(values, row, why, tokens, invalid_fields, worker);
}

bool Encoder::Impl::encode_clkhash(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                                   std::uint64_t& tokens, Worker::State& worker) const {
    static const std::string empty;
    worker.feature_values.clear();
    for (std::size_t column : feature_columns)
        worker.feature_values.push_back(column == no_column ? &empty : &values[column]);
    return clkhash->encode(worker.feature_values, reinterpret_cast<std::uint8_t*>(row), why.field, why.reason, tokens,
                           *worker.clkhash, &worker.caches->tokens);
}

// The bigrams of an ASCII value (tokenize's grams, boundary markers included) from the field's table:
// the bits of those it holds set in the field's words, the others added to the token list (marked
// with their pair, so that hash_tokens fills the table). False, with nothing done, when the value is
// not ASCII or too short for a bigram (tokenize's other cases).
bool Encoder::Impl::bigrams_from_table(const BoundField& field, std::string_view value, Worker::State& worker) const {
    const std::size_t n = value.size();
    const std::size_t pad = field.rule.spec->tokenizer.padding ? 1 : 0;
    if (n + 2 * pad < 2) return false;
    for (const char c : value)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    const BigramTable& table = worker.caches->bigrams[field.index];
    std::uint64_t* words = worker.field_words.data() + field.index * filter_words;
    const unsigned k = field.bigram_k;
    std::uint32_t grams = 0, pushed = 0;
    const auto gram = [&](unsigned char first, unsigned char second) {
        const unsigned pair = unsigned{first} << 8 | second;
        ++grams;
        if (const std::uint16_t* places = table.find(pair, k)) {
            for (unsigned j = 0; j < k; ++j) FilterMatrix::set_word_bit(words, places[j]);
            return;
        }
        WipedString& token = worker.tokens.add();
        token.push_back(static_cast<char>(first));
        token.push_back(static_cast<char>(second));
        worker.pending.push_back(PendingToken{&field, k, pair});
        ++pushed;
    };
    const auto* text = reinterpret_cast<const unsigned char*>(value.data());
    const auto marker = static_cast<unsigned char>(boundary_marker);
    if (pad != 0) gram(marker, n > 0 ? text[0] : marker);
    for (std::size_t i = 0; i + 1 < n; ++i) gram(text[i], text[i + 1]);
    if (pad != 0 && n > 0) gram(text[n - 1], marker);
    worker.table_hits = grams - pushed;
    return true;
}

// The field's value and tokens appended to the worker's token list, with each token's field and k
// in `pending`; false (with why) when the value rejects the row.
bool Encoder::Impl::gather_field(const BoundField& field, const std::vector<std::string>& values, Rejection& why,
                                 std::uint64_t& invalid_fields, Worker::State& worker) const {
    TokenList& tokens = worker.tokens;
    const FieldSpec& spec = *field.rule.spec;
    std::string_view encoded;
    const ValueOutcome outcome =
        field_value(field.rule, values[field.column], worker.value, encoded, why.reason, invalid_fields);
    if (outcome == ValueOutcome::reject) {
        why.field = spec.name;
        return false;
    }
    if (outcome == ValueOutcome::skip) return true;
    if (field.bigram_k != 0 && bigrams_from_table(field, encoded, worker)) return true;
    const std::size_t before = tokens.size();
    tokenize(encoded, spec.tokenizer, tokens);
    const std::size_t added = tokens.size() - before;
    if (added == 0) return true;
    if (field.salt_source != nullptr) {
        // Salt: the source field's canonical value (a date's year), or empty when it has none.
        // The unit separator keeps "salt|token" unambiguous.
        std::string_view salt_encoded;
        std::string ignored_reason;
        std::uint64_t ignored_count = 0;
        WipedString& salt = worker.salt;
        salt.clear();
        if (field_value(field.salt_source->rule, values[field.salt_source->column], worker.salt_value, salt_encoded,
                        ignored_reason, ignored_count) == ValueOutcome::encode)
            salt.assign(spec.salt_year_only ? salt_encoded.substr(0, 4) : salt_encoded);
        salt.push_back('\x1f');
        for (std::size_t t = before; t < tokens.size(); ++t) tokens[t].insert(0, salt);
    }
    unsigned k = spec.weight.bits;
    if (spec.weight.mode == WeightSpec::Mode::bits_per_feature)
        k = static_cast<unsigned>((spec.weight.bits + added - 1) / added);
    for (std::size_t t = 0; t < added; ++t) worker.pending.push_back(PendingToken{&field, k});
    return true;
}

// Every field's value and tokens, or only those of the values the value cache does not hold (with
// each field's entry, or whether it goes into the cache, in the worker); false (with why) at the
// first field that rejects the row.
bool Encoder::Impl::gather_tokens(const std::vector<std::string>& values, Rejection& why, std::uint64_t& invalid_fields,
                                  Worker::State& worker) const {
    worker.tokens.clear();
    worker.pending.clear();
    if (!value_cache) {
        for (const BoundField& field : fields)
            if (!gather_field(field, values, why, invalid_fields, worker)) return false;
        return true;
    }
    Caches& caches = *worker.caches;
    worker.value_hashes.resize(fields.size());
    worker.entries.assign(fields.size(), nullptr);
    worker.to_insert.assign(fields.size(), 0);
    worker.field_tokens.assign(fields.size(), 0);
    zero_words(worker.field_words, fields.size() * filter_words);  // bigram tables set bits here
    // The values' hashes first, each slot prefetched; then the lookups, each entry found prefetched
    // (it is read after the other fields' tokens are hashed); then the other fields' tokens, in field
    // order, so that the first field that rejects the row is the one reported.
    for (const BoundField& field : fields)
        if (field.value_cached && !caches.use[field.index].off) {
            const std::string& value = values[field.column];
            worker.value_hashes[field.index] = detail::ValueCache::hash(field.index, 0, value);
            caches.values.prefetch(worker.value_hashes[field.index]);
        }
    for (const BoundField& field : fields) {
        FieldUse& use = caches.use[field.index];
        if (!field.value_cached || use.off) continue;
        ++use.lookups;
        const std::uint64_t* entry =
            caches.values.find(worker.value_hashes[field.index], field.index, 0, values[field.column]);
        if (entry == nullptr) {
            use.off = !recurring(use);
            worker.to_insert[field.index] = 1;
            continue;
        }
        ++use.hits;
        worker.entries[field.index] = entry;
        for (std::size_t line = 0; line < value_entry_words; line += 8) __builtin_prefetch(entry + line);
    }
    for (const BoundField& field : fields) {
        if (worker.entries[field.index] != nullptr) continue;
        const std::uint64_t invalid_before = invalid_fields;
        const std::size_t before = worker.tokens.size();
        worker.table_hits = 0;
        if (!gather_field(field, values, why, invalid_fields, worker)) return false;
        worker.field_tokens[field.index] = static_cast<std::uint32_t>(worker.tokens.size() - before) + worker.table_hits;
        // A value counted as invalid is not cached: a hit would not count it again.
        if (invalid_fields != invalid_before) worker.to_insert[field.index] = 0;
    }
    return true;
}

bool Encoder::Impl::encode(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                           std::uint64_t& tokens, std::uint64_t& invalid_fields, Worker::State& worker) const {
    if (!bound) throw UsageError("Encoder::bind_columns must be called before encoding");
    if (values.size() != column_count) {
        why.field.clear();
        why.reason = "has " + std::to_string(values.size()) + " fields, the header has " + std::to_string(column_count);
        return false;
    }
    if (clkhash) return encode_clkhash(values, row, why, tokens, worker);
    if (!gather_tokens(values, why, invalid_fields, worker)) return false;
    std::uint64_t* target = row;
    if (hardener) {
        zero_words(worker.unhardened, filter_words);
        target = worker.unhardened.data();
    }
    if (!value_cache) {
        hash_tokens(worker, target);
        if (hardener)
            hardener->apply(reinterpret_cast<const std::uint8_t*>(worker.unhardened.data()),
                            reinterpret_cast<std::uint8_t*>(row), values[id_index], *worker.hardening);
        tokens += worker.tokens.size();
        return true;
    }
    // Each field's tokens set bits in its own words (zeroed by gather_tokens), so that its value can
    // be cached whole.
    hash_tokens(worker, worker.field_words.data());
    tokens += combine_fields(values, target, row, worker);
    return true;
}

// The gathered tokens' bits: from the token cache, or hashed (and then cached). With the value cache
// a token's bits go to its field's words in `target` (filter_words each, in field order), else all
// to `target`.
void Encoder::Impl::hash_tokens(Worker::State& worker, std::uint64_t* target) const {
    const TokenList& token_list = worker.tokens;
    detail::TokenCache& cache = worker.caches->tokens;
    const std::size_t field_stride = value_cache ? filter_words : 0;
    // Positions from the cache; the tokens it does not hold are hashed together, so the HMACs run
    // several at a time (crypto::HmacSha256::mac_many).
    worker.requests.clear();
    worker.misses.clear();
    // The hashes first, each slot prefetched, so the record's lookups overlap their cache misses.
    worker.hashes.resize(token_list.size());
    for (std::size_t t = 0; t < token_list.size(); ++t) {
        const PendingToken& token = worker.pending[t];
        worker.hashes[t] = detail::TokenCache::hash(token.field->index, token.k,
                                                    std::string_view(token_list[t].data(), token_list[t].size()));
        cache.prefetch(worker.hashes[t]);
    }
    // Then the lookups, each hit's positions prefetched, and only then the bits set from them.
    worker.known.resize(token_list.size());
    for (std::size_t t = 0; t < token_list.size(); ++t) {
        const PendingToken& token = worker.pending[t];
        const std::string_view text(token_list[t].data(), token_list[t].size());
        worker.known[t] = cache.find(worker.hashes[t], token.field->index, token.k, text);
        if (worker.known[t] != nullptr) {
            __builtin_prefetch(worker.known[t]);
            continue;
        }
        worker.misses.push_back(t);
        worker.requests.push_back({&token.field->mac, 0, text.data(), text.size()});
    }
    for (std::size_t t = 0; t < token_list.size(); ++t)
        if (const std::uint16_t* known = worker.known[t]) {
            const PendingToken& token = worker.pending[t];
            std::uint64_t* words = target + token.field->index * field_stride;
            for (unsigned j = 0; j < token.k; ++j) FilterMatrix::set_word_bit(words, known[j]);
            if (token.pair != no_pair) worker.caches->bigrams[token.field->index].insert(token.pair, token.k, known);
        }
    worker.digests.resize(worker.requests.size());
    crypto::HmacSha256::mac_many(worker.requests.data(), worker.requests.size(), worker.digests.data());
    for (std::size_t r = 0; r < worker.misses.size(); ++r) {
        const std::size_t t = worker.misses[r];
        const PendingToken& token = worker.pending[t];
        const std::string_view text(token_list[t].data(), token_list[t].size());
        worker.positions.resize(token.k);
        const BoundField& field = *token.field;
        std::uint64_t* words = target + field.index * field_stride;
        draw_positions(field.mac, text, worker.digests[r], token.k, field.bits, field.index_width, worker.positions.data());
        for (unsigned j = 0; j < token.k; ++j) {
            // The cache keeps each position as the bit's place in the row's words (word_bit, done
            // once per token here rather than on every hit).
            worker.positions[j] = static_cast<std::uint16_t>(FilterMatrix::word_bit(worker.positions[j] + field.first_bit));
            FilterMatrix::set_word_bit(words, worker.positions[j]);
        }
        cache.insert(worker.hashes[t], token.field->index, token.k, text, worker.positions.data());
        if (token.pair != no_pair)
            worker.caches->bigrams[token.field->index].insert(token.pair, token.k, worker.positions.data());
    }
}

// The record's filter from its fields' words (cached entries, or the words hash_tokens set), the
// values to cache cached, then the hardening into `row`; returns the record's token count. With
// diffusion first, its output is the cached and new fields' sums XOR the sum of `rest` (see the top
// of this file). The entries found are read before any is inserted: an insertion may move or clear
// them.
std::uint64_t Encoder::Impl::combine_fields(const std::vector<std::string>& values, std::uint64_t* target,
                                            std::uint64_t* row, Worker::State& worker) const {
    const std::size_t words = filter_words;
    const bool linear = linear_images != nullptr;
    const auto diffuse = [&](const std::uint64_t* in, std::uint64_t* sum) {
        simd::diffusion_sum(reinterpret_cast<const std::uint8_t*>(in), static_cast<std::uint32_t>(words), linear_images,
                            linear_stride, sum);
    };
    if (linear) {
        zero_words(worker.linear_sum, linear_stride);
        zero_words(worker.rest, words);
        worker.rest_sum.resize(linear_stride);
    }
    // Adds a field's words to the filter and, when its sum is known (`entry`), to the sums.
    const auto add = [&](const std::uint64_t* field_words, const std::uint64_t* entry) {
        or_words(target, field_words, words);
        if (!linear || entry == nullptr) return;  // its bits go to rest's sum
        xor_words(worker.rest.data(), field_words, words);
        xor_words(worker.linear_sum.data(), entry + words, linear_stride);
    };
    std::uint64_t tokens = 0;
    for (const BoundField& field : fields)
        if (const std::uint64_t* entry = worker.entries[field.index]) {
            add(entry, entry);
            tokens += entry[value_entry_words - 1];
        }
    for (const BoundField& field : fields) {
        if (worker.entries[field.index] != nullptr) continue;
        const std::uint64_t* field_words = worker.field_words.data() + field.index * words;
        tokens += worker.field_tokens[field.index];
        if (!worker.to_insert[field.index]) {
            add(field_words, nullptr);
            continue;
        }
        worker.entry.resize(value_entry_words);
        std::copy(field_words, field_words + words, worker.entry.begin());
        if (linear) diffuse(field_words, worker.entry.data() + words);
        worker.entry[value_entry_words - 1] = worker.field_tokens[field.index];
        worker.caches->values.insert(worker.value_hashes[field.index], field.index, 0, values[field.column],
                                     worker.entry.data(), value_entry_words);
        add(field_words, worker.entry.data());
    }
    if (!hardener) return tokens;
    if (!linear) {
        hardener->apply(reinterpret_cast<const std::uint8_t*>(target), reinterpret_cast<std::uint8_t*>(row),
                        values[id_index], *worker.hardening);
        return tokens;
    }
    // rest: the filter XOR the fields whose sums are known, i.e. the bits several fields share and
    // the bits of fields without a sum.
    xor_words(worker.rest.data(), target, words);
    diffuse(worker.rest.data(), worker.rest_sum.data());
    xor_words(worker.linear_sum.data(), worker.rest_sum.data(), linear_stride);
    detail::HardenerSteps::apply_after_first(*hardener, worker.linear_sum.data(), reinterpret_cast<std::uint8_t*>(row),
                                             values[id_index], *worker.hardening);
    return tokens;
}

}  // namespace pprl
