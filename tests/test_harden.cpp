// Hardening steps: keyed and deterministic, the properties each promises (constant popcount,
// half length, a keyed XOR-of-t linear map, the BLIP flip rate), salting, and schema validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "pprl/harden.hpp"
#include "simd/blip.hpp"
#include "simd/diffusion.hpp"
#include "pprl/match.hpp"
#include "pprl/schema.hpp"

namespace pprl {
namespace {

SecretKey key_of(int seed) {
    std::uint8_t raw[32];
    for (int i = 0; i < 32; ++i) raw[i] = static_cast<std::uint8_t>(seed * 17 + i);
    return SecretKey(raw, 32);
}

const Fingerprint fingerprint{};

std::vector<std::uint8_t> random_filter(unsigned bits, double density, std::mt19937_64& rng) {
    std::vector<std::uint8_t> f(bits / 8, 0);
    std::bernoulli_distribution bit(density);
    for (unsigned i = 0; i < bits; ++i)
        if (bit(rng)) f[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
    return f;
}

std::vector<std::uint8_t> harden(const Hardener& h, const std::vector<std::uint8_t>& in) {
    std::vector<std::uint8_t> out(h.output_bits() / 8);
    h.apply(in.data(), out.data());
    return out;
}

unsigned popcount(const std::vector<std::uint8_t>& f) {
    unsigned n = 0;
    for (std::uint8_t b : f) n += static_cast<unsigned>(__builtin_popcount(b));
    return n;
}

HardeningStep step(HardeningKind kind, double epsilon = 0, unsigned t = 0, unsigned out = 0) {
    HardeningStep s;
    s.kind = kind;
    s.epsilon = epsilon;
    s.t = t;
    s.output_bits = out;
    return s;
}

const std::vector<std::vector<HardeningStep>> every_step = {
    {step(HardeningKind::balance)},
    {step(HardeningKind::xor_fold)},
    {step(HardeningKind::blip, 2.0)},
    {step(HardeningKind::diffusion, 0, 3, 1024)},
};

TEST(Harden, EveryStepIsDeterministicUnderAKeyAndChangesUnderAnother) {
    std::mt19937_64 rng(1);
    const auto input = random_filter(1024, 0.3, rng);
    for (const auto& steps : every_step) {
        const Hardener a(steps, 1024, key_of(1), fingerprint), again(steps, 1024, key_of(1), fingerprint);
        const Hardener other(steps, 1024, key_of(2), fingerprint);
        EXPECT_EQ(harden(a, input), harden(again, input));
        EXPECT_NE(harden(a, input), harden(other, input));
    }
}

TEST(Harden, BalancingGivesConstantPopcountAndDoublesTheLength) {
    const Hardener h({step(HardeningKind::balance)}, 1024, key_of(1), fingerprint);
    EXPECT_EQ(h.output_bits(), 2048u);
    std::mt19937_64 rng(2);
    for (double density : {0.0, 0.05, 0.3, 0.7, 1.0})
        for (int i = 0; i < 20; ++i) EXPECT_EQ(popcount(harden(h, random_filter(1024, density, rng))), 1024u);
}

TEST(Harden, FoldingHalvesTheLengthAndXorsSecretPairs) {
    const Hardener h({step(HardeningKind::xor_fold)}, 1024, key_of(1), fingerprint);
    EXPECT_EQ(h.output_bits(), 512u);
    // Linear over GF(2): fold(a ⊕ b) = fold(a) ⊕ fold(b); a single set bit survives as one bit.
    std::mt19937_64 rng(3);
    const auto a = random_filter(1024, 0.3, rng), b = random_filter(1024, 0.3, rng);
    std::vector<std::uint8_t> x(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) x[i] = a[i] ^ b[i];
    const auto fa = harden(h, a), fb = harden(h, b), fx = harden(h, x);
    for (std::size_t i = 0; i < fa.size(); ++i) EXPECT_EQ(fx[i], fa[i] ^ fb[i]);
    std::vector<std::uint8_t> unit(128, 0);
    unit[5] = 0x10;
    EXPECT_EQ(popcount(harden(h, unit)), 1u);
}

TEST(Harden, DiffusionIsAKeyedXorOfExactlyTInputs) {
    // 1024 → 768 bits keeps each input bit's whole output image (12 words, padded to 16), as do
    // 512 → 2560 (40 words: passes of 16 or 32 words and a shorter last one) and 1024 → 4096 (64
    // words); 4096 → 4096 (2 MiB of images) flips the outputs one by one: all must be the same kind
    // of map.
    for (const auto& [in_bits, out_bits, t] :
         {std::tuple{1024u, 768u, 1u}, std::tuple{1024u, 768u, 3u}, std::tuple{1024u, 768u, 7u},
          std::tuple{512u, 2560u, 3u}, std::tuple{1024u, 4096u, 3u}, std::tuple{4096u, 4096u, 3u}}) {
        const Hardener h({step(HardeningKind::diffusion, 0, t, out_bits)}, in_bits, key_of(4), fingerprint);
        ASSERT_EQ(h.output_bits(), out_bits);
        // Columns of the map: the image of each unit vector. Every output bit has exactly t inputs.
        std::vector<unsigned> inputs_per_output(out_bits, 0);
        std::vector<std::uint8_t> unit(in_bits / 8, 0);
        std::vector<std::vector<std::uint8_t>> images;
        for (unsigned i = 0; i < in_bits; ++i) {
            std::fill(unit.begin(), unit.end(), 0);
            unit[i / 8] = static_cast<std::uint8_t>(0x80u >> (i % 8));
            images.push_back(harden(h, unit));
            for (unsigned j = 0; j < out_bits; ++j) inputs_per_output[j] += (images.back()[j / 8] >> (7 - j % 8)) & 1;
        }
        for (unsigned j = 0; j < out_bits; ++j) EXPECT_EQ(inputs_per_output[j], t) << "output bit " << j;
        // Linear: D(a ⊕ b) = D(a) ⊕ D(b), D(0) = 0, and D(a) is the XOR of its set bits' images.
        std::mt19937_64 rng(t);
        const auto a = random_filter(in_bits, 0.2, rng), b = random_filter(in_bits, 0.4, rng);
        std::vector<std::uint8_t> x(a.size());
        for (std::size_t i = 0; i < a.size(); ++i) x[i] = a[i] ^ b[i];
        const auto da = harden(h, a), db = harden(h, b), dx = harden(h, x);
        for (std::size_t i = 0; i < da.size(); ++i) EXPECT_EQ(dx[i], da[i] ^ db[i]);
        std::vector<std::uint8_t> sum(out_bits / 8, 0);
        for (unsigned i = 0; i < in_bits; ++i)
            if ((a[i / 8] >> (7 - i % 8)) & 1)
                for (std::size_t q = 0; q < sum.size(); ++q) sum[q] ^= images[i][q];
        EXPECT_EQ(da, sum);
        EXPECT_EQ(popcount(harden(h, std::vector<std::uint8_t>(in_bits / 8, 0))), 0u);
    }
}

TEST(Harden, BlipFlipsBitsAtTheRateEpsilonImplies) {
    std::mt19937_64 rng(5);
    for (double epsilon : {0.5, 2.0, 5.0}) {
        const Hardener h({step(HardeningKind::blip, epsilon)}, 1024, key_of(6), fingerprint);
        const double p = blip_flip_probability(epsilon);
        EXPECT_NEAR(p, 1.0 / (1.0 + std::exp(epsilon)), 1e-15);
        std::uint64_t flips = 0, total = 0;
        for (int r = 0; r < 400; ++r) {
            const auto in = random_filter(1024, 0.3, rng);
            const auto out = harden(h, in);
            for (std::size_t i = 0; i < in.size(); ++i) flips += static_cast<unsigned>(__builtin_popcount(in[i] ^ out[i]));
            total += 1024;
        }
        const double rate = static_cast<double>(flips) / static_cast<double>(total);
        const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(total));
        EXPECT_NEAR(rate, p, 5 * sigma) << "epsilon " << epsilon;
    }
}

TEST(Harden, BlipCoinStepIsTheSameVectorisedAndPortable) {
    std::mt19937_64 rng(13);
    for (unsigned bits : {8u, 64u, 128u, 1024u, 1032u, 2112u}) {
        for (std::uint32_t below : {0u, 1u, 3099u, 32768u, 32769u, 65535u, 65536u}) {
            std::vector<std::uint8_t> coins(2 * bits), f(bits / 8), fast(bits / 8), slow(bits / 8);
            for (auto& c : coins) c = static_cast<std::uint8_t>(rng());
            for (auto& b : f) b = static_cast<std::uint8_t>(rng());
#if defined(__x86_64__)
            simd::blip_flips_sse2(coins.data(), bits, below, f.data(), fast.data());
#else
            simd::blip_flips(coins.data(), bits, below, f.data(), fast.data());
#endif
            simd::blip_flips_portable(coins.data(), bits, below, f.data(), slow.data());
            EXPECT_EQ(fast, slow) << bits << " bits, below " << below;
        }
    }
}

TEST(Harden, DiffusionSumIsTheSameInEveryImplementation) {
    // Random images (not diffusion's sparse ones, so every word of every image matters) and filters
    // from empty to full; strides of one to eight passes, the last one shorter.
    std::mt19937_64 rng(21);
    for (std::uint32_t in_words : {1u, 2u, 16u, 17u}) {
        for (std::uint32_t stride : {8u, 16u, 24u, 32u, 40u, 56u, 64u, 136u}) {
            std::vector<std::uint64_t> images(std::size_t{in_words} * 64 * stride);
            for (auto& word : images) word = rng();
            for (const double density : {0.0, 0.1, 0.4, 1.0}) {
                const auto f = random_filter(64 * in_words, density, rng);
                std::vector<std::uint64_t> expected(stride, 0);
                for (std::uint32_t bit = 0; bit < 64 * in_words; ++bit)
                    if ((f[bit / 8] >> (7 - bit % 8)) & 1)
                        for (std::uint32_t q = 0; q < stride; ++q) expected[q] ^= images[std::size_t{bit} * stride + q];
                const auto sum_of = [&](void (*kernel)(const std::uint8_t*, std::uint32_t, const std::uint64_t*,
                                                       std::uint32_t, std::uint64_t*) noexcept) {
                    std::vector<std::uint64_t> sum(stride, ~std::uint64_t{0});
                    kernel(f.data(), in_words, images.data(), stride, sum.data());
                    return sum;
                };
                const std::string where = std::to_string(in_words) + " words in, stride " + std::to_string(stride) +
                                          ", density " + std::to_string(density);
                EXPECT_EQ(sum_of(&simd::diffusion_sum_portable), expected) << where;
                EXPECT_EQ(sum_of(&simd::diffusion_sum), expected) << where;
#if defined(__x86_64__)
                if (__builtin_cpu_supports("avx2")) EXPECT_EQ(sum_of(&simd::diffusion_sum_avx2), expected) << where;
#endif
            }
        }
    }
}

TEST(Harden, StepsComposeInTheDeclaredOrder) {
    const Hardener fold_then_balance({step(HardeningKind::xor_fold), step(HardeningKind::balance)}, 1024, key_of(1),
                                     fingerprint);
    EXPECT_EQ(fold_then_balance.output_bits(), 1024u);
    std::mt19937_64 rng(8);
    EXPECT_EQ(popcount(harden(fold_then_balance, random_filter(1024, 0.4, rng))), 512u);
    const Hardener balance_then_fold({step(HardeningKind::balance), step(HardeningKind::xor_fold)}, 1024, key_of(1),
                                     fingerprint);
    EXPECT_EQ(balance_then_fold.output_bits(), 1024u);
}

std::string schema_text(const std::string& filter_extra, const std::string& first_name_extra) {
    return R"({"pprl_schema": 1, "filter": {"bits": 1024)" + filter_extra + R"(},
      "fields": [
        {"name": "first_name", "type": "string", "tokenizer": {"kind": "qgram", "q": 2},
         "weight": {"bits_per_token": 10})" + first_name_extra + R"(},
        {"name": "dob", "type": "date", "formats": ["%Y-%m-%d"], "tokenizer": {"kind": "date_parts"},
         "weight": {"bits_per_token": 10}}]})";
}

double dice_of(const Schema& schema, const std::vector<std::string>& a, const std::vector<std::string>& b) {
    Encoder encoder(schema, key_of(9));
    encoder.bind_columns({"record_id", "first_name", "dob"});
    FilterMatrix m(2, schema.bits());
    Rejection why;
    std::uint64_t tokens = 0, invalid = 0;
    EXPECT_TRUE(encoder.encode_record(a, m.mutable_row_words(0), why, tokens, invalid)) << why.reason;
    EXPECT_TRUE(encoder.encode_record(b, m.mutable_row_words(1), why, tokens, invalid)) << why.reason;
    m.compute_popcounts();
    return dice(m, 0, m, 1);
}

TEST(Harden, SaltingSeparatesEqualNamesInDifferentSaltGroups) {
    const Schema plain = Schema::from_json(schema_text("", ""));
    const Schema salted = Schema::from_json(schema_text("", R"(, "salt": {"field": "dob", "part": "year"})"));
    EXPECT_NE(plain.fingerprint(), salted.fingerprint());
    const std::vector<std::string> a = {"1", "Jasmine", "2009-03-04"}, same_year = {"2", "Jasmine", "2009-11-30"},
                                   other_year = {"3", "Jasmine", "2010-03-04"};
    // Same year: the salted name bits coincide, as without salt.
    EXPECT_NEAR(dice_of(salted, a, same_year), dice_of(plain, a, same_year), 0.05);
    // Another year: without salt the name still matches; with salt it no longer contributes.
    EXPECT_GT(dice_of(plain, a, other_year), 0.75);
    EXPECT_LT(dice_of(salted, a, other_year), 0.45);
}

TEST(Harden, SchemaDeclaresStepsAndTheEncodingLengthFollows) {
    const Schema s = Schema::from_json(schema_text(
        R"(, "hardening": [{"step": "balance"}, {"step": "xor_fold"}, {"step": "blip", "epsilon": 4},
                           {"step": "diffusion", "t": 3, "bits": 512}])",
        ""));
    EXPECT_EQ(s.filter_bits(), 1024u);
    EXPECT_EQ(s.bits(), 512u);
    ASSERT_EQ(s.hardening().size(), 4u);
    EXPECT_EQ(s.hardening()[2].kind, HardeningKind::blip);
    Encoder encoder(s, key_of(1));
    encoder.bind_columns({"record_id", "first_name", "dob"});
    FilterMatrix m(1, s.bits());
    Rejection why;
    std::uint64_t tokens = 0, invalid = 0;
    ASSERT_TRUE(encoder.encode_record({"1", "Ann", "2001-02-03"}, m.mutable_row_words(0), why, tokens, invalid));

    auto refused = [](const std::string& filter, const std::string& field, const std::string& fragment) {
        try {
            Schema::from_json(schema_text(filter, field));
            ADD_FAILURE() << "accepted: " << fragment;
        } catch (const ValidationError& e) {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
        }
    };
    refused(R"(, "hardening": [{"step": "shuffle"}])", "", "/filter/hardening/0/step");
    refused(R"(, "hardening": [{"step": "blip"}])", "", "/filter/hardening/0/epsilon");
    refused(R"(, "hardening": [{"step": "diffusion", "t": 0}])", "", "/filter/hardening/0/t");
    refused(R"(, "hardening": [{"step": "xor_fold"}, {"step": "xor_fold"}, {"step": "xor_fold"}, {"step": "xor_fold"},
                               {"step": "xor_fold"}])", "", "/filter/hardening/4/step");  // 64 bits cannot fold
    refused("", R"(, "salt": {"field": "nope"})", "/fields/0/salt/field");
    refused("", R"(, "salt": {"field": "first_name"})", "/fields/0/salt/field");
}

}  // namespace
}  // namespace pprl
