// export_tool — how an agency's own software encodes its extract with pprl before sending it.
//   export_tool SCHEMA.json KEY_FILE IN.csv OUT.pprl PARTY
// Reads the key from a file (never the command line), encodes every row or reports it, writes the
// encoded file atomically, and prints a summary without any personal data.
#include <cstdio>
#include <exception>

#include <pprl/encode.hpp>
#include <pprl/error.hpp>
#include <pprl/format.hpp>

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s SCHEMA.json KEY_FILE IN.csv OUT.pprl PARTY\n", argv[0]);
        return 2;
    }
    try {
        const pprl::Schema schema = pprl::Schema::from_file(argv[1]);
        const pprl::SecretKey key = pprl::SecretKey::from_file(argv[2]);
        pprl::EncodeOptions options;
        options.party = argv[5];
        pprl::EncodeSummary summary;
        const pprl::FilterMatrix filters = pprl::encode_csv(argv[3], schema, key, options, summary);
        pprl::write_encoded_file(argv[4], filters);
        std::printf("encoded %llu of %llu rows\n", static_cast<unsigned long long>(summary.rows_encoded),
                    static_cast<unsigned long long>(summary.rows_read));
        for (const auto& r : summary.rejections)
            std::printf("rejected row %llu (%s): %s\n", static_cast<unsigned long long>(r.row), r.field.c_str(),
                        r.reason.c_str());
        return 0;
    } catch (const pprl::Error& error) {
        std::fprintf(stderr, "export_tool: %s\n", error.what());
        return pprl::exit_code_for(error.category());
    } catch (const std::exception& error) {
        std::fprintf(stderr, "export_tool: %s\n", error.what());
        return 1;
    }
}
