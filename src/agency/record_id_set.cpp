#include <xxhash.h>

#include <cstring>

#include "pprl/encode.hpp"
#include "pprl/error.hpp"

namespace pprl {
namespace {
constexpr std::uint64_t size_bits = 24;  // an id's length in the low bits of a slot's `place`
constexpr std::uint64_t max_id_bytes = (std::uint64_t{1} << size_bits) - 1;
constexpr std::size_t initial_slots = 1024;
}  // namespace

RecordIdSet::RecordIdSet() : slots_(initial_slots) {}

std::uint64_t RecordIdSet::hash(std::string_view id) noexcept { return XXH3_64bits(id.data(), id.size()); }

void RecordIdSet::prefetch(std::uint64_t hash) const noexcept {
    __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
}

bool RecordIdSet::contains(std::string_view id) const { return find(id, hash(id)) != nullptr; }

const RecordIdSet::Slot* RecordIdSet::find(std::string_view id, std::uint64_t hash) const noexcept {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        const Slot& slot = slots_[i];
        if (slot.place == empty) return nullptr;
        if (slot.hash == hash && (slot.place & max_id_bytes) == id.size() &&
            std::memcmp(bytes_.data() + (slot.place >> size_bits), id.data(), id.size()) == 0)
            return &slot;
    }
}

bool RecordIdSet::insert(std::string_view id) { return insert(id, hash(id)); }

bool RecordIdSet::insert(std::string_view id, std::uint64_t hash) {
    if (id.size() > max_id_bytes) throw UsageError("a record id longer than 16 MiB");
    if (find(id, hash) != nullptr) return false;
    if (2 * (count_ + 1) > slots_.size()) grow();
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash & mask;
    while (slots_[i].place != empty) i = (i + 1) & mask;
    slots_[i].hash = hash;
    slots_[i].place = (static_cast<std::uint64_t>(bytes_.size()) << size_bits) | id.size();
    bytes_.insert(bytes_.end(), id.begin(), id.end());
    ++count_;
    return true;
}

// Doubles the table; the stored hashes place every entry again without reading an id.
void RecordIdSet::grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
        if (slot.place == empty) continue;
        std::size_t i = slot.hash & mask;
        while (slots_[i].place != empty) i = (i + 1) & mask;
        slots_[i] = slot;
    }
}

}  // namespace pprl
