// pprl/harden.hpp — keyed hardening of Bloom-filter encodings against frequency, pattern-mining
// and graph attacks, applied after hashing in the order the schema declares (filter.hardening).
//
//   balance    f ↦ π(f ‖ ¬f): the filter and its complement, under a keyed permutation π of the
//              2m positions. Every output has popcount exactly m (Schnell & Borgs 2016).
//   xor_fold   f ↦ f[π(i)] ⊕ f[π(i + m/2)], i < m/2: XOR folding (Schnell et al. 2016) of keyed,
//              secret pairs of positions rather than the two halves.
//   blip       each bit flipped with probability p = 1 / (1 + e^ε), in units of 2^-16 (randomised response, BLIP of
//              Schnell & Borgs 2016 / Alaggan et al.); the coins are a keystream seeded by an HMAC of
//              the record id and the filter: the same record encodes the same way every time, while
//              two records with the same value get independent noise (no duplicate filters).
//   diffusion  out[j] = ⊕_{i ∈ S_j} f[i] with |S_j| = t distinct positions chosen by the key, for an
//              output of any length (Armknecht, Heng & Schnell, PoPETs 2023): a keyed linear map
//              that spreads each input bit over many output bits.
//
// Step i's key material is HKDF-SHA256(secret, salt = schema fingerprint, info = "pprl/v1/harden"
// 0x00 i name), expanded with AES-256-CTR; nothing uses a non-cryptographic generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "pprl/schema.hpp"
#include "pprl/secret.hpp"

namespace pprl {

namespace detail {
struct HardenerSteps;
}

// The BLIP flip probability for ε.
double blip_flip_probability(double epsilon) noexcept;
// The probability that a bit ends flipped after all of `steps`' BLIP steps (0 without one): what an
// attacker who knows the hardening expects of the noise.
double hardening_flip_probability(const std::vector<HardeningStep>& steps) noexcept;

class Hardener {
public:
    // With a segmented layout (BLIP only, the schema checks), a segment that is all zero bits (a
    // missing value) is left so, so the hub still sees it as missing.
    Hardener(const std::vector<HardeningStep>& steps, unsigned input_bits, const SecretKey& secret,
             const Fingerprint& schema_fingerprint, const Layout& layout = {});
    ~Hardener();
    Hardener(Hardener&&) noexcept;
    Hardener& operator=(Hardener&&) noexcept;

    unsigned input_bits() const noexcept;
    unsigned output_bits() const noexcept;

    // Working memory for apply(): the filter between steps, and BLIP's seed input, seed and coins
    // (all derived from the key and a record), with the AES context that draws the coins. One per
    // thread; wiped (OPENSSL_cleanse) when destroyed or by wipe().
    class Workspace {
    public:
        Workspace();
        ~Workspace();
        Workspace(const Workspace&) = delete;
        Workspace& operator=(const Workspace&) = delete;
        void wipe() noexcept;
        // Calls visit(pointer, bytes) for every buffer (tests check they are wiped).
        void visit_buffers(const std::function<void(const void*, std::size_t)>& visit) const;

    private:
        friend class Hardener;
        struct Buffers;
        std::unique_ptr<Buffers> buffers_;
    };

    // `in`: input_bits()/8 bytes in filter bit order; `out`: output_bits()/8 bytes, overwritten.
    // `record` (the record id) seeds BLIP's coins together with the filter. Thread-safe with one
    // Workspace per thread; the overload without one makes a Workspace for the call.
    void apply(const std::uint8_t* in, std::uint8_t* out, std::string_view record, Workspace& workspace) const;
    void apply(const std::uint8_t* in, std::uint8_t* out, std::string_view record = {}) const;

private:
    friend struct detail::HardenerSteps;  // the encoder's view of the first step (src/agency)
    // Steps first_step, first_step + 1, ... from `in`, that step's input.
    void apply_from(std::size_t first_step, const std::uint8_t* in, std::uint8_t* out, std::string_view record,
                    Workspace& workspace) const;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pprl
