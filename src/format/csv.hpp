// pprl/csv.hpp — RFC 4180 CSV, read as a stream of records.
//
// pprl reads CSV itself rather than through a library: the format is small, and owning the reader is
// what lets every rejected row be reported with its row and line numbers and a reason, without the
// reader ever putting a field's content into a message. Accepted: quoted fields with embedded commas,
// quotes ("") and newlines; LF or CRLF line ends; a UTF-8 byte-order mark; a missing final newline.
// A quote inside an unquoted field, text after a closing quote, or end of file inside quotes makes
// that record malformed (CsvRecord::error), and the reader carries on with the next line.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace pprl {

struct CsvRecord {
    std::vector<std::string> fields;
    std::uint64_t line = 0;  // line on which the record starts (1-based)
    std::string error;       // non-empty if the record is malformed
};

class CsvReader {
public:
    // A record (all its fields with their separators) longer than this is rejected as a whole
    // ("record longer than 16 MiB"): a quasi-identifier row is a few hundred bytes, and an input with
    // no line ends (a device, a binary file) must not be read into memory without end.
    static constexpr std::size_t max_record_bytes = std::size_t{16} << 20;

    // Opens a regular file or a pipe ("-": standard input); a directory or device is an IoError.
    explicit CsvReader(const std::string& path);
    // Reads CSV already in memory (`text` must outlive the reader); `name` is used in messages.
    CsvReader(const std::string& name, const std::string& text);
    ~CsvReader();
    CsvReader(const CsvReader&) = delete;
    CsvReader& operator=(const CsvReader&) = delete;

    // Reads the next record; false at end of input. Blank lines are skipped.
    bool next(CsvRecord& record);
    const std::string& path() const noexcept { return path_; }

private:
    int get();
    int peek();
    void skip_byte_order_mark(CsvRecord& record);
    // Skips empty lines; false at the end of the input.
    bool skip_blank_lines();
    // Appends the rest of the current run of plain characters in the buffer to `field`.
    void copy_run(std::string& field, bool quoted);
    // Appends to the field unless the record has passed max_record_bytes.
    void keep(std::string& field, const char* data, std::size_t size);

    std::string path_;
    std::FILE* file_ = nullptr;
    std::vector<char> buffer_;
    std::size_t position_ = 0, end_ = 0;
    std::uint64_t line_ = 1;
    std::size_t record_bytes_ = 0;
    bool first_ = true;
};

// Appends `field` to `line`, quoted if it holds a comma, quote, CR or LF.
void append_csv_field(std::string& line, std::string_view field);

// Positions of the named columns in a header row (-1 where absent); the first `required` names
// must be there (ValidationError naming the file and column otherwise).
std::vector<int> csv_columns(const std::vector<std::string>& header, const std::vector<std::string>& names,
                             std::size_t required, const std::string& path);
// Throws ValidationError (prefixed with `where`) if the record is malformed or too short to hold
// every column found in the header.
void check_csv_row(const CsvRecord& record, const std::vector<int>& columns, const std::string& where);

}  // namespace pprl
