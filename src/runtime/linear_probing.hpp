// runtime/linear_probing.hpp — the open-addressing table both of pprl's hash sets are built on.
//
// A power-of-two array of slots, each holding the entry's 64-bit hash; a lookup probes from
// hash & mask forward until it finds the entry or a free slot; the owner doubles the array when it
// is half full, so probes stay short, and the stored hashes place every entry again without reading
// its key. The slots' meaning (what marks a slot free, what else it holds, how a key is compared)
// belongs to the owner: agency/token_cache.hpp (token positions, wiped when freed) and
// RecordIdSet (record ids in one encoding run).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pprl/secret.hpp"

namespace pprl::detail {

// The slot holding the entry `matches` accepts, or nullptr when a free slot comes first. Inlined
// into every lookup: called, the matcher's captures went through the stack as two 8-byte stores
// read back as one 16-byte load, which the store buffer cannot forward (a stall on every lookup).
template <class Slot, class IsFree, class Matches>
[[gnu::always_inline]] inline const Slot* probe(const std::vector<Slot>& slots, std::uint64_t hash, IsFree is_free,
                                                const Matches& matches) noexcept {
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        const Slot& slot = slots[i];
        if (is_free(slot)) return nullptr;
        if (slot.hash == hash && matches(slot)) return &slot;
    }
}

// The first free slot on the entry's probe path (the table is at most half full).
template <class Slot, class IsFree>
Slot& free_slot(std::vector<Slot>& slots, std::uint64_t hash, IsFree is_free) noexcept {
    const std::size_t mask = slots.size() - 1;
    std::size_t i = hash & mask;
    while (!is_free(slots[i])) i = (i + 1) & mask;
    return slots[i];
}

// Doubles the table and places every entry again by its stored hash. With `wipe`, the old array
// is overwritten before it is freed (its slots hold what the key made of personal data).
template <class Slot, class IsFree>
void double_slots(std::vector<Slot>& slots, IsFree is_free, bool wipe) {
    std::vector<Slot> old(slots.size() * 2);
    old.swap(slots);
    for (const Slot& slot : old)
        if (!is_free(slot)) free_slot(slots, slot.hash, is_free) = slot;
    if (wipe) secure_wipe(old.data(), old.size() * sizeof(Slot));
}

}  // namespace pprl::detail
