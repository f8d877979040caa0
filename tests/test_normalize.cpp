// Normalisation and tokeniser tables.
#include <gtest/gtest.h>

#include <random>

#include "pprl/normalize.hpp"
#include "agency/tokenize.hpp"

namespace pprl {
namespace {

std::string norm(const std::string& in, NormalizeOptions options = {}) {
    std::string out;
    EXPECT_TRUE(normalize(in, options, out)) << "rejected";
    return out;
}

TEST(Normalize, NamesFromTheIssueTable) {
    EXPECT_EQ(norm("O'Neal"), "oneal");
    EXPECT_EQ(norm("José"), "jose");
    EXPECT_EQ(norm("  SMITH "), "smith");
    NormalizeOptions remove;  // default punctuation: remove
    EXPECT_EQ(norm("Lewis-Smith", remove), "lewissmith");
    NormalizeOptions space;
    space.punctuation = PunctuationRule::space;
    EXPECT_EQ(norm("Lewis-Smith", space), "lewis smith");
    NormalizeOptions keep;
    keep.punctuation = PunctuationRule::keep;
    EXPECT_EQ(norm("Lewis-Smith", keep), "lewis-smith");
    NormalizeOptions space_removed = space;
    space_removed.whitespace = WhitespaceRule::remove;
    EXPECT_EQ(norm("Lewis-Smith", space_removed), "lewissmith");
}

TEST(Normalize, UnicodeFoldingCompatibilityAndMarks) {
    EXPECT_EQ(norm("STRAẞE"), "strasse");       // capital sharp s case-folds to ss
    EXPECT_EQ(norm("Ｊｏｓé"), "jose");            // full-width letters (NFKC)
    EXPECT_EQ(norm("Zoë Müller"), "zoe muller");
    EXPECT_EQ(norm("Ñúñez"), "nunez");
    EXPECT_EQ(norm("ΣΊΣΥΦΟΣ"), "σισυφοσ");      // Greek: final-sigma folding, tonos stripped
    EXPECT_EQ(norm("Mary\u00A0Ann"), "mary ann");  // no-break space is whitespace
    EXPECT_EQ(norm("ﬁnn"), "finn");              // ligature
    NormalizeOptions accents;
    accents.strip_accents = false;
    EXPECT_EQ(norm("José", accents), "josé");
    NormalizeOptions cased;
    cased.case_fold = false;
    EXPECT_EQ(norm("José", cased), "Jose");
}

TEST(Normalize, WhitespaceRules) {
    EXPECT_EQ(norm(" \tMary   Ann \r\n"), "mary ann");
    NormalizeOptions remove;
    remove.whitespace = WhitespaceRule::remove;
    EXPECT_EQ(norm(" Mary  Ann ", remove), "maryann");
}

TEST(Normalize, AsciiPathAgreesWithUtf8proc) {
    // ASCII takes a one-pass path of its own; a zero-width space (U+200B, whitespace to normalize)
    // sends the same text through utf8proc. Every rule combination, random strings over all 128
    // ASCII bytes (controls, punctuation, symbols, runs of spaces).
    std::mt19937 random(7);
    std::uniform_int_distribution<int> byte(0, 127), length(0, 24);
    const char* zero_width_space = "\xE2\x80\x8B";
    for (int round = 0; round < 3000; ++round) {
        std::string text;
        for (int i = length(random); i > 0; --i) text.push_back(static_cast<char>(i % 3 == 0 ? ' ' : byte(random)));
        for (PunctuationRule punctuation : {PunctuationRule::remove, PunctuationRule::space, PunctuationRule::keep})
            for (WhitespaceRule whitespace : {WhitespaceRule::collapse, WhitespaceRule::remove, WhitespaceRule::keep})
                for (bool case_fold : {true, false}) {
                    NormalizeOptions options;
                    options.punctuation = punctuation;
                    options.whitespace = whitespace;
                    options.case_fold = case_fold;
                    const std::string ascii = norm(text, options);
                    const std::string via_utf8proc = norm(text + zero_width_space, options);
                    // The zero-width space ends the text as one more space: kept, or trimmed.
                    EXPECT_EQ(via_utf8proc, whitespace == WhitespaceRule::keep ? ascii + " " : ascii)
                        << round << " " << static_cast<int>(punctuation) << static_cast<int>(whitespace) << case_fold;
                }
    }
}

TEST(Normalize, InvalidUtf8IsRejected) {
    std::string out;
    EXPECT_FALSE(normalize(std::string("Jos\xC3", 4), {}, out));          // truncated sequence
    EXPECT_FALSE(normalize(std::string("\xFF\xFEname"), {}, out));        // not UTF-8 at all
    EXPECT_FALSE(normalize(std::string("a\xED\xA0\x80z"), {}, out));     // encoded surrogate
    EXPECT_FALSE(normalize(std::string("\xC0\xAF"), {}, out));            // overlong
}

std::vector<std::string> tokens(const std::string& value, TokenizerSpec spec) {
    std::vector<std::string> out;
    tokenize(value, spec, out);
    return out;
}

TEST(Tokenize, PaddedAndUnpaddedBigramsOverCodePoints) {
    TokenizerSpec bigrams;
    const std::string m = "\x02";
    EXPECT_EQ(tokens("ann", bigrams), (std::vector<std::string>{m + "a", "an", "nn", "n" + m}));
    bigrams.padding = false;
    EXPECT_EQ(tokens("ann", bigrams), (std::vector<std::string>{"an", "nn"}));
    EXPECT_EQ(tokens("zoé", bigrams), (std::vector<std::string>{"zo", "oé"}));
    EXPECT_EQ(tokens("a", bigrams), (std::vector<std::string>{"a"}));
    EXPECT_TRUE(tokens("", bigrams).empty());
    TokenizerSpec trigrams;
    trigrams.q = 3;
    EXPECT_EQ(tokens("li", trigrams).size(), 4u);  // __l _li li_ i__
}

TEST(Tokenize, PositionalGramsCarryTheirIndex) {
    TokenizerSpec spec;
    spec.kind = TokenizerKind::positional_qgram;
    spec.padding = false;
    EXPECT_EQ(tokens("abab", spec), (std::vector<std::string>{"0:ab", "1:ba", "2:ab"}));
}

TEST(Tokenize, ExactAndDateParts) {
    TokenizerSpec exact;
    exact.kind = TokenizerKind::exact;
    EXPECT_EQ(tokens("60612", exact), (std::vector<std::string>{"60612"}));
    TokenizerSpec date;
    date.kind = TokenizerKind::date_parts;
    EXPECT_EQ(tokens("2011-03-04", date), (std::vector<std::string>{"y2011", "m03", "d04"}));
    date.date_parts = {DatePart::day, DatePart::month};
    EXPECT_EQ(tokens("2011-03-04", date), (std::vector<std::string>{"d04", "m03"}));
}

TEST(Tokenize, DatesParseStrictlyWithCalendarChecks) {
    std::string out;
    EXPECT_TRUE(parse_date("2012-02-29", "%Y-%m-%d", out));
    EXPECT_EQ(out, "2012-02-29");
    EXPECT_TRUE(parse_date("4/7/2009", "%d/%m/%Y", out));
    EXPECT_EQ(out, "2009-07-04");
    EXPECT_TRUE(parse_date("20090704", "%Y%m%d", out));
    EXPECT_EQ(out, "2009-07-04");
    EXPECT_FALSE(parse_date("2011-02-29", "%Y-%m-%d", out));  // not a leap year
    EXPECT_TRUE(parse_date("2000-02-29", "%Y-%m-%d", out));   // divisible by 400
    EXPECT_FALSE(parse_date("1900-02-29", "%Y-%m-%d", out));  // divisible by 100
    EXPECT_FALSE(parse_date("2011-13-01", "%Y-%m-%d", out));
    EXPECT_FALSE(parse_date("2011-04-31", "%Y-%m-%d", out));
    EXPECT_FALSE(parse_date("2011-04-3x", "%Y-%m-%d", out));
    EXPECT_FALSE(parse_date("11-04-03", "%Y-%m-%d", out));
    EXPECT_FALSE(parse_date("", "%Y-%m-%d", out));
}

TEST(Tokenize, IntegersParseStrictly) {
    std::int64_t v = 0;
    EXPECT_TRUE(parse_integer("-42", v));
    EXPECT_EQ(v, -42);
    EXPECT_TRUE(parse_integer("+7", v));
    EXPECT_EQ(v, 7);
    EXPECT_TRUE(parse_integer("-9223372036854775808", v));
    EXPECT_EQ(v, INT64_MIN);
    EXPECT_FALSE(parse_integer("9223372036854775808", v));
    EXPECT_FALSE(parse_integer("1,000", v));
    EXPECT_FALSE(parse_integer("", v));
    EXPECT_FALSE(parse_integer("-", v));
    EXPECT_FALSE(parse_integer("12a", v));
}

}  // namespace
}  // namespace pprl
