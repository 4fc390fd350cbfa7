// Errors as the OpenAI API reports them: an HTTP status and the body
// {"error": {"message", "type", "param", "code"}}.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace r1::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error",
           std::string param = "", std::string code = "")
      : std::runtime_error(message),
        status_(status),
        type_(std::move(type)),
        param_(std::move(param)),
        code_(std::move(code)) {}
  int status() const { return status_; }
  nlohmann::json body() const {
    nlohmann::json e = {
        {"message", what()}, {"type", type_}, {"param", nullptr}, {"code", nullptr}};
    if (!param_.empty()) e["param"] = param_;
    if (!code_.empty()) e["code"] = code_;
    return {{"error", e}};
  }

 private:
  int status_;
  std::string type_, param_, code_;
};

// JSON for a response body. Model text and token pieces may hold partial UTF-8; it is written as
// U+FFFD (logprobs' "bytes" keep the exact bytes).
inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// 400 invalid_request_error naming the parameter.
[[noreturn]] inline void bad_param(const std::string& param, const std::string& message,
                                   const std::string& code = "") {
  throw ApiError(400, message, "invalid_request_error", param, code);
}

}  // namespace r1::server
