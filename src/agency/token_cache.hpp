// agency/token_cache.hpp — the bit positions of tokens hashed recently (internal to the encoder).
//
// Why. The tokens of real quasi-identifiers repeat far more than the records do: a field of bigrams
// over names draws from a few thousand distinct bigrams, dates from a few hundred parts, zip codes
// from a few hundred values. A token's k positions depend only on its field's subkey, k and its
// text, so once drawn they can be reused: a lookup here costs a hash of a few bytes and a compare,
// where keyed hashing costs two SHA-256 compressions (bench_encode measures both, cached and not).
//
// What. An open-addressing table keyed by (field, k, token) whose entries hold the positions as
// 16-bit numbers (filters are at most 65,536 bits). Each encoder worker owns one, so there is no
// locking on the hot path. It is bounded: when it holds `capacity` entries, or its texts or positions
// reach 64 per entry on average, it is wiped and refilled, so a field of unique values (which never
// hits) costs an insertion per token and no more memory. XXH3 hashes the table's keys: a hash-table
// index, never part of the keyed encoding.
//
// Secrecy. The positions are key material (they are what the key makes of a token) and the texts
// are pieces of personal data, so the table is wiped with OPENSSL_cleanse when cleared or destroyed,
// and so is every buffer it outgrows (it grows by copying and wiping, never by a plain realloc).
#pragma once

// XXH3 inlined: a call into the shared library per token cost more than the hash of two bytes.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "pprl/secret.hpp"
#include "runtime/linear_probing.hpp"

namespace pprl::detail {

class TokenCache {
public:
    static constexpr std::size_t text_bytes_per_entry = 64;
    static constexpr std::size_t positions_per_entry = 64;
    // Offsets are 32-bit: 2^22 entries of 64 bytes and 64 positions stay below 2^32.
    static constexpr std::size_t max_capacity = std::size_t{1} << 22;

    explicit TokenCache(std::size_t capacity)
        : capacity_(capacity < max_capacity ? capacity : max_capacity), slots_(initial_slots) {}
    ~TokenCache() { clear(); }
    TokenCache(const TokenCache&) = delete;
    TokenCache& operator=(const TokenCache&) = delete;

    static std::uint64_t hash(std::uint32_t field, std::uint32_t k, std::string_view token) noexcept {
        return XXH3_64bits_withSeed(token.data(), token.size(), (static_cast<std::uint64_t>(field) << 32) | k);
    }

    // The k positions of the token, or nullptr when the table does not hold it.
    const std::uint16_t* find(std::uint64_t hash, std::uint32_t field, std::uint32_t k, std::string_view token) const noexcept {
        if (capacity_ == 0) return nullptr;
        const Slot* slot = probe(slots_, hash, is_free, [&](const Slot& s) {
            return s.field == field && s.k == k && s.text_size == token.size() &&
                   same_bytes(texts_.data() + s.text, token.data(), token.size());
        });
        return slot == nullptr ? nullptr : positions_.data() + slot->positions;
    }

    // Starts loading the slot a lookup of `hash` probes first, so that the lookups of a record's
    // tokens, issued after the prefetches of all of them, find their slots in the cache.
    void prefetch(std::uint64_t hash) const noexcept {
        if (capacity_ != 0) __builtin_prefetch(slots_.data() + (hash & (slots_.size() - 1)));
    }

    // Remembers the token's k positions (clearing the table first when it is full); a token it
    // already holds (one repeated within a record misses twice) is left as it is.
    void insert(std::uint64_t hash, std::uint32_t field, std::uint32_t k, std::string_view token,
                const std::uint16_t* positions) {
        if (capacity_ == 0 || find(hash, field, k, token) != nullptr) return;
        if (entries_ == capacity_ || texts_.size() + token.size() > capacity_ * text_bytes_per_entry ||
            positions_.size() + k > capacity_ * positions_per_entry)
            clear();
        if (token.size() > capacity_ * text_bytes_per_entry || k > capacity_ * positions_per_entry) return;
        if (2 * (entries_ + 1) > slots_.size()) double_slots(slots_, is_free, true);
        Slot& slot = free_slot(slots_, hash, is_free);
        slot.hash = hash;
        slot.field = field;
        slot.k = k;
        slot.text = static_cast<std::uint32_t>(texts_.size());
        slot.text_size = static_cast<std::uint32_t>(token.size());
        slot.positions = static_cast<std::uint32_t>(positions_.size());
        append_wiping(texts_, token.data(), token.size());
        append_wiping(positions_, positions, k);
        ++entries_;
    }

    void clear() noexcept {
        secure_wipe(texts_.data(), texts_.size());
        secure_wipe(positions_.data(), positions_.size() * sizeof(std::uint16_t));
        secure_wipe(slots_.data(), slots_.size() * sizeof(Slot));
        texts_.clear();
        positions_.clear();
        for (Slot& slot : slots_) slot.positions = empty;
        entries_ = 0;
    }

    std::size_t size() const noexcept { return entries_; }

private:
    static constexpr std::uint32_t empty = UINT32_MAX;
    // Tokens are a few bytes: a loop beats a call to memcmp.
    static bool same_bytes(const char* a, const char* b, std::size_t size) noexcept {
        for (std::size_t i = 0; i < size; ++i)
            if (a[i] != b[i]) return false;
        return true;
    }
    struct Slot {
        std::uint64_t hash = 0;
        std::uint32_t field = 0, k = 0;
        std::uint32_t text = 0, text_size = 0;  // offset and length in texts_
        std::uint32_t positions = empty;        // offset in positions_; `empty` marks a free slot
    };
    static bool is_free(const Slot& slot) noexcept { return slot.positions == empty; }
    // Appends n items; when the buffer must grow, the old one is wiped before it is freed.
    template <class T>
    static void append_wiping(std::vector<T>& buffer, const T* items, std::size_t n) {
        if (buffer.size() + n > buffer.capacity()) {
            std::vector<T> larger;
            larger.reserve(2 * (buffer.size() + n));
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

    std::size_t capacity_;
    std::vector<Slot> slots_;
    std::size_t entries_ = 0;
    std::vector<char> texts_;
    std::vector<std::uint16_t> positions_;
};

}  // namespace pprl::detail
