// pprl._core — the pybind11 module behind the `pprl` Python package.
//
// Thin: converts Python values to library types and back, releases the GIL around every call that
// can take long (encode, load, match, link, synth, evaluate), and maps pprl::Error categories to the
// Python exception classes pprl.Error → UsageError, ValidationError, KeyMismatchError, FormatError,
// IoError, InternalError. Filters reach numpy without copying: Encodings.to_numpy() is a uint8 view of the
// FilterMatrix memory (64-byte aligned rows, stride possibly wider than the filter), kept alive by
// a capsule that holds a reference to the matrix's buffer.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "arrow.hpp"
#include "pprl/bloom.hpp"
#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/format.hpp"
#include "pprl/link.hpp"
#include "pprl/match.hpp"
#include "pprl/registry.hpp"
#include "pprl/schema.hpp"
#include "pprl/secret.hpp"
#include "pprl/simd.hpp"
#include "pprl/synth.hpp"
#include "pprl/tables.hpp"
#include "pprl/version.hpp"

namespace py = pybind11;
using namespace pprl;

namespace {

// Shared ownership so numpy views and Python objects can outlive each other safely.
struct Encodings {
    std::shared_ptr<FilterMatrix> matrix;
};

Threshold threshold_of(const py::object& value) {
    if (py::isinstance<py::str>(value)) return Threshold::parse(value.cast<std::string>());
    return Threshold::from_double(value.cast<double>());
}

unsigned threads_of(const py::object& value) { return value.is_none() ? 0u : value.cast<unsigned>(); }

struct BatchEncoder {
    std::unique_ptr<Encoder> encoder;
    Schema schema;
    std::vector<std::string> columns;
    std::string party;
    unsigned threads;  // 0: all cores
    std::vector<FilterMatrix> parts;
    RecordIdSet seen_ids;
    std::uint64_t next_row;
};

py::array_t<std::uint32_t> to_array(const std::vector<std::uint32_t>& values) {
    py::array_t<std::uint32_t> out(static_cast<py::ssize_t>(values.size()));
    if (!values.empty()) std::memcpy(out.mutable_data(), values.data(), values.size() * sizeof(std::uint32_t));
    return out;
}

MatchOptions match_options(const py::object& threshold, std::size_t top_k, const py::object& threads) {
    MatchOptions options;
    options.threshold = threshold_of(threshold);
    options.top_k = top_k;
    options.threads = threads_of(threads);
    return options;
}

// Candidates as numpy arrays: a, b (row indices), common, total (counts) and score.
py::dict candidates_dict(const Candidates& c) {
    py::dict out;
    out["a"] = to_array(c.a_index);
    out["b"] = to_array(c.b_index);
    out["common"] = to_array(c.common);
    out["total"] = to_array(c.total);
    py::array_t<double> scores(static_cast<py::ssize_t>(c.size()));
    for (std::size_t i = 0; i < c.size(); ++i) scores.mutable_at(i) = c.score(i);
    out["score"] = scores;
    return out;
}

// Strings as the two buffers of an Arrow large_string array, int64 offsets (n + 1) and the bytes,
// so that Python makes an Arrow column of them without a Python string per cell.
template <class Get>
py::tuple string_buffers(std::size_t n, Get get) {
    py::array_t<std::int64_t> offsets(static_cast<py::ssize_t>(n + 1));
    std::int64_t* offset = offsets.mutable_data();
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        offset[i] = static_cast<std::int64_t>(total);
        total += get(i).size();
    }
    offset[n] = static_cast<std::int64_t>(total);
    py::array_t<std::uint8_t> bytes(static_cast<py::ssize_t>(total));
    std::uint8_t* out = bytes.mutable_data();
    for (std::size_t i = 0; i < n; ++i) {
        const std::string& text = get(i);
        if (!text.empty()) std::memcpy(out + offset[i], text.data(), text.size());
    }
    return py::make_tuple(offsets, bytes);
}

// Filters copied from bytes in file order (row r's byte j at base + r·row_step + j·byte_step), with
// their ids and header information; ValidationError for a bit set in the padding.
Encodings filters_from_bytes(const std::uint8_t* base, std::size_t rows, unsigned bits, py::ssize_t row_step,
                             py::ssize_t byte_step, std::vector<std::string> ids, EncodingInfo info) {
    if (ids.size() != rows) throw UsageError("ids has " + std::to_string(ids.size()) + " entries for " + std::to_string(rows) + " filters");
    auto matrix = std::make_shared<FilterMatrix>(rows, bits);
    const std::size_t bytes = matrix->bytes();
    for (std::size_t i = 0; i < rows; ++i) {
        auto* row = reinterpret_cast<std::uint8_t*>(matrix->mutable_row_words(i));
        const std::uint8_t* from = base + static_cast<py::ssize_t>(i) * row_step;
        for (std::size_t j = 0; j < bytes; ++j) row[j] = from[static_cast<py::ssize_t>(j) * byte_step];
        if (!padding_is_zero(row, bits, matrix->stride_bytes()))
            throw ValidationError("row " + std::to_string(i) + " has bits set past bit " + std::to_string(bits));
    }
    matrix->ids() = std::move(ids);
    matrix->info() = std::move(info);
    matrix->compute_popcounts();
    return Encodings{matrix};
}

// The reverse of candidates_dict (its a, b, common and total arrays; score is not read).
Candidates candidates_of(const py::dict& arrays) {
    Candidates c;
    const auto column = [&](const char* name) {
        if (!arrays.contains(name)) throw UsageError(std::string("candidates need a '") + name + "' array");
        const auto array = py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>::ensure(arrays[name]);
        if (!array || array.ndim() != 1) throw UsageError(std::string("candidates' '") + name + "' must be a 1-d integer array");
        return std::vector<std::uint32_t>(array.data(), array.data() + array.size());
    };
    c.a_index = column("a");
    c.b_index = column("b");
    c.common = column("common");
    c.total = column("total");
    if (c.b_index.size() != c.a_index.size() || c.common.size() != c.a_index.size() || c.total.size() != c.a_index.size())
        throw UsageError("candidates' arrays differ in length");
    return c;
}

LinkOptions link_options(const py::object& threshold, const std::string& method, const std::string& blocking,
                         const py::object& threads, const std::string& model, const std::string& merge) {
    LinkOptions options;
    options.auto_threshold = py::isinstance<py::str>(threshold) && threshold.cast<std::string>() == "auto";
    if (!options.auto_threshold) options.threshold = threshold_of(threshold);
    if (model != "auto" && model != "record" && model != "fs") throw UsageError("model must be 'auto', 'record' or 'fs'");
    options.model = model == "fs" ? LinkModel::fellegi_sunter : model == "record" ? LinkModel::record : LinkModel::automatic;
    if (method != "greedy" && method != "optimal") throw UsageError("method must be 'greedy' or 'optimal'");
    options.method = method == "optimal" ? LinkMethod::optimal : LinkMethod::greedy;
    if (merge != "parties" && merge != "clique") throw UsageError("merge must be 'parties' or 'clique'");
    options.merge = merge == "clique" ? MergeRule::clique : MergeRule::disjoint_parties;
    options.set_blocking(blocking);
    options.threads = threads_of(threads);
    return options;
}

std::vector<const FilterMatrix*> matrices(const std::vector<Encodings>& parties) {
    std::vector<const FilterMatrix*> inputs;
    for (const auto& p : parties) inputs.push_back(p.matrix.get());
    return inputs;
}

// A link's entity table as (party, record_id, entity_id, warnings, threshold): lists of strings, or
// Arrow string buffers (string_buffers) when `arrow`.
py::tuple entity_columns(const std::vector<Encodings>& parties, const LinkResult& result, bool arrow) {
    const EntityTable& rows = result.entities;
    const auto party = [&](std::size_t i) -> const std::string& { return result.party_labels[rows.party[i]]; };
    const auto record = [&](std::size_t i) -> const std::string& { return parties[rows.party[i]].matrix->ids()[rows.record[i]]; };
    const auto entity = [&](std::size_t i) -> const std::string& { return rows.entity_id[i]; };
    if (arrow)
        return py::make_tuple(string_buffers(rows.size(), party), string_buffers(rows.size(), record),
                              string_buffers(rows.size(), entity), result.warnings, result.threshold);
    std::vector<std::string> parties_out, records_out, entities_out;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        parties_out.push_back(party(i));
        records_out.push_back(record(i));
        entities_out.push_back(entity(i));
    }
    return py::make_tuple(parties_out, records_out, entities_out, result.warnings, result.threshold);
}

// Python exception classes for the error categories: pprl.Error and one subclass per category.
void bind_errors(py::module_& m) {
    static py::exception<Error> error(m, "Error");
    static py::exception<UsageError> usage_error(m, "UsageError", error.ptr());
    static py::exception<ValidationError> validation_error(m, "ValidationError", error.ptr());
    static py::exception<KeyMismatchError> key_mismatch_error(m, "KeyMismatchError", error.ptr());
    static py::exception<FormatError> format_error(m, "FormatError", error.ptr());
    static py::exception<IoError> io_error(m, "IoError", error.ptr());
    static py::exception<InternalError> internal_error(m, "InternalError", error.ptr());
    py::register_exception_translator([](std::exception_ptr failure) {
        try {
            if (failure) std::rethrow_exception(failure);
        } catch (const Error& e) {
            switch (e.category()) {
                case ErrorCategory::usage: py::set_error(usage_error, e.what()); return;
                case ErrorCategory::validation: py::set_error(validation_error, e.what()); return;
                case ErrorCategory::key_mismatch: py::set_error(key_mismatch_error, e.what()); return;
                case ErrorCategory::format: py::set_error(format_error, e.what()); return;
                case ErrorCategory::io: py::set_error(io_error, e.what()); return;
                case ErrorCategory::internal: py::set_error(internal_error, e.what()); return;
            }
            py::set_error(error, e.what());
        }
    });

}

// Schema (either dialect) and SecretKey (no repr of key material, not picklable).
void bind_schema_and_key(py::module_& m) {
    py::class_<Schema>(m, "Schema")
        .def_static("from_file", &Schema::from_file, py::arg("path"))
        .def_static("from_json", [](const std::string& text) { return Schema::from_json(text, "schema"); }, py::arg("text"))
        .def_property_readonly("bits", &Schema::bits)
        .def_property_readonly("id_column", &Schema::id_column)
        .def_property_readonly("fingerprint", [](const Schema& s) { return pprl::hex(s.fingerprint().data(), 32); })
        .def_property_readonly("fields", [](const Schema& s) {
            std::vector<std::string> names;
            for (const auto& f : s.fields())
                if (!f.ignored) names.push_back(f.name);
            return names;
        })
        .def_property_readonly("dialect", [](const Schema& s) {
            return std::string(s.dialect() == SchemaDialect::clkhash ? "clkhash" : "pprl");
        })
        .def_property_readonly("notes", &Schema::notes)
        .def("__repr__", [](const Schema& s) {
            return std::string(s.dialect() == SchemaDialect::clkhash ? "<pprl.Schema (clkhash) " : "<pprl.Schema ") +
                   std::to_string(s.bits()) + " bits, " + std::to_string(s.fields().size()) +
                   " fields, fingerprint " + pprl::hex(s.fingerprint().data(), 8) + "…>";
        });

    py::class_<SecretKey, std::shared_ptr<SecretKey>>(m, "SecretKey")
        .def_static("from_file", [](const std::string& path, const std::string& encoding) {
                        if (encoding != "hex" && encoding != "raw") throw UsageError("encoding must be \"hex\" or \"raw\"");
                        std::string warning;
                        auto key = std::make_shared<SecretKey>(SecretKey::from_file(
                            path, encoding == "raw" ? SecretKey::FileEncoding::raw : SecretKey::FileEncoding::hex,
                            &warning));
                        if (!warning.empty())
                            py::module_::import("warnings").attr("warn")(warning, py::module_::import("builtins").attr("UserWarning"), 2);
                        return key;
                    },
                    py::arg("path"), py::arg("encoding") = "hex",
                    "Read a key file: \"hex\" as written by `pprl keygen`, or \"raw\" for a clkhash text secret "
                    "(the file's bytes less one trailing newline; a UserWarning when whitespace still ends it).")
        .def_static("generate", []() { return std::make_shared<SecretKey>(SecretKey::generate(32)); })
        .def("write", [](const SecretKey& k, const std::string& path) { k.write_hex_file(path); }, py::arg("path"),
             "Write the key as hex to a new file with mode 0600.")
        .def("__repr__", [](const SecretKey& k) { return "<pprl.SecretKey " + std::to_string(k.size() * 8) + " bits (hidden)>"; })
        .def("__str__", [](const SecretKey&) { return std::string("<pprl.SecretKey (hidden)>"); })
        .def("__reduce__", [](const SecretKey&) -> py::object {
            throw UsageError("a SecretKey cannot be pickled; read it from its key file where it is needed");
        });

}

// Encodings: filters with ids and header, a zero-copy numpy view, files in and out.
void bind_encodings(py::module_& m) {
    py::class_<Encodings>(m, "Encodings")
        .def("__len__", [](const Encodings& e) { return e.matrix->rows(); })
        .def_property_readonly("bits", [](const Encodings& e) { return e.matrix->bits(); })
        .def_property_readonly("ids", [](const Encodings& e) { return e.matrix->ids(); })
        .def_property_readonly("party", [](const Encodings& e) { return e.matrix->info().party; })
        .def_property_readonly("popcounts", [](const Encodings& e) { return to_array(e.matrix->popcounts()); })
        .def_property_readonly("layout", [](const Encodings& e) {
            // The segments of a field-segmented layout (empty for a record-level filter).
            py::list segments;
            for (const Segment& segment : e.matrix->info().layout)
                segments.append(py::dict(py::arg("name") = segment.name, py::arg("first_bit") = segment.first_bit,
                                         py::arg("bits") = segment.bits));
            return segments;
        })
        .def_property_readonly("schema_fingerprint", [](const Encodings& e) -> py::object {
            if (!e.matrix->info().schema_known) return py::none();
            return py::str(pprl::hex(e.matrix->info().schema_fingerprint.data(), 32));
        })
        .def("to_numpy", [](const Encodings& e) {
            // A view: shape (n, ceil(bits/8)), rows `stride` bytes apart; the capsule keeps the buffer alive.
            auto* keep = new std::shared_ptr<FilterMatrix>(e.matrix);
            py::capsule owner(keep, [](void* p) { delete static_cast<std::shared_ptr<FilterMatrix>*>(p); });
            const FilterMatrix& f = *e.matrix;
            py::array_t<std::uint8_t> view({static_cast<py::ssize_t>(f.rows()), static_cast<py::ssize_t>(f.bytes())},
                                           {static_cast<py::ssize_t>(f.stride_bytes()), static_cast<py::ssize_t>(1)},
                                           f.data(), owner);
            py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
            return view;
        })
        .def("save", [](const Encodings& e, const std::string& path) {
            py::gil_scoped_release release;
            write_encoded_file(path, *e.matrix);
        }, py::arg("path"))
        .def_static("from_numpy", [](py::array array, std::vector<std::string> ids, const std::string& party,
                                     std::optional<unsigned> requested_bits) {
            if (array.dtype().kind() != 'u' || array.itemsize() != 1)
                throw UsageError("from_numpy needs a uint8 array (got dtype " + std::string(py::str(array.dtype())) + ")");
            if (array.ndim() != 2) throw UsageError("from_numpy needs a 2-d array of shape (n, ceil(bits/8))");
            const auto rows = static_cast<std::size_t>(array.shape(0)), bytes = static_cast<std::size_t>(array.shape(1));
            if (bytes == 0 || bytes > max_filter_bits / 8) throw UsageError("the filter length must be 1 to 8192 bytes");
            const unsigned bits = requested_bits.value_or(static_cast<unsigned>(bytes * 8));
            if (FilterMatrix::bytes_for(bits) != bytes)
                throw UsageError(std::to_string(bits) + "-bit filters take " + std::to_string(FilterMatrix::bytes_for(bits)) +
                                 " bytes, the array has " + std::to_string(bytes));
            check_party_label(party);
            return filters_from_bytes(static_cast<const std::uint8_t*>(array.data()), rows, bits, array.strides(0),
                                      array.strides(1), std::move(ids), EncodingInfo::imported(party));
        }, py::arg("array"), py::arg("ids"), py::arg("party") = "", py::arg("bits") = py::none(),
           "Filters from a uint8 array of shape (n, ceil(bits/8)) in file bit order; bits defaults to 8 per byte.")
        // Pickled whole (filters, ids, party, schema and key checks, layout), so Dask can scatter
        // Encodings to its workers.
        .def(py::pickle(
            [](const Encodings& e) {
                const FilterMatrix& f = *e.matrix;
                std::string filters(f.rows() * f.bytes(), '\0');
                for (std::size_t i = 0; i < f.rows(); ++i) std::memcpy(&filters[i * f.bytes()], f.row_bytes(i), f.bytes());
                const EncodingInfo& info = f.info();
                py::list layout;
                for (const Segment& segment : info.layout) layout.append(py::make_tuple(segment.name, segment.first_bit, segment.bits));
                return py::make_tuple(1, f.bits(), f.rows(), py::bytes(filters), f.ids(), info.party, info.schema_known,
                                      py::bytes(reinterpret_cast<const char*>(info.schema_fingerprint.data()), info.schema_fingerprint.size()),
                                      info.key_known, py::bytes(reinterpret_cast<const char*>(info.key_check.data()), info.key_check.size()),
                                      layout);
            },
            [](const py::tuple& state) {
                if (state.size() != 11 || state[0].cast<int>() != 1) throw FormatError("not a pickled pprl.Encodings of this version");
                const auto bits = state[1].cast<unsigned>();
                const auto rows = state[2].cast<std::size_t>();
                const std::string filters = state[3].cast<std::string>();
                if (bits == 0 || bits > max_filter_bits || filters.size() / FilterMatrix::bytes_for(bits) != rows ||
                    filters.size() % FilterMatrix::bytes_for(bits) != 0)
                    throw FormatError("a pickled pprl.Encodings has filters of the wrong size");
                EncodingInfo info = EncodingInfo::imported(state[5].cast<std::string>());
                check_party_label(info.party);
                info.schema_known = state[6].cast<bool>();
                info.key_known = state[8].cast<bool>();
                const std::string fingerprint = state[7].cast<std::string>(), key_check = state[9].cast<std::string>();
                if (fingerprint.size() != info.schema_fingerprint.size() || key_check.size() != info.key_check.size())
                    throw FormatError("a pickled pprl.Encodings has checks of the wrong size");
                std::memcpy(info.schema_fingerprint.data(), fingerprint.data(), fingerprint.size());
                std::memcpy(info.key_check.data(), key_check.data(), key_check.size());
                for (const py::handle segment : state[10].cast<py::list>()) {
                    const auto fields = segment.cast<py::tuple>();
                    info.layout.push_back(Segment{fields[0].cast<std::string>(), fields[1].cast<unsigned>(), fields[2].cast<unsigned>()});
                    if (std::size_t{info.layout.back().first_bit} + info.layout.back().bits > bits)
                        throw FormatError("a pickled pprl.Encodings has a segment past the filter's end");
                }
                const auto bytes = static_cast<py::ssize_t>(FilterMatrix::bytes_for(bits));
                return filters_from_bytes(reinterpret_cast<const std::uint8_t*>(filters.data()), rows, bits, bytes, 1,
                                          state[4].cast<std::vector<std::string>>(), std::move(info));
            }))
        .def("__repr__", [](const Encodings& e) {
            return "<pprl.Encodings party='" + e.matrix->info().party + "', " + std::to_string(e.matrix->rows()) +
                   " filters of " + std::to_string(e.matrix->bits()) + " bits>";
        });

    m.def("load", [](const std::string& path) {
        py::gil_scoped_release release;
        return Encodings{std::make_shared<FilterMatrix>(load_encoded_file(path))};
    }, py::arg("path"));

    // Batch by batch encoding (so Python can show progress): rows as lists of strings in the bound
    // columns' order; ids must be unique across all batches; finish() joins the batches.
}

// The batch encoder behind pprl.encode.
void bind_encoder(py::module_& m) {
    py::class_<BatchEncoder>(m, "BatchEncoder")
        .def(py::init([](const Schema& schema_in, const SecretKey& secret, const std::vector<std::string>& columns,
                         const std::string& id_column, const std::string& party, const py::object& threads) {
                 check_party_label(party);  // before any work, not at save
                 Schema schema = schema_in;
                 if (!id_column.empty()) schema.set_id_column(id_column);
                 auto encoder = std::make_unique<Encoder>(schema, secret);
                 encoder->bind_columns(columns);
                 return BatchEncoder{std::move(encoder), schema, columns, party, threads_of(threads), {}, {}, 0};
             }),
             py::arg("schema"), py::arg("secret"), py::arg("columns"), py::arg("id_column"), py::arg("party"),
             py::arg("threads"))
        .def("add", [](BatchEncoder& self, const py::sequence& batch) {
            // Cells are converted here rather than by pybind11, whose error for a cell that is not
            // UTF-8 (a lone surrogate) would quote the whole batch: such a row is rejected by number.
            std::vector<std::tuple<std::uint64_t, std::string, std::string>> rejected;
            std::vector<std::vector<std::string>> rows;
            std::vector<std::uint64_t> numbers;
            rows.reserve(batch.size());
            for (std::size_t i = 0; i < batch.size(); ++i) {
                const std::uint64_t number = self.next_row + i + 1;
                const py::sequence cells = batch[i];
                std::vector<std::string> row(cells.size());
                bool valid = true;
                for (std::size_t c = 0; c < cells.size() && valid; ++c) {
                    const py::object cell = cells[c];
                    Py_ssize_t size = 0;
                    const char* text = PyUnicode_Check(cell.ptr()) ? PyUnicode_AsUTF8AndSize(cell.ptr(), &size) : nullptr;
                    if (text == nullptr) {
                        PyErr_Clear();
                        rejected.emplace_back(number, c < self.columns.size() ? self.columns[c] : "",
                                              "not valid UTF-8 text (a lone surrogate or a non-string cell)");
                        valid = false;
                        continue;
                    }
                    row[c].assign(text, static_cast<std::size_t>(size));
                }
                if (!valid) continue;
                rows.push_back(std::move(row));
                numbers.push_back(number);
            }
            EncodeSummary summary;
            {
                py::gil_scoped_release release;
                FilterMatrix part = self.encoder->encode_batch(rows, numbers, {}, self.threads, self.seen_ids, summary);
                if (part.rows() > 0) self.parts.push_back(std::move(part));
            }
            self.next_row += batch.size();
            for (const auto& r : summary.rejections) rejected.emplace_back(r.row, r.field, r.reason);
            std::sort(rejected.begin(), rejected.end(),
                      [](const auto& x, const auto& y) { return std::get<0>(x) < std::get<0>(y); });
            return rejected;
        }, py::arg("rows"))
        .def("add_arrow", [](BatchEncoder& self, const py::list& batches, const py::object& progress) {
            // Batches of rows, each one (schema, array) capsule pair per bound column
            // (__arrow_c_array__), read in C++ by the encoding threads: no Python string per cell.
            std::vector<python::ArrowRows> sources;
            for (const py::handle batch_handle : batches) {
                const py::list columns = py::reinterpret_borrow<py::list>(batch_handle);
                if (columns.size() != self.columns.size())
                    throw UsageError("expected " + std::to_string(self.columns.size()) + " Arrow columns, got " +
                                     std::to_string(columns.size()));
                std::vector<python::ArrowText> texts;
                for (std::size_t c = 0; c < columns.size(); ++c) {
                    const py::tuple pair = columns[c];
                    auto* schema = static_cast<python::ArrowSchema*>(PyCapsule_GetPointer(pair[0].ptr(), "arrow_schema"));
                    auto* array = static_cast<python::ArrowArray*>(PyCapsule_GetPointer(pair[1].ptr(), "arrow_array"));
                    if (schema == nullptr || array == nullptr) throw py::error_already_set();
                    texts.emplace_back(*schema, *array, self.columns[c]);
                }
                sources.emplace_back(std::move(texts));
            }
            std::vector<const RowSource*> pointers;
            std::uint64_t rows = 0;
            for (const auto& source : sources) {
                pointers.push_back(&source);
                rows += source.rows();
            }
            std::function<void(std::uint64_t)> report;
            if (!progress.is_none())
                report = [&progress](std::uint64_t done) {
                    py::gil_scoped_acquire hold;
                    progress(done);
                };
            EncodeSummary summary;
            {
                py::gil_scoped_release release;
                FilterMatrix part =
                    self.encoder->encode_batches(pointers, self.next_row + 1, self.threads, self.seen_ids, summary, report);
                if (part.rows() > 0) self.parts.push_back(std::move(part));
            }
            self.next_row += rows;
            std::vector<std::tuple<std::uint64_t, std::string, std::string>> rejected;
            for (const auto& r : summary.rejections) rejected.emplace_back(r.row, r.field, r.reason);
            return rejected;
        }, py::arg("batches"), py::arg("progress") = py::none())
        .def("finish", [](BatchEncoder& self) {
            py::gil_scoped_release release;
            // One part (all of an Arrow table, say) is moved, not copied.
            auto matrix = std::make_shared<FilterMatrix>(self.parts.empty()       ? FilterMatrix(0, self.schema.bits())
                                                         : self.parts.size() == 1 ? std::move(self.parts.front())
                                                                                  : concatenate(self.parts));
            if (matrix->popcounts().size() != matrix->rows()) matrix->compute_popcounts();
            self.parts.clear();
            matrix->info() = encoding_info(self.schema, self.encoder->key_check(), self.party);
            return Encodings{matrix};
        });

}

// Matching and linking, the GIL released around the work.
void bind_hub(py::module_& m) {
    m.def("match_arrays", [](const Encodings& a, const Encodings& b, const py::object& threshold, std::size_t top_k,
                             const py::object& threads) {
        const MatchOptions options = match_options(threshold, top_k, threads);
        Candidates c;
        std::string warning;
        {
            py::gil_scoped_release release;
            warning = check_comparable(*a.matrix, *b.matrix);
            c = match(*a.matrix, *b.matrix, options);
        }
        const py::dict arrays = candidates_dict(c);
        return py::make_tuple(arrays["a"], arrays["b"], arrays["score"], warning);
    }, py::arg("a"), py::arg("b"), py::arg("threshold"), py::arg("top_k") = 0, py::arg("threads") = py::none());

    m.def("link_tables", [](const std::vector<Encodings>& parties, const py::object& threshold, const std::string& method,
                            const std::string& blocking, const py::object& threads, const std::string& model,
                            const std::string& merge, bool arrow) -> py::tuple {
        const LinkOptions options = link_options(threshold, method, blocking, threads, model, merge);
        const std::vector<const FilterMatrix*> inputs = matrices(parties);
        LinkResult result;
        {
            py::gil_scoped_release release;
            result = link(inputs, options);
        }
        return entity_columns(parties, result, arrow);
    }, py::arg("parties"), py::arg("threshold") = "auto", py::arg("method") = "greedy", py::arg("blocking") = "none",
       py::arg("threads") = py::none(), py::arg("model") = "auto", py::arg("merge") = "parties",
       py::arg("arrow") = false);

    // link_tables from candidates scored elsewhere (pprl.dask): one dict of match_tile's arrays per
    // party pair (pprl/link.hpp link_scored).
    m.def("link_scored_tables", [](const std::vector<Encodings>& parties, const std::vector<py::dict>& scored,
                                   const py::object& threshold, const std::string& method, const std::string& merge,
                                   bool arrow) -> py::tuple {
        const LinkOptions options = link_options(threshold, method, "none", py::none(), "record", merge);
        const std::vector<const FilterMatrix*> inputs = matrices(parties);
        std::vector<Candidates> blocks;
        for (const py::dict& block : scored) blocks.push_back(candidates_of(block));
        LinkResult result;
        {
            py::gil_scoped_release release;
            result = link_scored(inputs, blocks, options);
        }
        return entity_columns(parties, result, arrow);
    }, py::arg("parties"), py::arg("scored"), py::arg("threshold"), py::arg("method") = "greedy",
       py::arg("merge") = "parties", py::arg("arrow") = false);

    // The parties' labels as a link names them; UsageError for two alike.
    m.def("party_labels", [](const std::vector<Encodings>& parties) { return party_labels(matrices(parties)); },
          py::arg("parties"));

    // KeyMismatchError unless two encodings may be compared; a warning text for base64 imports.
    m.def("check_comparable", [](const Encodings& a, const Encodings& b) { return check_comparable(*a.matrix, *b.matrix); },
          py::arg("a"), py::arg("b"));

    // One tile of a × b (pprl/match.hpp match_tile): global indices, counts and scores as numpy arrays.
    m.def("match_tile", [](const Encodings& a, std::size_t a_first, std::size_t a_last, const Encodings& b,
                           std::size_t b_first, std::size_t b_last, const py::object& threshold, std::size_t top_k,
                           const py::object& threads) {
        const MatchOptions options = match_options(threshold, top_k, threads);
        Candidates c;
        {
            py::gil_scoped_release release;
            check_comparable(*a.matrix, *b.matrix);
            c = match_tile(*a.matrix, a_first, a_last, *b.matrix, b_first, b_last, options);
        }
        return candidates_dict(c);
    }, py::arg("a"), py::arg("a_first"), py::arg("a_last"), py::arg("b"), py::arg("b_first"), py::arg("b_last"),
       py::arg("threshold"), py::arg("top_k") = 0, py::arg("threads") = py::none());

    // Tiles' results (dicts as match_tile returns) as one, in match()'s order, top_k per A row again.
    m.def("gather_tiles", [](const std::vector<py::dict>& tiles, std::size_t top_k) {
        std::vector<Candidates> parts;
        for (const py::dict& tile : tiles) parts.push_back(candidates_of(tile));
        Candidates c;
        {
            py::gil_scoped_release release;
            c = gather_tiles(parts, top_k);
        }
        return candidates_dict(c);
    }, py::arg("tiles"), py::arg("top_k") = 0);

    // The CLI's tables (pprl/tables.hpp), written through a temporary file renamed when whole: pairs
    // a_id,b_id,score from candidates' arrays, and entities party,record_id,entity_id.
    m.def("write_pairs", [](const std::string& path, const Encodings& a, const Encodings& b, const py::dict& arrays) {
        const Candidates c = candidates_of(arrays);
        py::gil_scoped_release release;
        const auto& a_ids = a.matrix->ids();
        const auto& b_ids = b.matrix->ids();
        PairsWriter file(path, PairColumns::ids);
        for (std::size_t k = 0; k < c.size(); ++k) {
            if (c.a_index[k] >= a_ids.size() || c.b_index[k] >= b_ids.size()) throw UsageError("a pair's index is past the last record");
            file.add({}, a_ids[c.a_index[k]], {}, b_ids[c.b_index[k]], c.score(k), false);
        }
        file.commit();
    }, py::arg("path"), py::arg("a"), py::arg("b"), py::arg("pairs"));

    m.def("write_entities", [](const std::string& path, const std::vector<std::string>& party,
                               const std::vector<std::string>& record_id, const std::vector<std::string>& entity_id) {
        if (record_id.size() != party.size() || entity_id.size() != party.size()) throw UsageError("the columns differ in length");
        py::gil_scoped_release release;
        EntitiesWriter file(path);
        for (std::size_t k = 0; k < party.size(); ++k) file.add(party[k], record_id[k], entity_id[k]);
        file.commit();
    }, py::arg("path"), py::arg("party"), py::arg("record_id"), py::arg("entity_id"));

    // Record ids of `encodings` at `rows`, as Arrow large_string buffers (string_buffers).
    m.def("gather_ids", [](const Encodings& encodings, const py::array_t<std::uint32_t, py::array::c_style>& rows) {
        const auto& ids = encodings.matrix->ids();
        const std::uint32_t* row = rows.data();
        const std::size_t n = static_cast<std::size_t>(rows.size());
        for (std::size_t i = 0; i < n; ++i)
            if (row[i] >= ids.size()) throw UsageError("row " + std::to_string(row[i]) + " is past the last record");
        return string_buffers(n, [&](std::size_t i) -> const std::string& { return ids[row[i]]; });
    }, py::arg("encodings"), py::arg("rows"));

}

// The hub registry. One SQLite connection per object, used by one call at a time (the GIL is
// released during calls, so a mutex keeps two Python threads from sharing the connection at once).
struct PyRegistry {
    std::unique_ptr<Registry> registry;
    std::mutex busy;
};

// Runs call(registry) with the GIL released and the connection held.
template <class Call>
auto with_registry(PyRegistry& self, Call call) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(self.busy);
    return call(*self.registry);
}

void bind_registry(py::module_& m) {
    py::class_<PyRegistry>(m, "Registry")
        .def(py::init([](const std::string& path, bool create, bool read_only) {
                 auto out = std::make_unique<PyRegistry>();
                 py::gil_scoped_release release;
                 if (create) Registry::create(path);
                 out->registry = std::make_unique<Registry>(path, !read_only);
                 return out;
             }),
             py::arg("path"), py::arg("create") = false, py::arg("read_only") = false)
        .def("ingest", [](PyRegistry& self, const std::string& file, const std::string& party, const std::string& as_of,
                          const std::string& label) {
            const RegistryIngest done = with_registry(self, [&](Registry& r) { return r.ingest(file, party, as_of, label); });
            py::dict out;
            out["extract"] = done.extract;
            out["already_ingested"] = done.already_ingested;
            out["records"] = done.records;
            out["new"] = done.new_records;
            out["updated"] = done.updated;
            out["unchanged"] = done.unchanged;
            out["refused_erased"] = done.refused_erased;
            return out;
        }, py::arg("file"), py::arg("party"), py::arg("as_of"), py::arg("label") = "")
        .def("link", [](PyRegistry& self, const py::object& threshold, const std::string& method, const std::string& merge,
                        const std::string& blocking, const py::object& threads) {
            RegistryLinkOptions options;
            options.threshold = threshold_of(threshold);
            if (method != "greedy" && method != "optimal") throw UsageError("method must be 'greedy' or 'optimal'");
            options.method = method == "optimal" ? LinkMethod::optimal : LinkMethod::greedy;
            if (merge != "parties" && merge != "clique") throw UsageError("merge must be 'parties' or 'clique'");
            options.merge = merge == "clique" ? MergeRule::clique : MergeRule::disjoint_parties;
            LinkOptions parsed;
            parsed.set_blocking(blocking);
            options.blocking = parsed.blocking;
            options.lsh = parsed.lsh;
            options.threads = threads_of(threads);
            const RegistryLink done = with_registry(self, [&](Registry& r) { return r.link(options); });
            py::dict out;
            out["link"] = done.link;
            out["as_of"] = done.as_of;
            out["records"] = done.records;
            out["entities"] = done.entities;
            out["scored_records"] = done.scored_records;
            out["comparisons"] = done.comparisons;
            out["kept_pairs"] = done.kept_pairs;
            out["rescored_all"] = done.rescored_all;
            out["links"] = done.links;
            out["new_entities"] = done.new_entities;
            out["kept_ids"] = done.kept_ids;
            out["merged"] = done.merged;
            out["split"] = done.split;
            out["moved_records"] = done.moved_records;
            return out;
        }, py::arg("threshold"), py::arg("method") = "greedy", py::arg("merge") = "parties", py::arg("blocking") = "none",
           py::arg("threads") = py::none())
        .def("entities", [](PyRegistry& self, const std::string& as_of) {
            const std::vector<RegistryEntityRow> rows = with_registry(self, [&](Registry& r) { return r.entities(as_of); });
            std::vector<std::string> party, record, entity, last_seen;
            for (const RegistryEntityRow& row : rows) {
                party.push_back(row.party);
                record.push_back(row.record_id);
                entity.push_back(row.entity_id);
                last_seen.push_back(row.last_seen);
            }
            return py::make_tuple(party, record, entity, last_seen);
        }, py::arg("as_of") = "")
        .def("events", [](PyRegistry& self, const std::string& since) {
            const std::vector<RegistryEvent> events = with_registry(self, [&](Registry& r) { return r.events(since); });
            py::list out;
            for (const RegistryEvent& e : events)
                out.append(py::make_tuple(e.id, e.kind, e.as_of, e.recorded_at, e.entity, e.other, e.party, e.record_id, e.detail));
            return out;
        }, py::arg("since") = "")
        .def("verify", [](PyRegistry& self) {
            const RegistryVerification report = with_registry(self, [](Registry& r) { return r.verify(); });
            py::dict out;
            out["records"] = report.records;
            out["entities"] = report.entities;
            out["filters"] = report.filters;
            out["problems"] = report.problems;
            return out;
        })
        .def("backup", [](PyRegistry& self, const std::string& path) {
            with_registry(self, [&](Registry& r) { r.backup(path); });
        }, py::arg("path"))
        .def("forget", [](PyRegistry& self, const std::string& party, const std::string& record_id) {
            with_registry(self, [&](Registry& r) { r.forget(party, record_id); });
        }, py::arg("party"), py::arg("record_id"));
}

// Synthetic data and evaluation.
void bind_quality(py::module_& m) {
    m.def("synth_tables", [](std::size_t people, std::uint64_t seed, const std::vector<std::string>& parties) {
        SynthOptions options;
        options.people = people;
        options.seed = seed;
        options.parties = synth_parties(parties);
        SynthOutput out;
        {
            py::gil_scoped_release release;
            out = synthesize(options);
        }
        py::dict result;
        py::dict truth;
        std::vector<std::string> t_party, t_record, t_person, t_group;
        for (std::size_t p = 0; p < out.party_names.size(); ++p) {
            std::vector<std::string> cols[7];
            for (std::size_t i = 0; i < out.records[p].size(); ++i) {
                const SynthRecord& r = out.records[p][i];
                const std::string* values[] = {&r.record_id, &r.first_name, &r.last_name, &r.dob, &r.sex, &r.address, &r.zip};
                for (int c = 0; c < 7; ++c) cols[c].push_back(*values[c]);
                t_party.push_back(out.party_names[p]);
                t_record.push_back(r.record_id);
                t_person.push_back(out.person_ids[p][i]);
                t_group.push_back(out.groups[p][i]);
            }
            py::dict table;
            const char* names[] = {"record_id", "first_name", "last_name", "dob", "sex", "address", "zip"};
            for (int c = 0; c < 7; ++c) table[names[c]] = cols[c];
            result[py::str(out.party_names[p])] = table;
        }
        truth["party"] = t_party;
        truth["record_id"] = t_record;
        truth["person_id"] = t_person;
        truth["group"] = t_group;
        result["truth"] = truth;
        return result;
    }, py::arg("people"), py::arg("seed"), py::arg("parties"));

    m.def("evaluate_tables", [](const std::vector<std::string>& t_party, const std::vector<std::string>& t_record,
                                const std::vector<std::string>& t_person, const std::vector<std::string>& t_group,
                                const std::vector<std::string>& e_party, const std::vector<std::string>& e_record,
                                const std::vector<std::string>& e_entity) {
        const std::size_t truth_rows = t_party.size(), entity_rows = e_party.size();
        if (t_record.size() != truth_rows || t_person.size() != truth_rows ||
            (!t_group.empty() && t_group.size() != truth_rows))
            throw UsageError("the truth's columns have different lengths");
        if (e_record.size() != entity_rows || e_entity.size() != entity_rows)
            throw UsageError("the entities' columns have different lengths");
        Truth truth;
        for (std::size_t i = 0; i < t_party.size(); ++i)
            truth.add(t_party[i], t_record[i], t_person[i], i < t_group.size() ? t_group[i] : "");
        std::vector<EntityRow> rows;
        for (std::size_t i = 0; i < e_party.size(); ++i) rows.push_back({e_party[i], e_record[i], e_entity[i]});
        Quality q;
        {
            py::gil_scoped_release release;
            q = evaluate_entities(truth, rows);
        }
        auto confusion = [](const Confusion& c) {
            py::dict d;
            d["true_positives"] = c.true_positives;
            d["false_positives"] = c.false_positives;
            d["false_negatives"] = c.false_negatives;
            d["precision"] = c.precision();
            d["recall"] = c.recall();
            d["f1"] = c.f1();
            return d;
        };
        py::dict out = confusion(q.overall);
        py::list groups;
        for (const auto& g : q.groups) {
            py::dict d = confusion(g.confusion);
            d["group"] = g.group;
            groups.append(d);
        }
        out["groups"] = groups;
        out["largest_gap_group"] = q.largest_gap_group;
        out["largest_gap"] = q.largest_gap;
        return out;
    });

}

// The kernels chosen for this CPU, and switching the matcher's (tests).
void bind_capabilities(py::module_& m) {
    m.def("capabilities", []() {
        py::dict d;
        d["backends"] = simd::available_backends();
        d["compiled_backends"] = simd::compiled_backends();
        d["active_backend"] = simd::active_backend();
        d["keystream"] = simd::active_implementation("aes");
        py::dict families;
        for (const simd::FamilyReport& family : simd::capabilities()) {
            py::dict f;
            f["active"] = family.active;
            f["available"] = family.available;
            f["compiled"] = family.compiled;
            families[py::str(family.family)] = f;
        }
        d["families"] = families;
        d["version"] = pprl::version;
        return d;
    });
    m.def("set_backend", &simd::set_backend, py::arg("name"), "Force a SIMD backend for this process (tests).");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "pprl: privacy-preserving record linkage with keyed Bloom filters (C++ core)";
    m.attr("__version__") = pprl::version;

    bind_errors(m);
    bind_schema_and_key(m);
    bind_encodings(m);
    bind_encoder(m);
    bind_hub(m);
    bind_registry(m);
    bind_quality(m);
    bind_capabilities(m);
}
