#include "core/json_util.h"

#include "core/error.h"
#include "core/file_util.h"

namespace r1 {

using nlohmann::json;

namespace {

// A value shown in an error: at most 60 characters of its JSON.
std::string shown(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

const json* find_field(const json& obj, const std::string& key, const std::string& where) {
  if (!obj.is_object()) fail_input(where, ": expected a JSON object, got ", shown(obj));
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

[[noreturn]] void wrong_type(const std::string& where, const std::string& key, const char* type,
                             const json& v) {
  fail_input(where, ": field ", key, " must be ", type, ", got ", shown(v));
}

}  // namespace

json parse_json(std::string_view text, const std::string& where) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    fail_input(where, ": not valid JSON (", e.what(), ")");
  }
}

json read_json_file(const std::string& path) {
  return parse_json(read_file(path), path);
}

const json& json_field(const json& obj, const std::string& key, const std::string& where) {
  const json* v = find_field(obj, key, where);
  if (!v) fail_input(where, ": missing field ", key);
  return *v;
}

int64_t json_int(const json& obj, const std::string& key, const std::string& where) {
  const json& v = json_field(obj, key, where);
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX))
    wrong_type(where, key, "an integer", v);
  return v.get<int64_t>();
}

int64_t json_int(const json& obj, const std::string& key, const std::string& where, int64_t def) {
  return find_field(obj, key, where) ? json_int(obj, key, where) : def;
}

double json_number(const json& obj, const std::string& key, const std::string& where) {
  const json& v = json_field(obj, key, where);
  if (!v.is_number()) wrong_type(where, key, "a number", v);
  return v.get<double>();
}

std::string json_string(const json& obj, const std::string& key, const std::string& where) {
  const json& v = json_field(obj, key, where);
  if (!v.is_string()) wrong_type(where, key, "a string", v);
  return v.get<std::string>();
}

std::string json_string(const json& obj, const std::string& key, const std::string& where,
                        const std::string& def) {
  return find_field(obj, key, where) ? json_string(obj, key, where) : def;
}

bool json_bool(const json& obj, const std::string& key, const std::string& where) {
  const json& v = json_field(obj, key, where);
  if (!v.is_boolean()) wrong_type(where, key, "true or false", v);
  return v.get<bool>();
}

bool json_bool(const json& obj, const std::string& key, const std::string& where, bool def) {
  return find_field(obj, key, where) ? json_bool(obj, key, where) : def;
}

}  // namespace r1
