#include "pprl/format.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <limits>

#include "format/csv.hpp"
#include "pprl/error.hpp"
#include "format/atomic_file.hpp"
#include "format/base64.hpp"

namespace pprl {
namespace {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(const std::string& text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const unsigned char c = *p;
        std::size_t length = 0;
        std::uint32_t point = 0, least = 0;
        if (c < 0x80) { ++p; continue; }
        if ((c & 0xE0) == 0xC0) { length = 2; point = c & 0x1F; least = 0x80; }
        else if ((c & 0xF0) == 0xE0) { length = 3; point = c & 0x0F; least = 0x800; }
        else if ((c & 0xF8) == 0xF0) { length = 4; point = c & 0x07; least = 0x10000; }
        else return false;
        if (static_cast<std::size_t>(end - p) < length) return false;
        for (std::size_t k = 1; k < length; ++k) {
            if ((p[k] & 0xC0) != 0x80) return false;
            point = (point << 6) | (p[k] & 0x3F);
        }
        if (point < least || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF)) return false;
        p += length;
    }
    return true;
}

constexpr char header_magic[8] = {'P', 'P', 'R', 'L', 'E', 'N', 'C', '\0'};
constexpr char footer_magic[8] = {'P', 'P', 'R', 'L', 'E', 'N', 'D', '\0'};
constexpr std::size_t header_bytes = 256;
constexpr std::size_t header_checksum_offset = 248;
constexpr std::size_t footer_bytes = 32;
constexpr std::uint32_t bit_order_msb_first = 1;
constexpr std::uint32_t flag_schema_known = 1, flag_key_known = 2, flag_segmented = 4;
// A segmented layout travels in a block after the fixed header (which then ends later, at a
// multiple of 64 bytes): u32 count, then per segment u32 first bit, u32 bits, u32 name size and
// the name, zero-padded; its XXH3 sits in the fixed header at layout_checksum_offset.
constexpr std::size_t layout_checksum_offset = 176;
constexpr std::size_t max_layout_bytes = 4 + max_segments * (12 + max_segment_name_bytes);
constexpr std::size_t max_header_bytes = header_bytes + (max_layout_bytes + 63) / 64 * 64;

template <class T>
void put(std::uint8_t* at, T value) {
    std::memcpy(at, &value, sizeof value);  // the formats are little-endian, as is every target
}
template <class T>
T take(const std::uint8_t* at) {
    T value;
    std::memcpy(&value, at, sizeof value);
    return value;
}

struct Header {
    std::uint64_t size = header_bytes;  // where the filters start
    unsigned bits = 0;
    std::uint32_t stride = 0;
    std::uint64_t records = 0;
    std::uint64_t ids_offset = 0, ids_size = 0;
    EncodingInfo info;
};

std::vector<std::uint8_t> encode_layout(const Layout& layout) {
    std::vector<std::uint8_t> out;
    if (layout.empty()) return out;
    auto put32 = [&](std::uint32_t value) {
        std::uint8_t bytes[4];
        put(bytes, value);
        out.insert(out.end(), bytes, bytes + 4);
    };
    put32(static_cast<std::uint32_t>(layout.size()));
    for (const Segment& segment : layout) {
        put32(segment.first_bit);
        put32(segment.bits);
        put32(static_cast<std::uint32_t>(segment.name.size()));
        out.insert(out.end(), segment.name.begin(), segment.name.end());
    }
    out.resize((out.size() + 63) / 64 * 64, 0);
    return out;
}

// The layout block's claims, checked against the filter length; false if any is inconsistent.
bool decode_layout(const std::uint8_t* block, std::size_t size, unsigned bits, Layout& layout) {
    std::size_t at = 0;
    auto take32 = [&](std::uint32_t& value) {
        if (size - at < 4) return false;
        value = take<std::uint32_t>(block + at);
        at += 4;
        return true;
    };
    std::uint32_t count = 0;
    if (!take32(count) || count == 0 || count > max_segments) return false;
    std::uint64_t next_bit = 0;
    for (std::uint32_t s = 0; s < count; ++s) {
        std::uint32_t first = 0, length = 0, name_size = 0;
        if (!take32(first) || !take32(length) || !take32(name_size)) return false;
        if (first != next_bit || length == 0 || length % 64 != 0 || length > bits - first) return false;
        if (name_size == 0 || name_size > max_segment_name_bytes || size - at < name_size) return false;
        Segment segment{std::string(reinterpret_cast<const char*>(block + at), name_size), first, length};
        at += name_size;
        if (!valid_utf8(segment.name)) return false;
        for (const Segment& earlier : layout)
            if (earlier.name == segment.name) return false;
        next_bit = std::uint64_t{first} + length;
        layout.push_back(std::move(segment));
    }
    for (; at < size; ++at)
        if (block[at] != 0) return false;
    return next_bit == bits;
}

std::array<std::uint8_t, header_bytes> encode_header(const Header& header, const std::vector<std::uint8_t>& layout) {
    std::array<std::uint8_t, header_bytes> out{};
    std::memcpy(out.data(), header_magic, 8);
    put<std::uint32_t>(&out[8], format_version);
    put<std::uint32_t>(&out[12], bit_order_msb_first);
    put<std::uint32_t>(&out[16], header.bits);
    put<std::uint32_t>(&out[20], header.stride);
    put<std::uint64_t>(&out[24], header.records);
    put<std::uint64_t>(&out[32], header.size);
    put<std::uint64_t>(&out[40], header.ids_offset);
    put<std::uint64_t>(&out[48], header.ids_size);
    put<std::uint32_t>(&out[56], (header.info.schema_known ? flag_schema_known : 0) |
                                     (header.info.key_known ? flag_key_known : 0) |
                                     (header.info.layout.empty() ? 0 : flag_segmented));
    put<std::uint32_t>(&out[60], static_cast<std::uint32_t>(header.info.party.size()));
    std::memcpy(&out[64], header.info.schema_fingerprint.data(), 32);
    std::memcpy(&out[96], header.info.key_check.data(), 16);
    std::memcpy(&out[112], header.info.party.data(), header.info.party.size());
    if (!layout.empty()) put<std::uint64_t>(&out[layout_checksum_offset], XXH3_64bits(layout.data(), layout.size()));
    put<std::uint64_t>(&out[header_checksum_offset], XXH3_64bits(out.data(), header_checksum_offset));
    return out;
}


class MappedFile {
public:
    explicit MappedFile(const std::string& path) {
        const int fd = open_input(path, InputKind::regular);
        struct stat info {};
        if (::fstat(fd, &info) != 0) {
            ::close(fd);
            throw IoError("cannot stat '" + path + "': " + std::strerror(errno));
        }
        size_ = static_cast<std::size_t>(info.st_size);
        if (size_ > 0) {
            void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (map == MAP_FAILED) {
                ::close(fd);
                throw IoError("cannot map '" + path + "': " + std::strerror(errno));
            }
            data_ = static_cast<const std::uint8_t*>(map);
        }
        ::close(fd);
    }
    ~MappedFile() {
        if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    }
    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }

private:
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

// Parses and checks a mapped file; fills `report` as far as it gets. Returns false at the first
// problem (report.problem says which).
bool verify(const MappedFile& file, FileReport& report, Header& header) {
    const std::uint8_t* d = file.data();
    report.file_size = file.size();
    if (file.size() < header_bytes + footer_bytes) {
        report.problem = "file is too short to be a pprl file (" + std::to_string(file.size()) + " bytes)";
        return false;
    }
    if (std::memcmp(d, header_magic, 8) != 0) {
        report.problem = "not a pprl encoded file (bad magic)";
        return false;
    }
    if (take<std::uint64_t>(d + header_checksum_offset) != XXH3_64bits(d, header_checksum_offset)) {
        report.problem = "header checksum mismatch (the header is corrupted)";
        return false;
    }
    report.header_ok = true;
    report.version = take<std::uint32_t>(d + 8);
    header.bits = take<std::uint32_t>(d + 16);
    header.stride = take<std::uint32_t>(d + 20);
    header.records = take<std::uint64_t>(d + 24);
    header.ids_offset = take<std::uint64_t>(d + 40);
    header.ids_size = take<std::uint64_t>(d + 48);
    const std::uint32_t flags = take<std::uint32_t>(d + 56);
    const std::uint32_t party_size = take<std::uint32_t>(d + 60);
    header.info.schema_known = flags & flag_schema_known;
    header.info.key_known = flags & flag_key_known;
    std::memcpy(header.info.schema_fingerprint.data(), d + 64, 32);
    std::memcpy(header.info.key_check.data(), d + 96, 16);
    if (party_size <= max_party_bytes) header.info.party.assign(reinterpret_cast<const char*>(d + 112), party_size);
    report.bits = header.bits;
    report.stride = header.stride;
    report.records = header.records;
    report.info = header.info;
    if (report.version != format_version) {
        report.problem = "unsupported format version " + std::to_string(report.version) + " (this pprl reads 1)";
        return false;
    }
    header.size = take<std::uint64_t>(d + 32);
    const bool segmented = flags & flag_segmented;
    if (take<std::uint32_t>(d + 12) != bit_order_msb_first || header.bits == 0 ||
        header.bits > max_filter_bits || header.stride != FilterMatrix::stride_for(header.bits) ||
        (segmented ? header.size <= header_bytes || header.size > max_header_bytes || header.size % 64 != 0
                   : header.size != header_bytes) ||
        party_size > max_party_bytes) {
        report.problem = "header fields are inconsistent";
        return false;
    }
    // Every size is the sender's claim: compared with the file size by subtraction, never summed,
    // so no claimed value can wrap the arithmetic past 2^64.
    const std::uint64_t size = file.size();
    if (size - footer_bytes < header.size) {
        report.problem = "file size does not match its header (truncated or extended)";
        return false;
    }
    if (segmented) {
        const std::uint8_t* block = d + header_bytes;
        const std::size_t block_size = header.size - header_bytes;
        if (take<std::uint64_t>(d + layout_checksum_offset) != XXH3_64bits(block, block_size)) {
            report.problem = "layout checksum mismatch (the header is corrupted)";
            return false;
        }
        if (!decode_layout(block, block_size, header.bits, header.info.layout)) {
            report.problem = "the segment layout is inconsistent";
            return false;
        }
        report.info.layout = header.info.layout;
    }
    const std::uint64_t body = size - header.size - footer_bytes;  // size ≥ both, checked above
    const bool sizes_fit = header.records <= body / header.stride &&
                           header.ids_offset == header.size + header.records * header.stride &&
                           header.ids_offset <= size - footer_bytes &&
                           header.ids_size == size - footer_bytes - header.ids_offset;
    const std::uint64_t filters_size = sizes_fit ? header.records * header.stride : 0;
    if (!sizes_fit) {
        report.problem = "file size does not match its header (truncated or extended)";
        return false;
    }
    const std::uint8_t* footer = d + file.size() - footer_bytes;
    if (std::memcmp(footer, footer_magic, 8) != 0 || take<std::uint64_t>(footer + 24) != file.size()) {
        report.problem = "footer missing or wrong (truncated file)";
        return false;
    }
    report.footer_ok = true;
    report.filters_checksum_ok = take<std::uint64_t>(footer + 8) == XXH3_64bits(d + header.size, filters_size);
    report.ids_checksum_ok = take<std::uint64_t>(footer + 16) == XXH3_64bits(d + header.ids_offset, header.ids_size);
    if (!report.filters_checksum_ok) {
        report.problem = "filter section checksum mismatch (corrupted)";
        return false;
    }
    if (!report.ids_checksum_ok) {
        report.problem = "id section checksum mismatch (corrupted)";
        return false;
    }
    // Kernels read whole words and strides: every bit past the filter length must be zero.
    for (std::uint64_t r = 0; r < header.records; ++r) {
        if (!padding_is_zero(d + header.size + r * header.stride, header.bits, header.stride)) {
            report.problem = "record " + std::to_string(r + 1) + " has bits set past the filter length";
            return false;
        }
    }
    return true;
}

}  // namespace

struct EncodedFileWriter::Impl {
    AtomicFile file;
    Header header;
    XXH3_state_t* filters_hash = nullptr;
    std::string ids;
    std::vector<std::uint8_t> layout;
    Impl(const std::string& path) : file(path, 0644) {}
};

void check_party_label(const std::string& party) {
    if (party.size() > max_party_bytes) throw UsageError("the party label is longer than 64 bytes");
    if (!valid_utf8(party)) throw UsageError("the party label is not valid UTF-8");
}

EncodedFileWriter::EncodedFileWriter(const std::string& path, unsigned bits, const EncodingInfo& info) {
    check_party_label(info.party);
    if (path == standard_stream)
        throw UsageError("a pprl file is binary and cannot go to standard output; write it to a file (pprl export "
                         "turns it into base64 CSV or JSON, which can)");
    impl_ = std::make_unique<Impl>(path);
    impl_->header.bits = bits;
    impl_->header.stride = static_cast<std::uint32_t>(FilterMatrix::stride_for(bits));
    impl_->header.info = info;
    impl_->layout = encode_layout(info.layout);
    Layout decoded;
    if (!info.layout.empty() && !decode_layout(impl_->layout.data(), impl_->layout.size(), bits, decoded))
        throw UsageError("the segment layout does not tile the filter (1 to 64 segments of whole words, unique names)");
    impl_->header.size = header_bytes + impl_->layout.size();
    impl_->filters_hash = XXH3_createState();
    if (impl_->filters_hash == nullptr) throw std::bad_alloc();
    XXH3_64bits_reset(impl_->filters_hash);
    const std::array<std::uint8_t, header_bytes> placeholder{};
    impl_->file.write(placeholder.data(), placeholder.size());
    impl_->file.write(impl_->layout.data(), impl_->layout.size());
}

EncodedFileWriter::~EncodedFileWriter() {
    if (impl_ && impl_->filters_hash) XXH3_freeState(impl_->filters_hash);
}

void EncodedFileWriter::append(const FilterMatrix& filters) {
    if (filters.bits() != impl_->header.bits) throw UsageError("appended filters have a different length");
    if (filters.ids().size() != filters.rows()) throw UsageError("appended filters lack record ids");
    const std::size_t bytes = filters.rows() * filters.stride_bytes();
    impl_->file.write(filters.data(), bytes);
    XXH3_64bits_update(impl_->filters_hash, filters.data(), bytes);
    for (const std::string& id : filters.ids()) {
        std::uint8_t length[4];
        put<std::uint32_t>(length, static_cast<std::uint32_t>(id.size()));
        impl_->ids.append(reinterpret_cast<const char*>(length), 4);
        impl_->ids += id;
    }
    impl_->header.records += filters.rows();
}

void EncodedFileWriter::finish() {
    Header& header = impl_->header;
    header.ids_offset = header.size + header.records * header.stride;
    header.ids_size = impl_->ids.size();
    impl_->file.write(impl_->ids);
    std::uint8_t footer[footer_bytes];
    std::memcpy(footer, footer_magic, 8);
    put<std::uint64_t>(footer + 8, XXH3_64bits_digest(impl_->filters_hash));
    put<std::uint64_t>(footer + 16, XXH3_64bits(impl_->ids.data(), impl_->ids.size()));
    put<std::uint64_t>(footer + 24, header.ids_offset + header.ids_size + footer_bytes);
    impl_->file.write(footer, footer_bytes);
    const auto encoded = encode_header(header, impl_->layout);
    impl_->file.write_at(0, encoded.data(), encoded.size());
    impl_->file.commit();
}

void write_encoded_file(const std::string& path, const FilterMatrix& filters) {
    EncodedFileWriter writer(path, filters.bits(), filters.info());
    writer.append(filters);
    writer.finish();
}

FilterMatrix load_encoded_file(const std::string& path) {
    auto file = std::make_shared<MappedFile>(path);
    FileReport report;
    Header header;
    if (!verify(*file, report, header)) throw FormatError("'" + path + "': " + report.problem);
    const std::uint8_t* base = file->data();
    FilterMatrix matrix = FilterMatrix::view(file, base + header.size, header.records, header.bits, header.stride);
    matrix.info() = header.info;
    auto& ids = matrix.ids();
    ids.reserve(header.records);
    const std::uint8_t* cursor = base + header.ids_offset;
    const std::uint8_t* end = cursor + header.ids_size;
    for (std::uint64_t i = 0; i < header.records; ++i) {
        if (end - cursor < 4) throw FormatError("'" + path + "': id section ends early");
        const std::uint32_t size = take<std::uint32_t>(cursor);
        cursor += 4;
        if (static_cast<std::uint64_t>(end - cursor) < size) throw FormatError("'" + path + "': id section ends early");
        ids.emplace_back(reinterpret_cast<const char*>(cursor), size);
        cursor += size;
    }
    if (cursor != end) throw FormatError("'" + path + "': id section has trailing bytes");
    matrix.compute_popcounts();
    return matrix;
}

FileReport inspect_encoded_file(const std::string& path) {
    MappedFile file(path);
    FileReport report;
    Header header;
    verify(file, report, header);
    return report;
}

void export_base64(const FilterMatrix& filters, ExportFormat format, const std::string& path) {
    AtomicFile file(path);
    const std::size_t bytes = filters.bytes();  // clkhash's serialisation: ceil(l / 8) bytes, zero-padded
    if (format == ExportFormat::csv) {
        file.write("record_id,clk\n");
        std::string line;
        for (std::size_t i = 0; i < filters.rows(); ++i) {
            line.clear();
            append_csv_field(line, filters.ids()[i]);
            line += ',';
            line += base64_encode(filters.row_bytes(i), bytes);
            line += '\n';
            file.write(line);
        }
    } else {
        file.write("{\"clks\": [");
        for (std::size_t i = 0; i < filters.rows(); ++i) {
            file.write(std::string(i ? ", \"" : "\"") + base64_encode(filters.row_bytes(i), bytes) + "\"");
        }
        file.write("]}\n");
    }
    file.commit();
}

FilterMatrix import_base64(const std::string& path, unsigned bits, const std::string& party) {
    check_party_label(party);
    if (bits == 0 || bits > max_filter_bits) throw UsageError("the filter length must be from 1 to 65536 bits");
    std::vector<std::string> ids, clks;
    // A regular file (never a device or a pipe), of any size: it holds one base64 string per filter.
    const std::string content = read_file(path, std::numeric_limits<std::size_t>::max(), {}, InputKind::regular_or_stream);
    std::size_t first = content.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (first != std::string::npos && content[first] == '{') {
        nlohmann::json document;
        try {
            document = nlohmann::json::parse(content);
        } catch (const nlohmann::json::parse_error& error) {
            throw ValidationError("'" + path + "': not valid JSON (at byte " + std::to_string(error.byte) + ")");
        } catch (const nlohmann::json::exception&) {
            throw ValidationError("'" + path + "': not valid JSON (a number out of range or a malformed string)");
        }
        if (!document.is_object() || !document.contains("clks") || !document["clks"].is_array())
            throw ValidationError("'" + path + "': /clks: expected an array of base64 strings");
        for (std::size_t i = 0; i < document["clks"].size(); ++i) {
            const auto& item = document["clks"][i];
            if (!item.is_string())
                throw ValidationError("'" + path + "': /clks/" + std::to_string(i) + ": expected a base64 string");
            clks.push_back(item.get<std::string>());
            ids.push_back(std::to_string(i));
        }
    } else {
        CsvReader reader(path, content);
        CsvRecord record;
        if (!reader.next(record)) throw ValidationError("'" + path + "' is empty");
        if (record.fields.size() != 2 || record.fields[0] != "record_id" || record.fields[1] != "clk")
            throw ValidationError("'" + path + "': expected the header record_id,clk");
        std::uint64_t row = 0;
        while (reader.next(record)) {
            ++row;
            if (!record.error.empty() || record.fields.size() != 2)
                throw ValidationError("'" + path + "' row " + std::to_string(row) + ": expected two fields");
            ids.push_back(record.fields[0]);
            clks.push_back(record.fields[1]);
        }
    }
    FilterMatrix matrix(clks.size(), bits);
    for (std::size_t i = 0; i < clks.size(); ++i) {
        std::string raw;
        try {
            raw = base64_decode(clks[i]);
        } catch (const ValidationError& error) {
            throw ValidationError("'" + path + "' record " + std::to_string(i + 1) + ": " + error.what());
        }
        if (raw.size() != FilterMatrix::bytes_for(bits))
            throw ValidationError("'" + path + "' record " + std::to_string(i + 1) + ": filter has " +
                                  std::to_string(raw.size()) + " bytes, expected " +
                                  std::to_string(FilterMatrix::bytes_for(bits)) + " for " + std::to_string(bits) +
                                  " bits");
        std::memcpy(matrix.mutable_row_words(i), raw.data(), raw.size());
        if (!padding_is_zero(reinterpret_cast<const std::uint8_t*>(matrix.row_words(i)), bits, matrix.stride_bytes()))
            throw ValidationError("'" + path + "' record " + std::to_string(i + 1) + ": bits set past bit " +
                                  std::to_string(bits) + " (the padding of a " + std::to_string(bits) +
                                  "-bit filter is zero)");
    }
    matrix.ids() = std::move(ids);
    matrix.info() = EncodingInfo::imported(party);
    matrix.compute_popcounts();
    return matrix;
}

}  // namespace pprl
