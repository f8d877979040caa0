#include "format/csv.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include "format/atomic_file.hpp"
#include "pprl/error.hpp"

namespace pprl {
namespace {
constexpr std::size_t read_chunk_bytes = 1 << 20;
}

CsvReader::CsvReader(const std::string& path) : path_(path), buffer_(read_chunk_bytes) {
    const int fd = open_input(path, InputKind::regular_or_stream);
    file_ = ::fdopen(fd, "rb");
    if (file_ == nullptr) {
        ::close(fd);
        throw IoError("cannot read '" + path + "': " + std::strerror(errno));
    }
}

CsvReader::CsvReader(const std::string& name, const std::string& text) : path_(name), buffer_(read_chunk_bytes) {
    static char empty = '\0';
    file_ = ::fmemopen(text.empty() ? &empty : const_cast<char*>(text.data()), text.size(), "rb");
    if (file_ == nullptr) throw IoError("cannot read '" + name + "': " + std::strerror(errno));
}

CsvReader::~CsvReader() {
    if (file_ != nullptr) std::fclose(file_);
}

int CsvReader::peek() {
    if (position_ == end_) {
        end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
        position_ = 0;
        if (end_ == 0) {
            if (std::ferror(file_)) throw IoError("cannot read '" + path_ + "': " + std::strerror(errno));
            return EOF;
        }
    }
    return static_cast<unsigned char>(buffer_[position_]);
}

int CsvReader::get() {
    const int c = peek();
    if (c != EOF) ++position_;
    return c;
}

void CsvReader::skip_byte_order_mark(CsvRecord& record) {
    first_ = false;
    if (peek() != 0xEF) return;  // UTF-8 byte-order mark EF BB BF
    get();
    if (get() != 0xBB || get() != 0xBF) {
        record = CsvRecord{};
        record.line = 1;
        record.error = "malformed byte-order mark";
    }
}

bool CsvReader::skip_blank_lines() {
    for (;;) {
        const int c = peek();
        if (c == '\n') {
            get();
            ++line_;
        } else if (c == '\r') {
            get();
            if (peek() == '\n') get();
            ++line_;
        } else {
            return c != EOF;
        }
    }
}

void CsvReader::keep(std::string& field, const char* data, std::size_t size) {
    record_bytes_ += size;
    if (record_bytes_ > max_record_bytes) return;  // too long: read to its end, keep nothing more
    field.append(data, size);
}

void CsvReader::copy_run(std::string& field, bool quoted) {
    std::size_t run = position_;
    if (quoted) {
        while (run < end_ && buffer_[run] != '"' && buffer_[run] != '\n') ++run;
    } else {
        while (run < end_) {
            const char ch = buffer_[run];
            if (ch == ',' || ch == '"' || ch == '\n' || ch == '\r') break;
            ++run;
        }
    }
    keep(field, buffer_.data() + position_, run - position_);
    position_ = run;
}

bool CsvReader::next(CsvRecord& record) {
    if (first_) skip_byte_order_mark(record);
    if (!skip_blank_lines()) return false;
    // Field strings are reused from record to record (cleared, capacity kept): no allocation per
    // field once the buffers have grown to the data.
    std::size_t used = 0;
    auto next_field = [&]() -> std::string* {
        if (used == record.fields.size()) {
            if (record_bytes_ > max_record_bytes) return &record.fields[used - 1];  // no more fields either
            record.fields.emplace_back();
        }
        std::string* field = &record.fields[used++];
        field->clear();
        return field;
    };
    record.line = line_;
    record.error.clear();
    record_bytes_ = 0;
    // A record past the limit is read to its end and rejected as a whole.
    auto finish = [&] {
        record.fields.resize(used);
        if (record_bytes_ > max_record_bytes)
            record.error = "record longer than " + std::to_string(max_record_bytes >> 20) + " MiB";
        return true;
    };
    std::string* field = next_field();
    bool quoted = false, after_quote = false, at_field_start = true;
    for (;;) {
        int c = get();
        if (quoted) {
            if (c == EOF) {
                record.error = "end of file inside a quoted field";
                return finish();
            }
            if (c == '"') {
                if (peek() == '"') {
                    get();
                    keep(*field, "\"", 1);
                } else {
                    quoted = false;
                    after_quote = true;
                }
                continue;
            }
            if (c == '\n') ++line_;
            const char ch = static_cast<char>(c);
            keep(*field, &ch, 1);
            copy_run(*field, true);  // the rest of the quoted run, straight from the buffer
            continue;
        }
        if (c == EOF || c == '\n' || c == '\r') {
            if (c == '\r' && peek() == '\n') get();
            if (c != EOF) ++line_;
            return finish();
        }
        if (c == ',') {
            field = next_field();
            after_quote = false;
            at_field_start = true;
            continue;
        }
        if (c == '"' && at_field_start) {
            quoted = true;
            at_field_start = false;
            continue;
        }
        if ((c == '"' || after_quote) && record.error.empty())
            record.error = after_quote ? "text after a closing quote" : "quote inside an unquoted field";
        at_field_start = false;
        const char ch = static_cast<char>(c);
        keep(*field, &ch, 1);
        if (!after_quote) copy_run(*field, false);  // an ordinary run: most of every file
    }
}

void append_csv_field(std::string& line, std::string_view field) {
    if (field.find_first_of(",\"\r\n") == std::string::npos) {
        line += field;
        return;
    }
    line.push_back('"');
    for (char c : field) {
        if (c == '"') line.push_back('"');
        line.push_back(c);
    }
    line.push_back('"');
}

std::vector<int> csv_columns(const std::vector<std::string>& header, const std::vector<std::string>& names,
                             std::size_t required, const std::string& path) {
    std::vector<int> at(names.size(), -1);
    for (std::size_t i = 0; i < header.size(); ++i)
        for (std::size_t n = 0; n < names.size(); ++n)
            if (header[i] == names[n]) at[n] = static_cast<int>(i);
    for (std::size_t n = 0; n < required; ++n)
        if (at[n] < 0) throw ValidationError("'" + path + "': no column \"" + names[n] + "\" in the header");
    return at;
}

void check_csv_row(const CsvRecord& record, const std::vector<int>& columns, const std::string& where) {
    if (!record.error.empty()) throw ValidationError(where + ": " + record.error);
    int last = -1;
    for (int column : columns) last = std::max(last, column);
    if (last >= 0 && static_cast<std::size_t>(last) >= record.fields.size())
        throw ValidationError(where + ": has " + std::to_string(record.fields.size()) +
                              " fields, fewer than the header's columns");
}

}  // namespace pprl
