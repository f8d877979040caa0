// runtime/calendar.hpp — the Gregorian rules every date in pprl is checked against (pprl's date
// fields, clkhash's strptime, synthetic birth dates).
#pragma once

namespace pprl {

constexpr bool is_leap_year(long year) noexcept { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// Days in `month` (1–12) of `year`.
constexpr int days_in_month(long year, int month) noexcept {
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

}  // namespace pprl
