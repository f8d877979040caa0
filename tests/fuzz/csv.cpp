// Fuzz target: the CSV reader, and an encoding run over the input as a CSV (header binding,
// values, rejections).
#include "format/csv.hpp"
#include "fuzz_target.hpp"
#include "pprl/encode.hpp"

namespace {
const char schema_json[] = R"({"pprl_schema": 1, "filter": {"bits": 256}, "id_column": "id",
  "fields": [{"name": "name", "type": "string", "tokenizer": {"kind": "qgram", "q": 2}, "weight": {"bits_per_token": 5}},
             {"name": "dob", "type": "date", "formats": ["%Y-%m-%d", "%d/%m/%Y"], "invalid": "missing"},
             {"name": "n", "type": "integer", "min": -5, "max": 99999},
             {"name": "sex", "type": "enum", "values": ["f", "m"], "aliases": {"female": "f"}}]})";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = pprl::fuzz::as_file(data, size, ".csv");
    pprl::fuzz::refusal_allowed([&] {
        pprl::CsvReader reader(path);
        pprl::CsvRecord record;
        std::size_t fields = 0;
        while (reader.next(record)) fields += record.fields.size();
        (void)fields;
    });
    static const pprl::Schema schema = pprl::Schema::from_json(schema_json);
    static const std::uint8_t raw[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const pprl::SecretKey key(raw, sizeof raw);
    pprl::fuzz::refusal_allowed([&] {
        pprl::EncodeOptions options;
        options.threads = 1;
        pprl::EncodeSummary summary;
        pprl::encode_csv(path, schema, key, options, summary);
    });
    return 0;
}
