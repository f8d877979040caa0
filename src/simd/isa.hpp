// simd/isa.hpp — which implementation each kernel family runs, chosen once for the process.
//
// Six families have implementations per instruction set:
//   matcher  generic | popcnt | avx2 | avx512   Dice counting and popcounts (simd/kernels.hpp)
//   sha256   openssl | shani | avx512           the batched HMAC-SHA256 of tokens
//   blake2b  portable | avx512                  clkhash's blakeHash digests, eight at a time
//   aes      openssl | vaes                     BLIP's AES-256-CTR keystream
//   blip     portable | sse2                    BLIP's coin comparison
//   diffusion portable | avx2                  diffusion's XOR of output images
// Each family starts on the best implementation the CPU and OS support (GCC's
// __builtin_cpu_supports, which also checks that the OS saves the AVX-512 state), as simdjson's
// get_active_implementation does. One environment variable overrides any of them, with one grammar:
//   PPRL_FORCE_BACKEND=family=implementation[,family=implementation...]
// where a bare name (`PPRL_FORCE_BACKEND=avx2`) means the matcher. An unknown family or name, a
// family named twice, or an implementation this build lacks or this CPU cannot run is a UsageError
// naming what is available: never a silent fallback. The variable is read once; check_override()
// raises its error at every entry point that uses a kernel (encoder, hardener, crypto objects,
// matcher), and the CLI checks it before any command. Family code reads chosen(), which is cheap
// (one atomic load) and noexcept. Tests switch implementations with set_active()
// (pprl/simd.hpp's ScopedBackend for the matcher).
#pragma once

#include <string>
#include <vector>

namespace pprl::simd {

enum class Family : unsigned { matcher, sha256, blake2b, aes, blip, diffusion };
constexpr unsigned family_count = 6;

// Implementation indexes per family, worst first (the order of the tables in dispatch.cpp).
namespace matcher_isa {
enum : unsigned { generic, popcnt, avx2, avx512 };
}
namespace sha256_isa {
enum : unsigned { openssl, shani, avx512 };
}
namespace blake2b_isa {
enum : unsigned { portable, avx512 };
}
namespace aes_isa {
enum : unsigned { openssl, vaes };
}
namespace blip_isa {
enum : unsigned { portable, sse2 };
}
namespace diffusion_isa {
enum : unsigned { portable, avx2 };
}

// The implementation index in use for `family`. With a malformed override it is the best available
// one; check_override() reports the override's error.
unsigned chosen(Family family) noexcept;
// Throws UsageError if PPRL_FORCE_BACKEND is malformed or asks for what cannot run here.
void check_override();
// The family's and implementation's names.
const char* family_name(Family family) noexcept;
const char* implementation_name(Family family, unsigned implementation) noexcept;

}  // namespace pprl::simd
