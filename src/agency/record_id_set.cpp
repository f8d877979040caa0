#include <xxhash.h>

#include <cstring>

#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "runtime/linear_probing.hpp"

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
    return detail::probe(slots_, hash, is_free, [&](const Slot& slot) {
        return (slot.place & max_id_bytes) == id.size() &&
               std::memcmp(bytes_.data() + (slot.place >> size_bits), id.data(), id.size()) == 0;
    });
}

bool RecordIdSet::insert(std::string_view id) { return insert(id, hash(id)); }

bool RecordIdSet::insert(std::string_view id, std::uint64_t hash) {
    if (id.size() > max_id_bytes) throw UsageError("a record id longer than 16 MiB");
    if (find(id, hash) != nullptr) return false;
    // Ids are not secret: the old array of a doubling is freed as it is.
    if (2 * (count_ + 1) > slots_.size()) detail::double_slots(slots_, is_free, false);
    Slot& slot = detail::free_slot(slots_, hash, is_free);
    slot.hash = hash;
    slot.place = (static_cast<std::uint64_t>(bytes_.size()) << size_bits) | id.size();
    bytes_.insert(bytes_.end(), id.begin(), id.end());
    ++count_;
    return true;
}

}  // namespace pprl
