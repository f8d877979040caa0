// Agency-side commands: keygen, encode, schema convert, inspect, export, import.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "clkhash/clkhash.hpp"
#include "commands.hpp"
#include "crypto/crypto.hpp"
#include "format/csv.hpp"
#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "pprl/format.hpp"
#include "format/atomic_file.hpp"
#include "pprl/schema.hpp"
#include "pprl/secret.hpp"

namespace pprl::cli {
namespace {

// The output file's name up to its first dot, cut to 64 bytes at a character boundary; "party" if
// that leaves nothing usable (a name that is not UTF-8).
std::string default_party(const std::string& out_path) {
    std::string name = out_path.substr(out_path.find_last_of('/') + 1);
    if (const auto dot = name.find('.'); dot != std::string::npos && dot > 0) name.resize(dot);
    if (name.size() > max_party_bytes) {
        std::size_t cut = max_party_bytes;
        while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
        name.resize(cut);
    }
    try {
        check_party_label(name);
    } catch (const UsageError&) {
        return "party";
    }
    return name.empty() ? "party" : name;
}

void warn_if_exposed(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 077) != 0)
        std::cerr << "pprl: warning: the secret file is readable by other users (chmod 600 it)\n";
}

// The rejects table, written but not yet committed: it appears only once the encoded file has.
std::unique_ptr<AtomicFile> write_rejects(const std::string& path, const std::vector<Rejection>& rejections) {
    auto out = std::make_unique<AtomicFile>(path);
    AtomicFile& file = *out;
    file.write("row,line,field,reason\n");
    std::string line;
    for (const auto& r : rejections) {
        line = std::to_string(r.row) + "," + std::to_string(r.line) + ",";
        append_csv_field(line, r.field);
        line += ",";
        append_csv_field(line, r.reason);
        line += "\n";
        file.write(line);
    }
    return out;
}

}  // namespace

Command add_keygen(CLI::App& app) {
    auto out = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    app.add_option("--out", *out, "Key file to create (mode 0600)")->required();
    app.add_flag("--force", *force, "Overwrite an existing key file");
    return [out, force]() {
        struct stat info {};
        if (!*force && ::stat(out->c_str(), &info) == 0)
            throw UsageError("'" + *out + "' exists; pass --force to replace a key (encodings made with it stop matching)");
        SecretKey::generate(32).write_hex_file(*out);
        std::cerr << "pprl: wrote a 256-bit key to " << *out << " (mode 0600); share it only with the other agencies\n";
        return 0;
    };
}

Command add_encode(CLI::App& app) {
    struct Options {
        std::string schema, secret, in, out, id_column, party, rejects;
        unsigned threads = 0;
        bool no_header = false;
    };
    auto o = std::make_shared<Options>();
    app.add_option("--schema", o->schema, "Linkage schema (JSON)")->required();
    app.add_option("--secret-file", o->secret, "File holding the shared secret key (or set PPRL_SECRET_FILE)");
    app.add_option("--in", o->in, "Input CSV with a header row ('-': standard input)")->required();
    app.add_flag("--no-header", o->no_header,
                 "The input has no header row: its columns are in schema order (a clkhash schema's features as "
                 "listed, as clkhash's header=False; else the id column, then each field)");
    app.add_option("--out", o->out, "Encoded file to write")->required();
    app.add_option("--id-column", o->id_column,
                   "Column holding record ids (default: the schema's, else record_id; with a clkhash schema the "
                   "first column if its feature is ignored, else the row number)");
    app.add_option("--party", o->party, "Party label stored in the header (default: output file name)");
    app.add_option("--threads", o->threads,
                   "Encoding threads (default: all cores); with two or more, the calling thread reads the CSV and "
                   "writes the output beside them");
    app.add_option("--rejects", o->rejects, "Write rejected rows (row, line, field, reason) to this CSV ('-': standard output)");
    return [o]() {
        const auto start = std::chrono::steady_clock::now();
        Schema schema = Schema::from_file(o->schema);
        if (!o->id_column.empty()) schema.set_id_column(o->id_column);
        const std::string key_path = secret_path(o->secret);
        refuse_overwriting({o->out, o->rejects}, {o->in, o->schema}, key_path);
        warn_if_exposed(key_path);
        const bool clkhash = schema.dialect() == SchemaDialect::clkhash;
        // A clkhash schema takes clkhash's text secret: the file's bytes, less one trailing newline.
        std::string secret_warning;
        const SecretKey secret = SecretKey::from_file(
            key_path, clkhash ? SecretKey::FileEncoding::raw : SecretKey::FileEncoding::hex, &secret_warning);
        if (!secret_warning.empty()) std::cerr << "pprl: warning: " << secret_warning << "\n";
        if (clkhash && secret.size() < SecretKey::min_bytes)
            std::cerr << "pprl: warning: the clkhash secret is " << secret.size()
                      << " bytes; a secret under 16 random bytes can be guessed, and every encoding with it "
                         "re-identified\n";
        for (const auto& note : schema.notes()) std::cerr << "pprl: note: " << note << "\n";
        const EncodingInfo info =
            encoding_info(schema, key_check_value(secret), o->party.empty() ? default_party(o->out) : o->party);
        check_party_label(info.party);

        EncodedFileWriter writer(o->out, schema.bits(), info);
        Progress progress("encoding", 0);
        EncodeOptions options;
        options.threads = o->threads;
        options.party = info.party;
        options.header = !o->no_header;
        options.progress = [&](std::uint64_t done) { progress.update(done); };
        const EncodeSummary summary =
            encode_csv(o->in, schema, secret, options, [&](const FilterMatrix& part) { writer.append(part); });
        progress.finish();
        std::unique_ptr<AtomicFile> rejects;
        if (!o->rejects.empty()) rejects = write_rejects(o->rejects, summary.rejections);
        writer.finish();
        if (rejects) rejects->commit();

        const double seconds = seconds_since(start);
        std::cerr << "pprl: encoded " << with_commas(summary.rows_encoded) << " of " << with_commas(summary.rows_read)
                  << " rows (" << with_commas(summary.rejections.size()) << " rejected) into " << o->out << " as party '"
                  << info.party << "' in " << std::fixed << std::setprecision(2) << seconds << " s\n";
        if (summary.invalid_as_missing > 0)
            std::cerr << "pprl: " << with_commas(summary.invalid_as_missing)
                      << " field values did not parse and were treated as missing (schema \"invalid\": \"missing\")\n";
        if (!summary.rejections.empty()) {
            if (!o->rejects.empty()) {
                std::cerr << "pprl: rejected rows are listed in " << o->rejects << "\n";
            } else {
                for (const auto& r : summary.rejections)
                    std::cerr << "pprl: rejected row " << r.row << " (line " << r.line << ")"
                              << (r.field.empty() ? "" : ", field " + r.field) << ": " << r.reason << "\n";
            }
        }
        return 0;
    };
}

Command add_schema(CLI::App& app) {
    app.require_subcommand(1);
    CLI::App* convert = app.add_subcommand(
        "convert", "A pprl schema for a clkhash linkage schema's columns, printing every change in what is encoded");
    auto in = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    convert->add_option("clkhash_schema", *in, "The clkhash linkage schema (JSON, version 1, 2 or 3)")->required();
    convert->add_option("--out", *out, "The pprl schema to write ('-': standard output)")->required();
    return [in, out]() {
        refuse_overwriting({*out}, {*in});
        const std::string text = read_file(*in, Schema::max_file_bytes);
        if (!clkhash::looks_like_clkhash(text))
            throw ValidationError("'" + *in + "' is not a clkhash linkage schema (no \"clkConfig\" and \"features\")");
        const SchemaConversion conversion = convert_clkhash_schema(text, *in);
        AtomicFile file(*out);
        file.write(conversion.pprl_json);
        file.commit();
        for (const std::string& change : conversion.changes) std::cerr << "pprl: change: " << change << "\n";
        std::cerr << "pprl: wrote a pprl schema to " << *out << "; review it, then encode with a key from pprl keygen\n";
        return 0;
    };
}

Command add_inspect(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    app.add_option("file", *path, "Encoded pprl file")->required();
    app.add_flag("--json", *as_json, "Print JSON instead of text");
    return [path, as_json]() {
        const FileReport report = inspect_encoded_file(*path);
        nlohmann::ordered_json out;
        out["file"] = *path;
        out["file_size"] = report.file_size;
        out["format_version"] = report.version;
        out["party"] = report.info.party;
        out["filter_bits"] = report.bits;
        out["stride_bytes"] = report.stride;
        out["records"] = report.records;
        out["schema_fingerprint"] =
            report.info.schema_known ? pprl::hex(report.info.schema_fingerprint.data(), 32) : "unknown";
        out["key_check"] = report.info.key_known ? pprl::hex(report.info.key_check.data(), 16) : "unknown";
        if (report.info.layout.empty()) {
            out["layout"] = "record";
        } else {
            out["layout"] = nlohmann::ordered_json::array();
            for (const Segment& segment : report.info.layout)
                out["layout"].push_back({{"segment", segment.name}, {"first_bit", segment.first_bit}, {"bits", segment.bits}});
        }
        out["checks"] = {{"header", report.header_ok},
                         {"footer", report.footer_ok},
                         {"filters_checksum", report.filters_checksum_ok},
                         {"ids_checksum", report.ids_checksum_ok}};
        if (report.problem.empty()) {
            const FilterMatrix filters = load_encoded_file(*path);
            const PopcountSummary pop = filters.popcount_summary();
            out["popcount"] = {{"min", pop.min}, {"mean", pop.mean}, {"max", pop.max}, {"stddev", pop.sd},
                               {"fill_ratio", filters.bits() ? pop.mean / filters.bits() : 0.0}};
            // Per segment: how many records left it empty (the field was missing).
            for (std::size_t s = 0; s < filters.info().layout.size(); ++s) {
                const Segment& segment = filters.info().layout[s];
                std::uint64_t missing = 0;
                for (std::size_t r = 0; r < filters.rows(); ++r) missing += segment_empty(filters.row_bytes(r), segment);
                out["layout"][s]["missing"] = missing;
            }
            out["status"] = "ok";
        } else {
            out["status"] = report.problem;
        }
        if (*as_json) {
            std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        } else {
            for (auto it = out.begin(); it != out.end(); ++it) {
                std::cout << it.key() << ": ";
                if (it.value().is_string()) std::cout << it.value().get<std::string>() << "\n";
                else std::cout << it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
            }
        }
        if (!report.problem.empty()) throw FormatError("'" + *path + "': " + report.problem);
        return 0;
    };
}

Command add_export(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>("csv");
    auto out = std::make_shared<std::string>();
    app.add_option("file", *path, "Encoded pprl file")->required();
    app.add_option("--format", *format, "csv (record_id,clk) or clkhash-json ({\"clks\": [...]})")
        ->check(CLI::IsMember({"csv", "clkhash-json"}));
    app.add_option("--out", *out, "Output file ('-': standard output)")->required();
    return [path, format, out]() {
        refuse_overwriting({*out}, {*path});
        const FilterMatrix filters = load_encoded_file(*path);
        export_base64(filters, *format == "csv" ? ExportFormat::csv : ExportFormat::clkhash_json, *out);
        std::cerr << "pprl: exported " << with_commas(filters.rows()) << " filters to " << *out << "\n";
        return 0;
    };
}

Command add_import(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    auto bits = std::make_shared<unsigned>(0);
    auto out = std::make_shared<std::string>();
    auto party = std::make_shared<std::string>();
    app.add_option("file", *path, "CSV (record_id,clk) or clkhash JSON of base64 filters ('-': standard input)")->required();
    app.add_option("--bits", *bits, "Filter length in bits")->required();
    app.add_option("--out", *out, "pprl file to write")->required();
    app.add_option("--party", *party, "Party label (default: output file name)");
    return [path, bits, out, party]() {
        refuse_overwriting({*out}, {*path});
        const FilterMatrix filters = import_base64(*path, *bits, party->empty() ? default_party(*out) : *party);
        write_encoded_file(*out, filters);
        std::cerr << "pprl: imported " << with_commas(filters.rows()) << " filters into " << *out
                  << " (schema and key unknown)\n";
        return 0;
    };
}

}  // namespace pprl::cli
