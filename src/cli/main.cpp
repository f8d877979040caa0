// pprl — command-line entry point. Exit codes: 0 success, 2 usage, 3 validation,
// 4 key/schema mismatch, 5 I/O or format (see pprl/error.hpp and the README).
#include <algorithm>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "pprl/error.hpp"
#include "pprl/simd.hpp"
#include "simd/isa.hpp"
#include "pprl/version.hpp"

namespace pprl::cli {

std::string secret_path(const std::string& option_value) {
    if (!option_value.empty()) return option_value;
    if (const char* env = std::getenv("PPRL_SECRET_FILE"); env != nullptr && *env != '\0') return env;
    throw UsageError("no secret: pass --secret-file FILE or set PPRL_SECRET_FILE (keys are never taken on the command line)");
}

Progress::Progress(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(STDERR_FILENO) == 1), last_() {}

void Progress::update(std::uint64_t done) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    if (total_ > 0) {
        const int width = 30;
        const int filled = static_cast<int>(width * std::min<double>(1.0, static_cast<double>(done) / total_));
        std::fprintf(stderr, "\r%s [%s%s] %3d%%", label_.c_str(), std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), static_cast<int>(100.0 * done / total_));
    } else {
        std::fprintf(stderr, "\r%s %s rows", label_.c_str(), with_commas(done).c_str());
    }
    std::fflush(stderr);
}

void Progress::finish() {
    if (enabled_) std::fprintf(stderr, "\r\033[K");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string with_commas(std::uint64_t value) {
    std::string digits = std::to_string(value), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}


// `pprl --version [--verbose]`: the version, and with --verbose the implementation each kernel
// family runs on this machine, the others it could run, and those compiled in.
int print_version(bool verbose) {
    const std::vector<pprl::simd::FamilyReport> families =
        verbose ? pprl::simd::capabilities() : std::vector<pprl::simd::FamilyReport>{};
    std::cout << "pprl " << pprl::version << "\n";
    auto join = [](const std::vector<std::string>& names) {
        std::string out;
        for (const auto& name : names) out += (out.empty() ? "" : " ") + name;
        return out;
    };
    for (const pprl::simd::FamilyReport& family : families)
        std::cout << "  " << family.family << ": " << family.active << " (this CPU: " << join(family.available)
                  << "; compiled: " << join(family.compiled) << ")\n";
    return 0;
}

}  // namespace pprl::cli

int main(int argc, char** argv) {
    using namespace pprl::cli;
    const std::vector<std::string> arguments(argv + 1, argv + argc);
    const bool version = !arguments.empty() && arguments.size() <= 2 &&
                         std::count(arguments.begin(), arguments.end(), "--version") == 1 &&
                         (arguments.size() == 1 || std::count(arguments.begin(), arguments.end(), "--verbose") == 1);
    if (version) {
        try {
            return print_version(arguments.size() == 2);
        } catch (const pprl::Error& error) {
            std::cerr << "pprl: " << pprl::category_name(error.category()) << " error: " << error.what() << "\n";
            return pprl::exit_code_for(error.category());
        }
    }
    CLI::App app{"pprl: privacy-preserving record linkage with keyed Bloom filters"};
    app.add_flag("--version", "Print the version (with --verbose: the kernels chosen for this CPU) and exit");
    app.add_flag("--verbose", "With --version: the implementation each kernel family runs");
    app.require_subcommand(1);
    std::map<CLI::App*, Command> commands;
    auto add = [&](const char* name, const char* help, Command (*make)(CLI::App&)) {
        CLI::App* sub = app.add_subcommand(name, help);
        commands[sub] = make(*sub);
    };
    add("synth", "Generate synthetic youth records for several agencies, with the truth", &add_synth);
    add("keygen", "Write a new random 256-bit secret key to a file (mode 0600)", &add_keygen);
    add("encode", "Encode a CSV of quasi-identifiers into keyed Bloom filters (agency side)", &add_encode);
    add("inspect", "Show an encoded file's header, popcount statistics and checksum status", &add_inspect);
    add("export", "Export filters as base64 (CSV record_id,clk or clkhash JSON)", &add_export);
    add("import", "Import base64 filters (CSV or clkhash JSON) into a pprl file", &add_import);
    add("match", "Score all cross-file pairs with Dice and write those above a threshold", &add_match);
    add("link", "Link two or more parties' files into entities (one pseudonymous id per person)", &add_link);
    add("evaluate", "Precision, recall and F1 against the truth, per group, with an HTML report", &add_evaluate);
    add("audit", "Agency side: filter statistics and attacks on your own encodings, given plaintext", &add_audit);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = app.exit(error);
        return code == 0 ? 0 : pprl::exit_code_for(pprl::ErrorCategory::usage);
    }
    try {
        pprl::simd::check_override();  // a bad PPRL_FORCE_BACKEND is a usage error for every command
        for (const auto& [sub, run] : commands)
            if (sub->parsed()) return run();
    } catch (const pprl::Error& error) {
        std::cerr << "pprl: " << pprl::category_name(error.category()) << " error: " << error.what() << "\n";
        return pprl::exit_code_for(error.category());
    } catch (const std::bad_alloc&) {
        std::cerr << "pprl: internal error: out of memory\n";
        return pprl::exit_code_for(pprl::ErrorCategory::internal);
    } catch (const std::exception& error) {
        std::cerr << "pprl: internal error: " << error.what() << "\n";
        return pprl::exit_code_for(pprl::ErrorCategory::internal);
    }
    return 0;
}
