// agency/json_reader.hpp — strict reading of JSON objects for schema parsers (pprl and clkhash).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pprl/error.hpp"

namespace pprl::detail {

using nlohmann::json;

// Walks one JSON object, remembers its pointer for messages and rejects keys it was not asked about.
// A JSON integer as int64: false for a non-integer and for an unsigned value above INT64_MAX, which
// a plain get<std::int64_t>() would wrap (2^64 - 1 reading as -1).
inline bool json_integer(const nlohmann::json& value, std::int64_t& out) {
    if (value.is_number_unsigned()) {
        const std::uint64_t unsigned_value = value.get<std::uint64_t>();
        if (unsigned_value > static_cast<std::uint64_t>(INT64_MAX)) return false;
        out = static_cast<std::int64_t>(unsigned_value);
        return true;
    }
    if (!value.is_number_integer()) return false;
    out = value.get<std::int64_t>();
    return true;
}

// Parses a document; any malformation (syntax, a number out of range such as 1e400, invalid
// UTF-8) is a ValidationError naming `origin` and the byte offset where known.
inline nlohmann::json parse_json_document(const std::string& text, const std::string& origin) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& error) {
        throw ValidationError(origin + ": not valid JSON (at byte " + std::to_string(error.byte) + ")");
    } catch (const nlohmann::json::exception&) {
        throw ValidationError(origin + ": not valid JSON (a number out of range or a malformed string)");
    }
}

class ObjectReader {
public:
    ObjectReader(const json& node, std::string pointer, const std::string& origin)
        : node_(node), pointer_(std::move(pointer)), origin_(origin) {
        if (!node_.is_object()) fail("", "an object");
    }

    [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
        throw ValidationError(origin_ + ": " + at(key) + ": expected " + expected);
    }
    std::string at(const std::string& key) const {
        std::string p = key.empty() ? pointer_ : pointer_ + "/" + key;
        return p.empty() ? "/" : p;
    }
    bool has(const std::string& key) {
        seen_.insert(key);
        return node_.contains(key);
    }
    const json& get(const std::string& key) {
        seen_.insert(key);
        return node_.at(key);
    }
    std::string string_or(const std::string& key, const std::string& fallback) {
        if (!has(key)) return fallback;
        const json& value = get(key);
        if (!value.is_string()) fail(key, "a string");
        return value.get<std::string>();
    }
    bool bool_or(const std::string& key, bool fallback) {
        if (!has(key)) return fallback;
        const json& value = get(key);
        if (!value.is_boolean()) fail(key, "true or false");
        return value.get<bool>();
    }
    std::int64_t int_in(const std::string& key, std::int64_t fallback, std::int64_t low, std::int64_t high) {
        if (!has(key)) return fallback;
        std::int64_t number = 0;
        if (!json_integer(get(key), number) || number < low || number > high)
            fail(key, "an integer from " + std::to_string(low) + " to " + std::to_string(high));
        return number;
    }
    template <class Enum>
    Enum choice(const std::string& key, Enum fallback, const std::vector<std::pair<std::string, Enum>>& options) {
        if (!has(key)) return fallback;
        const json& value = get(key);
        std::string names;
        for (const auto& [name, option] : options) {
            if (value.is_string() && value.get<std::string>() == name) return option;
            names += (names.empty() ? "" : ", ") + ("\"" + name + "\"");
        }
        fail(key, "one of " + names);
    }
    std::vector<std::string> strings(const std::string& key, bool allow_empty) {
        const json& value = get(key);
        if (!value.is_array() || (!allow_empty && value.empty())) fail(key, "a non-empty array of strings");
        std::vector<std::string> out;
        for (const json& item : value) {
            if (!item.is_string()) fail(key, "an array of strings");
            out.push_back(item.get<std::string>());
        }
        return out;
    }
    // Throws for the first key nobody asked about: "<origin>: <pointer>: <what>".
    void finish(const std::string& what = "unknown key") const {
        for (auto it = node_.begin(); it != node_.end(); ++it)
            if (!seen_.count(it.key())) throw ValidationError(origin_ + ": " + at(it.key()) + ": " + what);
    }
    // The JSON pointers of the keys nobody asked about, in the document's key order.
    std::vector<std::string> unread() const {
        std::vector<std::string> keys;
        for (auto it = node_.begin(); it != node_.end(); ++it)
            if (!seen_.count(it.key())) keys.push_back(at(it.key()));
        return keys;
    }
    const std::string& pointer() const { return pointer_; }
    const std::string& origin() const { return origin_; }

private:
    const json& node_;
    std::string pointer_;
    const std::string& origin_;
    std::set<std::string> seen_;
};

// The name of `value` in a table of (name, value) pairs, as ObjectReader::choice reads them.
template <class Enum>
std::string name_of(const std::vector<std::pair<std::string, Enum>>& table, Enum value) {
    for (const auto& [name, option] : table)
        if (option == value) return name;
    return "?";
}

}  // namespace pprl::detail
