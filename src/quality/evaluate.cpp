#include "pprl/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <set>

#include "format/csv.hpp"
#include "pprl/error.hpp"

namespace pprl {
namespace {

std::string key(const std::string& party, const std::string& record) {
    std::string k = party;
    k.push_back('\0');
    k += record;
    return k;
}

std::uint64_t cross_pairs(const std::map<std::string, std::uint64_t>& per_party) {
    std::uint64_t total = 0, sum = 0;
    for (const auto& [party, count] : per_party) {
        total += sum * count;
        sum += count;
    }
    return total;
}

struct Member {
    const std::string* party;
    const std::string* person;  // nullptr if unknown
    const std::string* group;
};

// Adds the pairs among `members` (one cluster of predicted matches) to the confusion counts.
void count_cluster(const std::vector<Member>& members, Confusion& overall, std::map<std::string, Confusion>& groups) {
    for (std::size_t i = 0; i < members.size(); ++i)
        for (std::size_t j = i + 1; j < members.size(); ++j) {
            const Member& x = members[i];
            const Member& y = members[j];
            if (*x.party == *y.party || x.person == nullptr || y.person == nullptr) continue;
            if (*x.person == *y.person) {
                ++overall.true_positives;
                ++groups[*x.group].true_positives;
            } else {
                ++overall.false_positives;
                ++groups[*x.group].false_positives;
                if (*y.group != *x.group) ++groups[*y.group].false_positives;
            }
        }
}

Quality finish(const Truth& truth, Confusion overall, std::map<std::string, Confusion> groups) {
    Quality q;
    const std::uint64_t all_true = truth.true_pairs();
    overall.false_negatives = all_true - std::min(all_true, overall.true_positives);
    q.overall = overall;
    std::map<std::string, std::uint64_t> true_by_group;
    for (const auto& [person, per_party] : truth.people())
        true_by_group[truth.person_groups().at(person)] += cross_pairs(per_party);
    for (const auto& [group, count] : true_by_group) groups[group];  // groups with no predictions
    for (auto& [group, confusion] : groups) {
        const std::uint64_t t = true_by_group[group];
        confusion.false_negatives = t - std::min(t, confusion.true_positives);
        q.groups.push_back({group, confusion});
    }
    if (q.groups.size() == 1 && q.groups[0].group.empty()) q.groups.clear();
    for (const auto& g : q.groups) {
        const double gap = std::fabs(g.confusion.f1() - overall.f1());
        if (gap > q.largest_gap || q.largest_gap_group.empty()) {
            q.largest_gap = gap;
            q.largest_gap_group = g.group;
        }
    }
    return q;
}

double normal_density(double x, double mean, double sd) {
    const double z = (x - mean) / sd;
    return std::exp(-0.5 * z * z) / (sd * 2.5066282746310002);
}

}  // namespace

double Confusion::precision() const noexcept {
    const std::uint64_t predicted = true_positives + false_positives;
    return predicted == 0 ? 1.0 : static_cast<double>(true_positives) / static_cast<double>(predicted);
}
double Confusion::recall() const noexcept {
    const std::uint64_t actual = true_positives + false_negatives;
    return actual == 0 ? 1.0 : static_cast<double>(true_positives) / static_cast<double>(actual);
}
double Confusion::f1() const noexcept {
    const double p = precision(), r = recall();
    return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
}

void Truth::add(const std::string& party, const std::string& record_id, const std::string& person,
                const std::string& group) {
    if (!records_.emplace(key(party, record_id), Entry{person, group}).second)
        throw ValidationError("truth lists record '" + record_id + "' of party '" + party + "' twice");
    people_[person][party] += 1;
    person_group_.emplace(person, group);
}

Truth Truth::from_file(const std::string& path) {
    CsvReader reader(path);
    CsvRecord record;
    if (!reader.next(record)) throw ValidationError("'" + path + "' is empty");
    const auto at = csv_columns(record.fields, {"party", "record_id", "person_id", "group"}, 3, path);
    Truth truth;
    std::uint64_t row = 0;
    while (reader.next(record)) {
        check_csv_row(record, at, "'" + path + "' row " + std::to_string(++row));
        truth.add(record.fields[at[0]], record.fields[at[1]], record.fields[at[2]], at[3] >= 0 ? record.fields[at[3]] : "");
    }
    return truth;
}

const std::string* Truth::person(const std::string& party, const std::string& record_id) const {
    auto it = records_.find(key(party, record_id));
    return it == records_.end() ? nullptr : &it->second.person;
}

const std::string* Truth::group(const std::string& party, const std::string& record_id) const {
    auto it = records_.find(key(party, record_id));
    return it == records_.end() ? nullptr : &it->second.group;
}

std::uint64_t Truth::true_pairs(const std::vector<std::string>& parties) const {
    std::uint64_t total = 0;
    for (const auto& [person, per_party] : people_) {
        if (parties.empty()) {
            total += cross_pairs(per_party);
            continue;
        }
        std::map<std::string, std::uint64_t> kept;
        for (const auto& [party, count] : per_party)
            if (std::find(parties.begin(), parties.end(), party) != parties.end()) kept[party] = count;
        total += cross_pairs(kept);
    }
    return total;
}

Quality evaluate_entities(const Truth& truth, const std::vector<EntityRow>& entities) {
    std::map<std::string, std::vector<Member>> clusters;
    std::uint64_t unknown = 0;
    for (const auto& row : entities) {
        const std::string* person = truth.person(row.party, row.record_id);
        if (person == nullptr) ++unknown;
        clusters[row.entity_id].push_back({&row.party, person, truth.group(row.party, row.record_id)});
    }
    Confusion overall;
    std::map<std::string, Confusion> groups;
    for (const auto& [id, members] : clusters) count_cluster(members, overall, groups);
    Quality q = finish(truth, overall, groups);
    q.unknown_records = unknown;
    return q;
}

Quality evaluate_pairs(const Truth& truth, const std::vector<PairRow>& pairs, double threshold) {
    Confusion overall;
    std::map<std::string, Confusion> groups;
    for (const auto& p : pairs) {
        if (p.score < threshold) continue;
        const std::string* x = truth.person(p.party_a, p.a_id);
        const std::string* y = truth.person(p.party_b, p.b_id);
        count_cluster({{&p.party_a, x, truth.group(p.party_a, p.a_id)}, {&p.party_b, y, truth.group(p.party_b, p.b_id)}},
                      overall, groups);
    }
    return finish(truth, overall, groups);
}

std::vector<SweepPoint> threshold_sweep(const Truth& truth, const std::vector<PairRow>& pairs,
                                        const std::vector<double>& thresholds) {
    std::vector<std::pair<double, bool>> scored;
    for (const auto& p : pairs) {
        const std::string* x = truth.person(p.party_a, p.a_id);
        const std::string* y = truth.person(p.party_b, p.b_id);
        if (x == nullptr || y == nullptr || p.party_a == p.party_b) continue;
        scored.push_back({p.score, *x == *y});
    }
    std::sort(scored.begin(), scored.end(), [](const auto& l, const auto& r) { return l.first > r.first; });
    const std::uint64_t all_true = truth.true_pairs();
    std::vector<SweepPoint> out;
    for (double t : thresholds) {
        Confusion c;
        for (const auto& [score, match] : scored) {
            if (score < t) break;
            if (match) ++c.true_positives;
            else ++c.false_positives;
        }
        c.false_negatives = all_true - std::min(all_true, c.true_positives);
        out.push_back({t, c});
    }
    return out;
}

Histogram score_histogram(const Truth& truth, const std::vector<PairRow>& pairs, double low, std::size_t bins) {
    Histogram h;
    h.low = low;
    h.matches.assign(bins, 0);
    h.non_matches.assign(bins, 0);
    for (const auto& p : pairs) {
        if (p.score < low) continue;
        const std::string* x = truth.person(p.party_a, p.a_id);
        const std::string* y = truth.person(p.party_b, p.b_id);
        if (x == nullptr || y == nullptr) continue;
        std::size_t bin = static_cast<std::size_t>((p.score - low) / (h.high - low) * static_cast<double>(bins));
        bin = std::min(bin, bins - 1);
        (*x == *y ? h.matches : h.non_matches)[bin] += 1;
    }
    return h;
}

double pairs_completeness(const Truth& truth, const std::vector<std::string>& labels,
                          const std::vector<const std::vector<std::string>*>& ids,
                          const std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>>& proposed) {
    std::uint64_t found = 0;
    std::size_t k = 0;
    for (std::size_t p = 0; p < labels.size(); ++p)
        for (std::size_t q = p + 1; q < labels.size(); ++q, ++k) {
            if (k >= proposed.size()) break;
            for (const auto& [i, j] : proposed[k]) {
                const std::string* x = truth.person(labels[p], (*ids[p])[i]);
                const std::string* y = truth.person(labels[q], (*ids[q])[j]);
                found += x != nullptr && y != nullptr && *x == *y;
            }
        }
    const std::uint64_t all = truth.true_pairs(labels);
    return all == 0 ? 1.0 : static_cast<double>(found) / static_cast<double>(all);
}

MixtureEstimate fit_mixture(const std::vector<double>& scores, int max_iterations) {
    MixtureEstimate m;
    if (scores.size() < 4) throw ValidationError("too few scores to fit a mixture (need at least 4)");
    std::vector<double> sorted = scores;
    std::sort(sorted.begin(), sorted.end());
    const double n = static_cast<double>(scores.size());
    double mean = std::accumulate(scores.begin(), scores.end(), 0.0) / n, var = 0;
    for (double s : scores) var += (s - mean) * (s - mean);
    const double spread = std::max(std::sqrt(var / n), 1e-3);
    // Start: matches at the 90th percentile, non-matches at the 10th.
    double w = 0.5, mu1 = sorted[static_cast<std::size_t>(0.9 * (n - 1))], mu0 = sorted[static_cast<std::size_t>(0.1 * (n - 1))];
    double sd1 = spread / 2, sd0 = spread / 2;
    const double floor_sd = 1e-3;  // keeps a component from collapsing onto one repeated score
    std::vector<double> r(scores.size());
    double previous = -INFINITY;
    for (m.iterations = 0; m.iterations < max_iterations; ++m.iterations) {
        double log_likelihood = 0;
        for (std::size_t i = 0; i < scores.size(); ++i) {
            const double a = w * normal_density(scores[i], mu1, sd1), b = (1 - w) * normal_density(scores[i], mu0, sd0);
            r[i] = a + b > 0 ? a / (a + b) : (scores[i] > (mu0 + mu1) / 2 ? 1.0 : 0.0);
            log_likelihood += std::log(std::max(a + b, 1e-300));
        }
        const double r_sum = std::accumulate(r.begin(), r.end(), 0.0);
        if (r_sum <= 0 || r_sum >= n) break;
        w = r_sum / n;
        mu1 = mu0 = 0;
        for (std::size_t i = 0; i < scores.size(); ++i) {
            mu1 += r[i] * scores[i];
            mu0 += (1 - r[i]) * scores[i];
        }
        mu1 /= r_sum;
        mu0 /= n - r_sum;
        double v1 = 0, v0 = 0;
        for (std::size_t i = 0; i < scores.size(); ++i) {
            v1 += r[i] * (scores[i] - mu1) * (scores[i] - mu1);
            v0 += (1 - r[i]) * (scores[i] - mu0) * (scores[i] - mu0);
        }
        sd1 = std::max(std::sqrt(v1 / r_sum), floor_sd);
        sd0 = std::max(std::sqrt(v0 / (n - r_sum)), floor_sd);
        if (std::fabs(log_likelihood - previous) < 1e-9 * std::fabs(log_likelihood)) break;
        previous = log_likelihood;
    }
    if (mu1 < mu0) {  // name the higher-scoring component "match"
        std::swap(mu1, mu0);
        std::swap(sd1, sd0);
        w = 1 - w;
        for (auto& x : r) x = 1 - x;
    }
    m.match_weight = w;
    m.match_mean = mu1;
    m.match_sd = sd1;
    m.non_match_mean = mu0;
    m.non_match_sd = sd0;
    // The posterior crosses 1/2 between the means; scan finely from the match mean downwards.
    m.threshold = mu0;
    for (double s = mu1; s >= mu0; s -= 1e-4) {
        if (w * normal_density(s, mu1, sd1) < (1 - w) * normal_density(s, mu0, sd0)) {
            m.threshold = s + 1e-4;
            break;
        }
    }
    double above = 0, above_matches = 0, all_matches = 0;
    for (std::size_t i = 0; i < scores.size(); ++i) {
        const double a = w * normal_density(scores[i], mu1, sd1), b = (1 - w) * normal_density(scores[i], mu0, sd0);
        const double posterior = a + b > 0 ? a / (a + b) : 0.0;
        all_matches += posterior;
        if (scores[i] >= m.threshold) {
            above += 1;
            above_matches += posterior;
        }
    }
    m.expected_precision = above > 0 ? above_matches / above : 1.0;
    m.expected_recall = all_matches > 0 ? above_matches / all_matches : 1.0;
    return m;
}

IdStability id_stability(const Truth& before_truth, const std::vector<EntityRow>& before, const Truth& after_truth,
                         const std::vector<EntityRow>& after) {
    using Record = std::pair<std::string, std::string>;
    // Each export: record → entity, and entity → its sorted members.
    struct Export {
        std::map<Record, std::string> entity;
        std::unordered_map<std::string, std::vector<Record>> members;
    };
    const auto index = [](const std::vector<EntityRow>& rows) {
        Export out;
        for (const EntityRow& row : rows) {
            Record record{row.party, row.record_id};
            out.entity[record] = row.entity_id;
            out.members[row.entity_id].push_back(std::move(record));
        }
        for (auto& [id, members] : out.members) std::sort(members.begin(), members.end());
        return out;
    };
    const Export old_export = index(before), new_export = index(after);
    struct Person {
        bool kept = true, same_members = true;
        std::string group;
    };
    std::map<std::string, Person> people;
    for (const auto& [record, old_id] : old_export.entity) {
        const auto now = new_export.entity.find(record);
        if (now == new_export.entity.end()) continue;
        const std::string* person = after_truth.person(record.first, record.second);
        const std::string* group = after_truth.group(record.first, record.second);
        if (person == nullptr) {
            person = before_truth.person(record.first, record.second);
            group = before_truth.group(record.first, record.second);
        }
        if (person == nullptr) continue;
        Person& p = people[*person];
        p.group = group != nullptr ? *group : std::string();
        p.kept = p.kept && now->second == old_id;
        p.same_members = p.same_members && old_export.members.at(old_id) == new_export.members.at(now->second);
    }
    IdStability out;
    for (const auto& [id, p] : people) {
        for (StabilityCounts* counts : {&out.all, p.same_members ? &out.same_members : &out.changed_members}) {
            ++counts->people;
            counts->kept += p.kept;
        }
        if (!p.group.empty()) {
            ++out.by_group[p.group].people;
            out.by_group[p.group].kept += p.kept;
        }
    }
    return out;
}

}  // namespace pprl
