#include "pprl/harden.hpp"

#include <array>
#include <cmath>
#include <cstring>
#include <string>

#include "agency/harden_steps.hpp"
#include "pprl/bloom.hpp"
#include "crypto/crypto.hpp"
#include "crypto/wiped.hpp"
#include "pprl/error.hpp"
#include "simd/blip.hpp"
#include "simd/diffusion.hpp"
#include "simd/isa.hpp"


namespace pprl {
namespace {

// Uniform integers below a bound from an AES-CTR keystream (rejection sampling, no modulo bias).
class KeyedStream {
public:
    KeyedStream(const std::uint8_t key[32], const char* purpose) {
        std::memcpy(key_, key, 32);
        std::memset(iv_, 0, sizeof iv_);
        std::strncpy(reinterpret_cast<char*>(iv_), purpose, 8);
    }
    ~KeyedStream() { secure_wipe(key_, sizeof key_); }
    std::uint32_t next32() {
        if (used_ == buffer_.size()) refill();
        std::uint32_t v = 0;
        std::memcpy(&v, buffer_.data() + used_, 4);
        used_ += 4;
        return v;
    }
    std::uint32_t below(std::uint32_t bound) {
        const std::uint64_t limit = (std::uint64_t{1} << 32) - ((std::uint64_t{1} << 32) % bound);
        for (;;) {
            const std::uint32_t v = next32();
            if (v < limit) return v % bound;
        }
    }

private:
    void refill() {
        // Block counter in the last 8 bytes of the IV, advanced per refill.
        for (int i = 15; i >= 8; --i)
            if (++iv_[i] != 0) break;
        crypto::keystream(key_, iv_, buffer_.data(), buffer_.size());
        used_ = 0;
    }
    std::uint8_t key_[32];
    std::uint8_t iv_[16];
    WipedVector<std::uint8_t> buffer_ = WipedVector<std::uint8_t>(4096);  // keystream: wiped when freed
    std::size_t used_ = 4096;
};

WipedVector<std::uint32_t> keyed_permutation(KeyedStream& stream, std::uint32_t n) {
    WipedVector<std::uint32_t> p(n);
    for (std::uint32_t i = 0; i < n; ++i) p[i] = i;
    for (std::uint32_t i = n - 1; i > 0; --i) std::swap(p[i], p[stream.below(i + 1)]);  // Fisher–Yates
    return p;
}

}  // namespace

namespace {

struct Step {
    HardeningStep spec;
    unsigned in_bits = 0, out_bits = 0;
    WipedVector<std::uint32_t> map;  // balance, xor_fold: the keyed permutation
    // diffusion, by input position (the map's transpose), so that a filter's output is the XOR of
    // what its set bits feed: input bit i's whole output image, out_bits / 64 words padded with zero
    // words to `stride` (a multiple of 8, simd/diffusion.hpp), at i · stride, while all images fit in
    // max_diffusion_columns_bytes; else the outputs it feeds, outputs[offsets[i] .. offsets[i + 1]).
    WipedVector<std::uint64_t> columns;
    std::uint32_t stride = 0;
    WipedVector<std::uint32_t> offsets, outputs;
    std::unique_ptr<crypto::HmacSha256> blip_mac;
    std::uint32_t flip_below = 0;    // blip: flip when a 16-bit coin is below this
};

}  // namespace

double blip_flip_probability(double epsilon) noexcept { return 1.0 / (1.0 + std::exp(epsilon)); }

double hardening_flip_probability(const std::vector<HardeningStep>& steps) noexcept {
    double p = 0;
    for (const HardeningStep& step : steps)
        if (step.kind == HardeningKind::blip) {
            const double q = blip_flip_probability(step.epsilon);
            p = p * (1 - q) + q * (1 - p);  // flipped an odd number of times
        }
    return p;
}

// Diffusion's output images of single input bits are kept whole up to this size (1024 × 1024 bits
// take 128 KiB); larger maps flip the outputs one at a time.
constexpr std::size_t max_diffusion_columns_bytes = std::size_t{1} << 20;

struct Hardener::Impl {
    std::vector<Step> steps;
    unsigned input_bits = 0, output_bits = 0;
    Layout layout;
};

Hardener::Hardener(const std::vector<HardeningStep>& steps, unsigned input_bits, const SecretKey& secret,
                   const Fingerprint& fingerprint, const Layout& layout)
    : impl_(std::make_unique<Impl>()) {
    static const char* const names[] = {"balance", "xor_fold", "blip", "diffusion"};
    impl_->input_bits = input_bits;
    impl_->layout = layout;
    for (const HardeningStep& step : steps)
        if (!layout.empty() && step.kind != HardeningKind::blip)
            throw UsageError("only BLIP hardening keeps a segmented layout");
    unsigned bits = input_bits;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        Step step;
        step.spec = steps[i];
        step.in_bits = bits;
        std::string info = "pprl/v1/harden";
        info.push_back('\0');
        info.push_back(static_cast<char>(i));
        info += names[static_cast<int>(steps[i].kind)];
        const SecretKey key = crypto::hkdf_sha256(secret.data(), secret.size(), fingerprint.data(), fingerprint.size(),
                                                  info.data(), info.size(), 32);
        KeyedStream stream(key.data(), "harden");
        switch (steps[i].kind) {
            case HardeningKind::balance:
                step.out_bits = 2 * bits;
                step.map = keyed_permutation(stream, 2 * bits);
                break;
            case HardeningKind::xor_fold:
                if (bits % 2 != 0) throw UsageError("xor_fold needs an even length");
                step.out_bits = bits / 2;
                step.map = keyed_permutation(stream, bits);
                break;
            case HardeningKind::blip: {
                step.out_bits = bits;
                step.blip_mac = std::make_unique<crypto::HmacSha256>(key);
                // p in units of 2^-16: the coins are 16-bit, compared as integers, so every machine
                // flips the same bits.
                const double p = blip_flip_probability(steps[i].epsilon);
                step.flip_below = static_cast<std::uint32_t>(std::llround(p * 65536.0));
                break;
            }
            case HardeningKind::diffusion: {
                const unsigned t = steps[i].t;
                if (t == 0 || t > bits) throw UsageError("diffusion needs 1 ≤ t ≤ input length");
                step.out_bits = steps[i].output_bits;
                // Output j is the XOR of t distinct input positions drawn in order j = 0, 1, ...
                WipedVector<std::uint32_t> inputs;
                inputs.reserve(std::size_t{step.out_bits} * t);
                for (unsigned j = 0; j < step.out_bits; ++j) {
                    const std::size_t first = inputs.size();
                    while (inputs.size() - first < t) {
                        const std::uint32_t pick = stream.below(bits);
                        bool fresh = true;
                        for (std::size_t q = first; q < inputs.size(); ++q) fresh = fresh && inputs[q] != pick;
                        if (fresh) inputs.push_back(pick);
                    }
                }
                if (bits % 64 == 0 && step.out_bits % 64 == 0 &&
                    std::size_t{bits} * step.out_bits / 8 <= max_diffusion_columns_bytes) {
                    step.stride = (step.out_bits / 64 + 7) / 8 * 8;
                    step.columns.assign(std::size_t{bits} * step.stride, 0);
                    for (std::size_t q = 0; q < inputs.size(); ++q) {
                        const std::size_t j = q / t;  // output j, in the filter's bit order within its word
                        std::uint8_t* image =
                            reinterpret_cast<std::uint8_t*>(step.columns.data() + std::size_t{inputs[q]} * step.stride);
                        image[j / 8] ^= static_cast<std::uint8_t>(0x80u >> (j % 8));
                    }
                    break;
                }
                step.offsets.assign(std::size_t{bits} + 1, 0);
                for (const std::uint32_t input : inputs) ++step.offsets[input + 1];
                for (unsigned p = 0; p < bits; ++p) step.offsets[p + 1] += step.offsets[p];
                step.outputs.resize(inputs.size());
                WipedVector<std::uint32_t> fill(step.offsets.begin(), step.offsets.end() - 1);
                for (std::size_t q = 0; q < inputs.size(); ++q) step.outputs[fill[inputs[q]]++] = static_cast<std::uint32_t>(q / t);
                break;
            }
        }
        bits = step.out_bits;
        impl_->steps.push_back(std::move(step));
    }
    impl_->output_bits = bits;
}

Hardener::~Hardener() = default;
Hardener::Hardener(Hardener&&) noexcept = default;
Hardener& Hardener::operator=(Hardener&&) noexcept = default;
unsigned Hardener::input_bits() const noexcept { return impl_->input_bits; }
unsigned Hardener::output_bits() const noexcept { return impl_->output_bits; }

struct Hardener::Workspace::Buffers {
    WipedVector<std::uint8_t> current, next, coins, seed_input;
    WipedVector<std::uint64_t> out_words;  // diffusion's output, word by word
    crypto::Keystream keystream;
};

Hardener::Workspace::Workspace() : buffers_(std::make_unique<Buffers>()) {}
Hardener::Workspace::~Workspace() { wipe(); }

void Hardener::Workspace::wipe() noexcept {
    pprl::wipe(buffers_->current);
    pprl::wipe(buffers_->next);
    pprl::wipe(buffers_->coins);
    pprl::wipe(buffers_->seed_input);
    pprl::wipe(buffers_->out_words);
}

void Hardener::Workspace::visit_buffers(const std::function<void(const void*, std::size_t)>& visit) const {
    visit_buffer(buffers_->current, visit);
    visit_buffer(buffers_->next, visit);
    visit_buffer(buffers_->coins, visit);
    visit_buffer(buffers_->seed_input, visit);
    visit_buffer(buffers_->out_words, visit);
}

void Hardener::apply(const std::uint8_t* in, std::uint8_t* out, std::string_view record) const {
    Workspace workspace;
    apply(in, out, record, workspace);
}

void Hardener::apply(const std::uint8_t* in, std::uint8_t* out, std::string_view record, Workspace& workspace) const {
    apply_from(0, in, out, record, workspace);
}

void Hardener::apply_from(std::size_t first_step, const std::uint8_t* in, std::uint8_t* out, std::string_view record,
                          Workspace& workspace) const {
    auto& [current, next, coins, seed_input, out_words, keystream] = *workspace.buffers_;
    const unsigned in_bits = first_step < impl_->steps.size() ? impl_->steps[first_step].in_bits : impl_->output_bits;
    current.assign(in, in + in_bits / 8);
    for (std::size_t s = first_step; s < impl_->steps.size(); ++s) {
        const Step& step = impl_->steps[s];
        next.assign((step.out_bits + 7) / 8, 0);
        const std::uint8_t* f = current.data();
        switch (step.spec.kind) {
            case HardeningKind::balance:
                for (std::uint32_t j = 0; j < step.in_bits; ++j) {
                    // position j of f ‖ ¬f holds f[j]; position in_bits + j holds ¬f[j]
                    if (filter_bit(f, j)) set_filter_bit(next.data(), step.map[j]);
                    else set_filter_bit(next.data(), step.map[step.in_bits + j]);
                }
                break;
            case HardeningKind::xor_fold:
                for (std::uint32_t j = 0; j < step.out_bits; ++j)
                    if (filter_bit(f, step.map[j]) != filter_bit(f, step.map[j + step.out_bits])) set_filter_bit(next.data(), j);
                break;
            case HardeningKind::blip: {
                // Coins: AES-CTR under HMAC(step key, |id| ‖ id ‖ filter), 16 bits per position.
                seed_input.clear();
                const std::uint64_t id_size = record.size();
                for (int b = 0; b < 8; ++b) seed_input.push_back(static_cast<std::uint8_t>(id_size >> (8 * b)));
                seed_input.insert(seed_input.end(), record.begin(), record.end());
                seed_input.insert(seed_input.end(), f, f + step.in_bits / 8);
                crypto::Digest256 seed = step.blip_mac->mac(seed_input.data(), seed_input.size());
                static const std::uint8_t iv[16] = {'b', 'l', 'i', 'p'};
                coins.resize(std::size_t{step.in_bits} * 2);
                keystream.generate(seed.data(), iv, coins.data(), coins.size());
                secure_wipe(seed.data(), seed.size());
                simd::blip_flips(coins.data(), step.in_bits, step.flip_below, f, next.data());
                for (const Segment& segment : impl_->layout)
                    if (segment_empty(f, segment))
                        std::memset(next.data() + segment.first_bit / 8, 0, segment.bits / 8);
                break;
            }
            case HardeningKind::diffusion: {
                // The output is the XOR of what the set input bits feed, so the work follows the set
                // bits, with no branch on the outputs' values.
                if (!step.columns.empty()) {
                    // One image XORed per set bit, the sum in vector registers.
                    out_words.resize(step.stride);
                    simd::diffusion_sum(f, step.in_bits / 64, step.columns.data(), step.stride, out_words.data());
                    std::memcpy(next.data(), out_words.data(), std::size_t{step.out_bits} / 8);
                    break;
                }
                // Each set bit flips the outputs it feeds, about t of them. (Pointers held in locals:
                // a byte store may alias anything, which would make the compiler reload the vectors'
                // data pointers at every flip.)
                std::uint8_t* const o = next.data();
                const std::uint32_t* const offsets = step.offsets.data();
                const std::uint32_t* const outputs = step.outputs.data();
                for (std::uint32_t byte = 0; byte < step.in_bits / 8; ++byte)
                    for (unsigned set = f[byte]; set != 0; set &= set - 1) {
                        const std::uint32_t input = byte * 8 + 7 - static_cast<unsigned>(__builtin_ctz(set));
                        const std::uint32_t end = offsets[input + 1];
                        for (std::uint32_t e = offsets[input]; e < end; ++e)
                            o[outputs[e] / 8] ^= static_cast<std::uint8_t>(0x80u >> (outputs[e] % 8));
                    }
                break;
            }
        }
        current.swap(next);
    }
    std::memcpy(out, current.data(), impl_->output_bits / 8);
}

const std::uint64_t* detail::HardenerSteps::first_images(const Hardener& hardener, std::uint32_t& stride) noexcept {
    const std::vector<Step>& steps = hardener.impl_->steps;
    if (steps.empty() || steps.front().spec.kind != HardeningKind::diffusion || steps.front().columns.empty())
        return nullptr;
    stride = steps.front().stride;
    return steps.front().columns.data();
}

void detail::HardenerSteps::apply_after_first(const Hardener& hardener, const std::uint64_t* first_output,
                                              std::uint8_t* out, std::string_view record,
                                              Hardener::Workspace& workspace) {
    hardener.apply_from(1, reinterpret_cast<const std::uint8_t*>(first_output), out, record, workspace);
}

}  // namespace pprl
