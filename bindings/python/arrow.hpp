// bindings/python/arrow.hpp — text columns read straight from Arrow memory (the Arrow C data
// interface, https://arrow.apache.org/docs/format/CDataInterface.html), so pprl.encode takes a
// pyarrow Table or a polars DataFrame without making a Python string per cell.
//
// A column arrives as the two PyCapsules of the Arrow PyCapsule interface (`__arrow_c_array__`):
// "arrow_schema" and "arrow_array". The capsules keep ownership (their destructors release the
// memory), so the Python objects must outlive the reader. Accepted layouts: utf8 (`u`), large utf8
// (`U`), utf8 view (`vu`), the binary twins (`z`, `Z`, `vz`: bytes that are not UTF-8 reject their
// row in the encoder) and dictionaries of any of them with integer indices. Every offset, view and
// index is checked against the sizes the array itself declares before a byte is read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pprl/encode.hpp"

namespace pprl::python {

// The C data interface's two structures (its stable ABI, as the specification defines them).
struct ArrowSchema {
    const char* format;
    const char* name;
    const char* metadata;
    std::int64_t flags;
    std::int64_t n_children;
    ArrowSchema** children;
    ArrowSchema* dictionary;
    void (*release)(ArrowSchema*);
    void* private_data;
};

struct ArrowArray {
    std::int64_t length;
    std::int64_t null_count;
    std::int64_t offset;
    std::int64_t n_buffers;
    std::int64_t n_children;
    const void** buffers;
    ArrowArray** children;
    ArrowArray* dictionary;
    void (*release)(ArrowArray*);
    void* private_data;
};

// One text column of an Arrow array. Throws FormatError, naming `column`, for a layout it does not
// read or offsets, views or indices that point outside the array.
class ArrowText {
public:
    ArrowText(const ArrowSchema& schema, const ArrowArray& array, const std::string& column);
    ArrowText(ArrowText&&) noexcept;
    ArrowText& operator=(ArrowText&&) noexcept;
    ~ArrowText();

    std::size_t size() const noexcept;
    // Row i's bytes into `out`; a null is "".
    void get(std::size_t i, std::string& out) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Columns of equal length as the rows of an encoder (values in column order).
class ArrowRows : public RowSource {
public:
    explicit ArrowRows(std::vector<ArrowText> columns);
    std::size_t rows() const override { return rows_; }
    void row(std::size_t i, std::vector<std::string>& values) const override;

private:
    std::vector<ArrowText> columns_;
    std::size_t rows_ = 0;
};

}  // namespace pprl::python
