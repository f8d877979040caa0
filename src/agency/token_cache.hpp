// agency/token_cache.hpp — what the encoder remembers of recent tokens and field values (internal).
//
// Why. The tokens of real quasi-identifiers repeat far more than the records do: a field of bigrams
// over names draws from a few thousand distinct bigrams, dates from a few hundred parts, zip codes
// from a few hundred values. A token's k positions depend only on its field's subkey, k and its
// text, so once drawn they can be reused: a lookup here costs a hash of a few bytes and a compare,
// where keyed hashing costs two SHA-256 compressions (bench_encode measures both, cached and not).
// Whole values repeat too (first and last names, dates of birth, sex, zip codes): a value's whole
// contribution to the filter (its bits as filter words, and what the first hardening step makes of
// them when that step is linear) depends only on its field and its text, and is reused whole.
//
// What. BoundedCache<Item>: an open-addressing table keyed by (field, tag, text) whose entries hold
// a run of items: a token's k positions as 16-bit numbers (TokenCache, tag k; filters are at most
// 65,536 bits), or a value's filter words (ValueCache, tag 0). Each encoder worker owns one of each,
// so there is no locking on the hot path. It is bounded: when it holds `capacity` entries, or its
// texts or items reach their average budget per entry, it is wiped and refilled, so a field of unique
// values (which never hits) costs an insertion per token and no more memory. XXH3 hashes the table's
// keys: a hash-table index, never part of the keyed encoding.
//
// Secrecy. The items are key material (what the key makes of a token or a value) and the texts are
// pieces of personal data, so the table is wiped with OPENSSL_cleanse when cleared or destroyed, and
// so is every buffer it outgrows (it grows by copying and wiping, never by a plain realloc).
#pragma once

// XXH3 inlined: a call into the shared library per token cost more than the hash of two bytes.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "pprl/secret.hpp"
#include "runtime/linear_probing.hpp"

namespace pprl::detail {

template <class Item>
class BoundedCache {
public:
    static constexpr std::size_t text_bytes_per_entry = 64;
    // Offsets are 32-bit: 2^22 entries of 64 bytes stay below 2^32, and so do their items.
    static constexpr std::size_t max_capacity = std::size_t{1} << 22;
    static constexpr std::size_t max_items_per_entry = 1024;

    // `items_per_entry`: the items' budget per entry on average (at most max_items_per_entry).
    BoundedCache(std::size_t capacity, std::size_t items_per_entry)
        : capacity_(capacity < max_capacity ? capacity : max_capacity),
          items_per_entry_(items_per_entry < max_items_per_entry ? items_per_entry : max_items_per_entry),
          slots_(initial_slots) {}
    ~BoundedCache() { clear(); }
    BoundedCache(const BoundedCache&) = delete;
    BoundedCache& operator=(const BoundedCache&) = delete;

    static std::uint64_t hash(std::uint32_t field, std::uint32_t tag, std::string_view text) noexcept {
        return XXH3_64bits_withSeed(text.data(), text.size(), (static_cast<std::uint64_t>(field) << 32) | tag);
    }

    // The entry's items, or nullptr when the table does not hold it.
    const Item* find(std::uint64_t hash, std::uint32_t field, std::uint32_t tag, std::string_view text) const noexcept {
        if (capacity_ == 0) return nullptr;
        const Slot* slot = probe(slots_, hash, is_free, [&](const Slot& s) {
            return s.field == field && s.tag == tag && s.text_size == text.size() &&
                   same_bytes(texts_.data() + s.text, text.data(), text.size());
        });
        return slot == nullptr ? nullptr : items_.data() + slot->items;
    }

    // Starts loading the slot a lookup of `hash` probes first, so that the lookups of a record's
    // tokens, issued after the prefetches of all of them, find their slots in the cache.
    void prefetch(std::uint64_t hash) const noexcept {
        if (capacity_ != 0) __builtin_prefetch(slots_.data() + (hash & (slots_.size() - 1)));
    }

    // Remembers the entry's n items (clearing the table first when it is full); an entry it already
    // holds (a token repeated within a record misses twice) is left as it is.
    void insert(std::uint64_t hash, std::uint32_t field, std::uint32_t tag, std::string_view text, const Item* items,
                std::size_t n) {
        if (capacity_ == 0 || find(hash, field, tag, text) != nullptr) return;
        if (entries_ == capacity_ || texts_.size() + text.size() > capacity_ * text_bytes_per_entry ||
            items_.size() + n > capacity_ * items_per_entry_)
            clear();
        if (text.size() > capacity_ * text_bytes_per_entry || n > capacity_ * items_per_entry_) return;
        if (2 * (entries_ + 1) > slots_.size()) double_slots(slots_, is_free, true);
        Slot& slot = free_slot(slots_, hash, is_free);
        slot.hash = hash;
        slot.field = field;
        slot.tag = tag;
        slot.text = static_cast<std::uint32_t>(texts_.size());
        slot.text_size = static_cast<std::uint32_t>(text.size());
        slot.items = static_cast<std::uint32_t>(items_.size());
        append_wiping(texts_, text.data(), text.size(), capacity_ * text_bytes_per_entry);
        append_wiping(items_, items, n, capacity_ * items_per_entry_);
        ++entries_;
    }

    void clear() noexcept {
        secure_wipe(texts_.data(), texts_.size());
        secure_wipe(items_.data(), items_.size() * sizeof(Item));
        secure_wipe(slots_.data(), slots_.size() * sizeof(Slot));
        texts_.clear();
        items_.clear();
        for (Slot& slot : slots_) slot.items = empty;
        entries_ = 0;
    }

    std::size_t size() const noexcept { return entries_; }

private:
    static constexpr std::uint32_t empty = UINT32_MAX;
    // Tokens and values are a few bytes: eight at a time, then the rest one by one, beats a call
    // to memcmp.
    static bool same_bytes(const char* a, const char* b, std::size_t size) noexcept {
        std::size_t i = 0;
        for (; i + 8 <= size; i += 8) {
            std::uint64_t x, y;
            std::memcpy(&x, a + i, 8);
            std::memcpy(&y, b + i, 8);
            if (x != y) return false;
        }
        for (; i < size; ++i)
            if (a[i] != b[i]) return false;
        return true;
    }
    struct Slot {
        std::uint64_t hash = 0;
        std::uint32_t field = 0, tag = 0;
        std::uint32_t text = 0, text_size = 0;  // offset and length in texts_
        std::uint32_t items = empty;            // offset in items_; `empty` marks a free slot
    };
    static bool is_free(const Slot& slot) noexcept { return slot.items == empty; }
    // Appends n items; when the buffer must grow (doubling, but never past `budget` items), the old
    // one is wiped before it is freed.
    template <class T>
    static void append_wiping(std::vector<T>& buffer, const T* items, std::size_t n, std::size_t budget) {
        if (buffer.size() + n > buffer.capacity()) {
            std::vector<T> larger;
            larger.reserve(std::max(buffer.size() + n, std::min(2 * (buffer.size() + n), budget)));
            larger.assign(buffer.begin(), buffer.end());
            secure_wipe(buffer.data(), buffer.size() * sizeof(T));
            buffer.swap(larger);
        }
        buffer.insert(buffer.end(), items, items + n);
    }

    // The table starts small and doubles when half full (so probes stay short): the slots of the
    // ~2,000 tokens of a typical schema fit in 128 KiB rather than the 1 MiB of a full-size table,
    // which leaves the core's cache to the rest of the encoder.
    static constexpr std::size_t initial_slots = 1024;

    std::size_t capacity_, items_per_entry_;
    std::vector<Slot> slots_;
    std::size_t entries_ = 0;
    std::vector<char> texts_;
    std::vector<Item> items_;
};

// Tokens' positions: 64 per entry on average is room for any k a schema gives a short token.
class TokenCache : public BoundedCache<std::uint16_t> {
public:
    static constexpr std::size_t positions_per_entry = 64;
    explicit TokenCache(std::size_t capacity) : BoundedCache(capacity, positions_per_entry) {}
    void insert(std::uint64_t hash, std::uint32_t field, std::uint32_t k, std::string_view token,
                const std::uint16_t* positions) {
        BoundedCache::insert(hash, field, k, token, positions, k);
    }
};

// Field values' filter words (the encoder's layout of an entry: encoder.cpp).
using ValueCache = BoundedCache<std::uint64_t>;

}  // namespace pprl::detail
