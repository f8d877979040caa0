// crypto/wiped.hpp — containers for personal and key-derived bytes that leave nothing behind.
//
// A worker's scratch holds normalised values, tokens, HMAC outputs and unhardened filters: what the
// key makes of personal data. Ordinary std::string and std::vector give their blocks back to the
// heap as they were, on every reallocation and destruction, so those bytes would outlive the
// record. WipingAllocator overwrites a block with OPENSSL_cleanse (secure_wipe) before freeing it,
// whoever frees it: growth, clear-and-shrink, destruction. Short strings live inside the string
// object (the small-string buffer) rather than on the heap; wipe() clears those too, and a string
// held in a WipedVector has its small buffer inside the vector's block, which is wiped when freed.
//
// The encoder's per-worker scratch (agency/encoder.cpp), the hardener's workspace and the clkhash
// record encoder's scratch are built from these types and wipe themselves when their worker ends.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "pprl/secret.hpp"

namespace pprl {

template <class T>
struct WipingAllocator {
    using value_type = T;

    WipingAllocator() noexcept = default;
    template <class U>
    WipingAllocator(const WipingAllocator<U>&) noexcept {}

    T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        secure_wipe(p, n * sizeof(T));
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const WipingAllocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const WipingAllocator<U>&) const noexcept { return false; }
};

using WipedString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;
using WipedU32String = std::basic_string<char32_t, std::char_traits<char32_t>, WipingAllocator<char32_t>>;
template <class T>
using WipedVector = std::vector<T, WipingAllocator<T>>;

// Overwrites the whole buffer of a string (its capacity, the small-string buffer included) and
// empties it; the memory stays allocated for reuse.
template <class Char>
void wipe(std::basic_string<Char, std::char_traits<Char>, WipingAllocator<Char>>& text) noexcept {
    secure_wipe(text.data(), (text.capacity() + 1) * sizeof(Char));
    text.clear();
}

// The same for a vector: trivially copyable elements are overwritten in place up to the capacity
// and the vector emptied. Strings are wiped one by one and kept (so their buffers are reused), and
// the storage past the last one, where destroyed strings left their small buffers, is overwritten.
template <class T>
void wipe(WipedVector<T>& items) noexcept {
    if constexpr (std::is_trivially_copyable_v<T>) {
        secure_wipe(items.data(), items.capacity() * sizeof(T));
        items.clear();
    } else {
        for (T& item : items) wipe(item);
        secure_wipe(static_cast<void*>(items.data() + items.size()), (items.capacity() - items.size()) * sizeof(T));
    }
}

// Calls visit(pointer, bytes) for a string's or vector's whole buffer (tests check that scratch
// is all zero after wipe()).
template <class Char, class Visit>
void visit_buffer(const std::basic_string<Char, std::char_traits<Char>, WipingAllocator<Char>>& text, Visit&& visit) {
    visit(static_cast<const void*>(text.data()), text.capacity() * sizeof(Char));
}
template <class T, class Visit>
void visit_buffer(const WipedVector<T>& items, Visit&& visit) {
    if constexpr (std::is_trivially_copyable_v<T>) {
        visit(static_cast<const void*>(items.data()), items.capacity() * sizeof(T));
    } else {
        for (const T& item : items) visit_buffer(item, visit);
    }
}

}  // namespace pprl
