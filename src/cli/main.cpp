// pprl — command-line entry point. Exit codes: 0 success, 2 usage, 3 validation,
// 4 key/schema mismatch, 5 I/O or format (see pprl/error.hpp and the README).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "pprl/error.hpp"
#include "format/atomic_file.hpp"
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

void refuse_overwriting(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs,
                        const std::string& secret_file) {
    struct Seen {
        std::string name;
        dev_t device;
        ino_t inode;
    };
    // "-" is standard input or output: at most one of each, and never a file to compare.
    for (const auto* paths : {&outputs, &inputs})
        if (std::count(paths->begin(), paths->end(), standard_stream) > 1)
            throw UsageError(std::string("only one ") + (paths == &outputs ? "output" : "input") + " can be standard " +
                             (paths == &outputs ? "output" : "input") + " ('-')");
    std::vector<Seen> taken;
    if (struct stat key {}; !secret_file.empty() && ::stat(secret_file.c_str(), &key) == 0)
        taken.push_back({"", key.st_dev, key.st_ino});
    for (const auto& path : inputs) {
        struct stat info {};
        if (!path.empty() && path != standard_stream && ::stat(path.c_str(), &info) == 0)
            taken.push_back({path, info.st_dev, info.st_ino});
    }
    for (const auto& path : outputs) {
        struct stat info {};
        if (path.empty() || path == standard_stream || ::stat(path.c_str(), &info) != 0) continue;
        if (S_ISCHR(info.st_mode) || S_ISFIFO(info.st_mode)) continue;  // /dev/null, a pipe: written through
        for (const Seen& seen : taken)
            if (seen.device == info.st_dev && seen.inode == info.st_ino)
                throw UsageError("the output '" + path + "' is the same file as " +
                                 (seen.name.empty() ? std::string("the secret file") : "'" + seen.name + "'") +
                                 "; nothing was written");
        taken.push_back({path, info.st_dev, info.st_ino});
    }
}

std::uint64_t parse_count(const std::string& option, const std::string& text, std::uint64_t max) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc() || stop != end || value < 1 || value > max)
        throw UsageError(option + " takes a whole number from 1 to " + std::to_string(max));
    return value;
}

double parse_unit_interval(const std::string& option, const std::string& text) {
    double value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc() || stop != end || !(value >= 0.0 && value <= 1.0))
        throw UsageError(option + " takes a number from 0 to 1");
    return value;
}

namespace {

// SIGINT, SIGTERM, SIGHUP: temporary outputs are removed, and the tool exits with 5 (interrupted
// while writing counts as an I/O failure) rather than dying by the signal.
extern "C" void on_termination_signal(int) {
    pprl::remove_temporary_files();
    static const char message[] = "pprl: interrupted; partial outputs removed\n";
    const ssize_t ignored = ::write(2, message, sizeof message - 1);
    (void)ignored;
    ::_exit(5);
}

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_termination_signal;
    sigemptyset(&action.sa_mask);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal_number, &action, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // a closed pipe becomes a write error (exit 5), not a signal
}

// CLI11's messages quote the offending argument, which may be a key typed in the wrong place: say
// what kind of mistake it was and where to look, never the value.
std::string usage_message(const CLI::ParseError& error) {
    const std::string kind = error.get_name();
    if (kind == "RequiredError" || kind == "RequiresError" || kind == "ExcludesError" || kind == "ArgumentMismatch")
        return error.what();  // these name options, not values
    if (kind == "ExtrasError") return "unexpected arguments (not shown); see --help";
    if (kind == "ConversionError" || kind == "ValidationError")
        return "an option's value is not valid (values are not shown); see --help";
    return "the command line could not be read (arguments are not shown); see --help";
}

}  // namespace

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
    add("schema", "Schema tools: convert a clkhash linkage schema into a pprl schema", &add_schema);
    add("encode", "Encode a CSV of quasi-identifiers into keyed Bloom filters (agency side)", &add_encode);
    add("inspect", "Show an encoded file's header, popcount statistics and checksum status", &add_inspect);
    add("export", "Export filters as base64 (CSV record_id,clk or clkhash JSON)", &add_export);
    add("import", "Import base64 filters (CSV or clkhash JSON) into a pprl file", &add_import);
    add("match", "Score all cross-file pairs with Dice and write those above a threshold", &add_match);
    add("link", "Link two or more parties' files into entities (one pseudonymous id per person)", &add_link);
    add("evaluate", "Precision, recall and F1 against the truth, per group, with an HTML report", &add_evaluate);
    add("registry", "The hub's registry: stable entity ids across refreshes (init, ingest, link, export, ...)", &add_registry);
    add("audit", "Agency side: filter statistics and four attacks on your own encodings, given plaintext", &add_audit);
    install_signal_handlers();
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
        return app.exit(help);
    } catch (const CLI::CallForAllHelp& help) {
        return app.exit(help);
    } catch (const CLI::ParseError& error) {
        std::cerr << "pprl: usage error: " << usage_message(error) << "\n";
        return pprl::exit_code_for(pprl::ErrorCategory::usage);
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
