#include "eval/loaders.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/file_util.h"
#include "eval/countdown.h"

namespace r1::eval {

namespace {

using nlohmann::json;

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Calls row(json, line_number) for each non-blank line; parse errors name the file and line.
void for_each_jsonl(const std::string& path, const std::function<void(const json&, size_t)>& row) {
  std::string data = read_file(path);
  size_t line_no = 0;
  for (size_t start = 0; start < data.size();) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    ++line_no;
    std::string line = data.substr(start, end - start);
    start = end + 1;
    if (trim(line).empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      fail_input(path, ":", line_no, ": not valid JSON: ", e.what());
    }
    if (!j.is_object()) fail_input(path, ":", line_no, ": a row must be a JSON object");
    try {
      row(j, line_no);
    } catch (const json::exception& e) {
      fail_input(path, ":", line_no, ": ", e.what());
    }
  }
}

const json& field(const json& j, const char* name, const std::string& path, size_t line) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) fail_input(path, ":", line, ": missing field \"", name, "\"");
  return *it;
}

std::string string_field(const json& j, const char* name, const std::string& path, size_t line) {
  const json& v = field(j, name, path, line);
  if (!v.is_string()) fail_input(path, ":", line, ": field \"", name, "\" must be a string");
  return v.get<std::string>();
}

// A string, or a number written without a trailing ".0" when it is whole.
std::string answer_field(const json& j, const char* name, const std::string& path, size_t line) {
  const json& v = field(j, name, path, line);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15)
      return std::to_string(static_cast<int64_t>(d));
    return v.dump();
  }
  fail_input(path, ":", line, ": field \"", name, "\" must be a string or a number");
}

std::string id_of(const json& j, const char* name, size_t line) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return "line " + std::to_string(line);
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string math_prompt(const std::string& problem) {
  return problem + "\n" + kMathInstruction;
}

// RFC 4180 CSV: records with their starting line numbers.
struct CsvRecord {
  size_t line;
  std::vector<std::string> fields;
};
std::vector<CsvRecord> parse_csv(const std::string& path) {
  std::string data = read_file(path);
  std::vector<CsvRecord> records;
  size_t line = 1, i = 0;
  if (data.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 byte order mark
  while (i < data.size()) {
    CsvRecord rec{line, {}};
    std::string cur;
    bool done = false;
    while (!done) {
      if (i < data.size() && data[i] == '"') {
        size_t quote_line = line;
        ++i;
        while (true) {
          if (i >= data.size()) fail_input(path, ":", quote_line, ": unterminated quoted field");
          char c = data[i++];
          if (c == '"') {
            if (i < data.size() && data[i] == '"') {
              cur += '"';
              ++i;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            cur += c;
          }
        }
        if (i < data.size() && data[i] != ',' && data[i] != '\n' && data[i] != '\r')
          fail_input(path, ":", line, ": unexpected text after a quoted field");
      }
      while (i < data.size() && data[i] != ',' && data[i] != '\n') {
        if (data[i] == '"') fail_input(path, ":", line, ": stray quote in an unquoted field");
        if (data[i] != '\r') cur += data[i];
        ++i;
      }
      rec.fields.push_back(std::move(cur));
      cur.clear();
      if (i >= data.size() || data[i] == '\n') {
        done = true;
        if (i < data.size()) ++line;
      }
      ++i;
    }
    bool blank = rec.fields.size() == 1 && trim(rec.fields[0]).empty();
    if (!blank) records.push_back(std::move(rec));
  }
  return records;
}

struct GpqaRow {
  size_t line;
  std::string id, question;
  std::vector<std::string> options;  // correct first
};

std::string lower_ext(const std::string& path) {
  size_t dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext;
}

const char* kGpqaColumns[] = {"Question", "Correct Answer", "Incorrect Answer 1",
                              "Incorrect Answer 2", "Incorrect Answer 3"};

std::vector<GpqaRow> read_gpqa_rows(const std::string& path) {
  std::vector<GpqaRow> rows;
  if (lower_ext(path) == "csv") {
    auto records = parse_csv(path);
    if (records.empty()) fail_input(path, ": empty CSV file (no header)");
    std::map<std::string, size_t> column;
    for (size_t c = 0; c < records[0].fields.size(); ++c) column[trim(records[0].fields[c])] = c;
    for (const char* name : kGpqaColumns)
      if (!column.count(name)) fail_input(path, ":", records[0].line, ": no column \"", name, "\"");
    auto id_col = column.find("Record ID");
    for (size_t r = 1; r < records.size(); ++r) {
      const auto& rec = records[r];
      if (rec.fields.size() != records[0].fields.size())
        fail_input(path, ":", rec.line, ": ", rec.fields.size(), " fields, the header has ",
                   records[0].fields.size());
      GpqaRow row{rec.line, "", trim(rec.fields[column["Question"]]), {}};
      row.id = id_col != column.end() ? trim(rec.fields[id_col->second])
                                      : "line " + std::to_string(rec.line);
      for (int k = 1; k < 5; ++k) row.options.push_back(trim(rec.fields[column[kGpqaColumns[k]]]));
      rows.push_back(std::move(row));
    }
  } else {
    for_each_jsonl(path, [&](const json& j, size_t line) {
      GpqaRow row{
          line, id_of(j, "Record ID", line), trim(string_field(j, "Question", path, line)), {}};
      for (int k = 1; k < 5; ++k)
        row.options.push_back(trim(answer_field(j, kGpqaColumns[k], path, line)));
      rows.push_back(std::move(row));
    });
  }
  for (const auto& row : rows) {
    if (row.question.empty()) fail_input(path, ":", row.line, ": empty \"Question\"");
    for (size_t k = 0; k < 4; ++k)
      if (row.options[k].empty())
        fail_input(path, ":", row.line, ": empty \"", kGpqaColumns[k + 1], "\"");
  }
  return rows;
}

// The name of the first method defined in LiveCodeBench starter code ("def maxSum(self, ...").
std::string starter_method(const std::string& starter) {
  size_t p = starter.find("def ");
  if (p == std::string::npos) return "";
  p += 4;
  size_t e = p;
  while (e < starter.size() &&
         (std::isalnum(static_cast<unsigned char>(starter[e])) || starter[e] == '_'))
    ++e;
  if (e == p || std::isdigit(static_cast<unsigned char>(starter[p]))) return "";
  return starter.substr(p, e - p);
}

}  // namespace

std::string gsm8k_gold(const std::string& answer) {
  size_t p = answer.rfind("####");
  std::string gold = trim(p == std::string::npos ? answer : answer.substr(p + 4));
  gold.erase(std::remove(gold.begin(), gold.end(), ','), gold.end());
  return gold;
}

namespace {
// MATH-500 and AIME/AMC rows: a problem with a \boxed answer; they differ in task and id field.
std::vector<Problem> load_boxed(const std::string& path, const char* task, const char* id_key) {
  std::vector<Problem> out;
  for_each_jsonl(path, [&](const json& j, size_t line) {
    Problem p;
    p.task = task;
    p.id = id_of(j, id_key, line);
    p.prompt = math_prompt(string_field(j, "problem", path, line));
    p.answer = answer_field(j, "answer", path, line);
    out.push_back(std::move(p));
  });
  return out;
}
}  // namespace

std::vector<Problem> load_math500(const std::string& path) {
  return load_boxed(path, "math", "unique_id");
}

std::vector<Problem> load_aime(const std::string& path) {
  return load_boxed(path, "aime", "id");
}

std::vector<Problem> load_gsm8k(const std::string& path) {
  std::vector<Problem> out;
  for_each_jsonl(path, [&](const json& j, size_t line) {
    Problem p;
    p.task = "gsm8k";
    p.id = id_of(j, "idx", line);
    p.prompt = math_prompt(string_field(j, "question", path, line));
    std::string answer = string_field(j, "answer", path, line);
    if (answer.find("####") == std::string::npos)
      fail_input(path, ":", line, ": the answer has no \"#### N\" line");
    p.answer = gsm8k_gold(answer);
    if (p.answer.empty()) fail_input(path, ":", line, ": empty answer after \"####\"");
    out.push_back(std::move(p));
  });
  return out;
}

std::string gpqa_prompt(const std::string& question, const std::vector<std::string>& choices) {
  std::string out =
      "Answer the following multiple choice question. The last line of your response should be "
      "of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. "
      "Think step by step before answering.\n\n" +
      question + "\n";
  for (size_t k = 0; k < choices.size(); ++k)
    out += "\n" + std::string(1, static_cast<char>('A' + k)) + ") " + choices[k];
  return out;
}

std::vector<Problem> load_gpqa(const std::string& path, uint64_t seed) {
  std::vector<Problem> out;
  std::mt19937_64 rng(seed);
  for (auto& row : read_gpqa_rows(path)) {
    int order[4] = {0, 1, 2, 3};  // order[k] = index into row.options shown at position k
    for (int i = 3; i > 0; --i) std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
    Problem p;
    p.task = "gpqa";
    p.id = row.id;
    for (int k = 0; k < 4; ++k) {
      p.choices.push_back(row.options[order[k]]);
      if (order[k] == 0) p.answer = std::string(1, static_cast<char>('A' + k));
    }
    p.prompt = gpqa_prompt(row.question, p.choices);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<Problem> load_livecodebench(const std::string& path) {
  std::vector<Problem> out;
  for_each_jsonl(path, [&](const json& j, size_t line) {
    Problem p;
    p.task = "code";
    p.id = id_of(j, "question_id", line);
    std::string question = string_field(j, "question_content", path, line);
    const json& tests_field = field(j, "public_test_cases", path, line);
    json tests;
    if (tests_field.is_string()) {
      try {
        tests = json::parse(tests_field.get<std::string>());
      } catch (const json::exception& e) {
        fail_input(path, ":", line, ": public_test_cases is not valid JSON: ", e.what());
      }
    } else {
      tests = tests_field;
    }
    if (!tests.is_array()) fail_input(path, ":", line, ": public_test_cases must be a list");
    for (const auto& t : tests) {
      if (!t.is_object()) fail_input(path, ":", line, ": a test case must be an object");
      TestCase tc;
      tc.input = string_field(t, "input", path, line);
      tc.output = string_field(t, "output", path, line);
      std::string type = t.contains("testtype") ? t["testtype"].get<std::string>() : "stdin";
      if (type != "stdin" && type != "functional")
        fail_input(path, ":", line, ": unknown testtype \"", type, "\"");
      tc.functional = type == "functional";
      p.tests.push_back(std::move(tc));
    }
    if (p.tests.empty()) fail_input(path, ":", line, ": no public test cases");
    std::string starter;
    if (auto it = j.find("starter_code"); it != j.end() && it->is_string()) starter = *it;
    bool functional =
        std::any_of(p.tests.begin(), p.tests.end(), [](const TestCase& t) { return t.functional; });
    if (functional) {
      p.entry_point = starter_method(starter);
      if (p.entry_point.empty())
        fail_input(path, ":", line, ": functional tests need a starter_code with a \"def\"");
      p.prompt = question +
                 "\n\nComplete the starter code below. Put the whole class in one ```python code "
                 "block at the end of your answer.\n\n```python\n" +
                 starter + "\n```";
    } else {
      p.prompt = question +
                 "\n\nWrite a complete program that reads the input from standard input and "
                 "writes the answer to standard output. Put the program in one ```python code "
                 "block at the end of your answer.";
    }
    out.push_back(std::move(p));
  });
  return out;
}

std::vector<Problem> load_countdown(const std::string& path) {
  std::vector<Problem> out;
  for_each_jsonl(path, [&](const json& j, size_t line) {
    Problem p;
    p.task = "countdown";
    p.id = id_of(j, "id", line);
    const json& nums = field(j, "numbers", path, line);
    if (!nums.is_array() || nums.empty() || nums.size() > 16)
      fail_input(path, ":", line, ": \"numbers\" must be a list of 1 to 16 integers");
    for (const json& x : nums) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > 1000000)
        fail_input(path, ":", line, ": countdown numbers are integers in [0, 1000000]");
      p.numbers.push_back(x.get<int64_t>());
    }
    const json& target = field(j, "target", path, line);
    if (!target.is_number_integer() || std::llabs(target.get<int64_t>()) > 1000000000)
      fail_input(path, ":", line, ": \"target\" must be an integer");
    p.answer = std::to_string(target.get<int64_t>());
    p.prompt = countdown_prompt(p.numbers, target.get<int64_t>());
    out.push_back(std::move(p));
  });
  return out;
}

std::vector<Problem> load_problems(const std::string& path, const std::string& task) {
  if (task == "countdown") return load_countdown(path);
  if (task == "math") return load_math500(path);
  if (task == "aime") return load_aime(path);
  if (task == "gsm8k") return load_gsm8k(path);
  if (task == "gpqa") return load_gpqa(path);
  if (task == "code") return load_livecodebench(path);
  fail_usage("unknown task \"", task, "\" (expected math, gsm8k, aime, gpqa, code or countdown)");
}

}  // namespace r1::eval
