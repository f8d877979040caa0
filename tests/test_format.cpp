// The pprl file format: round trips, corruption and truncation detection, base64 interchange.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <fstream>

#include "pprl/error.hpp"
#include "format/base64.hpp"
#include "pprl/format.hpp"
#include "test_support.hpp"

namespace pprl {
namespace {

FilterMatrix sample(std::size_t rows = 37, unsigned bits = 1024) {
    FilterMatrix m = test::random_filters(rows, bits, 0.3, 42);
    m.info().party = "schools";
    m.info().schema_known = true;
    m.info().key_known = true;
    for (int i = 0; i < 32; ++i) m.info().schema_fingerprint[i] = static_cast<std::uint8_t>(i);
    for (int i = 0; i < 16; ++i) m.info().key_check[i] = static_cast<std::uint8_t>(100 + i);
    m.ids()[3] = "id, with \"quotes\"\nand newline";
    return m;
}

void expect_same(const FilterMatrix& a, const FilterMatrix& b) {
    ASSERT_EQ(a.rows(), b.rows());
    ASSERT_EQ(a.bits(), b.bits());
    for (std::size_t i = 0; i < a.rows(); ++i)
        EXPECT_EQ(std::memcmp(a.row_bytes(i), b.row_bytes(i), a.stride_bytes()), 0) << i;
    EXPECT_EQ(a.ids(), b.ids());
    EXPECT_EQ(a.popcounts(), b.popcounts());
}

TEST(Format, RoundTripKeepsFiltersIdsAndHeader) {
    test::TempDir dir;
    const FilterMatrix m = sample();
    write_encoded_file(dir.file("a.pprl"), m);
    const FilterMatrix back = load_encoded_file(dir.file("a.pprl"));
    expect_same(m, back);
    EXPECT_EQ(back.info().party, "schools");
    EXPECT_EQ(back.info().schema_fingerprint, m.info().schema_fingerprint);
    EXPECT_EQ(back.info().key_check, m.info().key_check);
    EXPECT_TRUE(back.info().schema_known);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(back.data()) % 64, 0u);  // mapped, aligned
}

TEST(Format, EmptyAndOddLengthsRoundTrip) {
    test::TempDir dir;
    for (unsigned bits : {64u, 576u, 2048u}) {
        const FilterMatrix m = test::random_filters(5, bits, 0.5, bits);
        write_encoded_file(dir.file("b.pprl"), m);
        expect_same(m, load_encoded_file(dir.file("b.pprl")));
    }
    FilterMatrix empty(0, 1024);
    write_encoded_file(dir.file("e.pprl"), empty);
    EXPECT_EQ(load_encoded_file(dir.file("e.pprl")).rows(), 0u);
}

TEST(Format, EveryTruncationIsDetected) {
    test::TempDir dir;
    write_encoded_file(dir.file("a.pprl"), sample(9));
    const std::string whole = test::read_all(dir.file("a.pprl"));
    for (std::size_t keep = 0; keep < whole.size(); keep += (keep < 300 ? 1 : 7)) {
        dir.write("t.pprl", whole.substr(0, keep));
        EXPECT_THROW(load_encoded_file(dir.file("t.pprl")), FormatError) << "kept " << keep;
    }
    dir.write("x.pprl", whole + "junk");
    EXPECT_THROW(load_encoded_file(dir.file("x.pprl")), FormatError);
}

TEST(Format, EveryBitFlipIsDetected) {
    test::TempDir dir;
    write_encoded_file(dir.file("a.pprl"), sample(5, 128));
    const std::string whole = test::read_all(dir.file("a.pprl"));
    // Flip one bit in every byte of the file, one at a time (header, filters, ids, footer).
    for (std::size_t byte = 0; byte < whole.size(); ++byte) {
        std::string bad = whole;
        bad[byte] = static_cast<char>(bad[byte] ^ (1 << (byte % 8)));
        dir.write("f.pprl", bad);
        EXPECT_THROW(load_encoded_file(dir.file("f.pprl")), FormatError) << "byte " << byte;
        EXPECT_FALSE(inspect_encoded_file(dir.file("f.pprl")).problem.empty());
    }
}

// Header fields rewritten and the header checksum made valid again: what a hostile partner can send.
std::string with_header_fields(std::string file, const std::vector<std::pair<std::size_t, std::uint64_t>>& fields) {
    for (const auto& [offset, value] : fields) std::memcpy(&file[offset], &value, sizeof value);
    const std::uint64_t checksum = XXH3_64bits(file.data(), 248);
    std::memcpy(&file[248], &checksum, sizeof checksum);
    return file;
}

TEST(Format, SizesThatLieAreRefusedWithoutReadingPastTheFile) {
    test::TempDir dir;
    const std::string path = dir.file("a.pprl");
    write_encoded_file(path, sample(5));
    const std::string good = test::read_all(path);
    const std::uint64_t size = good.size();
    const std::uint64_t ids_offset = 256 + 5 * 128;
    const std::uint64_t ids_size = size - 32 - ids_offset;
    const std::uint64_t huge = ~std::uint64_t{0};
    // (records @24, ids offset @40, ids size @48)
    const std::vector<std::vector<std::pair<std::size_t, std::uint64_t>>> lies = {
        {{40, ids_offset}, {48, huge - ids_offset - 31}},          // ids_offset + ids_size + 32 wraps to the file size
        {{48, huge}},                                               // id section of 2^64 - 1 bytes
        {{48, ids_size + 1}},                                       // past the end
        {{48, 0}},                                                  // zero-length ids for five records
        {{40, 256}, {48, size - 32 - 256}},                         // ids overlapping the filters
        {{24, huge}},                                               // 2^64 - 1 records
        {{24, (huge / 128) + 1}},                                   // records × stride wraps
        {{24, 6}},                                                  // one record more than there is
        {{24, 0}, {40, 256}, {48, size - 32 - 256}},                // no records, the filters read as ids
        {{40, huge - 16}},                                          // an offset near 2^64
    };
    for (std::size_t i = 0; i < lies.size(); ++i) {
        const std::string bad = dir.write("bad" + std::to_string(i) + ".pprl", with_header_fields(good, lies[i]));
        EXPECT_THROW(load_encoded_file(bad), FormatError) << "lie " << i;
        EXPECT_FALSE(inspect_encoded_file(bad).problem.empty()) << "lie " << i;
    }
    // Unchanged fields with a recomputed checksum still load (the helper itself is sound).
    EXPECT_EQ(load_encoded_file(dir.write("same.pprl", with_header_fields(good, {{24, 5}}))).rows(), 5u);
}

TEST(Format, NotAPprlFileAndMissingFile) {
    test::TempDir dir;
    dir.write("n.pprl", std::string(400, 'x'));
    EXPECT_THROW(load_encoded_file(dir.file("n.pprl")), FormatError);
    EXPECT_THROW(load_encoded_file(dir.file("absent.pprl")), IoError);
}

TEST(Format, FailedWriteLeavesNoFile) {
    test::TempDir dir;
    FilterMatrix m = sample();
    m.ids().pop_back();  // ids no longer match rows: append throws before anything is committed
    EXPECT_THROW(write_encoded_file(dir.file("w.pprl"), m), UsageError);
    std::ifstream probe(dir.file("w.pprl"));
    EXPECT_FALSE(probe.good());
    EXPECT_TRUE(std::filesystem::is_empty(std::filesystem::path(dir.file(""))));
}

TEST(Format, Base64MatchesRfc4648Vectors) {
    const std::pair<std::string, std::string> vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size()), encoded);
        EXPECT_EQ(base64_decode(encoded), plain);
    }
    EXPECT_THROW(base64_decode("Zm9"), ValidationError);
    EXPECT_THROW(base64_decode("Zm9*"), ValidationError);
    EXPECT_THROW(base64_decode("Z=9v"), ValidationError);
}

TEST(Format, Base64ExportImportRoundTripsInBothForms) {
    test::TempDir dir;
    const FilterMatrix m = sample(12, 1024);
    export_base64(m, ExportFormat::csv, dir.file("c.csv"));
    const FilterMatrix from_csv = import_base64(dir.file("c.csv"), 1024, "x");
    expect_same(m, from_csv);
    EXPECT_FALSE(from_csv.info().schema_known);
    EXPECT_FALSE(from_csv.info().key_known);
    export_base64(m, ExportFormat::clkhash_json, dir.file("c.json"));
    const FilterMatrix from_json = import_base64(dir.file("c.json"), 1024, "x");
    ASSERT_EQ(from_json.rows(), m.rows());
    EXPECT_EQ(from_json.ids()[5], "5");
    EXPECT_EQ(std::memcmp(from_json.row_bytes(5), m.row_bytes(5), 128), 0);
    EXPECT_THROW(import_base64(dir.file("c.json"), 2048, "x"), ValidationError);  // wrong length
}

// clkhash allows any l with doubleHash: such filters are held zero-padded to whole words, stored with
// their length in bits, exported as clkhash's ceil(l / 8) bytes; a set padding bit is refused.
TEST(Format, LengthsThatAreNotAMultipleOf64RoundTripAndSetPaddingIsRefused) {
    test::TempDir dir;
    for (unsigned bits : {1u, 100u, 333u, 1000u}) {
        const FilterMatrix m = test::random_filters(9, bits, 0.5, bits);
        ASSERT_EQ(m.words(), (bits + 63) / 64);
        write_encoded_file(dir.file("odd.pprl"), m);
        const FilterMatrix back = load_encoded_file(dir.file("odd.pprl"));
        EXPECT_EQ(back.bits(), bits);
        expect_same(m, back);
        for (ExportFormat format : {ExportFormat::csv, ExportFormat::clkhash_json}) {
            export_base64(m, format, dir.file("odd.out"));
            FilterMatrix imported = import_base64(dir.file("odd.out"), bits, "x");
            if (format == ExportFormat::clkhash_json) imported.ids() = m.ids();  // clkhash JSON has no ids
            expect_same(m, imported);
            EXPECT_THROW(import_base64(dir.file("odd.out"), bits + 8, "x"), ValidationError);
        }

        // The same file with one padding bit set, its filter checksum recomputed: refused all the same.
        std::string bytes = test::read_all(dir.file("odd.pprl"));
        const std::size_t stride = m.stride_bytes();
        const std::size_t at = 256 + 4 * stride + bits / 8;  // record 5, the byte holding bit `bits`
        bytes[at] = static_cast<char>(bytes[at] | (bits % 8 ? 0x80 >> (bits % 8) : 0x80));
        const std::uint64_t checksum = XXH3_64bits(bytes.data() + 256, 9 * stride);
        std::memcpy(&bytes[bytes.size() - 32 + 8], &checksum, 8);
        const std::string bad = dir.write("padded.pprl", bytes);
        EXPECT_EQ(inspect_encoded_file(bad).problem, "record 5 has bits set past the filter length") << bits;
        EXPECT_THROW(load_encoded_file(bad), FormatError);
    }
    // A base64 filter whose last byte sets a bit past l.
    const std::string clk = base64_encode(std::vector<std::uint8_t>(13, 0xFF).data(), 13);
    const std::string json_path = dir.write("p.json", "{\"clks\": [\"" + clk + "\"]}");
    EXPECT_THROW(import_base64(json_path, 100, "x"), ValidationError);
    EXPECT_EQ(import_base64(json_path, 104, "x").popcounts()[0], 104u);
}

TEST(Format, BitOrderIsMostSignificantBitFirstAsInClkhash) {
    FilterMatrix m(1, 64);
    FilterMatrix::set_bit(m.mutable_row_words(0), 0);
    FilterMatrix::set_bit(m.mutable_row_words(0), 9);
    FilterMatrix::set_bit(m.mutable_row_words(0), 63);
    const std::uint8_t* bytes = m.row_bytes(0);
    EXPECT_EQ(bytes[0], 0x80);
    EXPECT_EQ(bytes[1], 0x40);
    EXPECT_EQ(bytes[7], 0x01);
    // bitarray('1' + '0'*8 + '1' + ...) in base64 starts with "gEA".
    EXPECT_EQ(base64_encode(bytes, 8).substr(0, 3), "gEA");
}

}  // namespace
}  // namespace pprl

#include "format/csv.hpp"

namespace pprl {
namespace {

TEST(Csv, FieldsSurviveBufferRefillsWithQuotesNewlinesAndCrLf) {
    // Over 3 MiB, so records straddle the reader's 1 MiB refills at many different offsets.
    test::TempDir dir;
    std::mt19937_64 rng(9);
    std::vector<std::vector<std::string>> expected;
    std::string text;
    for (int row = 0; text.size() < (3u << 20); ++row) {
        std::vector<std::string> fields;
        std::string line;
        for (int f = 0; f < 4; ++f) {
            std::string value(rng() % 40, 'a');
            for (auto& c : value) c = static_cast<char>('a' + rng() % 26);
            if (rng() % 5 == 0) value.insert(value.size() / 2, rng() % 2 ? ",\"x\"" : "\r\nline");
            fields.push_back(value);
            if (f) line += ',';
            append_csv_field(line, value);
        }
        line += row % 3 == 0 ? "\r\n" : "\n";
        text += line;
        expected.push_back(fields);
    }
    CsvReader reader(dir.write("big.csv", text));
    CsvRecord record;
    std::size_t i = 0;
    while (reader.next(record)) {
        ASSERT_LT(i, expected.size());
        EXPECT_TRUE(record.error.empty()) << "row " << i << ": " << record.error;
        ASSERT_EQ(record.fields, expected[i]) << "row " << i;
        ++i;
    }
    EXPECT_EQ(i, expected.size());
}

TEST(Csv, MalformedQuotingIsReportedAndReadingContinues) {
    test::TempDir dir;
    CsvReader reader(dir.write("bad.csv", "a,b\"c,d\n\"x\"y,z\nok,fine\n"));
    CsvRecord record;
    ASSERT_TRUE(reader.next(record));
    EXPECT_EQ(record.error, "quote inside an unquoted field");
    ASSERT_TRUE(reader.next(record));
    EXPECT_EQ(record.error, "text after a closing quote");
    ASSERT_TRUE(reader.next(record));
    EXPECT_TRUE(record.error.empty());
    EXPECT_EQ(record.fields, (std::vector<std::string>{"ok", "fine"}));
    EXPECT_EQ(record.line, 3u);
}

}  // namespace
}  // namespace pprl
