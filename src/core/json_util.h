// Reading JSON that r1 did not write itself in this run (files, stdin lines, a checkpoint's
// state): every failure is an Input error naming where the JSON came from and which field is
// wrong, never a library exception. `where` is a file path, "stdin line 3", "FILE: line 3".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace r1 {

// Parses text; "WHERE: not valid JSON (...)" otherwise.
nlohmann::json parse_json(std::string_view text, const std::string& where);
nlohmann::json read_json_file(const std::string& path);

// The value of a required field of an object: "WHERE: missing field KEY" / "WHERE: expected a
// JSON object" / "WHERE: field KEY must be TYPE, got VALUE".
const nlohmann::json& json_field(const nlohmann::json& obj, const std::string& key,
                                 const std::string& where);
int64_t json_int(const nlohmann::json& obj, const std::string& key, const std::string& where);
double json_number(const nlohmann::json& obj, const std::string& key, const std::string& where);
std::string json_string(const nlohmann::json& obj, const std::string& key,
                        const std::string& where);
bool json_bool(const nlohmann::json& obj, const std::string& key, const std::string& where);
// The same for optional fields: def when the field is absent or null.
int64_t json_int(const nlohmann::json& obj, const std::string& key, const std::string& where,
                 int64_t def);
std::string json_string(const nlohmann::json& obj, const std::string& key, const std::string& where,
                        const std::string& def);
bool json_bool(const nlohmann::json& obj, const std::string& key, const std::string& where,
               bool def);

}  // namespace r1
