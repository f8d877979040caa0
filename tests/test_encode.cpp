// The encoder: determinism, key sensitivity, and every class of bad input.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "pprl/format.hpp"
#include "pprl/harden.hpp"
#include "test_support.hpp"
#include "agency/token_cache.hpp"
#include "format/base64.hpp"
#include "format/csv.hpp"

namespace pprl {
namespace {

const std::string example_schema = std::string(PPRL_SOURCE_DIR) + "/examples/youth_schema.json";
const std::string header = "record_id,first_name,last_name,dob,sex,address,zip\n";

SecretKey fixed_key(std::uint8_t seed) {
    std::uint8_t raw[32];
    for (int i = 0; i < 32; ++i) raw[i] = static_cast<std::uint8_t>(seed * 31 + i);
    return SecretKey(raw, 32);
}

std::string generated_rows(std::size_t n) {
    static const char* first[] = {"Aaliyah", "José", "Liam", "Mei", "Darnell", "Sofía", "Noah", "Zoë"};
    static const char* last[] = {"Johnson", "García-López", "O'Neal", "Chen", "Washington", "Müller", "Smith"};
    std::string csv = header;
    for (std::size_t i = 0; i < n; ++i) {
        csv += "r" + std::to_string(i) + "," + first[i % 8] + "," + last[(i / 8) % 7] + ",20" +
               std::to_string(10 + i % 9) + "-0" + std::to_string(1 + i % 9) + "-1" + std::to_string(i % 10) + "," +
               (i % 2 ? "F" : "m") + "," + std::to_string(i) + " Elm St," + std::to_string(60600 + i % 50) + "\n";
    }
    return csv;
}

// The example schema without its hardening (BLIP noise, name salting), so that filters can be
// compared bit for bit; the hardening has its own tests (test_harden.cpp).
std::string unhardened_example() {
    std::string text = test::read_all(example_schema);
    for (const std::string cut : {std::string(R"(, "hardening": [{"step": "blip", "epsilon": 3}])"),
                                  std::string(R"(, "salt": {"field": "dob", "part": "year"})")})
        for (std::size_t at; (at = text.find(cut)) != std::string::npos;) text.erase(at, cut.size());
    return text;
}

// ... with dates strict (an invalid date rejects the row), as the bad-input tests need.
Schema strict_schema() {
    std::string text = unhardened_example();
    const std::string lenient = "\"invalid\": \"missing\",";
    text.erase(text.find(lenient), lenient.size());
    return Schema::from_json(text);
}

FilterMatrix encode_text(const test::TempDir& dir, const std::string& csv, const SecretKey& key, unsigned threads,
                         EncodeSummary& summary, std::size_t batch = 16384) {
    const std::string path = dir.write("in.csv", csv);
    EncodeOptions options;
    options.threads = threads;
    options.batch_rows = batch;
    return encode_csv(path, strict_schema(), key, options, summary);
}

std::string all_bytes(const FilterMatrix& m) {
    return std::string(reinterpret_cast<const char*>(m.data()), m.rows() * m.stride_bytes());
}

TEST(Encoder, BytesAreIdenticalForOneTwoAndSevenThreads) {
    test::TempDir dir;
    const std::string csv = generated_rows(3000);
    const SecretKey key = fixed_key(1);
    EncodeSummary s1, s2, s7;
    const FilterMatrix one = encode_text(dir, csv, key, 1, s1, 1000);
    const FilterMatrix two = encode_text(dir, csv, key, 2, s2, 1000);
    const FilterMatrix seven = encode_text(dir, csv, key, 7, s7, 777);
    ASSERT_EQ(one.rows(), 3000u);
    EXPECT_EQ(all_bytes(one), all_bytes(two));
    EXPECT_EQ(all_bytes(one), all_bytes(seven));
    EXPECT_EQ(one.ids(), seven.ids());
    EXPECT_EQ(s1.tokens, s7.tokens);
    // And the written files are byte-identical too.
    write_encoded_file(dir.file("1.pprl"), one);
    write_encoded_file(dir.file("7.pprl"), seven);
    EXPECT_EQ(test::read_all(dir.file("1.pprl")), test::read_all(dir.file("7.pprl")));
}

// A RowSource (how Python hands over Arrow columns) gives what the same rows as strings give:
// filters, ids and rejections (bad values, empty and duplicate ids), on one and three threads.
TEST(Encoder, RowSourceEncodesAsTheSameRowsAsStrings) {
    class Columns : public RowSource {
    public:
        explicit Columns(std::vector<std::vector<std::string>> columns) : columns_(std::move(columns)) {}
        std::size_t rows() const override { return columns_.front().size(); }
        void row(std::size_t i, std::vector<std::string>& values) const override {
            for (std::size_t c = 0; c < columns_.size(); ++c) values[c].assign(columns_[c][i]);
        }

    private:
        std::vector<std::vector<std::string>> columns_;
    };
    const std::vector<std::string> names = {"record_id", "first_name", "last_name", "dob", "sex", "address", "zip"};
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < 1500; ++i)
        rows.push_back({"r" + std::to_string(i % 1400), i % 97 ? "Mei" : "Ann\xFF", "Chen " + std::to_string(i),
                        "2011-03-" + std::to_string(10 + i % 20), i % 5 ? "F" : "Q", std::to_string(i) + " Elm St", ""});
    rows[7][0] = "";
    std::vector<std::vector<std::string>> columns(names.size());
    for (const auto& row : rows)
        for (std::size_t c = 0; c < names.size(); ++c) columns[c].push_back(row[c]);
    const Columns source(columns);
    Encoder encoder(strict_schema(), fixed_key(3));
    encoder.bind_columns(names);
    ASSERT_EQ(encoder.column_count(), names.size());
    std::vector<std::uint64_t> numbers(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) numbers[i] = 1001 + i;  // a second batch, say
    for (unsigned threads : {1u, 3u}) {
        RecordIdSet seen_strings, seen_source;
        EncodeSummary from_strings, from_source;
        const FilterMatrix a = encoder.encode_batch(rows, numbers, {}, threads, seen_strings, from_strings);
        const FilterMatrix b = encoder.encode_batches({&source}, 1001, threads, seen_source, from_source);
        EXPECT_GT(a.rows(), 1000u);
        EXPECT_EQ(all_bytes(a), all_bytes(b));
        EXPECT_EQ(a.ids(), b.ids());
        EXPECT_EQ(from_strings.tokens, from_source.tokens);
        ASSERT_EQ(from_strings.rejections.size(), from_source.rejections.size());
        EXPECT_GT(from_source.rejections.size(), 300u);
        for (std::size_t i = 0; i < from_strings.rejections.size(); ++i) {
            EXPECT_EQ(from_strings.rejections[i].row, from_source.rejections[i].row);
            EXPECT_EQ(from_strings.rejections[i].field, from_source.rejections[i].field);
            EXPECT_EQ(from_strings.rejections[i].reason, from_source.rejections[i].reason);
        }
        // The same rows in three batches, pipelined into one matrix (an empty batch in between).
        std::vector<std::vector<std::vector<std::string>>> parts(4, std::vector<std::vector<std::string>>(names.size()));
        for (std::size_t i = 0; i < rows.size(); ++i)
            for (std::size_t c = 0; c < names.size(); ++c) parts[i < 500 ? 0 : i < 1100 ? 1 : 3][c].push_back(rows[i][c]);
        const Columns first(parts[0]), second(parts[1]), empty(parts[2]), third(parts[3]);
        RecordIdSet seen_batches;
        EncodeSummary from_batches;
        std::vector<std::uint64_t> reported;
        const FilterMatrix c = encoder.encode_batches({&first, &second, &empty, &third}, 1001, threads, seen_batches,
                                                      from_batches, [&](std::uint64_t done) { reported.push_back(done); });
        EXPECT_EQ(all_bytes(a), all_bytes(c));
        EXPECT_EQ(a.ids(), c.ids());
        EXPECT_EQ(c.popcounts().size(), c.rows());
        EXPECT_EQ(reported, (std::vector<std::uint64_t>{500, 1100, 1500}));
        ASSERT_EQ(from_batches.rejections.size(), from_strings.rejections.size());
        for (std::size_t i = 0; i < from_strings.rejections.size(); ++i) {
            EXPECT_EQ(from_strings.rejections[i].row, from_batches.rejections[i].row);
            EXPECT_EQ(from_strings.rejections[i].reason, from_batches.rejections[i].reason);
        }
        EXPECT_EQ(from_batches.rows_read, rows.size());
        EXPECT_EQ(from_batches.rows_encoded, c.rows());
    }
}

// The encodings of pprl's own schemas are a format: files made by one version link with files made
// by the next. tests/compat/pprl holds 403 rows (synthetic, plus non-ASCII names, an impossible
// date, aliases), a fixed key, the schemas, and the filters pprl made of them: 0.1.0 with the example
// schema of its day and its segmented twin (BLIP included: its noise is keyed per record), and later
// with the example's diffusion; every build must reproduce them.
TEST(Encoder, ReproducesTheCommittedEncodingsOfItsOwnSchemas) {
    const std::string dir = std::string(PPRL_SOURCE_DIR) + "/tests/compat/pprl/";
    const SecretKey key = SecretKey::from_file(dir + "key.hex", SecretKey::FileEncoding::hex);
    // Each schema as it was when its filters were committed (youth_schema: the example with BLIP
    // ε = 3; youth_schema_diffusion: the example with diffusion t = 3), so the examples may change.
    for (const std::string name : {"youth_schema", "youth_schema_segmented", "youth_schema_diffusion"}) {
        EncodeOptions options;
        options.threads = 2;
        EncodeSummary summary;
        const FilterMatrix encoded = encode_csv(dir + "rows.csv", Schema::from_file(dir + name + ".json"), key, options,
                                                summary);
        CsvReader expected(dir + name + ".csv");
        CsvRecord record;
        ASSERT_TRUE(expected.next(record));  // header
        std::size_t i = 0;
        for (; expected.next(record); ++i) {
            ASSERT_LT(i, encoded.rows()) << name;
            EXPECT_EQ(encoded.ids()[i], record.fields[0]) << name;
            EXPECT_EQ(base64_encode(encoded.row_bytes(i), encoded.bytes()), record.fields[1]) << name << " row " << i;
        }
        EXPECT_EQ(i, encoded.rows());
        EXPECT_EQ(i, 403u);
    }
}

TEST(Encoder, ADifferentKeyChangesEveryFilterAndTheKeyCheck) {
    test::TempDir dir;
    const std::string csv = generated_rows(500);
    EncodeSummary s;
    const FilterMatrix a = encode_text(dir, csv, fixed_key(1), 1, s);
    const FilterMatrix b = encode_text(dir, csv, fixed_key(2), 1, s);
    ASSERT_EQ(a.rows(), b.rows());
    for (std::size_t i = 0; i < a.rows(); ++i)
        EXPECT_NE(std::memcmp(a.row_bytes(i), b.row_bytes(i), a.stride_bytes()), 0) << "row " << i;
    EXPECT_NE(a.info().key_check, b.info().key_check);
}

TEST(Encoder, SimilarRecordsScoreHighAndDifferentOnesLow) {
    test::TempDir dir;
    const std::string csv = header + "a,Jonathan,Smith,2010-05-06,M,12 Elm St,60612\n" +
                            "b,Jonathon,Smith,2010-05-06,M,12 Elm Street,60612\n" +
                            "c,Maria,Okafor,2007-11-30,F,9 Lake Dr,60649\n";
    EncodeSummary s;
    const FilterMatrix m = encode_text(dir, csv, fixed_key(3), 1, s);
    ASSERT_EQ(m.rows(), 3u);
    auto dice = [&](std::size_t i, std::size_t j) {
        std::size_t common = 0, total = 0;
        for (unsigned b = 0; b < m.bits(); ++b) {
            const bool x = FilterMatrix::test_bit(m.row_words(i), b), y = FilterMatrix::test_bit(m.row_words(j), b);
            common += x && y;
            total += x + y;
        }
        return 2.0 * common / total;
    };
    EXPECT_GT(dice(0, 1), 0.8);
    EXPECT_LT(dice(0, 2), 0.5);
}

TEST(Encoder, RfcCsvFeaturesParse) {
    test::TempDir dir;
    const std::string csv = "\xEF\xBB\xBF" + std::string("record_id,first_name,last_name,dob,sex,address,zip\r\n") +
                            "a,\"Mary, Ann\",\"O\"\"Neal\",2010-05-06,F,\"12 Elm St\r\nRear\",60612\r\n" +
                            "b,Ann,Lee,2010-05-06,F,1 Oak St,60612";  // no final newline
    EncodeSummary s;
    const FilterMatrix m = encode_text(dir, csv, fixed_key(1), 1, s);
    EXPECT_EQ(m.rows(), 2u);
    EXPECT_TRUE(s.rejections.empty());
    EXPECT_EQ(m.ids(), (std::vector<std::string>{"a", "b"}));
}

TEST(Encoder, EveryBadRowIsReportedWithRowFieldAndReasonButNeverItsValue) {
    test::TempDir dir;
    const std::string csv = header +
                            "ok1,Ann,Lee,2010-05-06,F,1 Oak St,60612\n"                      // row 1
                            "bad2,Ann,Lee,2010-02-30,F,1 Oak St,60612\n"                      // impossible date
                            "bad3,Ann,Lee,2010-05-06,Q,1 Oak St,60612\n"                      // enum
                            "bad4,Ann\xFF,Lee,2010-05-06,F,1 Oak St,60612\n"                  // invalid UTF-8
                            "bad5,Ann,Lee,2010-05-06,F,1 Oak St\n"                            // too few fields
                            "bad6,Ann,Lee,2010-05-06,F,1 Oak St,60612,extra\n"                // too many
                            "ok1,Bob,Lee,2010-05-06,M,1 Oak St,60612\n"                       // duplicate id
                            ",Bob,Lee,2010-05-06,M,1 Oak St,60612\n"                          // empty id
                            "bad9," + std::string(70, 'x') + ",Lee,2010-05-06,M,1 Oak St,60612\n"  // too long
                            "bad10,\"Ann,Lee,2010-05-06,F,1 Oak St,60612\n"                     // open quote to EOF
                            ;
    EncodeSummary s;
    const FilterMatrix m = encode_text(dir, csv, fixed_key(1), 2, s);
    EXPECT_EQ(m.rows(), 1u);
    EXPECT_EQ(s.rows_read, 10u);
    ASSERT_EQ(s.rejections.size(), 9u);
    std::set<std::string> seen;
    for (const auto& r : s.rejections) {
        seen.insert(std::to_string(r.row) + ":" + r.field + ":" + r.reason);
        EXPECT_EQ(r.reason.find("Ann"), std::string::npos);
        EXPECT_EQ(r.reason.find("xxx"), std::string::npos);
    }
    EXPECT_TRUE(seen.count("2:dob:not a valid date in the schema's formats"));
    EXPECT_TRUE(seen.count("3:sex:not one of the allowed values"));
    EXPECT_TRUE(seen.count("4:first_name:not valid UTF-8"));
    EXPECT_TRUE(seen.count("5::has 6 fields, the header has 7"));
    EXPECT_TRUE(seen.count("6::has 8 fields, the header has 7"));
    EXPECT_TRUE(seen.count("7:record_id:duplicate record id (an earlier row has it)"));
    EXPECT_TRUE(seen.count("8:record_id:empty record id"));
    EXPECT_TRUE(seen.count("9:first_name:longer than 64 characters"));
    EXPECT_TRUE(seen.count("10::end of file inside a quoted field"));
    EXPECT_EQ(s.rejections.front().line, 3u);  // row 2 starts on line 3
    // Batches of 1 and 3 rows (pipelined on 2 and 3 threads, alternating on 1) give the same report.
    for (unsigned threads : {1u, 2u, 3u})
    for (std::size_t batch : {1u, 3u}) {
        EncodeSummary small;
        const FilterMatrix again = encode_text(dir, csv, fixed_key(1), threads, small, batch);
        EXPECT_EQ(again.rows(), 1u);
        EXPECT_EQ(small.rows_read, 10u);
        ASSERT_EQ(small.rejections.size(), s.rejections.size());
        for (std::size_t i = 0; i < s.rejections.size(); ++i) {
            EXPECT_EQ(small.rejections[i].row, s.rejections[i].row);
            EXPECT_EQ(small.rejections[i].line, s.rejections[i].line);
            EXPECT_EQ(small.rejections[i].reason, s.rejections[i].reason);
        }
    }
}

TEST(Encoder, InvalidValuesCanCountAsMissing) {
    test::TempDir dir;
    const std::string csv = dir.write("in.csv", header + "a,Ann,Lee,2010-02-30,F,1 Oak St,60612\n" +
                                                    "b,Ann,Lee,,F,1 Oak St,60612\n");
    EncodeSummary s;
    // The example schema treats an impossible date as missing: both rows encode, identically.
    const FilterMatrix m = encode_csv(csv, Schema::from_json(unhardened_example()), fixed_key(1), {}, s);
    ASSERT_EQ(m.rows(), 2u);
    EXPECT_TRUE(s.rejections.empty());
    EXPECT_EQ(s.invalid_as_missing, 1u);
    EXPECT_EQ(std::memcmp(m.row_bytes(0), m.row_bytes(1), m.stride_bytes()), 0);
    EXPECT_NE(Schema::from_file(example_schema).fingerprint(), strict_schema().fingerprint());
}

TEST(Encoder, MissingValuesFollowTheirRule) {
    test::TempDir dir;
    const std::string schema = dir.write("s.json", R"({"pprl_schema": 1, "fields": [
        {"name": "a", "missing": {"values": ["", "unknown"], "action": "skip"}},
        {"name": "b", "missing": {"action": "reject"}},
        {"name": "c", "missing": {"action": "replace", "replacement": "none"}}]})");
    const std::string csv = dir.write("in.csv", "record_id,a,b,c\n1,Unknown,x,\n2,x,,y\n3,,x,none\n");
    EncodeSummary s;
    const FilterMatrix m = encode_csv(csv, Schema::from_file(schema), fixed_key(1), {}, s);
    ASSERT_EQ(m.rows(), 2u);
    ASSERT_EQ(s.rejections.size(), 1u);
    EXPECT_EQ(s.rejections[0].row, 2u);
    EXPECT_EQ(s.rejections[0].reason, "missing value");
    // Row 1 (a skipped, c replaced by "none") equals row 3 (a empty, c literally "none").
    EXPECT_EQ(std::memcmp(m.row_bytes(0), m.row_bytes(1), m.stride_bytes()), 0);
}

TEST(Encoder, HeaderProblemsAreValidationErrors) {
    test::TempDir dir;
    const Schema schema = Schema::from_file(example_schema);
    const SecretKey key = fixed_key(1);
    auto message = [&](const std::string& csv) -> std::string {
        EncodeSummary s;
        try {
            encode_csv(dir.write("h.csv", csv), schema, key, {}, s);
        } catch (const ValidationError& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_NE(message("").find("is empty"), std::string::npos);
    EXPECT_NE(message(header).find("no data rows"), std::string::npos);
    EXPECT_NE(message("record_id,first_name,last_name,dob,sex,address\n1,a,b,2010-01-01,f,x\n").find("\"zip\" has no column"),
              std::string::npos);
    EXPECT_NE(message("first_name,last_name,dob,sex,address,zip\na,b,2010-01-01,f,x,1\n").find("id column"),
              std::string::npos);
    // Header cells are named only when the schema uses the name: a header may be a row of data.
    const std::string extra = message("record_id,first_name,last_name,dob,sex,address,zip,ssn\n1,a,b,2010-01-01,f,x,1,2\n");
    EXPECT_NE(extra.find("column 8 of the header is not in the schema"), std::string::npos) << extra;
    EXPECT_EQ(extra.find("ssn"), std::string::npos) << extra;
    EXPECT_NE(message("record_id,first_name,first_name,last_name,dob,sex,address,zip\n")
                  .find("columns 2 and 3 of the header have the same name (\"first_name\")"),
              std::string::npos);
    const std::string data_row = message("Lee,Lee,Smith,2010-01-01,f,x,1\n1,a,b,2010-01-01,f,x,1\n");
    EXPECT_NE(data_row.find("columns 1 and 2 of the header have the same name"), std::string::npos) << data_row;
    EXPECT_EQ(data_row.find("Lee"), std::string::npos) << data_row;
    EXPECT_THROW(encode_csv(dir.file("absent.csv"), schema, key, {}, *std::make_unique<EncodeSummary>()), IoError);
}

TEST(Encoder, RefusesKeysShorterThan128Bits) {
    const std::uint8_t raw[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_THROW(Encoder(Schema::from_file(example_schema), SecretKey(raw, 8)), ValidationError);
}

TEST(Encoder, BitsPerTokenSetsAtMostKBitsPerToken) {
    test::TempDir dir;
    const std::string schema = dir.write("s.json", R"({"pprl_schema": 1, "filter": {"bits": 4096},
        "fields": [{"name": "a", "tokenizer": {"kind": "exact"}, "weight": {"bits_per_token": 30}}]})");
    const std::string csv = dir.write("in.csv", "record_id,a\n1,x\n2,y\n");
    EncodeSummary s;
    const FilterMatrix m = encode_csv(csv, Schema::from_file(schema), fixed_key(1), {}, s);
    for (std::size_t i = 0; i < m.rows(); ++i) {
        EXPECT_LE(m.popcounts()[i], 30u);
        EXPECT_GE(m.popcounts()[i], 25u);  // collisions among 30 draws in 4096 are rare
    }
}

TEST(Encoder, NonPowerOfTwoLengthsUseEveryPositionUniformly) {
    // 960 bits: indices are 10-bit draws with rejection of 960..1023. Over many tokens every bit
    // position must be hit and none beyond the length.
    test::TempDir dir;
    const std::string schema = dir.write("s.json", R"({"pprl_schema": 1, "filter": {"bits": 960},
        "fields": [{"name": "a", "tokenizer": {"kind": "exact"}, "weight": {"bits_per_token": 40}}]})");
    std::string csv = "record_id,a\n";
    for (int i = 0; i < 400; ++i) csv += std::to_string(i) + ",v" + std::to_string(i) + "\n";
    EncodeSummary s;
    const FilterMatrix m = encode_csv(dir.write("in.csv", csv), Schema::from_file(schema), fixed_key(1), {}, s);
    std::vector<int> hits(960, 0);
    for (std::size_t i = 0; i < m.rows(); ++i)
        for (unsigned b = 0; b < 960; ++b) hits[b] += FilterMatrix::test_bit(m.row_words(i), b);
    // 400 tokens x 40 draws = 16000 draws over 960 positions: mean 16.7, so every position is hit.
    for (unsigned b = 0; b < 960; ++b) EXPECT_GT(hits[b], 0) << b;
}

TEST(RecordIdSet, RefusesEachRepeatAndKeepsEveryDistinctIdThroughGrowth) {
    RecordIdSet ids;
    std::set<std::string> reference;
    std::uint64_t state = 12345;
    for (int i = 0; i < 200000; ++i) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        // Short ids from a small space, so repeats are frequent; prefixes of each other too.
        const std::string id = std::to_string((state >> 33) % 150000).substr(0, 1 + (state >> 20) % 6);
        EXPECT_EQ(ids.insert(id), reference.insert(id).second) << id;
    }
    EXPECT_EQ(ids.size(), reference.size());
    for (const std::string& id : reference) EXPECT_TRUE(ids.contains(id));
    EXPECT_FALSE(ids.contains("x"));
    EXPECT_TRUE(ids.insert(""));
    EXPECT_FALSE(ids.insert(""));
    EXPECT_TRUE(ids.insert(std::string("a\0b", 3)));
    EXPECT_TRUE(ids.insert(std::string("a\0c", 3)));
}

TEST(TokenCache, FindsWhatItHoldsByFieldKAndTextAndStaysWithinItsCapacity) {
    detail::TokenCache cache(8);
    const std::uint16_t a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, c[4] = {7, 8, 9, 10};
    const auto h = [](std::uint32_t field, std::uint32_t k, std::string_view text) {
        return detail::TokenCache::hash(field, k, text);
    };
    cache.insert(h(0, 3, "an"), 0, 3, "an", a);
    cache.insert(h(1, 3, "an"), 1, 3, "an", b);
    cache.insert(h(0, 4, "an"), 0, 4, "an", c);
    ASSERT_NE(cache.find(h(0, 3, "an"), 0, 3, "an"), nullptr);
    EXPECT_EQ(cache.find(h(0, 3, "an"), 0, 3, "an")[2], 3);
    EXPECT_EQ(cache.find(h(1, 3, "an"), 1, 3, "an")[0], 4);
    EXPECT_EQ(cache.find(h(0, 4, "an"), 0, 4, "an")[3], 10);
    // Inserting a token it holds changes nothing.
    cache.insert(h(0, 3, "an"), 0, 3, "an", b);
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_EQ(cache.find(h(0, 3, "an"), 0, 3, "an")[0], 1);
    EXPECT_EQ(cache.find(h(0, 3, "na"), 0, 3, "na"), nullptr);
    // The same hash with another text is not a hit.
    EXPECT_EQ(cache.find(h(0, 3, "an"), 0, 3, "am"), nullptr);
    for (int i = 0; i < 100; ++i) {
        const std::string text = "t" + std::to_string(i);
        cache.insert(h(2, 3, text), 2, 3, text, a);
        EXPECT_LE(cache.size(), 8u);
        ASSERT_NE(cache.find(h(2, 3, text), 2, 3, text), nullptr) << i;
    }
    cache.clear();
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.find(h(2, 3, "t99"), 2, 3, "t99"), nullptr);
    detail::TokenCache off(0);
    off.insert(h(0, 3, "an"), 0, 3, "an", a);
    EXPECT_EQ(off.find(h(0, 3, "an"), 0, 3, "an"), nullptr);
}

// The CSV encoded with caches of `entries` tokens on `threads` threads, 700 rows a batch.
FilterMatrix encode_with_caches(const std::string& input, const Schema& schema, std::size_t entries, unsigned threads,
                                EncodeSummary& summary) {
    EncodeOptions options;
    options.threads = threads;
    options.batch_rows = 700;
    options.token_cache_entries = entries;
    return encode_csv(input, schema, fixed_key(3), options, summary);
}

TEST(Encoder, TokenCacheLeavesEveryFilterUnchanged) {
    // Every way a token's positions can depend on more than its text: salted tokens, positional
    // q-grams, bits per feature (k varies with the value), rejection sampling (960 bits), BLIP after
    // the bits are set; and a unique value per row, which never hits. Encoded with the cache off,
    // with a cache of 3 entries (cleared all the time) and the default, on 1 and 3 threads.
    test::TempDir dir;
    const std::string schema_path = dir.write("s.json", R"({"pprl_schema": 1,
        "filter": {"bits": 960, "hardening": [{"step": "blip", "epsilon": 3}]},
        "fields": [
          {"name": "first", "tokenizer": {"kind": "qgram", "q": 2, "padding": true}, "weight": {"bits_per_token": 12},
           "salt": {"field": "dob", "part": "year"}},
          {"name": "last", "tokenizer": {"kind": "positional_qgram", "q": 2, "padding": true},
           "weight": {"bits_per_feature": 90}},
          {"name": "dob", "type": "date", "formats": ["%Y-%m-%d"],
           "tokenizer": {"kind": "date_parts", "parts": ["year", "month", "day"]}, "weight": {"bits_per_token": 20}},
          {"name": "serial", "tokenizer": {"kind": "exact"}, "weight": {"bits_per_token": 30}}]})");
    const char* first[] = {"Ana", "José", "Liam", "Mei", "Zoë", "Nguyen", "Ava"};
    const char* last[] = {"Chen", "Müller", "O'Neal", "Smith", "Okafor"};
    std::string csv = "record_id,first,last,dob,serial\n";
    for (int i = 0; i < 2000; ++i)
        csv += std::to_string(i) + "," + first[i % 7] + "," + last[(i / 7) % 5] + ",20" + std::to_string(10 + i % 11) +
               "-0" + std::to_string(1 + i % 9) + "-1" + std::to_string(i % 10) + ",s" + std::to_string(i) + "\n";
    const std::string input = dir.write("in.csv", csv);
    const Schema schema = Schema::from_file(schema_path);
    std::string reference;
    for (std::size_t entries : {std::size_t{0}, std::size_t{3}, default_token_cache_entries})
        for (unsigned threads : {1u, 3u}) {
            EncodeSummary summary;
            const FilterMatrix m = encode_with_caches(input, schema, entries, threads, summary);
            ASSERT_EQ(m.rows(), 2000u);
            if (reference.empty()) reference = all_bytes(m);
            EXPECT_EQ(all_bytes(m), reference) << entries << " entries, " << threads << " threads";
        }
    // And one record at a time through the public single-record call.
    Encoder encoder(schema, fixed_key(3));
    encoder.bind_columns({"record_id", "first", "last", "dob", "serial"});
    std::vector<std::uint64_t> row(960 / 64);
    std::uint64_t tokens = 0, invalid = 0;
    Rejection why;
    for (std::size_t i : {std::size_t{0}, std::size_t{1}, std::size_t{0}}) {
        std::fill(row.begin(), row.end(), 0);
        const std::string dob = "20" + std::to_string(10 + i % 11) + "-0" + std::to_string(1 + i % 9) + "-1" +
                                std::to_string(i % 10);
        ASSERT_TRUE(encoder.encode_record({std::to_string(i), first[i % 7], last[0], dob, "s" + std::to_string(i)},
                                          row.data(), why, tokens, invalid));
        EXPECT_EQ(std::memcmp(row.data(), reference.data() + i * 128, 120), 0) << i;
    }
}

TEST(Encoder, ValueCacheLeavesEveryFilterRejectionAndCountUnchanged) {
    // Field values recur (names, dates, sex) or never do (a serial, which turns the value cache off
    // for its field after 4,096 lookups); a salted field (never cached by value); invalid dates taken
    // as missing (counted, so not cached); rows rejected by a field after a cached one. Hardening
    // with diffusion first (cached diffusion sums), diffusion after another step, BLIP, and none.
    // Encoded with the caches off, with 3 entries (cleared all the time) and the default.
    test::TempDir dir;
    const char* hardenings[] = {R"([{"step": "diffusion", "t": 3, "bits": 1024}])",
                                R"([{"step": "diffusion", "t": 2, "bits": 512}, {"step": "blip", "epsilon": 4}])",
                                R"([{"step": "balance"}, {"step": "diffusion", "t": 3, "bits": 1024}])",
                                R"([{"step": "blip", "epsilon": 3}])", "[]"};
    const char* first[] = {"Ana", "José", "Liam", "Mei", "Zoë", "Nguyen", "Ava", "ana"};
    const char* last[] = {"Chen", "Müller", "O'Neal", "Smith", "Okafor", "", "Ng"};
    const char* sex[] = {"f", "m", "girl", "x", "F", "q"};  // "q" is rejected
    // Bigrams from the fields' tables: ASCII streets (unique, so the value cache turns off for them),
    // non-ASCII ones and one-letter ones (tokenised as before), codes without padding (one letter
    // makes no bigram: tokenised as before).
    const char* street[] = {"Main St", "Ünter Straße", "A", "", "Elm  Road", "O'Hare Ave"};
    const char* code[] = {"X", "XY", "", "ZZZZ", "ÆB"};
    std::string csv = "record_id,first,last,dob,sex,serial,street,code\n";
    for (int i = 0; i < 6000; ++i) {
        const std::string dob = i % 13 == 0 ? "2019-02-30" : "20" + std::to_string(10 + i % 11) + "-0" +
                                                                std::to_string(1 + i % 9) + "-1" + std::to_string(i % 10);
        csv += std::to_string(i) + "," + first[i % 8] + "," + last[(i / 8) % 7] + "," + dob + "," + sex[i % 6 == 5 && i % 7 != 0 ? 0 : i % 6] +
               ",s" + std::to_string(i) + "," + (i % 3 == 0 ? std::to_string(i) + " " : "") + street[i % 6] + "," +
               code[i % 5] + "\n";
    }
    const std::string input = dir.write("in.csv", csv);
    for (const char* hardening : hardenings) {
        const std::string schema_path = dir.write("s.json", std::string(R"({"pprl_schema": 1,
            "filter": {"bits": 1024, "hardening": )") + hardening + R"(},
            "fields": [
              {"name": "first", "tokenizer": {"kind": "qgram", "q": 2, "padding": true}, "weight": {"bits_per_token": 12},
               "salt": {"field": "dob", "part": "year"}},
              {"name": "last", "tokenizer": {"kind": "qgram", "q": 2, "padding": true}, "weight": {"bits_per_feature": 90}},
              {"name": "dob", "type": "date", "formats": ["%Y-%m-%d"], "invalid": "missing",
               "tokenizer": {"kind": "date_parts", "parts": ["year", "month", "day"]}, "weight": {"bits_per_token": 20}},
              {"name": "sex", "type": "enum", "values": ["f", "m", "x"], "aliases": {"girl": "f"},
               "tokenizer": {"kind": "exact"}, "weight": {"bits_per_token": 8}},
              {"name": "serial", "tokenizer": {"kind": "exact"}, "weight": {"bits_per_token": 30}},
              {"name": "street", "normalize": {"punctuation": "space", "whitespace": "collapse"},
               "tokenizer": {"kind": "qgram", "q": 2, "padding": true}, "weight": {"bits_per_token": 4}},
              {"name": "code", "tokenizer": {"kind": "qgram", "q": 2, "padding": false}, "weight": {"bits_per_token": 3}}]})");
        const Schema schema = Schema::from_file(schema_path);
        std::string reference;
        EncodeSummary first_summary;
        for (std::size_t entries : {std::size_t{0}, std::size_t{3}, default_token_cache_entries})
            for (unsigned threads : {1u, 3u}) {
                EncodeSummary summary;
                const FilterMatrix m = encode_with_caches(input, schema, entries, threads, summary);
                const std::string where = std::string(hardening) + ", " + std::to_string(entries) + " entries, " +
                                          std::to_string(threads) + " threads";
                if (reference.empty()) {
                    reference = all_bytes(m);
                    first_summary = summary;
                    EXPECT_GT(summary.rejections.size(), 100u);
                    EXPECT_GT(summary.invalid_as_missing, 100u);
                }
                EXPECT_EQ(all_bytes(m), reference) << where;
                EXPECT_EQ(summary.tokens, first_summary.tokens) << where;
                EXPECT_EQ(summary.invalid_as_missing, first_summary.invalid_as_missing) << where;
                ASSERT_EQ(summary.rejections.size(), first_summary.rejections.size()) << where;
                for (std::size_t r = 0; r < summary.rejections.size(); ++r) {
                    EXPECT_EQ(summary.rejections[r].row, first_summary.rejections[r].row) << where;
                    EXPECT_EQ(summary.rejections[r].field, first_summary.rejections[r].field) << where;
                    EXPECT_EQ(summary.rejections[r].reason, first_summary.rejections[r].reason) << where;
                }
            }
    }
}

}  // namespace
}  // namespace pprl

namespace pprl {
namespace {

// Bytes of a worker's scratch that are not zero.
std::size_t nonzero_scratch_bytes(const Encoder::Worker& worker) {
    std::size_t nonzero = 0, total = 0;
    worker.visit_scratch([&](const void* data, std::size_t size) {
        const auto* bytes = static_cast<const std::uint8_t*>(data);
        for (std::size_t i = 0; i < size; ++i) nonzero += bytes[i] != 0;
        total += size;
    });
    EXPECT_GT(total, 0u);
    return nonzero;
}

void expect_wiped_after_encoding(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows) {
    Encoder::Worker worker(encoder);
    const unsigned bits = encoder.schema().bits();
    for (const auto& row : rows) {
        FilterMatrix one(1, bits);
        Rejection why;
        std::uint64_t tokens = 0, invalid = 0;
        ASSERT_TRUE(encoder.encode_record(row, one.mutable_row_words(0), why, tokens, invalid, worker)) << why.reason;
    }
    // The scratch holds the last record's values, tokens and digests until the worker is wiped.
    EXPECT_GT(nonzero_scratch_bytes(worker), 100u);
    worker.wipe();
    EXPECT_EQ(nonzero_scratch_bytes(worker), 0u);
    // Still usable after wiping: the same record encodes to the same filter.
    FilterMatrix again(1, bits), fresh(1, bits);
    Rejection why;
    std::uint64_t tokens = 0, invalid = 0;
    ASSERT_TRUE(encoder.encode_record(rows.back(), again.mutable_row_words(0), why, tokens, invalid, worker));
    ASSERT_TRUE(encoder.encode_record(rows.back(), fresh.mutable_row_words(0), why, tokens, invalid));
    EXPECT_EQ(std::memcmp(again.row_bytes(0), fresh.row_bytes(0), again.stride_bytes()), 0);
}

TEST(Encoder, WorkerScratchIsWipedWhenTheWorkerIsDone) {
    // The example schema as shipped: salted names and BLIP, so the hardening workspace is in play.
    Encoder encoder(Schema::from_file(example_schema), fixed_key(7));
    encoder.bind_columns({"record_id", "first_name", "last_name", "dob", "sex", "address", "zip"});
    expect_wiped_after_encoding(encoder, {{"r1", "Zoë", "García-López", "2011-02-03", "F", "12 Elm St", "60601"},
                                          {"r2", "Bartholomew", "Washington", "2012-12-30", "m", "1 Main St", "60602"}});
}

TEST(Encoder, ClkhashWorkerScratchIsWipedWhenTheWorkerIsDone) {
    const std::string schema_json = R"({"version": 3,
        "clkConfig": {"l": 1024, "kdf": {"type": "HKDF", "hash": "SHA256", "keySize": 64}},
        "features": [
          {"identifier": "id", "ignored": true},
          {"identifier": "name", "format": {"type": "string", "encoding": "utf-8"},
           "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 30}, "hash": {"type": "blakeHash"}}},
          {"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"},
           "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 20},
                       "hash": {"type": "doubleHash"}}},
          {"identifier": "age", "format": {"type": "integer"},
           "hashing": {"comparison": {"type": "numeric", "thresholdDistance": 2, "resolution": 2},
                       "strategy": {"bitsPerToken": 10}}}]})";
    const std::uint8_t secret[] = {'s', 'e', 'c', 'r', 'e', 't'};
    Encoder encoder(Schema::from_json(schema_json), SecretKey(secret, sizeof secret));
    encoder.bind_columns({"id", "name", "dob", "age"});
    expect_wiped_after_encoding(encoder, {{"1", "Łukasz Nowak", "2010-04-05", "12"}, {"2", "Mei", "2009-11-30", "15"}});
}

TEST(Harden, WorkspaceIsWipedWhenDone) {
    const Schema schema = Schema::from_file(example_schema);
    Hardener hardener(schema.hardening(), schema.filter_bits(), fixed_key(3), schema.fingerprint());
    Hardener::Workspace workspace;
    std::vector<std::uint8_t> in(schema.filter_bits() / 8, 0x5a), out(hardener.output_bits() / 8);
    hardener.apply(in.data(), out.data(), "record-1", workspace);
    auto nonzero = [&] {
        std::size_t count = 0;
        workspace.visit_buffers([&](const void* data, std::size_t size) {
            for (std::size_t i = 0; i < size; ++i) count += static_cast<const std::uint8_t*>(data)[i] != 0;
        });
        return count;
    };
    EXPECT_GT(nonzero(), 100u);
    workspace.wipe();
    EXPECT_EQ(nonzero(), 0u);
}

}  // namespace
}  // namespace pprl
