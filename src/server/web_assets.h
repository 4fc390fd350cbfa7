// The web chat's files (src/server/web, marked, KaTeX and its fonts), embedded in the binary at
// build time (CMakeLists.txt generates the table), so that r1 serve needs nothing beside itself.
#pragma once

#include <cstddef>
#include <string>

namespace r1::server {

struct WebAsset {
  const char* path;  // the URL path it is served at
  const char* data;
  size_t size;
};

extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;

// The asset served at path, or nullptr.
const WebAsset* find_web_asset(const std::string& path);
// By the path's extension: text/html, text/javascript, text/css, font/woff2, ...
const char* web_content_type(const std::string& path);

}  // namespace r1::server
