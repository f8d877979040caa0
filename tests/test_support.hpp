// Helpers shared by the test suites: temporary directories and small file writers.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "pprl/bloom.hpp"

namespace pprl::test {

class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "pprl-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) std::abort();
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string write(const std::string& name, const std::string& content) const {
        std::ofstream out(file(name), std::ios::binary);
        out << content;
        return file(name);
    }

private:
    std::filesystem::path path_;
};

inline std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Random filters where each bit is set with probability `density`.
inline FilterMatrix random_filters(std::size_t rows, unsigned bits, double density, std::uint64_t seed) {
    FilterMatrix m(rows, bits);
    std::mt19937_64 rng(seed);
    std::bernoulli_distribution bit(density);
    for (std::size_t i = 0; i < rows; ++i) {
        auto* row = m.mutable_row_words(i);
        for (unsigned b = 0; b < bits; ++b)
            if (bit(rng)) FilterMatrix::set_bit(row, b);
        m.ids().push_back("r" + std::to_string(i));
    }
    m.compute_popcounts();
    return m;
}

// CLK-like pairs: B[i] is A[i] with `flips` random bits toggled, so Dice scores cover the range near 1
// as well as the random-pair background.
inline FilterMatrix perturbed_copy(const FilterMatrix& a, std::size_t flips, std::uint64_t seed) {
    FilterMatrix b(a.rows(), a.bits());
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<unsigned> position(0, a.bits() - 1);
    for (std::size_t i = 0; i < a.rows(); ++i) {
        auto* row = b.mutable_row_words(i);
        for (std::size_t w = 0; w < a.words(); ++w) row[w] = a.row_words(i)[w];
        const std::size_t n = flips == 0 ? 0 : rng() % (flips + 1);
        for (std::size_t f = 0; f < n; ++f) {
            const unsigned bit = position(rng);
            row[bit / 64] ^= std::uint64_t{1} << (((bit / 8) % 8) * 8 + (7 - bit % 8));
        }
        b.ids().push_back("b" + std::to_string(i));
    }
    b.compute_popcounts();
    return b;
}

}  // namespace pprl::test
