// Known-answer tests for the crypto layer (RFC 4231, RFC 5869) and the secret-key type.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "crypto/crypto.hpp"
#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "pprl/secret.hpp"
#include "pprl/simd.hpp"
#include "test_support.hpp"

namespace pprl {
namespace {

std::vector<std::uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::vector<std::uint8_t> repeat(std::uint8_t value, std::size_t n) { return std::vector<std::uint8_t>(n, value); }
std::vector<std::uint8_t> counting(std::uint8_t first, std::size_t n) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(first + i);
    return out;
}
std::string hex(const std::uint8_t* data, std::size_t size) { return pprl::hex(data, size); }
std::vector<std::uint8_t> from_hex(const std::string& text) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoul(text.substr(i, 2), nullptr, 16)));
    return out;
}

struct HmacCase {
    std::vector<std::uint8_t> key, data;
    std::string expected;
};

std::vector<HmacCase> rfc4231_cases() {
    return {
        {repeat(0x0b, 20), bytes("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {bytes("Jefe"), bytes("what do ya want for nothing?"),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {repeat(0xaa, 20), repeat(0xdd, 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {counting(0x01, 25), repeat(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {repeat(0xaa, 131), bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {repeat(0xaa, 131),
         bytes("This is a test using a larger than block-size key and a larger than block-size data. The key needs "
               "to be hashed before being used by the HMAC algorithm."),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
}

TEST(Crypto, HmacSha256MatchesRfc4231) {
    for (const auto& c : rfc4231_cases()) {
        const auto mac = crypto::hmac_sha256(c.key.data(), c.key.size(), c.data.data(), c.data.size());
        EXPECT_EQ(hex(mac.data(), mac.size()), c.expected);
    }
}

TEST(Crypto, PrecomputedHmacMatchesRfc4231) {
    for (const auto& c : rfc4231_cases()) {
        const SecretKey key(c.key.data(), c.key.size());
        const crypto::HmacSha256 mac(key);
        const auto out = mac.mac(c.data.data(), c.data.size());
        EXPECT_EQ(hex(out.data(), out.size()), c.expected);
        // The prefixed form is HMAC over prefix || message.
        if (!c.data.empty()) {
            const auto prefixed = mac.mac(c.data[0], c.data.data() + 1, c.data.size() - 1);
            EXPECT_EQ(hex(prefixed.data(), prefixed.size()), c.expected);
        }
    }
}

TEST(Crypto, HkdfSha256MatchesRfc5869) {
    struct Case {
        std::vector<std::uint8_t> ikm, salt, info;
        std::size_t length;
        std::string okm;
    };
    const std::vector<Case> cases = {
        {repeat(0x0b, 22), counting(0x00, 13), counting(0xf0, 10), 42,
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
        {counting(0x00, 80), counting(0x60, 80), counting(0xb0, 80), 82,
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367"
         "793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
        {repeat(0x0b, 22), {}, {}, 42,
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    };
    for (const auto& c : cases) {
        const SecretKey okm = crypto::hkdf_sha256(c.ikm.data(), c.ikm.size(), c.salt.data(), c.salt.size(),
                                                  c.info.data(), c.info.size(), c.length);
        EXPECT_EQ(hex(okm.data(), okm.size()), c.okm);
    }
}

TEST(Crypto, Sha256OfAbcIsTheFips180Vector) {
    const auto digest = crypto::sha256("abc", 3);
    EXPECT_EQ(hex(digest.data(), digest.size()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(SecretKey, GeneratedKeysDifferAndRoundTripThroughHexFile) {
    test::TempDir dir;
    const SecretKey a = SecretKey::generate(), b = SecretKey::generate();
    ASSERT_EQ(a.size(), 32u);
    EXPECT_NE(hex(a.data(), a.size()), hex(b.data(), b.size()));
    a.write_hex_file(dir.file("k"));
    struct stat info {};
    ASSERT_EQ(::stat(dir.file("k").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);
    const SecretKey read = SecretKey::from_file(dir.file("k"));
    EXPECT_EQ(hex(read.data(), read.size()), hex(a.data(), a.size()));
}

TEST(SecretKey, RejectsShortMalformedAndMissingKeysWithoutEchoingThem) {
    test::TempDir dir;
    const std::string short_key = dir.write("short", "00112233445566778899aabbccddee\n");  // 120 bits
    try {
        SecretKey::from_file(short_key);
        FAIL() << "short key accepted";
    } catch (const ValidationError& e) {
        EXPECT_NE(std::string(e.what()).find("120-bit"), std::string::npos);
        EXPECT_EQ(std::string(e.what()).find("00112233"), std::string::npos);
    }
    const std::string not_hex = dir.write("bad", "correct horse battery staple correct horse\n");
    try {
        SecretKey::from_file(not_hex);
        FAIL() << "non-hex key accepted";
    } catch (const ValidationError& e) {
        EXPECT_EQ(std::string(e.what()).find("horse"), std::string::npos);
    }
    EXPECT_THROW(SecretKey::from_file(dir.file("absent")), IoError);
    // A 128-bit key is the minimum and is accepted.
    EXPECT_EQ(SecretKey::from_file(dir.write("ok", "00112233445566778899aabbccddeeff")).size(), 16u);
}

TEST(SecretKey, RawFilesDropOneTrailingNewline) {
    test::TempDir dir;
    const SecretKey key = SecretKey::from_file(dir.write("raw", "secret\n\n"), SecretKey::FileEncoding::raw);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(key.data()), key.size()), "secret\n");
}

TEST(SecretKey, RawSecretsEndingInWhitespaceGetAWarningThatNamesOnlyTheWhitespace) {
    test::TempDir dir;
    const auto warning_for = [&](const std::string& content) {
        std::string warning;
        const SecretKey key = SecretKey::from_file(dir.write("raw", content), SecretKey::FileEncoding::raw, &warning);
        EXPECT_FALSE(key.empty());
        return warning;
    };
    EXPECT_EQ(warning_for("horse battery\n"), "");
    EXPECT_EQ(warning_for("horse battery"), "");
    for (const auto& [content, named] : std::vector<std::pair<std::string, std::string>>{
             {"horse battery\r\n", "(\\r)"}, {"horse battery\n\n", "(\\n)"}, {"horse battery \n", "(space)"},
             {"horse battery\t \r\n", "(\\t space \\r)"}}) {
        const std::string warning = warning_for(content);
        EXPECT_NE(warning.find(named), std::string::npos) << warning;
        EXPECT_EQ(warning.find("horse"), std::string::npos);
        EXPECT_EQ(warning.find("battery"), std::string::npos);
    }
}

TEST(SecretKey, MovedFromKeyIsEmpty) {
    SecretKey a = SecretKey::generate();
    SecretKey b = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    EXPECT_EQ(b.size(), 32u);
}

TEST(KeyCheck, EqualForEqualKeysAndDifferentOtherwise) {
    const std::vector<std::uint8_t> raw = counting(1, 32);
    const SecretKey a(raw.data(), raw.size()), b(raw.data(), raw.size());
    const SecretKey c = SecretKey::generate();
    EXPECT_EQ(key_check_value(a), key_check_value(b));
    EXPECT_NE(key_check_value(a), key_check_value(c));
}

}  // namespace
}  // namespace pprl

namespace pprl {
namespace {

TEST(Crypto, MacManyEqualsMacForEveryLengthAcrossKeys) {
    // mac_many compresses single-block messages several at a time (SHA extensions where present);
    // mac() goes through OpenSSL. Lengths cross the one-block limit (54 bytes + prefix).
    std::vector<SecretKey> keys;
    for (int i = 0; i < 3; ++i) keys.push_back(SecretKey::generate());
    std::vector<crypto::HmacSha256> macs;
    for (const auto& key : keys) macs.emplace_back(key);
    std::vector<std::string> messages;
    for (std::size_t length = 0; length <= 80; ++length) {
        std::string m(length, '\0');
        for (std::size_t i = 0; i < length; ++i) m[i] = static_cast<char>((length * 31 + i * 7) & 0xff);
        messages.push_back(m);
    }
    std::vector<crypto::HmacSha256::Request> requests;
    for (std::size_t i = 0; i < messages.size(); ++i)
        requests.push_back({&macs[i % macs.size()], static_cast<std::uint8_t>(i % 3), messages[i].data(), messages[i].size()});
    std::vector<crypto::Digest256> out(requests.size());
    crypto::HmacSha256::mac_many(requests.data(), requests.size(), out.data());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const auto expected = macs[i % macs.size()].mac(requests[i].prefix, messages[i].data(), messages[i].size());
        EXPECT_EQ(out[i], expected) << "length " << messages[i].size();
        // And against OpenSSL's one-shot HMAC over prefix || message.
        std::string whole(1, static_cast<char>(requests[i].prefix));
        whole += messages[i];
        const SecretKey& key = keys[i % keys.size()];
        EXPECT_EQ(out[i], crypto::hmac_sha256(key.data(), key.size(), whole.data(), whole.size()));
    }
}

}  // namespace
}  // namespace pprl

namespace pprl {
namespace {

std::string keyed_hex(crypto::KeyedDigest::Kind kind, const std::string& key, const std::string& message,
                      const std::string& salt = "") {
    crypto::KeyedDigest digest(kind, reinterpret_cast<const std::uint8_t*>(key.data()), key.size(), salt.data(),
                               salt.size());
    std::uint8_t out[crypto::KeyedDigest::max_size];
    digest.digest(message.data(), message.size(), out);
    return pprl::hex(out, digest.size());
}

// RFC 2202 test cases 1 and 6 (a key longer than the block).
TEST(Crypto, HmacSha1AndMd5MatchRfc2202) {
    using Kind = crypto::KeyedDigest::Kind;
    EXPECT_EQ(keyed_hex(Kind::hmac_sha1, std::string(20, '\x0b'), "Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00");
    EXPECT_EQ(keyed_hex(Kind::hmac_md5, std::string(16, '\x0b'), "Hi There"), "9294727a3638bb1c13f48ef8158bfc9d");
    const std::string long_key(80, '\xaa'), text = "Test Using Larger Than Block-Size Key - Hash Key First";
    EXPECT_EQ(keyed_hex(Kind::hmac_sha1, long_key, text), "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    EXPECT_EQ(keyed_hex(Kind::hmac_md5, long_key, text), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
}

// Values from Python's hashlib.blake2b(message, key=..., salt=...): short, empty, exactly one block
// and multi-block messages, 1- to 64-byte keys, salts of 0 to 16 bytes.
TEST(Crypto, KeyedSaltedBlake2bMatchesHashlib) {
    using Kind = crypto::KeyedDigest::Kind;
    EXPECT_EQ(keyed_hex(Kind::blake2b, std::string(64, 'k'), "token", "0"),
              "55c0a99b8053b091b83ad302185da61f5af9ce7364a22f15af628d495d30da4806ee921cf32601cf3662fbb7865ebfcbbc19f64de7035cea049881ef07397dab");
    EXPECT_EQ(keyed_hex(Kind::blake2b, "\x01", std::string(300, 'x'), "12"),
              "34cb200dad1626a92836a3d95b8754ca7098f4fde98aeedd582d16ad77fccd7008dba8b3c8fc4ae8470828af6b4f2fd12c23dd7298efb39796cc4d8de60a0116");
    std::string key32;
    for (int i = 0; i < 32; ++i) key32.push_back(static_cast<char>(i));
    EXPECT_EQ(keyed_hex(Kind::blake2b, key32, ""),
              "84bfa69f0d90df7db2a3ee026042988b5bd9caa2320af1f371823dd28351202f8e6277c40c050711c8dd4e2c1ac30c34c9aed0bddd468b031287fe872675e0cc");
    EXPECT_EQ(keyed_hex(Kind::blake2b, "key", std::string(128, 'a'), "0123456789abcdef"),
              "bf86892b6566d6664920e5646075400a9611cf60661d4d1badc193aa9043b1c8559ffe00e654a31e79213cbeb8769c6cd3411afc5c7cb8b19adb9c7b1d5a6921");
    EXPECT_THROW(keyed_hex(Kind::blake2b, std::string(65, 'k'), "x"), UsageError);
}

// HKDF-SHA512 against a direct RFC 5869 computation (Python hmac), 100 bytes (two blocks).
// AES-256-CTR through OpenSSL's EVP interface: the reference for crypto::keystream.
std::vector<std::uint8_t> openssl_keystream(const std::uint8_t key[32], const std::uint8_t iv[16], std::size_t size) {
    std::vector<std::uint8_t> out(size + 1, 0);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int written = 0;
    EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr, key, iv), 1);
    EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &written, out.data(), static_cast<int>(size)), 1);
    EVP_CIPHER_CTX_free(ctx);
    out.resize(size);
    return out;
}

TEST(Crypto, KeystreamMatchesSp80038aCtrAes256) {
    // NIST SP 800-38A F.5.5: the counter f0..ff carries into byte 14 at the second block.
    const std::vector<std::uint8_t> key = from_hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    const std::vector<std::uint8_t> iv = from_hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    const std::vector<std::uint8_t> plain = from_hex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
    const std::string cipher =
        "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
        "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6";
    std::vector<std::uint8_t> stream(plain.size());
    crypto::keystream(key.data(), iv.data(), stream.data(), stream.size());
    for (std::size_t i = 0; i < plain.size(); ++i) stream[i] ^= plain[i];
    EXPECT_EQ(pprl::hex(stream.data(), stream.size()), cipher) << crypto::keystream_implementation();
}

TEST(Crypto, KeystreamEqualsOpenSslForEveryLengthAndCarry) {
    // Random keys and counters, and counters about to carry out of the low 32 and 64 bits and out of
    // all 128; lengths around every block and pass boundary of the VAES path (64 and 256 bytes).
    std::uint64_t state = 7;
    auto next_byte = [&state] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint8_t>(state >> 56);
    };
    const char* counters[] = {"", "00000000000000000000000000000000", "000000000000000000000000fffffffd",
                              "0000000000000000fffffffffffffffe", "fffffffffffffffffffffffffffffff0",
                              "0123456789abcdeffffffffffffffffb"};
    for (const char* counter : counters) {
        for (std::size_t size : {0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 191, 255, 256, 257, 320, 1000, 2048, 4099}) {
            std::uint8_t key[32], iv[16];
            for (auto& b : key) b = next_byte();
            if (*counter == '\0') {
                for (auto& b : iv) b = next_byte();
            } else {
                const std::vector<std::uint8_t> fixed = from_hex(counter);
                std::memcpy(iv, fixed.data(), 16);
            }
            std::vector<std::uint8_t> ours(size + 1, 0xAB);
            crypto::keystream(key, iv, ours.data(), size);
            EXPECT_EQ(ours[size], 0xAB) << "wrote past the end, size " << size;
            ours.resize(size);
            EXPECT_EQ(ours, openssl_keystream(key, iv, size))
                << crypto::keystream_implementation() << ", counter " << counter << ", size " << size;
        }
    }
}

TEST(Crypto, KeystreamRunsOnTheSelectedImplementation) {
    // VAES where the CPU has it unless PPRL_FORCE_BACKEND names another; the name reported is the
    // selection's.
    const bool vaes = __builtin_cpu_supports("aes") && __builtin_cpu_supports("vaes") &&
                      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    const std::string active = simd::active_implementation("aes");
    EXPECT_EQ(std::string(crypto::keystream_implementation()), active);
    const char* forced = std::getenv("PPRL_FORCE_BACKEND");
    if (forced == nullptr || std::string(forced).find("aes=") == std::string::npos)
        EXPECT_EQ(active, vaes ? "vaes" : "openssl");
}

TEST(Crypto, HkdfSha512) {
    const std::string ikm = "secret", salt = "salt", info = "info";
    const SecretKey okm = crypto::hkdf(crypto::HkdfHash::sha512, reinterpret_cast<const std::uint8_t*>(ikm.data()),
                                       ikm.size(), salt.data(), salt.size(), info.data(), info.size(), 100);
    EXPECT_EQ(pprl::hex(okm.data(), okm.size()),
              "90e269f053d383c4b2070be93238adf358f3d67bd7b17ca3de95f10a50a8385e66d8241c8c22c91cee75d7bda92e8111236b71b63c8"
              "f05973947428074d272f073de7d106ca1b6f5beeb22fc785a81666a9f00c675fdb5616858d14f472907a57fe282bb");
    EXPECT_THROW(crypto::hkdf(crypto::HkdfHash::sha512, okm.data(), okm.size(), "", 0, "", 0, 255 * 64 + 1), UsageError);
}

}  // namespace
}  // namespace pprl

namespace pprl {
namespace {

// digest_many equals one digest at a time for every length around the single-block limit, mixed
// keys and salts, and batches that do not fill the eight lanes (run under each blake2b implementation).
TEST(Crypto, ManyBlake2bDigestsEqualOneAtATime) {
    using Kind = crypto::KeyedDigest::Kind;
    std::vector<std::unique_ptr<crypto::KeyedDigest>> keys;
    for (int k = 0; k < 5; ++k) {
        std::string key(static_cast<std::size_t>(1 + 15 * k), static_cast<char>('a' + k));
        const std::string salt = std::to_string(k);
        keys.push_back(std::make_unique<crypto::KeyedDigest>(Kind::blake2b, reinterpret_cast<const std::uint8_t*>(key.data()),
                                                             key.size(), salt.data(), salt.size()));
    }
    std::vector<std::string> messages;
    for (std::size_t n = 0; n <= 260; n += (n < 136 ? 1 : 31)) {
        std::string m(n, '\0');
        for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<char>(i * 7 + n);
        messages.push_back(m);
    }
    for (std::size_t count : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}, messages.size()}) {
        std::vector<crypto::KeyedDigest::Request> requests;
        for (std::size_t i = 0; i < count; ++i)
            requests.push_back({keys[i % keys.size()].get(), messages[i].data(), messages[i].size()});
        std::vector<std::uint8_t> many(64 * count);
        crypto::KeyedDigest::digest_many(requests.data(), count, many.data());
        for (std::size_t i = 0; i < count; ++i) {
            std::uint8_t one[64];
            requests[i].key->digest(messages[i].data(), messages[i].size(), one);
            EXPECT_EQ(std::memcmp(one, many.data() + 64 * i, 64), 0) << "message of " << messages[i].size() << " bytes";
        }
    }
    EXPECT_TRUE(std::string(crypto::KeyedDigest::blake2b_path()) == "avx512" ||
                std::string(crypto::KeyedDigest::blake2b_path()) == "portable");
}

}  // namespace
}  // namespace pprl
