#include "server/web_assets.h"

namespace r1::server {

const WebAsset* find_web_asset(const std::string& path) {
  for (size_t i = 0; i < kWebAssetCount; ++i)
    if (path == kWebAssets[i].path) return &kWebAssets[i];
  return nullptr;
}

const char* web_content_type(const std::string& path) {
  if (path == "/" || path.ends_with(".html")) return "text/html; charset=utf-8";
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  if (path.ends_with(".woff2")) return "font/woff2";
  return "application/octet-stream";
}

}  // namespace r1::server
