#include "pprl/synth.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "format/csv.hpp"
#include "pprl/error.hpp"
#include "runtime/calendar.hpp"
#include "format/atomic_file.hpp"
#include "runtime/splitmix64.hpp"

namespace pprl {
namespace {

class Random {
public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() { return splitmix64(state_); }
    // Uniform in [0, n) by multiply-shift: the high 64 bits of next() · n (the bias is below 2^-40
    // for every n used here). Computed from 32-bit halves to stay within standard C++.
    std::size_t below(std::size_t n) {
        const std::uint64_t x = next(), y = n;
        const std::uint64_t x_lo = x & 0xFFFFFFFFu, x_hi = x >> 32, y_lo = y & 0xFFFFFFFFu, y_hi = y >> 32;
        const std::uint64_t lo_lo = x_lo * y_lo, hi_lo = x_hi * y_lo, lo_hi = x_lo * y_hi, hi_hi = x_hi * y_hi;
        const std::uint64_t middle = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + lo_hi;
        return static_cast<std::size_t>(hi_hi + (hi_lo >> 32) + (middle >> 32));
    }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    bool chance(double p) { return unit() < p; }

private:
    std::uint64_t state_;
};

struct Group {
    const char* name;
    double share;
    std::vector<const char*> female, male, surnames;
};

// Name lists per group, most frequent first; draws follow a Zipf-like skew (weight 1/(rank+1)^0.9).
const std::vector<Group>& groups() {
    static const std::vector<Group> all = {
        {"hispanic", 0.35,
         {"Sofía", "Isabella", "Camila", "Valentina", "Guadalupe", "Ximena", "María José", "Daniela", "Lucía", "Mariana",
          "Gabriela", "Natalia", "Andrea", "Paola", "Fernanda", "Jimena", "Renata", "Victoria", "Alejandra", "Itzel"},
         {"Santiago", "Mateo", "José", "Alejandro", "Diego", "Sebastián", "Miguel", "Ángel", "Juan Carlos", "Luis",
          "Francisco", "Carlos", "Emiliano", "Joaquín", "Adrián", "Rafael", "Jesús", "Gabriel", "Andrés", "Iker"},
         {"García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez", "Torres",
          "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Cruz", "Morales", "Ortiz", "Gutiérrez", "Chávez",
          "García López", "Hernández-Cruz", "De la Cruz", "Núñez", "Peña"}},
        {"black", 0.30,
         {"Aaliyah", "Imani", "Nia", "Zuri", "Jada", "Kiara", "Destiny", "Amara", "Aisha", "Jasmine", "Ebony", "Tiana",
          "Keisha", "Shaniqua", "Maya", "Ayana", "Precious", "Makayla", "Brianna", "Nevaeh"},
         {"Jayden", "DeShawn", "Jamal", "Malik", "Darnell", "Tyrone", "Jalen", "Terrell", "Kwame", "Marcus", "Andre",
          "Isaiah", "Elijah", "Xavier", "Darius", "Trevon", "Khalil", "Jermaine", "Demetrius", "Cedric"},
         {"Johnson", "Williams", "Brown", "Jackson", "Davis", "Harris", "Robinson", "Washington", "Thomas", "Jones",
          "Moore", "Taylor", "Coleman", "Jenkins", "Okafor", "Mensah", "Diallo", "Banks", "Freeman", "Wright",
          "Greene-Matthews", "St. Louis", "Jean-Baptiste", "McKenzie", "Toussaint"}},
        {"white", 0.25,
         {"Emma", "Olivia", "Ava", "Charlotte", "Amelia", "Abigail", "Elizabeth", "Madison", "Chloe", "Katherine",
          "Grace", "Hannah", "Zoë", "Lily", "Claire", "Molly", "Jennifer", "Victoria", "Mary Kate", "Siobhan"},
         {"Liam", "Noah", "William", "James", "Benjamin", "Henry", "Alexander", "Michael", "Daniel", "Matthew",
          "Jonathan", "Christopher", "Nicholas", "Samuel", "Joseph", "Zachary", "Robert", "Connor", "Patrick", "Seán"},
         {"Smith", "Miller", "Wilson", "Anderson", "Murphy", "Kowalski", "Nowak", "Schmidt", "O'Brien", "O'Neal",
          "McCarthy", "Sullivan", "Müller", "Olson", "Peterson", "Novak", "Lewis-Smith", "Fitzgerald", "D'Angelo",
          "Kelly", "Walsh", "Byrne", "Lindqvist", "Van der Berg", "Bauer"}},
        {"asian", 0.10,
         {"Mei", "Ananya", "Priya", "Linh", "Hana", "Yuna", "Sakura", "Aditi", "Jia", "Xin", "Min-ji", "Thu", "Anh",
          "Ji-woo", "Aiko", "Kavya", "Lan", "Riya", "Seo-yeon", "Hoa"},
         {"Ethan", "Aarav", "Minh", "Kenji", "Wei", "Jun", "Arjun", "Hiroshi", "Duc", "Hao", "Vivaan", "Tuan", "Ji-ho",
          "Rohan", "Sanjay", "Kai", "Bao", "Takumi", "Ravi", "Long"},
         {"Nguyen", "Chen", "Kim", "Patel", "Li", "Wang", "Tran", "Le", "Pham", "Park", "Lee", "Singh", "Zhang", "Liu",
          "Huang", "Wu", "Yang", "Shah", "Tanaka", "Sato", "Choi", "Vo", "Hoang", "Das", "Kumar"}},
    };
    return all;
}

const std::map<std::string, std::string>& nicknames() {
    static const std::map<std::string, std::string> all = {
        {"William", "Bill"},    {"Robert", "Bob"},      {"Elizabeth", "Liz"},  {"Jennifer", "Jen"},
        {"Michael", "Mike"},    {"Christopher", "Chris"}, {"Alexander", "Alex"}, {"Jonathan", "Jon"},
        {"Katherine", "Kate"},  {"Samuel", "Sam"},      {"Daniel", "Dan"},     {"Joseph", "Joe"},
        {"Benjamin", "Ben"},    {"Isabella", "Bella"},  {"Alejandro", "Alex"}, {"Francisco", "Paco"},
        {"José", "Pepe"},       {"Guadalupe", "Lupe"},  {"Matthew", "Matt"},   {"Nicholas", "Nick"},
        {"Victoria", "Vicky"},  {"Gabriel", "Gabe"},    {"Abigail", "Abby"},   {"Madison", "Maddie"},
        {"Zachary", "Zach"},    {"DeShawn", "Shawn"},   {"Jermaine", "Jay"},   {"Demetrius", "Meech"},
        {"Santiago", "Santi"},  {"Sebastián", "Sebas"}, {"Alejandra", "Ale"},  {"Gabriela", "Gaby"},
        {"Charlotte", "Charlie"}, {"Olivia", "Liv"},    {"Patrick", "Pat"},    {"Arjun", "AJ"},
        {"Hiroshi", "Hiro"},    {"Makayla", "Kayla"},   {"Brianna", "Bri"},    {"Malik", "Leek"}};
    return all;
}

const char* streets[] = {"Elm",      "Oak",      "Maple",    "Cedar",   "Pine",     "Lake",   "Hill",     "Madison",
                         "Halsted",  "Ashland",  "Lawrence", "Pulaski", "Cicero",   "Kedzie", "Western",  "Damen",
                         "King",     "Cottage Grove", "Stony Island", "Archer", "Ogden", "Division", "Chicago", "Fullerton",
                         "Belmont",  "Irving Park", "Montrose", "Foster", "Devon", "Touhy"};
const char* suffixes[] = {"St", "Ave", "Blvd", "Rd", "Dr", "Ct", "Pl"};
const char* directions[] = {"", "N ", "S ", "E ", "W "};

// Zipf-like weights 1/(rank+1)^0.9 and their running totals, computed once (the longest name list
// has 25 entries; the draws below used to evaluate pow() twice per entry per draw).
constexpr std::size_t max_list_size = 32;
struct ZipfTable {
    double weight[max_list_size];
    double total[max_list_size + 1];  // total[n]: sum of the first n weights, in rank order
    ZipfTable() {
        total[0] = 0;
        for (std::size_t i = 0; i < max_list_size; ++i) {
            weight[i] = 1.0 / std::pow(static_cast<double>(i + 1), 0.9);
            total[i + 1] = total[i] + weight[i];
        }
    }
};
const ZipfTable zipf;

template <class List>
std::size_t zipf_index(Random& random, const List& list) {
    // Inverse CDF by a linear scan: the lists are short.
    if (list.size() == 0 || list.size() > max_list_size) throw UsageError("synth name lists hold 1 to 32 names");
    double u = random.unit() * zipf.total[list.size()];
    for (std::size_t i = 0; i < list.size(); ++i) {
        u -= zipf.weight[i];
        if (u <= 0) return i;
    }
    return list.size() - 1;
}

// Young people are those born in the 18 years before the reference date.
constexpr int youth_window_years = 18;

struct Person {
    std::string first, last, dob, sex, address, zip, old_address, old_zip, person_id;
    std::size_t group;
};

std::string random_address(Random& random, std::string& zip) {
    zip = std::to_string(60601 + random.below(60));
    return std::to_string(1 + random.below(9899)) + " " + directions[random.below(5)] + streets[random.below(30)] + " " +
           suffixes[random.below(7)];
}

std::string date_text(int y, int m, int d) {
    char text[48];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d", y, m, d);
    return text;
}

// Code-point aware helpers for name edits (names may hold accented letters).
std::vector<std::string> code_points(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = 1;
        while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}
std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += p;
    return out;
}

const char* keyboard_neighbours(char c) {
    switch (std::tolower(static_cast<unsigned char>(c))) {
        case 'a': return "qwsz"; case 'b': return "vghn"; case 'c': return "xdfv"; case 'd': return "serfcx";
        case 'e': return "wsdr"; case 'f': return "drtgvc"; case 'g': return "ftyhbv"; case 'h': return "gyujnb";
        case 'i': return "ujko"; case 'j': return "huikmn"; case 'k': return "jiolm"; case 'l': return "kop";
        case 'm': return "njk"; case 'n': return "bhjm"; case 'o': return "iklp"; case 'p': return "ol";
        case 'q': return "wa"; case 'r': return "edft"; case 's': return "awedxz"; case 't': return "rfgy";
        case 'u': return "yhji"; case 'v': return "cfgb"; case 'w': return "qase"; case 'x': return "zsdc";
        case 'y': return "tghu"; case 'z': return "asx"; default: return "e";
    }
}

std::string typo(Random& random, const std::string& name) {
    auto cp = code_points(name);
    if (cp.size() < 2) return name + "e";
    const std::size_t at = random.below(cp.size());
    switch (random.below(4)) {
        case 0: cp.erase(cp.begin() + static_cast<std::ptrdiff_t>(at)); break;                      // deletion
        case 1: {                                                                                      // insertion
            const char* near = keyboard_neighbours(cp[at][0]);
            cp.insert(cp.begin() + static_cast<std::ptrdiff_t>(at), std::string(1, near[random.below(std::strlen(near))]));
            break;
        }
        case 2: {                                                                                      // substitution
            const char* near = keyboard_neighbours(cp[at][0]);
            cp[at] = std::string(1, near[random.below(std::strlen(near))]);
            break;
        }
        default:                                                                                       // transposition
            if (at + 1 < cp.size()) std::swap(cp[at], cp[at + 1]);
            else std::swap(cp[at], cp[at - 1]);
    }
    return join(cp);
}

std::string replace_first(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
}

std::string phonetic(Random& random, const std::string& name) {
    static const std::pair<const char*, const char*> rules[] = {
        {"ph", "f"}, {"ck", "k"}, {"y", "i"}, {"i", "y"}, {"ll", "l"}, {"nn", "n"}, {"tt", "t"}, {"mm", "m"},
        {"ie", "y"}, {"ei", "ie"}, {"c", "k"}, {"z", "s"}, {"s", "z"}, {"th", "t"}, {"ou", "u"}, {"ee", "ea"},
        {"a", "ah"}, {"en", "on"}, {"er", "ar"}, {"ck", "c"}};
    for (int attempt = 0; attempt < 6; ++attempt) {
        const auto& [from, to] = rules[random.below(std::size(rules))];
        const std::string changed = replace_first(name, from, to);
        if (changed != name) return changed;
    }
    return name + "h";
}

std::string ocr(Random& random, const std::string& name) {
    static const std::pair<const char*, const char*> rules[] = {
        {"o", "0"}, {"l", "1"}, {"rn", "m"}, {"m", "rn"}, {"e", "c"}, {"i", "l"}, {"S", "5"}, {"B", "8"}, {"cl", "d"}};
    for (int attempt = 0; attempt < 6; ++attempt) {
        const auto& [from, to] = rules[random.below(std::size(rules))];
        const std::string changed = replace_first(name, from, to);
        if (changed != name) return changed;
    }
    return typo(random, name);
}

std::string upper(const std::string& s) {
    std::string out = s;
    for (auto& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

}  // namespace

std::vector<SynthParty> default_synth_parties() {
    // Field order of ErrorProfile: coverage, typo, phonetic, ocr, nickname, name_swap, date_swap,
    // date_error, moved, missing, case_noise. City services: broad and moderately noisy; the school
    // system: near-complete and clean; the nonprofit: small, hand-entered and noisier.
    return {
        {"city", ErrorProfile{0.80, 0.05, 0.03, 0.01, 0.04, 0.01, 0.02, 0.02, 0.10, 0.03, 0.20}},
        {"schools", ErrorProfile{0.90, 0.03, 0.02, 0.0, 0.02, 0.005, 0.01, 0.01, 0.08, 0.01, 0.10}},
        {"promise", ErrorProfile{0.40, 0.08, 0.05, 0.03, 0.08, 0.02, 0.03, 0.03, 0.15, 0.06, 0.30}},
    };
}

std::vector<SynthParty> synth_parties(const std::vector<std::string>& names) {
    const auto defaults = default_synth_parties();
    std::vector<SynthParty> chosen;
    for (const auto& name : names) {
        auto it = std::find_if(defaults.begin(), defaults.end(), [&](const SynthParty& p) { return p.name == name; });
        if (it == defaults.end()) throw UsageError("unknown party '" + name + "' (known: city, schools, promise)");
        chosen.push_back(*it);
    }
    return chosen;
}

namespace {

// Households of 1-4 children sharing a surname and an address (and a previous address); twins share
// a date of birth.
// People are born in the `birth_years` years before Jan 1 of options.reference_year.
std::vector<Person> generate_people(const SynthOptions& options, Random& random, std::size_t count, int birth_years) {
    const auto& all_groups = groups();
    std::vector<Person> people;
    people.reserve(count);
    while (people.size() < count) {
        double u = random.unit();
        std::size_t group = 0;
        while (group + 1 < all_groups.size() && u > all_groups[group].share) u -= all_groups[group].share, ++group;
        const Group& g = all_groups[group];
        const std::string surname = g.surnames[zipf_index(random, g.surnames)];
        std::string zip, old_zip;
        const std::string address = random_address(random, zip);
        const std::string old_address = random_address(random, old_zip);
        const std::size_t children = 1 + random.below(4);
        int twin_year = 0, twin_month = 0, twin_day = 0;
        for (std::size_t c = 0; c < children && people.size() < count; ++c) {
            Person p;
            p.group = group;
            const bool female = random.chance(0.49);
            const bool other = random.chance(0.01);
            p.sex = other ? "X" : (female ? "F" : "M");
            p.first = female ? g.female[zipf_index(random, g.female)] : g.male[zipf_index(random, g.male)];
            p.last = surname;
            int year, month, day;
            if (twin_year != 0 && random.chance(0.5)) {  // the second of twins
                year = twin_year;
                month = twin_month;
                day = twin_day;
                twin_year = 0;
            } else {
                year = options.reference_year - 1 - static_cast<int>(random.below(static_cast<std::size_t>(birth_years)));
                month = 1 + static_cast<int>(random.below(12));
                day = 1 + static_cast<int>(random.below(static_cast<std::size_t>(days_in_month(year, month))));
                if (random.chance(0.03)) {
                    twin_year = year;
                    twin_month = month;
                    twin_day = day;
                }
            }
            p.dob = date_text(year, month, day);
            p.address = address;
            p.zip = zip;
            p.old_address = old_address;
            p.old_zip = old_zip;
            p.person_id = "P" + std::to_string(people.size() + 1);
            people.push_back(std::move(p));
        }
    }
    return people;
}

// Name errors: a nickname, then a typo, a phonetic spelling and an OCR confusion, each in the first
// or the last name, then first and last swapped.
void corrupt_names(SynthRecord& r, const ErrorProfile& e, Random& random, SynthOutput::Applied& applied) {
    if (random.chance(e.nickname)) {
        auto it = nicknames().find(r.first_name);
        if (it != nicknames().end()) {
            r.first_name = it->second;
            ++applied.nickname;
        }
    }
    auto pick_name = [&]() -> std::string& { return random.chance(0.5) ? r.first_name : r.last_name; };
    if (random.chance(e.typo)) {
        std::string& name = pick_name();
        name = typo(random, name);
        ++applied.typo;
    }
    if (random.chance(e.phonetic)) {
        std::string& name = pick_name();
        name = phonetic(random, name);
        ++applied.phonetic;
    }
    if (random.chance(e.ocr)) {
        std::string& name = pick_name();
        name = ocr(random, name);
        ++applied.ocr;
    }
    if (random.chance(e.name_swap)) {
        std::swap(r.first_name, r.last_name);
        ++applied.name_swap;
    }
}

// Date errors in a YYYY-MM-DD date: day and month swapped, or the year, day or month off by a little.
void corrupt_date(std::string& dob, const ErrorProfile& e, Random& random, SynthOutput::Applied& applied) {
    int year = std::stoi(dob.substr(0, 4)), month = std::stoi(dob.substr(5, 2)), day = std::stoi(dob.substr(8, 2));
    if (random.chance(e.date_swap) && day <= 12 && day != month) {
        std::swap(day, month);
        ++applied.date_swap;
    }
    if (random.chance(e.date_error)) {
        switch (random.below(3)) {
            case 0: year += random.chance(0.5) ? 1 : -1; break;
            case 1: day = std::max(1, std::min(28, day + static_cast<int>(random.below(7)) - 3)); break;
            default: month = month == 12 ? 11 : month + 1; day = std::min(day, 28); break;
        }
        ++applied.date_error;
    }
    day = std::min(day, days_in_month(year, month));
    dob = date_text(year, month, day);
}


// A party's record of a person, with the party's error profile applied.
SynthRecord observe(const Person& person, const ErrorProfile& e, Random& random, SynthOutput::Applied& applied) {
    SynthRecord r{"", person.first, person.last, person.dob, person.sex, person.address, person.zip};
    ++applied.records;
    corrupt_names(r, e, random, applied);
    corrupt_date(r.dob, e, random, applied);
    if (random.chance(e.moved)) {
        r.address = person.old_address;
        r.zip = person.old_zip;
        ++applied.moved;
    }
    for (std::string* field : {&r.address, &r.zip, &r.sex})
        if (random.chance(e.missing)) {
            field->clear();
            ++applied.missing;
        }
    if (random.chance(e.case_noise)) {
        r.first_name = upper(r.first_name);
        r.last_name = upper(r.last_name);
        r.address = upper(r.address);
        ++applied.upper_case;
    }
    return r;
}

}  // namespace

SynthOutput synthesize(const SynthOptions& options) {
    if (options.people == 0) throw UsageError("the number of people must be at least 1");
    const std::vector<SynthParty> parties = options.parties.empty() ? default_synth_parties() : options.parties;
    Random random(options.seed);
    const auto& all_groups = groups();
    const std::vector<Person> people = generate_people(options, random, options.people, youth_window_years);

    SynthOutput out;
    for (const auto& party : parties) {
        out.party_names.push_back(party.name);
        std::vector<SynthRecord> records;
        std::vector<std::string> ids, group_names;
        SynthOutput::Applied applied;
        for (const Person& person : people) {
            if (!random.chance(party.errors.coverage)) continue;
            records.push_back(observe(person, party.errors, random, applied));
            ids.push_back(person.person_id);
            group_names.push_back(all_groups[person.group].name);
        }
        // Record ids in a shuffled order, so that ids say nothing about people.
        std::vector<std::size_t> order(records.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
        std::vector<SynthRecord> shuffled;
        std::vector<std::string> shuffled_ids, shuffled_groups;
        for (std::size_t k = 0; k < order.size(); ++k) {
            SynthRecord r = records[order[k]];
            char id[32];
            std::snprintf(id, sizeof id, "%s-%07zu", party.name.c_str(), k + 1);
            r.record_id = id;
            shuffled.push_back(std::move(r));
            shuffled_ids.push_back(ids[order[k]]);
            shuffled_groups.push_back(group_names[order[k]]);
        }
        out.records.push_back(std::move(shuffled));
        out.person_ids.push_back(std::move(shuffled_ids));
        out.groups.push_back(std::move(shuffled_groups));
        out.applied.push_back(applied);
    }
    return out;
}

namespace {

// Between two years (the rates are per person, or per record, per year):
constexpr double leave_coverage = 0.10;  // a covered person leaves a party's coverage
constexpr double move_house = 0.08;      // a person moves (the old address becomes the previous one)
constexpr double change_surname = 0.003; // a surname changes (joined with another of the group's)
constexpr double update_address = 0.6;   // a party records a person's move, each year until it does
constexpr double update_surname = 0.8;   // a party records a surname change, each year until it does
constexpr double correct_record = 0.05;  // a party re-enters a record (its errors drawn afresh)
constexpr double reissue_id = 0.02;      // a party gives a record a new id

// One party's record of one person across the years.
struct Held {
    bool considered = false;  // the person was in the youth window in an earlier year
    bool covered = false;
    bool has_record = false;
    SynthRecord record;
    std::string seen_address, seen_last;  // the person's true address and surname when last recorded
};

}  // namespace

std::vector<SynthYear> synthesize_years(const SynthOptions& options, int years) {
    if (options.people == 0) throw UsageError("the number of people must be at least 1");
    if (years < 1 || years > 50) throw UsageError("--years must be from 1 to 50");
    const std::vector<SynthParty> parties = options.parties.empty() ? default_synth_parties() : options.parties;
    Random random(options.seed);
    const auto& all_groups = groups();
    // Births over the window of every year: about options.people in the window each year.
    const int birth_years = youth_window_years + years - 1;
    std::vector<Person> people = generate_people(
        options, random, options.people * static_cast<std::size_t>(birth_years) / youth_window_years, birth_years);
    std::vector<std::vector<Held>> held(parties.size(), std::vector<Held>(people.size()));
    std::vector<std::size_t> next_id(parties.size(), 1);
    std::vector<SynthYear> out;
    for (int y = 0; y < years; ++y) {
        const int reference = options.reference_year - (years - 1) + y;
        if (y > 0)
            for (Person& person : people) {
                if (random.chance(move_house)) {
                    person.old_address = person.address;
                    person.old_zip = person.zip;
                    person.address = random_address(random, person.zip);
                }
                if (random.chance(change_surname)) {
                    const Group& g = all_groups[person.group];
                    person.last = person.last + "-" + g.surnames[zipf_index(random, g.surnames)];
                }
            }
        SynthYear year;
        year.reference_year = reference;
        for (std::size_t p = 0; p < parties.size(); ++p) {
            const ErrorProfile& e = parties[p].errors;
            const double enter = std::min(1.0, leave_coverage * e.coverage / std::max(1e-9, 1.0 - e.coverage));
            std::vector<SynthRecord> records;
            std::vector<std::string> ids, group_names;
            std::vector<std::size_t> fresh;    // records that need an id this year
            std::vector<std::size_t> holder;   // per record, the person
            SynthOutput::Applied applied;
            for (std::size_t i = 0; i < people.size(); ++i) {
                const Person& person = people[i];
                const int born = std::stoi(person.dob.substr(0, 4));
                if (born < reference - youth_window_years || born > reference - 1) continue;
                Held& h = held[p][i];
                // Covered as the party's coverage the first time in the window; after that, leaving
                // and entering at rates that keep the share covered at its coverage.
                if (!h.considered) h.covered = random.chance(e.coverage);
                else if (h.covered) h.covered = !random.chance(leave_coverage);
                else h.covered = random.chance(enter);
                h.considered = true;
                if (!h.covered) continue;
                bool new_id = false;
                if (!h.has_record || random.chance(correct_record)) {
                    const std::string id = h.record.record_id;
                    h.record = observe(person, e, random, applied);
                    h.record.record_id = id;
                    h.seen_address = person.address;
                    h.seen_last = person.last;
                    new_id = !h.has_record;
                    h.has_record = true;
                } else {
                    if (h.seen_address != person.address && random.chance(update_address)) {
                        h.record.address = person.address;
                        h.record.zip = person.zip;
                        h.seen_address = person.address;
                    }
                    if (h.seen_last != person.last && random.chance(update_surname)) {
                        h.record.last_name = person.last;
                        h.seen_last = person.last;
                    }
                    if (random.chance(reissue_id)) new_id = true;
                }
                if (new_id) fresh.push_back(records.size());
                records.push_back(h.record);
                holder.push_back(i);
                ids.push_back(person.person_id);
                group_names.push_back(all_groups[person.group].name);
            }
            // New ids in a shuffled order, so that ids say nothing about people; records in a
            // shuffled order in the file too.
            for (std::size_t k = fresh.size(); k > 1; --k) std::swap(fresh[k - 1], fresh[random.below(k)]);
            for (std::size_t k : fresh) {
                char id[32];
                std::snprintf(id, sizeof id, "%s-%07zu", parties[p].name.c_str(), next_id[p]++);
                records[k].record_id = held[p][holder[k]].record.record_id = id;
            }
            std::vector<std::size_t> order(records.size());
            for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
            for (std::size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[random.below(k)]);
            year.output.party_names.push_back(parties[p].name);
            std::vector<SynthRecord> shuffled;
            std::vector<std::string> shuffled_ids, shuffled_groups;
            for (std::size_t k : order) {
                shuffled.push_back(records[k]);
                shuffled_ids.push_back(ids[k]);
                shuffled_groups.push_back(group_names[k]);
            }
            year.output.records.push_back(std::move(shuffled));
            year.output.person_ids.push_back(std::move(shuffled_ids));
            year.output.groups.push_back(std::move(shuffled_groups));
            year.output.applied.push_back(applied);
        }
        out.push_back(std::move(year));
    }
    return out;
}

void write_synth(const SynthOutput& output, const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw IoError("cannot create directory '" + dir + "'");
    AtomicFile truth(dir + "/truth.csv");
    truth.write("party,record_id,person_id,group\n");
    for (std::size_t p = 0; p < output.party_names.size(); ++p) {
        AtomicFile file(dir + "/" + output.party_names[p] + ".csv");
        file.write("record_id,first_name,last_name,dob,sex,address,zip\n");
        std::string line;
        for (std::size_t i = 0; i < output.records[p].size(); ++i) {
            const SynthRecord& r = output.records[p][i];
            line.clear();
            for (const std::string* field : {&r.record_id, &r.first_name, &r.last_name, &r.dob, &r.sex, &r.address}) {
                append_csv_field(line, *field);
                line += ',';
            }
            append_csv_field(line, r.zip);
            line += '\n';
            file.write(line);
            truth.write(output.party_names[p] + "," + r.record_id + "," + output.person_ids[p][i] + "," +
                        output.groups[p][i] + "\n");
        }
        file.commit();
    }
    truth.commit();
}

void write_synth_years(const std::vector<SynthYear>& years, const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw IoError("cannot create directory '" + dir + "'");
    for (const SynthYear& year : years) write_synth(year.output, dir + "/" + std::to_string(year.reference_year));
}

std::vector<std::vector<std::string>> perturb_rows(const std::vector<std::vector<std::string>>& rows,
                                                   const std::vector<PerturbKind>& kinds, const ErrorProfile& profile,
                                                   std::uint64_t seed) {
    Random random(seed);
    SynthOutput::Applied applied;
    std::vector<std::size_t> text_columns;
    for (std::size_t c = 0; c < kinds.size(); ++c)
        if (kinds[c] == PerturbKind::text) text_columns.push_back(c);
    std::vector<std::vector<std::string>> out = rows;
    for (auto& row : out) {
        if (row.size() != kinds.size()) throw UsageError("perturb_rows needs one kind per column");
        if (!text_columns.empty()) {
            auto pick = [&]() -> std::string& { return row[text_columns[random.below(text_columns.size())]]; };
            if (random.chance(profile.typo)) {
                std::string& value = pick();
                if (!value.empty()) value = typo(random, value);
            }
            if (random.chance(profile.phonetic)) {
                std::string& value = pick();
                if (!value.empty()) value = phonetic(random, value);
            }
            if (random.chance(profile.ocr)) {
                std::string& value = pick();
                if (!value.empty()) value = ocr(random, value);
            }
        }
        for (std::size_t c = 0; c < kinds.size(); ++c)
            if (kinds[c] == PerturbKind::date && is_iso_date(row[c])) corrupt_date(row[c], profile, random, applied);
        for (std::size_t c = 0; c < kinds.size(); ++c)
            if (kinds[c] != PerturbKind::keep && random.chance(profile.missing)) row[c].clear();
        if (random.chance(profile.case_noise))
            for (std::size_t c : text_columns) row[c] = upper(row[c]);
    }
    return out;
}

}  // namespace pprl
