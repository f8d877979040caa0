// Schema parsing, validation messages (JSON pointers) and fingerprints.
#include <gtest/gtest.h>

#include "pprl/error.hpp"
#include "pprl/schema.hpp"

namespace pprl {
namespace {

const char* minimal = R"({"pprl_schema": 1, "fields": [{"name": "first_name"}]})";

std::string error_of(const std::string& json) {
    try {
        Schema::from_json(json);
    } catch (const ValidationError& e) {
        return e.what();
    }
    return "";
}

TEST(Schema, DefaultsFillAMinimalSchema) {
    const Schema s = Schema::from_json(minimal);
    EXPECT_EQ(s.bits(), 1024u);
    EXPECT_EQ(s.id_column(), "record_id");
    ASSERT_EQ(s.fields().size(), 1u);
    const FieldSpec& f = s.fields()[0];
    EXPECT_EQ(f.type, FieldType::string);
    EXPECT_EQ(f.tokenizer.kind, TokenizerKind::qgram);
    EXPECT_EQ(f.tokenizer.q, 2);
    EXPECT_TRUE(f.tokenizer.padding);
    EXPECT_EQ(f.weight.mode, WeightSpec::Mode::bits_per_token);
}

TEST(Schema, TheExampleSchemaParses) {
    const Schema s = Schema::from_file(std::string(PPRL_SOURCE_DIR) + "/examples/youth_schema.json");
    EXPECT_EQ(s.fields().size(), 6u);
    EXPECT_EQ(s.fields()[2].type, FieldType::date);
    EXPECT_EQ(s.fields()[3].enum_aliases.at("female"), "f");
}

TEST(Schema, ErrorsNameTheJsonPointerAndWhatWasExpected) {
    EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
    EXPECT_NE(error_of(R"({"fields": []})").find("/pprl_schema"), std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 2, "fields": [{"name": "a"}]})").find("/pprl_schema: expected 1"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "filter": {"bits": 1000}, "fields": [{"name": "a"}]})")
                  .find("/filter/bits: expected a multiple of 64"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "a", "tokenizer": {"kind": "qgram", "q": 0}}]})")
                  .find("/fields/0/tokenizer/q: expected an integer from 1 to 8"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "a", "wieght": {}}]})").find("/fields/0/wieght: unknown key"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "d", "type": "date"}]})").find("/fields/0/formats"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "d", "type": "date", "formats": ["%Y-%m"]}]})")
                  .find("%Y, %m and %d once"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "a"}, {"name": "a"}]})").find("used twice"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "a", "ignore": true}]})").find("at least one field"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "s", "type": "enum", "values": ["f"], "aliases": {"x": "y"}}]})")
                  .find("/fields/0/aliases/x"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "a", "weight": {"bits_per_token": 3, "bits_per_feature": 9}}]})")
                  .find("exactly one of"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"pprl_schema": 1, "fields": [{"name": "a", "missing": {"action": "replace"}}]})")
                  .find("/fields/0/missing/replacement"),
              std::string::npos);
}

TEST(Schema, FingerprintIgnoresFormattingDescriptionsAndIdColumnButNotMeaning) {
    const Schema a = Schema::from_json(minimal);
    const Schema b = Schema::from_json(R"({ "description": "x", "id_column": "rid", "pprl_schema": 1,
        "fields": [ {"name": "first_name", "type": "string", "tokenizer": {"q": 2, "kind": "qgram"}} ] })");
    EXPECT_EQ(a.fingerprint(), b.fingerprint());
    const Schema c = Schema::from_json(R"({"pprl_schema": 1, "fields": [{"name": "first_name", "tokenizer": {"q": 3}}]})");
    EXPECT_NE(a.fingerprint(), c.fingerprint());
    const Schema d = Schema::from_json(R"({"pprl_schema": 1, "filter": {"bits": 2048}, "fields": [{"name": "first_name"}]})");
    EXPECT_NE(a.fingerprint(), d.fingerprint());
}

}  // namespace
}  // namespace pprl
