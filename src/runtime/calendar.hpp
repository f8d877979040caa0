// runtime/calendar.hpp — the Gregorian rules every date in pprl is checked against (pprl's date
// fields, clkhash's strptime, synthetic birth dates).
#pragma once

#include <cstddef>
#include <string>

namespace pprl {

constexpr bool is_leap_year(long year) noexcept { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// Days in `month` (1–12) of `year`.
constexpr int days_in_month(long year, int month) noexcept {
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

// A date written YYYY-MM-DD (four, two and two digits) naming a real day of a year from 1 on.
inline bool is_iso_date(const std::string& s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
        if (s[i] < '0' || s[i] > '9') return false;
    const long year = std::stol(s.substr(0, 4));
    const int month = std::stoi(s.substr(5, 2)), day = std::stoi(s.substr(8, 2));
    return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

}  // namespace pprl
