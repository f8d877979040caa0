// Fuzz target: the pprl file reader (inspect and load, every header field and section).
//
// Each input is read twice: as it is, and with its checksums repaired (the header's XXH3, and the
// footer's magic, size and section checksums over the sections the header claims, where they lie
// inside the input). A mutation almost never carries a valid checksum, so without the repair the
// fuzzer would stop at the first check; with it, mutated sizes, offsets and counts reach the
// arithmetic behind the checksums, which is where a hostile partner's file would aim.
#include <xxhash.h>

#include <cstring>

#include "fuzz_target.hpp"
#include "pprl/format.hpp"

namespace {

template <class T>
T read_at(const std::string& bytes, std::size_t offset) {
    T value{};
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

template <class T>
void write_at(std::string& bytes, std::size_t offset, T value) {
    std::memcpy(&bytes[offset], &value, sizeof value);
}

std::string with_checksums_repaired(std::string bytes) {
    constexpr std::size_t header = 256, footer = 32;
    if (bytes.size() < header + footer) return bytes;
    const std::uint64_t size = bytes.size();
    std::memcpy(&bytes[size - footer], "PPRLEND\0", 8);
    write_at<std::uint64_t>(bytes, size - 8, size);
    const std::uint64_t ids_offset = read_at<std::uint64_t>(bytes, 40), ids_size = read_at<std::uint64_t>(bytes, 48);
    if (ids_offset >= header && ids_offset <= size - footer) {
        write_at<std::uint64_t>(bytes, size - 24, XXH3_64bits(bytes.data() + header, ids_offset - header));
        if (ids_size <= size - footer - ids_offset)
            write_at<std::uint64_t>(bytes, size - 16, XXH3_64bits(bytes.data() + ids_offset, ids_size));
    }
    write_at<std::uint64_t>(bytes, 248, XXH3_64bits(bytes.data(), 248));
    return bytes;
}

void read_both_ways(const std::string& path) {
    pprl::fuzz::refusal_allowed([&] {
        const pprl::FileReport report = pprl::inspect_encoded_file(path);
        (void)report;
        const pprl::FilterMatrix matrix = pprl::load_encoded_file(path);
        std::uint64_t sum = 0;
        for (std::uint32_t count : matrix.popcounts()) sum += count;
        for (const auto& id : matrix.ids()) sum += id.size();
        if (sum == UINT64_MAX) std::abort();
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    read_both_ways(pprl::fuzz::as_file(data, size, ".pprl"));
    const std::string repaired = with_checksums_repaired(bytes);
    read_both_ways(pprl::fuzz::as_file(reinterpret_cast<const std::uint8_t*>(repaired.data()), repaired.size(), ".pprl"));
    return 0;
}
