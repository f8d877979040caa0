// pprl/format.hpp — every byte that crosses a site boundary.
//
// The pprl encoded file (version 1), little-endian throughout:
//
//   offset  size  header (256 bytes)
//        0     8  magic "PPRLENC\0"
//        8     4  format version (1)
//       12     4  bit order (1: bit i is bit 7 - i%8 of byte i/8, as clkhash and bitarray)
//       16     4  filter length in bits (multiple of 64)
//       20     4  record stride in bytes (multiple of 64)
//       24     8  record count n
//       32     8  offset of the filter section (256)
//       40     8  offset of the id section
//       48     8  size of the id section in bytes
//       56     4  flags: bit 0 schema known, bit 1 key known (both 0 for base64 imports)
//       60     4  party label length (≤ 64)
//       64    32  schema fingerprint (SHA-256 of the canonical schema)
//       96    16  key-check value (HMAC under an HKDF subkey of the secret, truncated)
//      112    64  party label, UTF-8, zero-padded
//      176    72  reserved, zero
//      248     8  XXH3-64 of header bytes 0..247
//   filter section: n records of `stride` bytes each, 64-byte aligned, padding bits zero
//   id section: n times (u32 length, bytes) — the record ids in record order
//   footer (32 bytes): magic "PPRLEND\0", XXH3-64 of the filter section, XXH3-64 of the id section,
//                      total file size
//
// Readers check the magic, header checksum, version, sizes against the file size, the footer and both
// section checksums, so truncation and bit flips are reported as FormatError. Files are written
// through AtomicFile: a crash leaves no file that looks whole. The filter section is memory-mapped
// and used in place.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pprl/bloom.hpp"

namespace pprl {

constexpr std::uint32_t format_version = 1;

// Throws UsageError unless `party` fits a header: at most max_party_bytes bytes of valid UTF-8.
void check_party_label(const std::string& party);

// Streams filters to a pprl file: header placeholder first, then each batch, then ids and footer.
class EncodedFileWriter {
public:
    EncodedFileWriter(const std::string& path, unsigned bits, const EncodingInfo& info);
    ~EncodedFileWriter();
    EncodedFileWriter(const EncodedFileWriter&) = delete;
    EncodedFileWriter& operator=(const EncodedFileWriter&) = delete;

    void append(const FilterMatrix& filters);
    // Writes the id section, footer and final header, then renames the file into place.
    void finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

void write_encoded_file(const std::string& path, const FilterMatrix& filters);

// Loads and fully verifies a pprl file (memory-mapped); popcounts are computed.
FilterMatrix load_encoded_file(const std::string& path);

// What `pprl inspect` shows: the header as read and whether each check passed.
struct FileReport {
    std::uint64_t file_size = 0;
    std::uint32_t version = 0;
    unsigned bits = 0;
    std::size_t stride = 0;
    std::uint64_t records = 0;
    EncodingInfo info;
    bool header_ok = false;
    bool footer_ok = false;
    bool filters_checksum_ok = false;
    bool ids_checksum_ok = false;
    std::string problem;  // first problem found, empty if the file is sound
};
FileReport inspect_encoded_file(const std::string& path);

enum class ExportFormat { csv, clkhash_json };
// CSV: header "record_id,clk", one row per record. clkhash JSON: {"clks": ["...", ...]} in record order.
void export_base64(const FilterMatrix& filters, ExportFormat format, const std::string& path);
// The reverse. CSV needs the "record_id,clk" header; JSON records get ids "0", "1", ... Each
// filter must decode to bits/8 bytes. The result has schema and key marked unknown.
FilterMatrix import_base64(const std::string& path, unsigned bits, const std::string& party);

}  // namespace pprl
