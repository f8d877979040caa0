#include "arrow.hpp"

#include <cstring>
#include <limits>

#include "pprl/error.hpp"

namespace pprl::python {

namespace {

enum class Layout { offsets32, offsets64, view, dictionary };

bool format_is(const char* format, const char* expected) { return format != nullptr && std::strcmp(format, expected) == 0; }

// Dictionary indices: width in bytes and signedness, from the index type's format character.
bool index_type(const char* format, unsigned& width, bool& is_signed) {
    if (format == nullptr || format[0] == '\0' || format[1] != '\0') return false;
    switch (format[0]) {
        case 'c': width = 1; is_signed = true; return true;
        case 'C': width = 1; is_signed = false; return true;
        case 's': width = 2; is_signed = true; return true;
        case 'S': width = 2; is_signed = false; return true;
        case 'i': width = 4; is_signed = true; return true;
        case 'I': width = 4; is_signed = false; return true;
        case 'l': width = 8; is_signed = true; return true;
        case 'L': width = 8; is_signed = false; return true;
        default: return false;
    }
}

}  // namespace

struct ArrowText::Impl {
    Layout layout = Layout::offsets32;
    std::size_t length = 0, offset = 0;  // offset: the array's first slot in its buffers
    const std::uint8_t* validity = nullptr;
    const void* offsets = nullptr;  // offsets32 / offsets64
    const char* data = nullptr;
    const std::uint8_t* views = nullptr;  // view: 16 bytes per slot
    std::vector<const char*> variadic;    // view: the data buffers the views point into
    const void* indices = nullptr;        // dictionary
    unsigned index_width = 0;
    bool index_signed = false;
    std::unique_ptr<Impl> values;  // dictionary: the values
    std::string column;

    Impl(const ArrowSchema& schema, const ArrowArray& array, const std::string& name);

    [[noreturn]] void refuse(const std::string& why) const {
        throw FormatError("Arrow column \"" + column + "\": " + why);
    }
    bool valid(std::size_t slot) const {
        return validity == nullptr || ((validity[slot >> 3] >> (slot & 7)) & 1) != 0;
    }
    std::int64_t offset_at(std::size_t slot) const {
        return layout == Layout::offsets32 ? static_cast<const std::int32_t*>(offsets)[slot]
                                           : static_cast<const std::int64_t*>(offsets)[slot];
    }
    std::int64_t index_at(std::size_t slot) const {
        const auto* base = static_cast<const std::uint8_t*>(indices) + slot * index_width;
        switch (index_width) {
            case 1: return index_signed ? std::int64_t{static_cast<std::int8_t>(*base)} : std::int64_t{*base};
            case 2: { std::int16_t s; std::uint16_t u; std::memcpy(&s, base, 2); std::memcpy(&u, base, 2); return index_signed ? s : u; }
            case 4: { std::int32_t s; std::uint32_t u; std::memcpy(&s, base, 4); std::memcpy(&u, base, 4); return index_signed ? s : std::int64_t{u}; }
            default: {
                std::int64_t s;
                std::uint64_t u;
                std::memcpy(&s, base, 8);
                std::memcpy(&u, base, 8);
                if (index_signed) return s;
                return u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ? -1 : static_cast<std::int64_t>(u);
            }
        }
    }
    void check_offsets(const char* data_buffer);
    void check_views(const ArrowArray& array);
    void get(std::size_t i, std::string& out) const;
};

ArrowText::Impl::Impl(const ArrowSchema& schema, const ArrowArray& array, const std::string& name) : column(name) {
    if (array.length < 0 || array.offset < 0 || array.length > std::numeric_limits<std::int64_t>::max() - array.offset - 1)
        refuse("a negative or overflowing length or offset");
    length = static_cast<std::size_t>(array.length);
    offset = static_cast<std::size_t>(array.offset);
    if (array.n_buffers < 1 || array.buffers == nullptr) refuse("no buffers");
    validity = static_cast<const std::uint8_t*>(array.buffers[0]);
    const char* format = schema.format;
    if (schema.dictionary != nullptr) {
        if (!index_type(format, index_width, index_signed)) refuse("dictionary indices that are not integers");
        if (array.dictionary == nullptr) refuse("a dictionary type without dictionary values");
        if (array.n_buffers != 2) refuse("dictionary indices with " + std::to_string(array.n_buffers) + " buffers");
        layout = Layout::dictionary;
        indices = array.buffers[1];
        values = std::make_unique<Impl>(*schema.dictionary, *array.dictionary, name);
        if (values->layout == Layout::dictionary) refuse("a dictionary of dictionaries");
        if (length > 0 && indices == nullptr) refuse("no index buffer");
        for (std::size_t i = 0; i < length; ++i) {
            const std::size_t slot = offset + i;
            if (!valid(slot)) continue;
            const std::int64_t index = index_at(slot);
            if (index < 0 || static_cast<std::uint64_t>(index) >= values->length)
                refuse("dictionary index " + std::to_string(index) + " of row " + std::to_string(i + 1) +
                       " is outside its " + std::to_string(values->length) + " values");
        }
        return;
    }
    if (format_is(format, "u") || format_is(format, "z") || format_is(format, "U") || format_is(format, "Z")) {
        layout = (format[0] == 'u' || format[0] == 'z') ? Layout::offsets32 : Layout::offsets64;
        if (array.n_buffers != 3) refuse("a string array with " + std::to_string(array.n_buffers) + " buffers");
        offsets = array.buffers[1];
        data = static_cast<const char*>(array.buffers[2]);
        check_offsets(data);
        return;
    }
    if (format_is(format, "vu") || format_is(format, "vz")) {
        layout = Layout::view;
        check_views(array);
        return;
    }
    refuse(std::string("the Arrow type \"") + (format ? format : "") +
           "\" is not text (strings, large strings, string views, binary or a dictionary of them)");
}

void ArrowText::Impl::check_offsets(const char* data_buffer) {
    if (length == 0) return;
    if (offsets == nullptr) refuse("no offset buffer");
    std::int64_t previous = offset_at(offset);
    if (previous < 0) refuse("a negative offset");
    for (std::size_t i = 0; i < length; ++i) {
        const std::int64_t next = offset_at(offset + i + 1);
        if (next < previous) refuse("offsets that decrease at row " + std::to_string(i + 1));
        previous = next;
    }
    if (previous > offset_at(offset) && data_buffer == nullptr) refuse("no data buffer");
}

void ArrowText::Impl::check_views(const ArrowArray& array) {
    // Buffers: validity, the views, the variadic data buffers, then their sizes (int64 each).
    if (array.n_buffers < 3) refuse("a string view array with " + std::to_string(array.n_buffers) + " buffers");
    const std::size_t buffers = static_cast<std::size_t>(array.n_buffers) - 3;
    views = static_cast<const std::uint8_t*>(array.buffers[1]);
    const auto* sizes = static_cast<const std::int64_t*>(array.buffers[array.n_buffers - 1]);
    if (buffers > 0 && sizes == nullptr) refuse("no buffer sizes");
    for (std::size_t b = 0; b < buffers; ++b) variadic.push_back(static_cast<const char*>(array.buffers[2 + b]));
    if (length > 0 && views == nullptr) refuse("no view buffer");
    for (std::size_t i = 0; i < length; ++i) {
        const std::size_t slot = offset + i;
        if (!valid(slot)) continue;
        const std::uint8_t* view = views + slot * 16;
        std::int32_t size, buffer, start;
        std::memcpy(&size, view, 4);
        if (size < 0) refuse("a negative length at row " + std::to_string(i + 1));
        if (size <= 12) continue;  // inline
        std::memcpy(&buffer, view + 8, 4);
        std::memcpy(&start, view + 12, 4);
        if (buffer < 0 || static_cast<std::size_t>(buffer) >= buffers || start < 0 || variadic[buffer] == nullptr ||
            std::int64_t{start} + size > sizes[buffer])
            refuse("a view outside its data buffer at row " + std::to_string(i + 1));
    }
}

void ArrowText::Impl::get(std::size_t i, std::string& out) const {
    const std::size_t slot = offset + i;
    if (!valid(slot)) {
        out.clear();
        return;
    }
    switch (layout) {
        case Layout::offsets32:
        case Layout::offsets64: {
            const std::int64_t begin = offset_at(slot), end = offset_at(slot + 1);
            out.assign(data + begin, static_cast<std::size_t>(end - begin));
            return;
        }
        case Layout::view: {
            const std::uint8_t* view = views + slot * 16;
            std::int32_t size, buffer, start;
            std::memcpy(&size, view, 4);
            if (size <= 12) {
                out.assign(reinterpret_cast<const char*>(view + 4), static_cast<std::size_t>(size));
                return;
            }
            std::memcpy(&buffer, view + 8, 4);
            std::memcpy(&start, view + 12, 4);
            out.assign(variadic[static_cast<std::size_t>(buffer)] + start, static_cast<std::size_t>(size));
            return;
        }
        case Layout::dictionary:
            values->get(static_cast<std::size_t>(index_at(slot)), out);
            return;
    }
}

ArrowText::ArrowText(const ArrowSchema& schema, const ArrowArray& array, const std::string& column)
    : impl_(std::make_unique<Impl>(schema, array, column)) {}
ArrowText::ArrowText(ArrowText&&) noexcept = default;
ArrowText& ArrowText::operator=(ArrowText&&) noexcept = default;
ArrowText::~ArrowText() = default;
std::size_t ArrowText::size() const noexcept { return impl_->length; }
void ArrowText::get(std::size_t i, std::string& out) const { impl_->get(i, out); }

ArrowRows::ArrowRows(std::vector<ArrowText> columns) : columns_(std::move(columns)) {
    if (columns_.empty()) return;
    rows_ = columns_.front().size();
    for (const ArrowText& column : columns_)
        if (column.size() != rows_) throw UsageError("the Arrow columns have different lengths");
}

void ArrowRows::row(std::size_t i, std::vector<std::string>& values) const {
    for (std::size_t c = 0; c < columns_.size(); ++c) columns_[c].get(i, values[c]);
}

}  // namespace pprl::python
