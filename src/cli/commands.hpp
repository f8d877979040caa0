// src/cli/commands.hpp — the pprl command-line tool: parse, call the library, report.
//
// No linkage logic lives here. Each command registers its options on a CLI11 subcommand and returns
// the callback that runs it; main() turns pprl::Error categories into the documented exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pprl::cli {

using Command = std::function<int()>;

Command add_keygen(CLI::App& app);
Command add_encode(CLI::App& app);
Command add_schema(CLI::App& app);
Command add_inspect(CLI::App& app);
Command add_export(CLI::App& app);
Command add_import(CLI::App& app);
Command add_match(CLI::App& app);
Command add_link(CLI::App& app);
Command add_synth(CLI::App& app);
Command add_evaluate(CLI::App& app);
Command add_audit(CLI::App& app);
Command add_registry(CLI::App& app);

// The secret file named by --secret-file, else by PPRL_SECRET_FILE; UsageError if neither.
std::string secret_path(const std::string& option_value);

// Writes a one-line progress bar to stderr when stderr is a terminal; silent otherwise.
class Progress {
public:
    Progress(std::string label, std::uint64_t total);
    void update(std::uint64_t done);
    void finish();

private:
    std::string label_;
    std::uint64_t total_;
    bool enabled_;
    std::chrono::steady_clock::time_point last_;
};

// Refuses (UsageError, exit 2) an output that is the same file as an input, the secret file or
// another output (compared by device and inode, so links and relative paths cannot hide it); the
// secret file is never named. Empty names are skipped; devices and FIFOs are written through.
void refuse_overwriting(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs,
                        const std::string& secret_file = {});

// Parsers for option values given as text, so that no value is echoed and none wraps: a positive
// integer up to `max`, and a decimal threshold in [0, 1].
std::uint64_t parse_count(const std::string& option, const std::string& text, std::uint64_t max);
double parse_unit_interval(const std::string& option, const std::string& text);

double seconds_since(std::chrono::steady_clock::time_point start);
std::string with_commas(std::uint64_t value);

}  // namespace pprl::cli
