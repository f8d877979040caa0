// Compiled against the hub's headers alone (tests/CMakeLists.txt copies them, and nothing from the
// agency side, into the only include directory this file and src/hub/*.cpp see): the hub knows
// encodings, not how they were made. Run, it scores two files' worth of filters and links them.
#include <cstdio>

#include "pprl/bloom.hpp"
#include "pprl/error.hpp"
#include "pprl/format.hpp"
#include "pprl/link.hpp"
#include "pprl/match.hpp"
#include "pprl/tables.hpp"
#include "pprl/wire.hpp"

int main() {
    pprl::FilterMatrix a(2, 64), b(2, 64);
    for (unsigned bit = 0; bit < 20; ++bit) {
        pprl::FilterMatrix::set_bit(a.mutable_row_words(0), bit);
        pprl::FilterMatrix::set_bit(b.mutable_row_words(1), bit);
        pprl::FilterMatrix::set_bit(a.mutable_row_words(1), 40 + bit % 10);
        pprl::FilterMatrix::set_bit(b.mutable_row_words(0), 30 + bit % 12);
    }
    a.ids() = {"a0", "a1"};
    b.ids() = {"b0", "b1"};
    a.info() = pprl::EncodingInfo::imported("a");
    b.info() = pprl::EncodingInfo::imported("b");
    a.compute_popcounts();
    b.compute_popcounts();
    pprl::LinkOptions options;
    options.threshold = pprl::Threshold::parse("0.9");
    const pprl::LinkResult result = pprl::link({&a, &b}, options);
    const bool ok = result.candidates.size() == 1 && result.candidates[0].a == 0 && result.candidates[0].b == 1 &&
                    result.linked[0] == 1 && result.entities.size() == 4;
    std::printf("hub-only link: %zu candidate(s), %s\n", result.candidates.size(), ok ? "as expected" : "WRONG");
    return ok ? 0 : 1;
}
